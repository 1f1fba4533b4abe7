"""Carbon-inclusion registry (碳普惠 / 碳惠通): accounts, methodologies, actions, credits.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

Triggers refuse any change to a retired or cancelled block and any block deletion.

Tables for points (``registry_accounts.points_centi``, ``registry_actions``), credit issuances
split into serial blocks (``registry_issuances``, ``registry_blocks``), retirements and
cancellations, compliance obligations with their offset cap, bilateral trades, and the journal
of operations (``registry_operations``). The ledger's rules that a single row can state are
CHECK constraints (no negative points, offsets within the cap, a terminal block always has its
retirement record); the rules across rows (blocks partition their issuance) are kept by the
ledger's locking and checked by ``qingshan registry verify``. See docs/registry.md.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def one_of(column: str, values: tuple[str, ...], *, nullable: bool = False) -> str:
    """CHECK text: ``=`` comparisons joined by OR (an IN list is slow in SQLite CHECKs)."""
    check = " OR ".join(f"{column} = '{value}'" for value in values)
    return f"{column} IS NULL OR {check}" if nullable else check


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_compliance_schemes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("offset_cap_percent", sa.Float(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "offset_cap_percent BETWEEN 0 AND 100",
            name=op.f("ck_registry_compliance_schemes_cap_percent"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_compliance_schemes")),
        sa.UniqueConstraint("code", name=op.f("uq_registry_compliance_schemes_code")),
    )
    op.create_table(
        "registry_methodologies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("scheme", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=True),
        sa.Column("grams_per_unit", sa.Float(), nullable=True),
        sa.Column("points_per_unit", sa.Float(), nullable=True),
        sa.Column("daily_cap_units", sa.Float(), nullable=True),
        sa.Column("parameters", JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            one_of("kind", ("action", "project")), name=op.f("ck_registry_methodologies_kind")
        ),
        sa.CheckConstraint(
            "daily_cap_units IS NULL OR daily_cap_units > 0",
            name=op.f("ck_registry_methodologies_cap_positive"),
        ),
        sa.CheckConstraint(
            "grams_per_unit IS NULL OR grams_per_unit > 0",
            name=op.f("ck_registry_methodologies_grams_positive"),
        ),
        sa.CheckConstraint(
            "points_per_unit IS NULL OR points_per_unit >= 0",
            name=op.f("ck_registry_methodologies_points_not_negative"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_methodologies")),
        sa.UniqueConstraint("code", name=op.f("uq_registry_methodologies_code")),
    )
    op.create_table(
        "registry_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("points_centi", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.CheckConstraint(
            one_of(
                "kind",
                (
                    "individual",
                    "enterprise",
                    "project_owner",
                    "platform",
                    "retirement",
                    "cancellation",
                ),
            ),
            name=op.f("ck_registry_accounts_kind"),
        ),
        sa.CheckConstraint(
            "points_centi >= 0", name=op.f("ck_registry_accounts_points_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_registry_accounts_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_accounts")),
        sa.UniqueConstraint("code", name=op.f("uq_registry_accounts_code")),
    )
    with op.batch_alter_table("registry_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_accounts_user_id"), ["user_id"], unique=False)

    op.create_table(
        "registry_issuances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("methodology_id", sa.Integer(), nullable=False),
        sa.Column("project_code", sa.String(length=32), nullable=False),
        sa.Column("project_name", sa.String(length=200), nullable=False),
        sa.Column("vintage", sa.Integer(), nullable=False),
        sa.Column("serial_prefix", sa.String(length=120), nullable=False),
        sa.Column("first_serial", sa.BigInteger(), nullable=False),
        sa.Column("last_serial", sa.BigInteger(), nullable=False),
        sa.Column("verification", sa.String(length=200), nullable=False),
        sa.Column("issued_at", TIME, nullable=False),
        sa.CheckConstraint(
            "first_serial >= 1 AND last_serial >= first_serial",
            name=op.f("ck_registry_issuances_range"),
        ),
        sa.CheckConstraint(
            "vintage BETWEEN 1990 AND 2100", name=op.f("ck_registry_issuances_vintage")
        ),
        sa.ForeignKeyConstraint(
            ["methodology_id"],
            ["registry_methodologies.id"],
            name=op.f("fk_registry_issuances_methodology_id_registry_methodologies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_issuances")),
        sa.UniqueConstraint(
            "serial_prefix",
            "first_serial",
            name=op.f("uq_registry_issuances_serial_prefix_first_serial"),
        ),
    )
    with op.batch_alter_table("registry_issuances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registry_issuances_serial_prefix"), ["serial_prefix"], unique=False
        )

    op.create_table(
        "registry_actions",
        sa.Column("id", ID, nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("methodology_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("occurred_at", TIME, nullable=False),
        sa.Column("local_day", sa.Date(), nullable=False),
        sa.Column("evidence", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reduction_mg", sa.BigInteger(), nullable=False),
        sa.Column("points_centi", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", TIME, nullable=False),
        sa.Column("issuance_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            one_of("status", ("accepted", "rejected")), name=op.f("ck_registry_actions_status")
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_registry_actions_quantity_positive")),
        sa.CheckConstraint(
            "reduction_mg >= 0 AND points_centi >= 0",
            name=op.f("ck_registry_actions_amounts_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["registry_accounts.id"],
            name=op.f("fk_registry_actions_account_id_registry_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["issuance_id"],
            ["registry_issuances.id"],
            name=op.f("fk_registry_actions_issuance_id_registry_issuances"),
        ),
        sa.ForeignKeyConstraint(
            ["methodology_id"],
            ["registry_methodologies.id"],
            name=op.f("fk_registry_actions_methodology_id_registry_methodologies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_actions")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_registry_actions_idempotency_key")),
    )
    with op.batch_alter_table("registry_actions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_registry_actions_cap", ["account_id", "methodology_id", "local_day"], unique=False
        )

    op.create_table(
        "registry_obligations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("verified_emissions_t", sa.BigInteger(), nullable=False),
        sa.Column("offset_cap_t", sa.BigInteger(), nullable=False),
        sa.Column("offsets_surrendered_t", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "offsets_surrendered_t >= 0 AND offsets_surrendered_t <= offset_cap_t",
            name=op.f("ck_registry_obligations_within_cap"),
        ),
        sa.CheckConstraint(
            "verified_emissions_t >= 0", name=op.f("ck_registry_obligations_emissions_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["registry_accounts.id"],
            name=op.f("fk_registry_obligations_account_id_registry_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"],
            ["registry_compliance_schemes.id"],
            name=op.f("fk_registry_obligations_scheme_id_registry_compliance_schemes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_obligations")),
        sa.UniqueConstraint(
            "account_id",
            "scheme_id",
            "year",
            name=op.f("uq_registry_obligations_account_id_scheme_id_year"),
        ),
    )
    op.create_table(
        "registry_retirements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("purpose", sa.String(length=8), nullable=True),
        sa.Column("beneficiary", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("obligation_id", sa.Integer(), nullable=True),
        sa.Column("from_account_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=160), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("certificate_number", sa.String(length=40), nullable=True),
        sa.Column("certificate_sha256", sa.String(length=64), nullable=True),
        sa.Column("at", TIME, nullable=False),
        sa.CheckConstraint(
            "(kind = 'retired' AND purpose IS NOT NULL) "
            "OR (kind = 'cancelled' AND reason IS NOT NULL)",
            name=op.f("ck_registry_retirements_purpose_or_reason"),
        ),
        sa.CheckConstraint(
            one_of("kind", ("retired", "cancelled")), name=op.f("ck_registry_retirements_kind")
        ),
        sa.CheckConstraint(
            one_of("purpose", ("履约抵销", "碳中和", "自愿注销"), nullable=True),
            name=op.f("ck_registry_retirements_purpose"),
        ),
        sa.ForeignKeyConstraint(
            ["from_account_id"],
            ["registry_accounts.id"],
            name=op.f("fk_registry_retirements_from_account_id_registry_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["obligation_id"],
            ["registry_obligations.id"],
            name=op.f("fk_registry_retirements_obligation_id_registry_obligations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_retirements")),
        sa.UniqueConstraint(
            "certificate_number", name=op.f("uq_registry_retirements_certificate_number")
        ),
    )
    op.create_table(
        "registry_blocks",
        sa.Column("id", ID, nullable=False),
        sa.Column("issuance_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("first_serial", sa.BigInteger(), nullable=False),
        sa.Column("last_serial", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("parent_id", ID, nullable=True),
        sa.Column("retirement_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(retirement_id IS NULL) = (status = 'held' OR status = 'frozen')",
            name=op.f("ck_registry_blocks_terminal_has_record"),
        ),
        sa.CheckConstraint(
            one_of("status", ("held", "frozen", "retired", "cancelled")),
            name=op.f("ck_registry_blocks_status"),
        ),
        sa.CheckConstraint(
            "first_serial >= 1 AND last_serial >= first_serial",
            name=op.f("ck_registry_blocks_range"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["registry_accounts.id"],
            name=op.f("fk_registry_blocks_account_id_registry_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["issuance_id"],
            ["registry_issuances.id"],
            name=op.f("fk_registry_blocks_issuance_id_registry_issuances"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["registry_blocks.id"],
            name=op.f("fk_registry_blocks_parent_id_registry_blocks"),
        ),
        sa.ForeignKeyConstraint(
            ["retirement_id"],
            ["registry_retirements.id"],
            name=op.f("fk_registry_blocks_retirement_id_registry_retirements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_blocks")),
        sa.UniqueConstraint(
            "issuance_id", "first_serial", name=op.f("uq_registry_blocks_issuance_id_first_serial")
        ),
    )
    with op.batch_alter_table("registry_blocks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registry_blocks_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "registry_operations",
        sa.Column("id", ID, nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("counterparty_id", sa.Integer(), nullable=True),
        sa.Column("issuance_id", sa.Integer(), nullable=True),
        sa.Column("block_id", ID, nullable=True),
        sa.Column("new_block_id", ID, nullable=True),
        sa.Column("quantity", sa.BigInteger(), nullable=True),
        sa.Column("serial", sa.String(length=160), nullable=True),
        sa.Column("details", JSON, nullable=False),
        sa.CheckConstraint(
            one_of(
                "kind",
                (
                    "issue",
                    "transfer",
                    "trade",
                    "retire",
                    "surrender",
                    "cancel",
                    "freeze",
                    "unfreeze",
                    "accrue",
                    "redeem",
                ),
            ),
            name=op.f("ck_registry_operations_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["registry_accounts.id"],
            name=op.f("fk_registry_operations_account_id_registry_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["block_id"],
            ["registry_blocks.id"],
            name=op.f("fk_registry_operations_block_id_registry_blocks"),
        ),
        sa.ForeignKeyConstraint(
            ["counterparty_id"],
            ["registry_accounts.id"],
            name=op.f("fk_registry_operations_counterparty_id_registry_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["issuance_id"],
            ["registry_issuances.id"],
            name=op.f("fk_registry_operations_issuance_id_registry_issuances"),
        ),
        sa.ForeignKeyConstraint(
            ["new_block_id"],
            ["registry_blocks.id"],
            name=op.f("fk_registry_operations_new_block_id_registry_blocks"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_operations")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_registry_operations_idempotency_key")),
    )
    with op.batch_alter_table("registry_operations", schema=None) as batch_op:
        batch_op.create_index("ix_registry_operations_account", ["account_id"], unique=False)
        batch_op.create_index("ix_registry_operations_block", ["block_id"], unique=False)
        batch_op.create_index(
            "ix_registry_operations_counterparty", ["counterparty_id"], unique=False
        )
        batch_op.create_index("ix_registry_operations_new_block", ["new_block_id"], unique=False)

    op.create_table(
        "registry_trades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seller_account_id", sa.Integer(), nullable=False),
        sa.Column("buyer_account_id", sa.Integer(), nullable=False),
        sa.Column("issuance_id", sa.Integer(), nullable=False),
        sa.Column("block_id", ID, nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("price_fen_per_t", sa.BigInteger(), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.CheckConstraint(
            "quantity > 0 AND price_fen_per_t >= 0", name=op.f("ck_registry_trades_amounts")
        ),
        sa.ForeignKeyConstraint(
            ["block_id"],
            ["registry_blocks.id"],
            name=op.f("fk_registry_trades_block_id_registry_blocks"),
        ),
        sa.ForeignKeyConstraint(
            ["buyer_account_id"],
            ["registry_accounts.id"],
            name=op.f("fk_registry_trades_buyer_account_id_registry_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["issuance_id"],
            ["registry_issuances.id"],
            name=op.f("fk_registry_trades_issuance_id_registry_issuances"),
        ),
        sa.ForeignKeyConstraint(
            ["seller_account_id"],
            ["registry_accounts.id"],
            name=op.f("fk_registry_trades_seller_account_id_registry_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_trades")),
    )
    for statement in (
        SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else POSTGRESQL_TRIGGERS
    ):
        op.execute(statement)


SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER registry_blocks_terminal BEFORE UPDATE ON registry_blocks
    WHEN OLD.status = 'retired' OR OLD.status = 'cancelled'
    BEGIN SELECT RAISE(ABORT, 'retired and cancelled credits never change'); END
    """,
    """
    CREATE TRIGGER registry_blocks_no_delete BEFORE DELETE ON registry_blocks
    BEGIN SELECT RAISE(ABORT, 'credit blocks are never deleted'); END
    """,
)

