"""One module of page routes per domain, like the API's routers; :data:`PAGE_ROUTERS` lists them
in the order the site includes them."""

from qingshan.web.pages import (
    alarms,
    auth,
    carbon,
    cases,
    gep,
    market,
    monitoring,
    overview,
    registry,
    reports,
)

PAGE_ROUTERS = (
    auth.router,
    overview.router,
    monitoring.router,
    carbon.router,
    gep.router,
    registry.router,
    market.router,
    reports.router,
    alarms.router,
    cases.router,
)
