"""Registry journal: double-entry lines, hash-chained entries, the chain head.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25

``registry_journal_entries`` (one per movement), ``registry_journal_lines`` (its legs, summing
to zero per asset) and ``registry_journal_head`` (the end of the sealed chain); see
``qingshan.store.journal`` and docs/registry.md. Triggers: lines never change or disappear; an
entry changes only once, when it is sealed (its hash columns go from NULL to values, nothing
else changes); no deletion or TRUNCATE.

**The chain starts at this migration.** Earlier history stays in ``registry_operations`` (whose
rows do not record everything the lines need, e.g. whether a cancelled block was frozen). When
the registry already holds credits or points, one ``opening`` entry states every position: each
block (account, serial range, status) against the issuance book, each points balance against
the points book. It is written unsealed; ``qingshan db upgrade`` seals it right after.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

TIME = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
STATES = ("held", "frozen", "retired", "cancelled", "available", "reserved")
"""Block statuses of credit lines; a yuan balance's two parts on cash lines."""
GENESIS = "0" * 64
"""The chain's first ``prev_hash`` (qingshan.store.journal.GENESIS)."""

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_journal_entries",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("operation_id", ID, nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["registry_operations.id"],
            name=op.f("fk_registry_journal_entries_operation_id_registry_operations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_journal_entries")),
        sa.UniqueConstraint("operation_id", name=op.f("uq_registry_journal_entries_operation_id")),
        sa.UniqueConstraint("seq", name=op.f("uq_registry_journal_entries_seq")),
    )
    op.create_table(
        "registry_journal_lines",
        sa.Column("entry_id", ID, nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("book", sa.String(length=16), nullable=True),
        sa.Column("asset", sa.String(length=24), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=True),
        sa.Column("first_serial", sa.BigInteger(), nullable=True),
        sa.Column("last_serial", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "(account_id IS NULL) <> (book IS NULL)",
            name=op.f("ck_registry_journal_lines_account_or_book"),
        ),
        sa.CheckConstraint(
            "quantity <> 0", name=op.f("ck_registry_journal_lines_quantity_not_zero")
        ),
        sa.CheckConstraint(
            "state IS NULL OR " + " OR ".join(f"state = '{state}'" for state in STATES),
            name=op.f("ck_registry_journal_lines_state"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["registry_accounts.id"],
            name=op.f("fk_registry_journal_lines_account_id_registry_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["registry_journal_entries.id"],
            name=op.f("fk_registry_journal_lines_entry_id_registry_journal_entries"),
        ),
        sa.PrimaryKeyConstraint("entry_id", "line", name=op.f("pk_registry_journal_lines")),
    )
    op.create_index(
        "ix_registry_journal_lines_account",
        "registry_journal_lines",
        ["account_id", "asset"],
        unique=False,
    )
    op.create_table(
        "registry_journal_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_registry_journal_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_journal_head")),
    )
    op.execute(f"INSERT INTO registry_journal_head (id, seq, hash) VALUES (1, 0, '{GENESIS}')")
    triggers = SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else POSTGRESQL_TRIGGERS
    for statement in triggers:
        op.execute(statement)
    _opening_entry()


SEALING_ONLY = (
    "OLD.hash IS NULL AND NEW.id = OLD.id AND NEW.kind = OLD.kind AND NEW.at = OLD.at "
    "AND NEW.operation_id IS NOT DISTINCT FROM OLD.operation_id"
)
"""The one UPDATE of an entry allowed: sealing it (only the chain columns change)."""

SQLITE_TRIGGERS = (
    f"""
    CREATE TRIGGER registry_journal_entries_seal_only BEFORE UPDATE ON registry_journal_entries
    WHEN NOT ({SEALING_ONLY.replace("IS NOT DISTINCT FROM", "IS")})
    BEGIN SELECT RAISE(ABORT, 'journal entries are append-only (sealed once)'); END
    """,
    """
    CREATE TRIGGER registry_journal_entries_no_delete BEFORE DELETE ON registry_journal_entries
    BEGIN SELECT RAISE(ABORT, 'journal entries are append-only (sealed once)'); END
    """,
    """
    CREATE TRIGGER registry_journal_lines_no_update BEFORE UPDATE ON registry_journal_lines
    BEGIN SELECT RAISE(ABORT, 'registry_journal_lines is append-only'); END
    """,
    """
    CREATE TRIGGER registry_journal_lines_no_delete BEFORE DELETE ON registry_journal_lines
    BEGIN SELECT RAISE(ABORT, 'registry_journal_lines is append-only'); END
    """,
)

POSTGRESQL_TRIGGERS = (
    f"""
    CREATE FUNCTION registry_journal_entry_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND {SEALING_ONLY} THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'journal entries are append-only (sealed once)';
    END $$
    """,
    """
    CREATE FUNCTION registry_journal_line_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
    END $$
    """,
    """
    CREATE TRIGGER registry_journal_entries_guard BEFORE UPDATE OR DELETE
    ON registry_journal_entries FOR EACH ROW EXECUTE FUNCTION registry_journal_entry_guard()
    """,
    """
    CREATE TRIGGER registry_journal_entries_no_truncate BEFORE TRUNCATE
    ON registry_journal_entries FOR EACH STATEMENT EXECUTE FUNCTION registry_journal_line_guard()
    """,
    """
    CREATE TRIGGER registry_journal_lines_no_change BEFORE UPDATE OR DELETE
    ON registry_journal_lines FOR EACH ROW EXECUTE FUNCTION registry_journal_line_guard()
    """,
    """
    CREATE TRIGGER registry_journal_lines_no_truncate BEFORE TRUNCATE
    ON registry_journal_lines FOR EACH STATEMENT EXECUTE FUNCTION registry_journal_line_guard()
    """,
)


def _opening_entry() -> None:
    """One unsealed ``opening`` entry stating every existing position (none on a new registry)."""
    bind = op.get_bind()
    blocks = bind.execute(
        sa.text(
            "SELECT account_id, issuance_id, first_serial, last_serial, status "
            "FROM registry_blocks ORDER BY issuance_id, first_serial"
        )
    ).all()
    issuances = bind.execute(
        sa.text("SELECT id, first_serial, last_serial FROM registry_issuances ORDER BY id")
    ).all()
    points = bind.execute(
        sa.text("SELECT id, points_centi FROM registry_accounts WHERE points_centi > 0 ORDER BY id")
    ).all()
    lines = [
        (None, "issuance", f"credit:{iid}", -(last - first + 1), None, first, last)
        for iid, first, last in issuances
    ]
    lines += [
        (account, None, f"credit:{iid}", last - first + 1, status, first, last)
        for account, iid, first, last, status in blocks
    ]
    if points:
        lines.append(
            (None, "points", "points", -sum(centi for _, centi in points), None, None, None)
        )
        lines += [(account, None, "points", centi, None, None, None) for account, centi in points]
    if not lines:
        return
    now = datetime.now(UTC)  # SQLite stores naive UTC text (qingshan.store.types)
    entries = sa.table(
        "registry_journal_entries", sa.column("id"), sa.column("kind"), sa.column("at", TIME)
    )
    entry_id = bind.execute(
        sa.insert(entries)
        .values(
            kind="opening", at=now.replace(tzinfo=None) if bind.dialect.name == "sqlite" else now
        )
        .returning(entries.c.id)
    ).scalar_one()
    fields = ("account_id", "book", "asset", "quantity", "state", "first_serial", "last_serial")
    table = sa.table(
        "registry_journal_lines",
        sa.column("entry_id"),
        sa.column("line"),
        *(sa.column(field) for field in fields),
    )
    bind.execute(
        sa.insert(table),
        [
            {"entry_id": entry_id, "line": number, **dict(zip(fields, line, strict=True))}
            for number, line in enumerate(lines, start=1)
        ],
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in (
            "registry_journal_entries_seal_only",
            "registry_journal_entries_no_delete",
            "registry_journal_lines_no_update",
            "registry_journal_lines_no_delete",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP FUNCTION IF EXISTS registry_journal_entry_guard() CASCADE")
        op.execute("DROP FUNCTION IF EXISTS registry_journal_line_guard() CASCADE")
    op.drop_table("registry_journal_head")
    op.drop_index("ix_registry_journal_lines_account", table_name="registry_journal_lines")
    op.drop_table("registry_journal_lines")
    op.drop_table("registry_journal_entries")
