"""Problem list (问题清单) and notifications: cases, their alarms, evidence and timeline,
notification routes, notifications, their queue and deliveries. (The user ↔ grid link,
``user_grids``, comes with the alarms in revision 0004.)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

Triggers refuse UPDATE and DELETE on ``case_events`` (the timeline) and ``case_evidence`` on both
backends, as ``audit_log``'s do: the history of a case cannot be rewritten by any code path.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ROLES = ("admin", "analyst", "grid_officer", "enterprise", "device")
STATES = (
    "pending_verification",
    "assigned",
    "rectifying",
    "pending_closure",
    "closed",
    "reviewed",
)
APPEND_ONLY = ("case_events", "case_evidence")


def one_of(column: str, values: tuple[str, ...], *, nullable: bool = False) -> str:
    """CHECK text: ``=`` comparisons joined by OR (an IN list is slow in SQLite CHECKs)."""
    check = " OR ".join(f"{column} = '{value}'" for value in values)
    return f"{column} IS NULL OR {check}" if nullable else check


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_routes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("quiet_start", sa.String(length=5), nullable=True),
        sa.Column("quiet_end", sa.String(length=5), nullable=True),
        sa.Column("group_wait_seconds", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            one_of("role", ROLES, nullable=True), name=op.f("ck_notification_routes_role")
        ),
        sa.CheckConstraint(
            "group_wait_seconds >= 0", name=op.f("ck_notification_routes_group_wait")
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_notification_routes_grid_id_grids")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_routes")),
        sa.UniqueConstraint("name", name=op.f("uq_notification_routes_name")),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=50), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("responsible_unit", sa.String(length=200), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("opened_at", TIME, nullable=False),
        sa.Column("opened_by", sa.String(length=100), nullable=False),
        sa.Column("closed_at", TIME, nullable=True),
        sa.Column("reviewed_at", TIME, nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            one_of("source", ("alarm", "complaint", "inspection")), name=op.f("ck_cases_source")
        ),
        sa.CheckConstraint(one_of("state", STATES), name=op.f("ck_cases_state")),
        sa.CheckConstraint(
            "escalation_level BETWEEN 0 AND 2", name=op.f("ck_cases_escalation_level")
        ),
        sa.ForeignKeyConstraint(["grid_id"], ["grids.id"], name=op.f("fk_cases_grid_id_grids")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_cases_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("code", name=op.f("uq_cases_code")),
    )
    op.create_index("ix_cases_grid_state", "cases", ["grid_id", "state"], unique=False)
    op.create_index(op.f("ix_cases_opened_at"), "cases", ["opened_at"], unique=False)
    op.create_index(op.f("ix_cases_site_id"), "cases", ["site_id"], unique=False)
    op.create_table(
        "notification_deliveries",
        sa.Column("id", ID, nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("notification_ids", JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            one_of("status", ("sent", "failed")), name=op.f("ck_notification_deliveries_status")
        ),
        sa.ForeignKeyConstraint(
            ["route_id"],
            ["notification_routes.id"],
            name=op.f("fk_notification_deliveries_route_id_notification_routes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
    )
    op.create_index(
        op.f("ix_notification_deliveries_route_id"),
        "notification_deliveries",
        ["route_id"],
        unique=False,
    )
    op.create_table(
        "case_alarms",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_alarms_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["alarm_id"], ["alarms.id"], name=op.f("fk_case_alarms_alarm_id_alarms")
        ),
        sa.PrimaryKeyConstraint("case_id", "alarm_id", name=op.f("pk_case_alarms")),
    )
    op.create_index(op.f("ix_case_alarms_alarm_id"), "case_alarms", ["alarm_id"], unique=False)
    op.create_table(
        "case_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=24), nullable=True),
        sa.Column("to_state", sa.String(length=24), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    op.create_index(op.f("ix_case_events_case_id"), "case_events", ["case_id"], unique=False)
    op.create_table(
        "case_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=True),
        sa.Column("stored_name", sa.String(length=80), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("added_at", TIME, nullable=False),
        sa.Column("added_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            one_of("kind", ("text", "photo", "file")), name=op.f("ck_case_evidence_kind")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_evidence_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_evidence")),
    )
    op.create_index(op.f("ix_case_evidence_case_id"), "case_evidence", ["case_id"], unique=False)
    op.create_table(
        "notifications",
        sa.Column("id", ID, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("roles", JSON, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("alarm_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_notifications_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["alarm_id"], ["alarms.id"], name=op.f("fk_notifications_alarm_id_alarms")
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_notifications_grid_id_grids")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(op.f("ix_notifications_alarm_id"), "notifications", ["alarm_id"], unique=False)
    op.create_index(op.f("ix_notifications_case_id"), "notifications", ["case_id"], unique=False)
    op.create_table(
        "notification_queue",
        sa.Column("notification_id", ID, nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["notification_deliveries.id"],
            name=op.f("fk_notification_queue_delivery_id_notification_deliveries"),
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_queue_notification_id_notifications"),
        ),
        sa.ForeignKeyConstraint(
            ["route_id"],
            ["notification_routes.id"],
            name=op.f("fk_notification_queue_route_id_notification_routes"),
        ),
        sa.PrimaryKeyConstraint("notification_id", "route_id", name=op.f("pk_notification_queue")),
    )
    op.create_index(
        op.f("ix_notification_queue_delivery_id"),
        "notification_queue",
        ["delivery_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_notification_queue_route_id"), "notification_queue", ["route_id"], unique=False
    )
    _create_triggers()


def _create_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
        return
    op.execute(
        """
        CREATE FUNCTION case_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
        END $$
        """
    )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION case_history_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION case_history_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in APPEND_ONLY:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    else:
        op.execute("DROP FUNCTION IF EXISTS case_history_append_only() CASCADE")
    for table in (
        "notification_queue",
        "notifications",
        "case_evidence",
        "case_events",
        "case_alarms",
        "notification_deliveries",
        "cases",
        "notification_routes",
    ):
        op.drop_table(table)
