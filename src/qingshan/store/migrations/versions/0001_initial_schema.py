"""Initial schema: hierarchy, sites, devices, parameters, readings, identity and audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Besides the tables, two kinds of triggers keep history honest on both backends:

* ``readings``: an update that changes the value or the flag copies the old version into
  ``reading_revisions`` (so the superseded value is kept whatever code path did the update);
* ``sites``, ``parameters``: DELETE is refused while readings refer to the row (readings carry
  no foreign keys, for bulk-ingest speed; see ``qingshan.store.models.Reading``);
* ``audit_log``: UPDATE and DELETE are refused (the log is append-only).
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


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", ID, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column("before", JSON, nullable=True),
        sa.Column("after", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index("ix_audit_log_entity", ["entity", "entity_id"], unique=False)

    op.create_table(
        "districts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_districts")),
        sa.UniqueConstraint("code", name=op.f("uq_districts_code")),
    )
    op.create_table(
        "parameters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("medium", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parameters")),
        sa.UniqueConstraint("key", name=op.f("uq_parameters_key")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.CheckConstraint(
            one_of("role", ("admin", "analyst", "grid_officer", "enterprise", "device")),
            name=op.f("ck_users_role"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=True),
        sa.Column("revoked_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "parameter_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("parameter_id", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.String(length=24), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("site_kind", sa.String(length=16), nullable=True),
        sa.Column("factor", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parameter_id"],
            ["parameters.id"],
            name=op.f("fk_parameter_codes_parameter_id_parameters"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parameter_codes")),
        sa.UniqueConstraint(
            "scheme", "code", "site_kind", name=op.f("uq_parameter_codes_scheme_code_site_kind")
        ),
    )
    with op.batch_alter_table("parameter_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_parameter_codes_parameter_id"), ["parameter_id"], unique=False
        )

    op.create_table(
        "townships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.CheckConstraint(one_of("kind", ("township", "street")), name=op.f("ck_townships_kind")),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_townships_district_id_districts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_townships")),
        sa.UniqueConstraint("code", name=op.f("uq_townships_code")),
    )
    with op.batch_alter_table("townships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_townships_district_id"), ["district_id"], unique=False)

    op.create_table(
        "grids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("township_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("boundary", sa.Text(), nullable=True),
        sa.Column("responsible", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["township_id"], ["townships.id"], name=op.f("fk_grids_township_id_townships")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grids")),
        sa.UniqueConstraint("code", name=op.f("uq_grids_code")),
    )
    with op.batch_alter_table("grids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grids_township_id"), ["township_id"], unique=False)

    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("air_class", sa.String(length=2), nullable=True),
        sa.Column("water_target_class", sa.String(length=3), nullable=True),
        sa.Column("waterbody_type", sa.String(length=10), nullable=True),
        sa.Column("noise_zone", sa.String(length=2), nullable=True),
        sa.Column("permit_limits", JSON, nullable=False),
        sa.Column("reporting_interval_minutes", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            one_of("air_class", ("I", "II"), nullable=True), name=op.f("ck_sites_air_class")
        ),
        sa.CheckConstraint(
            one_of(
                "kind",
                ("air_station", "water_section", "noise_point", "source_outlet", "energy_meter"),
            ),
            name=op.f("ck_sites_kind"),
        ),
        sa.CheckConstraint(
            one_of("noise_zone", ("0", "1", "2", "3", "4a", "4b"), nullable=True),
            name=op.f("ck_sites_noise_zone"),
        ),
        sa.CheckConstraint(
            one_of("water_target_class", ("I", "II", "III", "IV", "V"), nullable=True),
            name=op.f("ck_sites_water_class"),
        ),
        sa.CheckConstraint(
            one_of("waterbody_type", ("river", "lake", "reservoir"), nullable=True),
            name=op.f("ck_sites_waterbody_type"),
        ),
        sa.CheckConstraint("latitude BETWEEN -90 AND 90", name=op.f("ck_sites_latitude")),
        sa.CheckConstraint("longitude BETWEEN -180 AND 180", name=op.f("ck_sites_longitude")),
        sa.CheckConstraint(
            "reporting_interval_minutes > 0 AND 1440 % reporting_interval_minutes = 0",
            name=op.f("ck_sites_reporting_interval"),
        ),
        sa.ForeignKeyConstraint(["grid_id"], ["grids.id"], name=op.f("fk_sites_grid_id_grids")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("code", name=op.f("uq_sites_code")),
    )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sites_grid_id"), ["grid_id"], unique=False)

    op.create_table(
        "aggregates",
        sa.Column("id", ID, nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("parameter_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("period_start", TIME, nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("expected_count", sa.Integer(), nullable=False),
        sa.Column("valid_count", sa.Integer(), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("computed_at", TIME, nullable=False),
        sa.CheckConstraint(one_of("period", ("hour", "day")), name=op.f("ck_aggregates_period")),
        sa.ForeignKeyConstraint(
            ["parameter_id"], ["parameters.id"], name=op.f("fk_aggregates_parameter_id_parameters")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_aggregates_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aggregates")),
        sa.UniqueConstraint(
            "site_id",
            "parameter_id",
            "period",
            "period_start",
            name=op.f("uq_aggregates_site_id_parameter_id_period_period_start"),
        ),
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mn", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("password", sa.String(length=32), nullable=False),
        sa.Column("protocol_version", sa.String(length=4), nullable=False),
        sa.Column("crc_variant", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_seen_at", TIME, nullable=True),
        sa.CheckConstraint(
            one_of("crc_variant", ("appendix_a", "modbus", "modbus_swapped")),
            name=op.f("ck_devices_crc_variant"),
        ),
        sa.CheckConstraint(
            one_of("protocol_version", ("2005", "2017", "2025")),
            name=op.f("ck_devices_protocol_version"),
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_devices_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("mn", name=op.f("uq_devices_mn")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_devices_site_id"), ["site_id"], unique=False)

    op.create_table(
        "readings",
        sa.Column("id", ID, nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("parameter_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("period_start", TIME, nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("flag", sa.String(length=1), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            one_of("flag", ("N", "F", "M", "S", "D", "C", "T", "B", "X", "R")),
            name=op.f("ck_readings_flag"),
        ),
        sa.CheckConstraint(
            one_of("period", ("realtime", "minute", "hour", "day")), name=op.f("ck_readings_period")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_readings")),
        sa.UniqueConstraint(
            "site_id",
            "parameter_id",
            "period",
            "period_start",
            name=op.f("uq_readings_site_id_parameter_id_period_period_start"),
        ),
    )
    op.create_table(
        "reading_revisions",
        sa.Column("id", ID, nullable=False),
        sa.Column("reading_id", ID, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("flag", sa.String(length=1), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("superseded_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["reading_id"],
            ["readings.id"],
            name=op.f("fk_reading_revisions_reading_id_readings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reading_revisions")),
    )
    with op.batch_alter_table("reading_revisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reading_revisions_reading_id"), ["reading_id"], unique=False
        )

    _create_triggers()


SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER readings_keep_revision AFTER UPDATE OF value, flag ON readings
    FOR EACH ROW WHEN OLD.value IS NOT NEW.value OR OLD.flag IS NOT NEW.flag
    BEGIN
        INSERT INTO reading_revisions
            (reading_id, revision, value, flag, source, received_at, superseded_at)
        VALUES (OLD.id, OLD.revision, OLD.value, OLD.flag, OLD.source, OLD.received_at,
                NEW.received_at);
    END
    """,
    """
    CREATE TRIGGER sites_keep_readings BEFORE DELETE ON sites
    WHEN EXISTS (SELECT 1 FROM readings WHERE site_id = OLD.id)
    BEGIN SELECT RAISE(ABORT, 'the site has readings; deactivate it instead'); END
    """,
    """
    CREATE TRIGGER parameters_keep_readings BEFORE DELETE ON parameters
    WHEN EXISTS (SELECT 1 FROM readings WHERE parameter_id = OLD.id)
    BEGIN SELECT RAISE(ABORT, 'the parameter has readings'); END
    """,
    """
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END
    """,
    """
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END
    """,
)

