"""Wire protocols of monitoring devices (pure: bytes in, values out; no sockets, no store)."""
