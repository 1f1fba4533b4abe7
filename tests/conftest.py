"""Shared test fixtures."""

pytest_plugins = ("store_backends", "browser")
