"""Outlet owners: ``sites.owner_account_id`` → ``registry_accounts.id``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25

A source outlet belongs to an enterprise (排污单位). The company is the registry's enterprise
account (one notion of a company: its ``user_id`` already links the enterprise user to it), so
an enterprise user sees the outlets whose owner account is linked to them. NULL: no owner
recorded (every site that is not an outlet, and outlets not yet assigned).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


FOREIGN_KEY = "fk_sites_owner_account_id_registry_accounts"
INDEX = "ix_sites_owner_account_id"


def upgrade() -> None:
    """Add the column in place. Not a batch (copy-and-rename) on SQLite: that would drop the
    triggers guarding ``sites`` (no deleting a site with readings); SQLite adds a nullable
    column with an inline, named REFERENCES clause directly."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE sites ADD COLUMN owner_account_id INTEGER "
            f"CONSTRAINT {FOREIGN_KEY} REFERENCES registry_accounts (id)"
        )
    else:
        op.add_column("sites", sa.Column("owner_account_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            FOREIGN_KEY, "sites", "registry_accounts", ["owner_account_id"], ["id"]
        )
    op.create_index(INDEX, "sites", ["owner_account_id"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="sites")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE sites DROP COLUMN owner_account_id")
    else:
        op.drop_constraint(FOREIGN_KEY, "sites", type_="foreignkey")
        op.drop_column("sites", "owner_account_id")
