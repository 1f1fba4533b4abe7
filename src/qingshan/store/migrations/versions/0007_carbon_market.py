"""Carbon-credit market: limit orders, yuan balances in fen, cash movements, market trades.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25

``market_orders`` (a limit order on one issuance; buy escrow in ``reserved_fen``, the sell
order's escrowed block), ``market_balances`` (available and reserved fen per registry account,
CHECK ≥ 0), ``market_cash_movements`` (every balance change, unique idempotency key) and
``market_trades`` (fills, settled in the transaction of the incoming order). Triggers make the
trades and the cash movements append-only on both backends. See docs/registry.md, market.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

TIME = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
APPEND_ONLY = ("market_trades", "market_cash_movements")


def one_of(column: str, values: tuple[str, ...]) -> str:
    """CHECK text: ``=`` comparisons joined by OR (an IN list is slow in SQLite CHECKs)."""
    return " OR ".join(f"{column} = '{value}'" for value in values)


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "market_balances",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("available_fen", sa.BigInteger(), nullable=False),
        sa.Column("reserved_fen", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "available_fen >= 0 AND reserved_fen >= 0", name=op.f("ck_market_balances_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["registry_accounts.id"],
            name=op.f("fk_market_balances_account_id_registry_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_market_balances")),
    )
    op.create_table(
        "market_orders",
        sa.Column("id", ID, nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("issuance_id", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("price_fen_per_t", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reserved_fen", sa.BigInteger(), nullable=False),
        sa.Column("block_id", ID, nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("closed_at", TIME, nullable=True),
        sa.CheckConstraint(
            "(remaining = 0) = (status = 'filled')",
            name=op.f("ck_market_orders_filled_when_none_left"),
        ),
        sa.CheckConstraint("side = 'buy' OR side = 'sell'", name=op.f("ck_market_orders_side")),
        sa.CheckConstraint(
            "status = 'open' OR status = 'filled' OR status = 'cancelled'",
            name=op.f("ck_market_orders_status"),
        ),
        sa.CheckConstraint(
            "price_fen_per_t > 0 AND quantity > 0 AND remaining >= 0 AND remaining <= quantity "
            "AND reserved_fen >= 0",
            name=op.f("ck_market_orders_amounts"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["registry_accounts.id"],
            name=op.f("fk_market_orders_account_id_registry_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["block_id"],
            ["registry_blocks.id"],
            name=op.f("fk_market_orders_block_id_registry_blocks"),
        ),
        sa.ForeignKeyConstraint(
            ["issuance_id"],
            ["registry_issuances.id"],
            name=op.f("fk_market_orders_issuance_id_registry_issuances"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_orders")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_market_orders_idempotency_key")),
    )
    op.create_index("ix_market_orders_account", "market_orders", ["account_id"], unique=False)
    op.create_index(
        "ix_market_orders_book",
        "market_orders",
        ["issuance_id", "status", "side", "price_fen_per_t"],
        unique=False,
    )
    op.create_table(
        "market_trades",
        sa.Column("id", ID, nullable=False),
        sa.Column("issuance_id", sa.Integer(), nullable=False),
        sa.Column("buy_order_id", ID, nullable=False),
        sa.Column("sell_order_id", ID, nullable=False),
        sa.Column("buyer_account_id", sa.Integer(), nullable=False),
        sa.Column("seller_account_id", sa.Integer(), nullable=False),
        sa.Column("block_id", ID, nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("price_fen_per_t", sa.BigInteger(), nullable=False),
        sa.Column("aggressor", sa.String(length=4), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.CheckConstraint(
            "aggressor = 'buy' OR aggressor = 'sell'", name=op.f("ck_market_trades_aggressor")
        ),
        sa.CheckConstraint(
            "quantity > 0 AND price_fen_per_t > 0", name=op.f("ck_market_trades_amounts")
        ),
        sa.ForeignKeyConstraint(
            ["block_id"],
            ["registry_blocks.id"],
            name=op.f("fk_market_trades_block_id_registry_blocks"),
        ),
        sa.ForeignKeyConstraint(
            ["buy_order_id"],
            ["market_orders.id"],
            name=op.f("fk_market_trades_buy_order_id_market_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["buyer_account_id"],
            ["registry_accounts.id"],
            name=op.f("fk_market_trades_buyer_account_id_registry_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["issuance_id"],
            ["registry_issuances.id"],
            name=op.f("fk_market_trades_issuance_id_registry_issuances"),
        ),
        sa.ForeignKeyConstraint(
            ["sell_order_id"],
            ["market_orders.id"],
            name=op.f("fk_market_trades_sell_order_id_market_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["seller_account_id"],
            ["registry_accounts.id"],
            name=op.f("fk_market_trades_seller_account_id_registry_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_trades")),
    )
    op.create_index(
        "ix_market_trades_issuance", "market_trades", ["issuance_id", "id"], unique=False
    )
    op.create_table(
        "market_cash_movements",
        sa.Column("id", ID, nullable=False),
        sa.Column("idempotency_key", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("available_fen", sa.BigInteger(), nullable=False),
        sa.Column("reserved_fen", sa.BigInteger(), nullable=False),
        sa.Column("available_after_fen", sa.BigInteger(), nullable=False),
        sa.Column("reserved_after_fen", sa.BigInteger(), nullable=False),
        sa.Column("order_id", ID, nullable=True),
        sa.Column("trade_id", ID, nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.CheckConstraint(
            one_of("kind", ("deposit", "withdraw", "reserve", "release", "pay", "receive")),
            name=op.f("ck_market_cash_movements_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["registry_accounts.id"],
            name=op.f("fk_market_cash_movements_account_id_registry_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["market_orders.id"],
            name=op.f("fk_market_cash_movements_order_id_market_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["trade_id"],
            ["market_trades.id"],
            name=op.f("fk_market_cash_movements_trade_id_market_trades"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_cash_movements")),
        sa.UniqueConstraint(
            "idempotency_key", name=op.f("uq_market_cash_movements_idempotency_key")
        ),
    )
    op.create_index(
        "ix_market_cash_movements_account",
        "market_cash_movements",
        ["account_id", "id"],
        unique=False,
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
        CREATE FUNCTION market_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
        END $$
        """
    )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION market_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION market_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in APPEND_ONLY:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    else:
        op.execute("DROP FUNCTION IF EXISTS market_append_only() CASCADE")
    op.drop_index("ix_market_cash_movements_account", table_name="market_cash_movements")
    op.drop_table("market_cash_movements")
    op.drop_index("ix_market_trades_issuance", table_name="market_trades")
    op.drop_table("market_trades")
    op.drop_index("ix_market_orders_book", table_name="market_orders")
    op.drop_index("ix_market_orders_account", table_name="market_orders")
    op.drop_table("market_orders")
    op.drop_table("market_balances")
