"""The HTTP API (FastAPI), under ``/api/v1``; OpenAPI documentation at ``/docs``, served offline."""
