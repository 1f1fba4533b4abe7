"""Carbon-inclusion methodologies and compliance schemes (TOML, each value with its source)."""
