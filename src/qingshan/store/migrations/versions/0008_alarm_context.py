"""Alarm context and severity routing: ``alarms.context`` (JSON), ``notifications.severity``
and ``notification_routes.min_severity``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25

A neighbour-anomaly alarm records how its neighbouring grids were found (``polygons``: shared
boundaries of the grid polygons; ``township``: the grids of the same township, for grids
without a usable polygon) and which grids they were. Other rule types leave it empty.

Alarm notifications carry the alarm's severity (a new alarm's, or the severity an open alarm
escalated to); a route with a minimum severity takes only those at or above it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alarms", sa.Column("context", JSON, nullable=True))
    op.add_column("notifications", sa.Column("severity", sa.String(length=8), nullable=True))
    op.add_column(
        "notification_routes", sa.Column("min_severity", sa.String(length=8), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("notification_routes", "min_severity")
    op.drop_column("notifications", "severity")
    op.drop_column("alarms", "context")
