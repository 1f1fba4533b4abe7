"""Rules and alarms: versioned rules, alarms with comments, and the user ↔ grid link.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

* ``rules`` (current version) and ``rule_versions`` (every saved version);
* ``alarms`` with a partial unique index: one *active* alarm per identity (rule + site
  (+ parameter), spelled out in ``series_key``);
* ``alarm_comments``;
* ``user_grids``: the grids a user answers for (the store had no user ↔ grid link; grid
  officers see and acknowledge only the alarms of their grids).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
SEVERITY_CHECK = (
    "severity = 'critical' OR severity = 'major' OR severity = 'minor' OR severity = 'warning'"
)

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_grids",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_grids_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_user_grids_grid_id_grids")
        ),
        sa.PrimaryKeyConstraint("user_id", "grid_id", name=op.f("pk_user_grids")),
    )
    op.create_index(op.f("ix_user_grids_grid_id"), "user_grids", ["grid_id"])
    op.create_table(
        "rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("parameters", JSON, nullable=False),
        sa.Column("scope", JSON, nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(SEVERITY_CHECK, name=op.f("ck_rules_severity")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rules")),
        sa.UniqueConstraint("code", name=op.f("uq_rules_code")),
    )
    op.create_table(
        "rule_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("parameters", JSON, nullable=False),
        sa.Column("scope", JSON, nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("saved_at", TIME, nullable=False),
        sa.Column("saved_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["rules.id"], name=op.f("fk_rule_versions_rule_id_rules")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_versions")),
        sa.UniqueConstraint("rule_id", "version", name=op.f("uq_rule_versions_rule_id_version")),
    )
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series_key", sa.String(length=48), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("parameter_id", sa.Integer(), nullable=True),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("last_triggered_at", TIME, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("peak_value", sa.Float(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("cleared_at", TIME, nullable=True),
        sa.Column("clear_reason", sa.String(length=8), nullable=True),
        sa.Column("acknowledged", sa.Boolean(), nullable=False),
        sa.Column("acknowledged_at", TIME, nullable=True),
        sa.Column("acknowledged_by", sa.String(length=100), nullable=True),
        sa.Column("assignee", sa.String(length=100), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.CheckConstraint(SEVERITY_CHECK, name=op.f("ck_alarms_severity")),
        sa.CheckConstraint(
            "clear_reason IS NULL OR clear_reason = 'auto' OR clear_reason = 'manual'",
            name=op.f("ck_alarms_clear_reason"),
        ),
        sa.ForeignKeyConstraint(["rule_id"], ["rules.id"], name=op.f("fk_alarms_rule_id_rules")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_alarms_site_id_sites")),
        sa.ForeignKeyConstraint(
            ["parameter_id"], ["parameters.id"], name=op.f("fk_alarms_parameter_id_parameters")
        ),
        sa.ForeignKeyConstraint(["grid_id"], ["grids.id"], name=op.f("fk_alarms_grid_id_grids")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
    )
    op.create_index(op.f("ix_alarms_rule_id"), "alarms", ["rule_id"])
    op.create_index(op.f("ix_alarms_grid_id"), "alarms", ["grid_id"])
    op.create_index("ix_alarms_site_started", "alarms", ["site_id", "started_at"])
    op.create_index(
        "uq_alarms_active_series",
        "alarms",
        ["series_key"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    op.create_table(
        "alarm_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("system", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alarm_id"], ["alarms.id"], name=op.f("fk_alarm_comments_alarm_id_alarms")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_comments")),
    )
    op.create_index(op.f("ix_alarm_comments_alarm_id"), "alarm_comments", ["alarm_id"])


def downgrade() -> None:
    op.drop_table("alarm_comments")
    op.drop_table("alarms")
    op.drop_table("rule_versions")
    op.drop_table("rules")
    op.drop_table("user_grids")
