"""Command groups of the ``qingshan`` command line (registered in :mod:`qingshan.cli`)."""
