"""One router per domain, each mounted under ``/api/v1`` by :func:`qingshan.api.app.create_app`."""