POSTGRESQL_TRIGGERS = (
    """
    CREATE FUNCTION registry_blocks_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'credit blocks are never deleted';
        END IF;
        RAISE EXCEPTION 'retired and cancelled credits never change';
    END $$
    """,
    """
    CREATE TRIGGER registry_blocks_terminal BEFORE UPDATE ON registry_blocks FOR EACH ROW
    WHEN (OLD.status = 'retired' OR OLD.status = 'cancelled')
    EXECUTE FUNCTION registry_blocks_guard()
    """,
    """
    CREATE TRIGGER registry_blocks_no_delete BEFORE DELETE ON registry_blocks FOR EACH ROW
    EXECUTE FUNCTION registry_blocks_guard()
    """,
)
"""The database itself refuses to change a retired or cancelled block or to delete any block
(whatever code path tries): the irreversibility of retirement does not rest on the ledger
code alone."""


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS registry_blocks_terminal")
        op.execute("DROP TRIGGER IF EXISTS registry_blocks_no_delete")
    else:
        op.execute("DROP FUNCTION IF EXISTS registry_blocks_guard() CASCADE")
    op.drop_table("registry_trades")
    with op.batch_alter_table("registry_operations", schema=None) as batch_op:
        batch_op.drop_index("ix_registry_operations_new_block")
        batch_op.drop_index("ix_registry_operations_counterparty")
        batch_op.drop_index("ix_registry_operations_block")
        batch_op.drop_index("ix_registry_operations_account")

    op.drop_table("registry_operations")
    with op.batch_alter_table("registry_blocks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_blocks_account_id"))

    op.drop_table("registry_blocks")
    op.drop_table("registry_retirements")
    op.drop_table("registry_obligations")
    with op.batch_alter_table("registry_actions", schema=None) as batch_op:
        batch_op.drop_index("ix_registry_actions_cap")

    op.drop_table("registry_actions")
    with op.batch_alter_table("registry_issuances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_issuances_serial_prefix"))

    op.drop_table("registry_issuances")
    with op.batch_alter_table("registry_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_accounts_user_id"))

    op.drop_table("registry_accounts")
    op.drop_table("registry_methodologies")
    op.drop_table("registry_compliance_schemes")
