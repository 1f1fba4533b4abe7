"""The store: SQLAlchemy 2 models, engines, migrations and the repositories all writes go through.

Importing this package registers the audit hooks (:mod:`qingshan.store.audit`) and the
problem-list and notification tables (:mod:`qingshan.store.case_models`) and the market's
(:mod:`qingshan.store.market_models`).
"""

from qingshan.store import audit as audit
from qingshan.store import case_models as case_models
from qingshan.store import market_models as market_models
from qingshan.store.engine import create_store_engine, reading, writing

__all__ = ["create_store_engine", "reading", "writing"]
