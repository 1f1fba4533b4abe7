"""Reference inputs of the demo district, copied from examples/ with their sources."""
