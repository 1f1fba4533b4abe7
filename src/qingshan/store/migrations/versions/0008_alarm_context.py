"""Alarm context: what an alarm's evaluation was based on (``alarms.context``, JSON).

Revision ID: 0008
Revises: 0005
Create Date: 2026-11-25

A neighbour-anomaly alarm records how its neighbouring grids were found (``polygons``: shared
boundaries of the grid polygons; ``township``: the grids of the same township, for grids
without a usable polygon) and which grids they were. Other rule types leave it empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alarms", sa.Column("context", JSON, nullable=True))


def downgrade() -> None:
    op.drop_column("alarms", "context")
