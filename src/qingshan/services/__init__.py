"""Use-cases: reading inputs, running the engines, writing outputs. Above the pure packages and
the store; below the CLI, the API and the web pages."""
