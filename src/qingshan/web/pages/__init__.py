"""One module of page routes per domain, like the API's routers; :data:`PAGE_ROUTERS` lists them
in the order the site includes them."""

from qingshan.web.pages import auth, monitoring, overview

PAGE_ROUTERS = (auth.router, overview.router, monitoring.router)
