"""Accepted actions are their own accrual records: ``registry_actions.actor``; the per-action
``accrue`` rows of ``registry_operations`` go.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25

An ``accrue`` operation repeated what its action row already holds (the action's unique key,
account, methodology, points, reduction, time); only the actor was missing. The actor moves to
the action row, the operation rows are deleted (no journal entry refers to them: an accrual
batch posts one entry without an operation), and the account timeline reads accepted actions
as ``accrue`` events. Writing a million actions thus writes a million rows, not two million.
Downgrade rebuilds the operation rows from the actions (without the running balance, which
the timeline computes).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "registry_actions",
        sa.Column("actor", sa.String(length=100), nullable=False, server_default=""),
    )
    op.execute(
        "UPDATE registry_actions SET actor = (SELECT o.actor FROM registry_operations o "
        "WHERE o.idempotency_key = 'accrue:' || registry_actions.idempotency_key) "
        "WHERE status = 'accepted' AND EXISTS (SELECT 1 FROM registry_operations o "
        "WHERE o.idempotency_key = 'accrue:' || registry_actions.idempotency_key)"
    )
    op.execute("DELETE FROM registry_operations WHERE kind = 'accrue'")


def downgrade() -> None:
    json_object = (
        "jsonb_build_object" if op.get_bind().dialect.name == "postgresql" else "json_object"
    )
    op.execute(
        "INSERT INTO registry_operations (idempotency_key, kind, at, actor, counterparty_id, "
        f"details) SELECT 'accrue:' || a.idempotency_key, 'accrue', a.recorded_at, a.actor, "
        f"a.account_id, {json_object}('action_key', a.idempotency_key, 'methodology', m.code, "
        "'points_centi', a.points_centi, 'reduction_mg', a.reduction_mg) "
        "FROM registry_actions a JOIN registry_methodologies m ON m.id = a.methodology_id "
        "WHERE a.status = 'accepted' ORDER BY a.id"
    )
    with op.batch_alter_table("registry_actions") as batch_op:
        batch_op.drop_column("actor")