POSTGRESQL_TRIGGERS = (
    """
    CREATE FUNCTION readings_keep_revision() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO reading_revisions
            (reading_id, revision, value, flag, source, received_at, superseded_at)
        VALUES (OLD.id, OLD.revision, OLD.value, OLD.flag, OLD.source, OLD.received_at,
                NEW.received_at);
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER readings_keep_revision AFTER UPDATE ON readings FOR EACH ROW
    WHEN (OLD.value IS DISTINCT FROM NEW.value OR OLD.flag IS DISTINCT FROM NEW.flag)
    EXECUTE FUNCTION readings_keep_revision()
    """,
    """
    CREATE FUNCTION refuse_delete_with_readings() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM readings WHERE
                   (TG_TABLE_NAME = 'sites' AND site_id = OLD.id)
                   OR (TG_TABLE_NAME = 'parameters' AND parameter_id = OLD.id)) THEN
            RAISE EXCEPTION 'the % row % has readings; deactivate it instead',
                TG_TABLE_NAME, OLD.id;
        END IF;
        RETURN OLD;
    END $$
    """,
    """
    CREATE TRIGGER sites_keep_readings BEFORE DELETE ON sites FOR EACH ROW
    EXECUTE FUNCTION refuse_delete_with_readings()
    """,
    """
    CREATE TRIGGER parameters_keep_readings BEFORE DELETE ON parameters FOR EACH ROW
    EXECUTE FUNCTION refuse_delete_with_readings()
    """,
    """
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_log is append-only';
    END $$
    """,
    """
    CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW
    EXECUTE FUNCTION audit_log_append_only()
    """,
    """
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT
    EXECUTE FUNCTION audit_log_append_only()
    """,
)


def _create_triggers() -> None:
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_TRIGGERS if dialect == "sqlite" else POSTGRESQL_TRIGGERS:
        op.execute(statement)


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in (
            "readings_keep_revision",
            "sites_keep_readings",
            "parameters_keep_readings",
            "audit_log_no_update",
            "audit_log_no_delete",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP FUNCTION IF EXISTS readings_keep_revision() CASCADE")
        op.execute("DROP FUNCTION IF EXISTS refuse_delete_with_readings() CASCADE")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only() CASCADE")


def downgrade() -> None:
    _drop_triggers()
    with op.batch_alter_table("reading_revisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reading_revisions_reading_id"))

    op.drop_table("reading_revisions")
    op.drop_table("readings")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devices_site_id"))

    op.drop_table("devices")
    op.drop_table("aggregates")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sites_grid_id"))

    op.drop_table("sites")
    with op.batch_alter_table("grids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grids_township_id"))

    op.drop_table("grids")
    with op.batch_alter_table("townships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_townships_district_id"))

    op.drop_table("townships")
    with op.batch_alter_table("parameter_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_parameter_codes_parameter_id"))

    op.drop_table("parameter_codes")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))

    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_table("parameters")
    op.drop_table("districts")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_entity")
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
