"""Qingshan (青山): environmental monitoring, evaluation, carbon and GEP platform for
ecology-and-environment bureaus."""

__version__ = "0.1.0"
