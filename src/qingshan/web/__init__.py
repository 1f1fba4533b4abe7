"""The web dashboard: server-rendered pages (Jinja2) over the services, in 简体中文 and English.

Pages read through the services like the API does and post plain HTML forms for actions, so
they work with keyboard and screen readers and need no token in the browser. Charts and maps
are Apache ECharts, shipped in ``static/vendor`` with its licence: nothing is fetched from the
internet at run time.
"""
