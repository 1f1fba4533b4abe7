"""HJ 212 reference tables (TOML), read by :mod:`qingshan.protocols.hj212_codes`."""
