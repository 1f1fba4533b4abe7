"""The platform's tables as SQLAlchemy 2 typed models.

Hierarchy: district (区县) → township or street (乡镇/街道) → grid (网格) → site → device.
Readings hang off a site and a parameter. Every write to these tables is recorded in
:class:`AuditEntry` (see :mod:`qingshan.store.audit`); superseded reading values are kept in
:class:`ReadingRevision` by a database trigger (see ``docs/store.md``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from qingshan.store.types import Identifier, JsonDocument, UtcDateTime, utc_now

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names, so that migrations can refer to them on both backends."""

SITE_KINDS = ("air_station", "water_section", "noise_point", "source_outlet", "energy_meter")
PERIODS = ("realtime", "minute", "hour", "day")
RAW_PERIODS = ("realtime", "minute")
"""Periods subject to the raw-data retention setting."""

HJ212_FLAGS = ("N", "F", "M", "S", "D", "C", "T", "B")
"""HJ 212—2017 §6.6.4 Table 8 data flags: N normal, F stopped, M maintenance, S manual set value,
D fault, C calibration, T over the measuring range, B instrument–DAQ communication failure."""

OWN_FLAGS = ("X", "R")
"""Qingshan's own quality flags: X = aggregate without enough valid data (GB 3095 Table 4),
R = invalidated in review."""

FLAGS = HJ212_FLAGS + OWN_FLAGS
VALID_FLAGS = ("N",)
"""Flags whose values count as valid data in aggregation (only "instrument working normally")."""

ROLES = ("admin", "analyst", "grid_officer", "enterprise", "device")
PROTOCOL_VERSIONS = ("2005", "2017", "2025")
CRC_VARIANTS = ("appendix_a", "modbus", "modbus_swapped")
"""HJ 212 Appendix A CRC, or the MODBUS variants some devices use (opt-in per device)."""

AIR_CLASSES = ("I", "II")
WATER_CLASSES = ("I", "II", "III", "IV", "V")
WATERBODY_TYPES = ("river", "lake", "reservoir")
NOISE_ZONES = ("0", "1", "2", "3", "4a", "4b")
"""GB 3096—2008 §4 acoustic environment functional zones."""

SEVERITIES = ("critical", "major", "minor", "warning")
"""Alarm severities, highest first (red, orange, yellow, blue warnings; see
:data:`qingshan.alerting.catalogue.SEVERITIES`)."""
CLEAR_REASONS = ("auto", "manual")
REJECT_CHANNELS = ("hj212", "mqtt")
"""Device-facing channels whose refused input is kept in :class:`RejectedPacket`."""


def _one_of(column: str, values: tuple[str, ...], *, nullable: bool = False) -> str:
    """A CHECK that ``column`` is one of ``values``, spelled as ``=`` comparisons joined by OR.

    Not ``IN (…)``: SQLite builds a temporary index for an IN list each time a statement runs,
    which made the CHECKs of ``readings`` half the cost of a bulk upsert.
    """
    check = " OR ".join(f"{column} = '{value}'" for value in values)
    return f"{column} IS NULL OR {check}" if nullable else check


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JsonDocument,
    }


# ------------------------------------------------------------------------------------------
# Administrative hierarchy and sites
# ------------------------------------------------------------------------------------------


class District(Base):
    """A county-level district (区县), by its administrative division code."""

    __tablename__ = "districts"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(100))

    townships: Mapped[list[Township]] = relationship(back_populates="district")


class Township(Base):
    """A township (乡镇) or sub-district street (街道) of a district."""

    __tablename__ = "townships"
    __table_args__ = (CheckConstraint(_one_of("kind", ("township", "street")), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(8), default="township")

    district: Mapped[District] = relationship(back_populates="townships")
    grids: Mapped[list[Grid]] = relationship(back_populates="township")


class Grid(Base):
    """A management grid (网格): a polygon with the people responsible for it.

    ``boundary`` is a GeoJSON Polygon or MultiPolygon geometry (WGS-84), kept as text;
    ``responsible`` is a list of ``{"name", "phone", "duty"}`` objects.
    """

    __tablename__ = "grids"

    id: Mapped[int] = mapped_column(primary_key=True)
    township_id: Mapped[int] = mapped_column(ForeignKey("townships.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    boundary: Mapped[str | None] = mapped_column(Text)
    responsible: Mapped[list[dict[str, str]]] = mapped_column(JsonDocument, default=list)

    township: Mapped[Township] = relationship(back_populates="grids")
    sites: Mapped[list[Site]] = relationship(back_populates="grid")


class Site(Base):
    """A monitoring site and the standard context its readings are judged in.

    Attributes
    ----------
    latitude, longitude : WGS-84 degrees [°].
    air_class : GB 3095 ambient air functional area class, I or II (air stations).
    water_target_class : GB 3838 target water quality class I–V (water sections).
    waterbody_type : river, lake or reservoir (lakes and reservoirs have other TP limits).
    noise_zone : GB 3096 functional zone 0, 1, 2, 3, 4a or 4b (noise points).
    permit_limits : discharge limits from the pollutant discharge permit (source outlets),
        ``{parameter_key: {"limit": number, "unit": text, "period": "hour" | "day"}}``.
    reporting_interval_minutes : the interval between the site's readings [min]; the
        minute → hour aggregation expects 60 / interval values per hour, and liveness calls a
        device offline after 3 intervals of silence.
    owner_account_id : the enterprise (排污单位) that operates the outlet (source outlets
        only): its registry account of kind ``enterprise``, so that a company is one record,
        whose ``user_id`` is the enterprise user who sees the outlet (docs/store.md, owners).
    """

    __tablename__ = "sites"
    __table_args__ = (
        CheckConstraint(_one_of("kind", SITE_KINDS), name="kind"),
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude"),
        CheckConstraint(_one_of("air_class", AIR_CLASSES, nullable=True), name="air_class"),
        CheckConstraint(
            _one_of("water_target_class", WATER_CLASSES, nullable=True), name="water_class"
        ),
        CheckConstraint(
            _one_of("waterbody_type", WATERBODY_TYPES, nullable=True), name="waterbody_type"
        ),
        CheckConstraint(_one_of("noise_zone", NOISE_ZONES, nullable=True), name="noise_zone"),
        CheckConstraint(
            "reporting_interval_minutes > 0 AND 1440 % reporting_interval_minutes = 0",
            name="reporting_interval",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"), index=True)
    air_class: Mapped[str | None] = mapped_column(String(2))
    water_target_class: Mapped[str | None] = mapped_column(String(3))
    waterbody_type: Mapped[str | None] = mapped_column(String(10))
    noise_zone: Mapped[str | None] = mapped_column(String(2))
    permit_limits: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reporting_interval_minutes: Mapped[int] = mapped_column(Integer, default=60)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    owner_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_accounts.id"), index=True
    )

    grid: Mapped[Grid | None] = relationship(back_populates="sites")
    devices: Mapped[list[Device]] = relationship(back_populates="site")


class Device(Base):
    """A data acquisition unit (数采仪) that reports for a site over HJ 212.

    ``password`` is the HJ 212 access password (PW). It is kept as given, not hashed: devices
    send it in clear text in every packet and the 9014 reply echoes it back, so a hash would
    protect nothing while costing a hash per packet.
    """

    __tablename__ = "devices"
    __table_args__ = (
        CheckConstraint(_one_of("protocol_version", PROTOCOL_VERSIONS), name="protocol_version"),
        CheckConstraint(_one_of("crc_variant", CRC_VARIANTS), name="crc_variant"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mn: Mapped[str] = mapped_column(String(32), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    password: Mapped[str] = mapped_column(String(32))
    protocol_version: Mapped[str] = mapped_column(String(4), default="2017")
    crc_variant: Mapped[str] = mapped_column(String(16), default="appendix_a")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_seen_at: Mapped[datetime | None]

    site: Mapped[Site] = relationship(back_populates="devices")


# ------------------------------------------------------------------------------------------
# Parameters and readings
# ------------------------------------------------------------------------------------------


class Parameter(Base):
    """A measured quantity under its canonical key (``pm25``) and unit (``µg/m³``)."""

    __tablename__ = "parameters"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(32))
    medium: Mapped[str] = mapped_column(String(16))

    codes: Mapped[list[ParameterCode]] = relationship(back_populates="parameter")


class ParameterCode(Base):
    """An external code that names a parameter, e.g. HJ 212 ``a34004`` → ``pm25``.

    ``site_kind`` limits the mapping to one kind of site (``a21026`` is ambient SO2 at an air
    station but flue-gas SO2 at a source outlet); NULL means any kind. ``factor`` converts the
    device's unit to the parameter's canonical unit (value × factor).
    """

    __tablename__ = "parameter_codes"
    __table_args__ = (UniqueConstraint("scheme", "code", "site_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parameter_id: Mapped[int] = mapped_column(ForeignKey("parameters.id"), index=True)
    scheme: Mapped[str] = mapped_column(String(24))
    code: Mapped[str] = mapped_column(String(16))
    site_kind: Mapped[str | None] = mapped_column(String(16))
    factor: Mapped[float] = mapped_column(Float, default=1.0)

    parameter: Mapped[Parameter] = relationship(back_populates="codes")


class Reading(Base):
    """The current value of one (site, parameter, period, period start).

    ``period_start`` is the start of the averaging period in UTC (for ``realtime``, the
    sampling instant). ``revision`` counts changes: 1 when first stored; each changed value
    or flag increments it, and the previous version moves to :class:`ReadingRevision`.

    ``site_id`` and ``parameter_id`` are not declared as foreign keys: PostgreSQL checks a
    foreign key with one locking query per inserted row, which made bulk ingest several times
    slower. Integrity is kept set-wise instead: the bulk path checks (and on PostgreSQL
    key-share locks) each batch's distinct sites and parameters, and triggers refuse to delete
    a site or parameter that has readings (see the initial migration).
    """

    __tablename__ = "readings"
    __table_args__ = (
        UniqueConstraint("site_id", "parameter_id", "period", "period_start"),
        CheckConstraint(_one_of("period", PERIODS), name="period"),
        CheckConstraint(_one_of("flag", FLAGS), name="flag"),
    )

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    site_id: Mapped[int] = mapped_column(Integer)
    parameter_id: Mapped[int] = mapped_column(Integer)
    period: Mapped[str] = mapped_column(String(8))
    period_start: Mapped[datetime]
    value: Mapped[float] = mapped_column(Float)
    flag: Mapped[str] = mapped_column(String(1), default="N")
    source: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
    revision: Mapped[int] = mapped_column(Integer, default=1)


class ReadingRevision(Base):
    """A superseded version of a reading, written by the ``readings`` update trigger."""

    __tablename__ = "reading_revisions"

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    reading_id: Mapped[int] = mapped_column(
        Identifier, ForeignKey("readings.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)
    flag: Mapped[str] = mapped_column(String(1))
    source: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
    superseded_at: Mapped[datetime]


class Aggregate(Base):
    """An hour or day mean computed from shorter periods, with its coverage.

    ``expected_count`` values were due in the period, ``valid_count`` were present with a valid
    flag; ``valid`` says whether the period meets GB 3095—2026 Table 4 (≥ 45 minutes of data in
    the hour, ≥ 20 hourly values in the day). ``value`` is the mean of the valid values (NULL
    when there are none) and is given even when ``valid`` is false.
    """

    __tablename__ = "aggregates"
    __table_args__ = (
        UniqueConstraint("site_id", "parameter_id", "period", "period_start"),
        CheckConstraint(_one_of("period", ("hour", "day")), name="period"),
    )

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    parameter_id: Mapped[int] = mapped_column(ForeignKey("parameters.id"))
    period: Mapped[str] = mapped_column(String(8))
    period_start: Mapped[datetime]
    value: Mapped[float | None] = mapped_column(Float)
    expected_count: Mapped[int] = mapped_column(Integer)
    valid_count: Mapped[int] = mapped_column(Integer)
    valid: Mapped[bool] = mapped_column(Boolean)
    computed_at: Mapped[datetime]


# ------------------------------------------------------------------------------------------
# Identity and audit
# ------------------------------------------------------------------------------------------


class User(Base):
    """A person or a device account; ``password_hash`` is an argon2id hash (or NULL: no login)."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_one_of("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")


class ApiToken(Base):
    """An API token; only its SHA-256 is stored, with a short prefix to recognise it by."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")


class AuditEntry(Base):
    """One write: who, when, what, and a before/after summary. Append-only (trigger-enforced)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]


# ------------------------------------------------------------------------------------------
# Rules and alarms (docs/alerting.md)
# ------------------------------------------------------------------------------------------


class UserGrid(Base):
    """A grid a user answers for: grid officers see and acknowledge the alarms of these grids."""

    __tablename__ = "user_grids"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"), primary_key=True, index=True)


class Rule(Base):
    """An alarm rule, as data: type, parameters, scope, severity; ``version`` counts changes.

    ``scope`` is ``{"site_kinds": [...], "grids": [grid codes], "sites": [site codes]}``; an
    empty or missing list does not restrict. Every change writes a new :class:`RuleVersion`.
    """

    __tablename__ = "rules"
    __table_args__ = (CheckConstraint(_one_of("severity", SEVERITIES), name="severity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    scope: Mapped[dict[str, Any]] = mapped_column(default=dict)
    severity: Mapped[str] = mapped_column(String(8))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_by: Mapped[str] = mapped_column(String(100))

    versions: Mapped[list[RuleVersion]] = relationship(
        back_populates="rule", order_by="RuleVersion.version"
    )


class RuleVersion(Base):
    """One version of a rule as it was saved (history; never updated)."""

    __tablename__ = "rule_versions"
    __table_args__ = (UniqueConstraint("rule_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("rules.id"))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    scope: Mapped[dict[str, Any]] = mapped_column(default=dict)
    severity: Mapped[str] = mapped_column(String(8))
    enabled: Mapped[bool] = mapped_column(Boolean)
    saved_at: Mapped[datetime]
    saved_by: Mapped[str] = mapped_column(String(100))

    rule: Mapped[Rule] = relationship(back_populates="versions")


class Alarm(Base):
    """An alarm: one episode of a rule's condition at a site (and parameter).

    Identity is rule + site (+ parameter): while an alarm is ``active`` a re-trigger updates it
    (``last_triggered_at``, ``peak_value``, ``count``) — the partial unique index on
    ``series_key`` allows one active alarm per identity. States are active/cleared ×
    acknowledged (ThingsBoard's four). Times are period starts of the readings that triggered
    it; ``cleared_at`` is the start of the period that cleared it (or the manual clear time).
    """

    __tablename__ = "alarms"
    __table_args__ = (
        CheckConstraint(_one_of("severity", SEVERITIES), name="severity"),
        CheckConstraint(_one_of("clear_reason", CLEAR_REASONS, nullable=True), name="clear_reason"),
        Index(
            "uq_alarms_active_series",
            "series_key",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
        Index("ix_alarms_site_started", "site_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    series_key: Mapped[str] = mapped_column(String(48))
    rule_id: Mapped[int] = mapped_column(ForeignKey("rules.id"), index=True)
    rule_version: Mapped[int] = mapped_column(Integer)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    parameter_id: Mapped[int | None] = mapped_column(ForeignKey("parameters.id"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"), index=True)
    severity: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[datetime]
    last_triggered_at: Mapped[datetime]
    count: Mapped[int] = mapped_column(Integer, default=1)
    peak_value: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    cleared_at: Mapped[datetime | None]
    clear_reason: Mapped[str | None] = mapped_column(String(8))
    acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    assignee: Mapped[str | None] = mapped_column(String(100))
    context: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    """What the evaluation was based on (neighbour anomaly: how the neighbouring grids were
    found and which they are); None for other rules."""
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    rule: Mapped[Rule] = relationship()
    comments: Mapped[list[AlarmComment]] = relationship(
        back_populates="alarm", order_by="AlarmComment.id"
    )


class AlarmComment(Base):
    """A comment on an alarm: by a person, or by the system (acknowledged, cleared…)."""

    __tablename__ = "alarm_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utc_now)
    author: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    system: Mapped[bool] = mapped_column(Boolean, default=False)

    alarm: Mapped[Alarm] = relationship(back_populates="comments")


# Carbon-inclusion registry (碳普惠 / 碳惠通): see docs/registry.md
# ------------------------------------------------------------------------------------------

ACCOUNT_KINDS = (
    "individual",
    "enterprise",
    "project_owner",
    "platform",
    "retirement",
    "cancellation",
)
"""Who holds points or credits; ``retirement`` and ``cancellation`` are the system sinks."""
SYSTEM_ACCOUNT_KINDS = ("platform", "retirement", "cancellation")
BLOCK_STATUSES = ("held", "frozen", "retired", "cancelled")
JOURNAL_STATES = (*BLOCK_STATUSES, "available", "reserved")
"""States on journal lines: a block's status (credits) or a yuan balance's part (cash)."""
TERMINAL_STATUSES = ("retired", "cancelled")
"""Statuses a block never leaves (retirement and cancellation are irreversible)."""
RETIREMENT_PURPOSES = ("履约抵销", "碳中和", "自愿注销")
"""Use categories of a retirement (Beijing 碳普惠 rules, carbon.md §3.3.6)."""
METHODOLOGY_KINDS = ("action", "project")
ACTION_STATUSES = ("accepted", "rejected")
OPERATION_KINDS = (
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
)


class RegistryAccount(Base):
    """An account of the registry: holds carbon points (individuals) and credit blocks.

    ``points_centi`` is the points balance in hundredths of a point; the database refuses a
    negative balance. ``user_id`` links the account to the user who may act on it (enterprises);
    individual accounts are custodial, operated by the platform (docs/registry.md, roles).
    """

    __tablename__ = "registry_accounts"
    __table_args__ = (
        CheckConstraint(_one_of("kind", ACCOUNT_KINDS), name="kind"),
        CheckConstraint("points_centi >= 0", name="points_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    points_centi: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class Methodology(Base):
    """A methodology as data: its document, source and the parameters the ledger applies.

    ``grams_per_unit`` [g CO2 per ``unit``] and ``points_per_unit`` [points per ``unit``] turn an
    action's quantity into a reduction and points; ``daily_cap_units`` caps the quantity one
    account may claim per Beijing calendar day. An inactive methodology accepts no actions.
    """

    __tablename__ = "registry_methodologies"
    __table_args__ = (
        CheckConstraint(_one_of("kind", METHODOLOGY_KINDS), name="kind"),
        CheckConstraint("grams_per_unit IS NULL OR grams_per_unit > 0", name="grams_positive"),
        CheckConstraint(
            "points_per_unit IS NULL OR points_per_unit >= 0", name="points_not_negative"
        ),
        CheckConstraint("daily_cap_units IS NULL OR daily_cap_units > 0", name="cap_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(32))
    scheme: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(8))
    document: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(String(16))
    grams_per_unit: Mapped[float | None] = mapped_column(Float)
    points_per_unit: Mapped[float | None] = mapped_column(Float)
    daily_cap_units: Mapped[float | None] = mapped_column(Float)
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class LowCarbonAction(Base):
    """One claimed low-carbon action, accepted (points credited) or rejected with a reason.

    ``idempotency_key`` is unique: the same action sent twice is recorded once. An accepted
    action is itself the record of its accrual (points, reduction, when, by whom): the account
    timeline shows it as an ``accrue`` event; the balance change is in the batch's journal
    entry. ``local_day`` is the Beijing calendar day of ``occurred_at`` (the unit of daily caps).
    """

    __tablename__ = "registry_actions"
    __table_args__ = (
        CheckConstraint(_one_of("status", ACTION_STATUSES), name="status"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("reduction_mg >= 0 AND points_centi >= 0", name="amounts_not_negative"),
        Index("ix_registry_actions_cap", "account_id", "methodology_id", "local_day"),
    )

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("registry_accounts.id"))
    methodology_id: Mapped[int] = mapped_column(ForeignKey("registry_methodologies.id"))
    quantity: Mapped[float] = mapped_column(Float)
    occurred_at: Mapped[datetime]
    local_day: Mapped[date]
    evidence: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(Text)
    reduction_mg: Mapped[int] = mapped_column(BigInteger, default=0)
    points_centi: Mapped[int] = mapped_column(BigInteger, default=0)
    recorded_at: Mapped[datetime] = mapped_column(default=utc_now)
    actor: Mapped[str] = mapped_column(String(100), default="")
    """Who recorded the action (the audit actor of its batch)."""
    issuance_id: Mapped[int | None] = mapped_column(ForeignKey("registry_issuances.id"))
    """The issuance that turned this reduction into credits (each reduction counts once)."""


class ComplianceScheme(Base):
    """A compliance scheme and the share of an obligation offsets may cover (national ETS 5 %)."""

    __tablename__ = "registry_compliance_schemes"
    __table_args__ = (CheckConstraint("offset_cap_percent BETWEEN 0 AND 100", name="cap_percent"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    offset_cap_percent: Mapped[float] = mapped_column(Float)
    document: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)


class ComplianceObligation(Base):
    """An enterprise's verified emissions for a year under a scheme, and the offsets used.

    ``offset_cap_t`` is fixed when the obligation is recorded (cap % × verified emissions,
    rounded down); the database refuses ``offsets_surrendered_t`` above it.
    """

    __tablename__ = "registry_obligations"
    __table_args__ = (
        UniqueConstraint("account_id", "scheme_id", "year"),
        CheckConstraint("verified_emissions_t >= 0", name="emissions_not_negative"),
        CheckConstraint(
            "offsets_surrendered_t >= 0 AND offsets_surrendered_t <= offset_cap_t",
            name="within_cap",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("registry_accounts.id"))
    scheme_id: Mapped[int] = mapped_column(ForeignKey("registry_compliance_schemes.id"))
    year: Mapped[int] = mapped_column(Integer)
    verified_emissions_t: Mapped[int] = mapped_column(BigInteger)
    offset_cap_t: Mapped[int] = mapped_column(BigInteger)
    offsets_surrendered_t: Mapped[int] = mapped_column(BigInteger, default=0)


class CreditIssuance(Base):
    """Credits issued for a verified project (or aggregated individual reductions).

    The serials ``serial_prefix-first_serial`` … ``serial_prefix-last_serial`` (one per tonne)
    are partitioned at all times by the issuance's blocks.
    """

    __tablename__ = "registry_issuances"
    __table_args__ = (
        UniqueConstraint("serial_prefix", "first_serial"),
        CheckConstraint("first_serial >= 1 AND last_serial >= first_serial", name="range"),
        CheckConstraint("vintage BETWEEN 1990 AND 2100", name="vintage"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    methodology_id: Mapped[int] = mapped_column(ForeignKey("registry_methodologies.id"))
    project_code: Mapped[str] = mapped_column(String(32))
    project_name: Mapped[str] = mapped_column(String(200))
    vintage: Mapped[int] = mapped_column(Integer)
    serial_prefix: Mapped[str] = mapped_column(String(120), index=True)
    first_serial: Mapped[int] = mapped_column(BigInteger)
    last_serial: Mapped[int] = mapped_column(BigInteger)
    verification: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime] = mapped_column(default=utc_now)

    @property
    def quantity(self) -> int:
        return self.last_serial - self.first_serial + 1


class Retirement(Base):
    """The record of a retirement (purpose, beneficiary, note; certificate) or a cancellation
    (reason). Both are terminal: the units they hold never move again."""

    __tablename__ = "registry_retirements"
    __table_args__ = (
        CheckConstraint(_one_of("kind", TERMINAL_STATUSES), name="kind"),
        CheckConstraint(_one_of("purpose", RETIREMENT_PURPOSES, nullable=True), name="purpose"),
        CheckConstraint(
            "(kind = 'retired' AND purpose IS NOT NULL) "
            "OR (kind = 'cancelled' AND reason IS NOT NULL)",
            name="purpose_or_reason",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    purpose: Mapped[str | None] = mapped_column(String(8))
    beneficiary: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str | None] = mapped_column(Text)
    obligation_id: Mapped[int | None] = mapped_column(ForeignKey("registry_obligations.id"))
    from_account_id: Mapped[int] = mapped_column(ForeignKey("registry_accounts.id"))
    serial: Mapped[str] = mapped_column(String(160))
    quantity: Mapped[int] = mapped_column(BigInteger)
    certificate_number: Mapped[str | None] = mapped_column(String(40), unique=True)
    certificate_sha256: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utc_now)


class CreditBlock(Base):
    """A contiguous serial range ``[first_serial, last_serial]`` of one issuance in one account.

    A block is never deleted: a partial move shrinks it and creates a new block for the moved
    upper part (``parent_id`` = the block it came from). ``retirement_id`` is set exactly when
    the status is terminal (a database CHECK).
    """

    __tablename__ = "registry_blocks"
    __table_args__ = (
        UniqueConstraint("issuance_id", "first_serial"),
        CheckConstraint("first_serial >= 1 AND last_serial >= first_serial", name="range"),
        CheckConstraint(_one_of("status", BLOCK_STATUSES), name="status"),
        CheckConstraint(
            "(retirement_id IS NULL) = (status = 'held' OR status = 'frozen')",
            name="terminal_has_record",
        ),
    )

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    issuance_id: Mapped[int] = mapped_column(ForeignKey("registry_issuances.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("registry_accounts.id"), index=True)
    first_serial: Mapped[int] = mapped_column(BigInteger)
    last_serial: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), default="held")
    parent_id: Mapped[int | None] = mapped_column(Identifier, ForeignKey("registry_blocks.id"))
    retirement_id: Mapped[int | None] = mapped_column(ForeignKey("registry_retirements.id"))

    @property
    def quantity(self) -> int:
        return self.last_serial - self.first_serial + 1


class Trade(Base):
    """A bilateral trade: credits moved from seller to buyer at an agreed price.

    Money is settled outside the registry; the price is recorded in fen (0.01 yuan) per tonne.
    """

    __tablename__ = "registry_trades"
    __table_args__ = (CheckConstraint("quantity > 0 AND price_fen_per_t >= 0", name="amounts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_account_id: Mapped[int] = mapped_column(ForeignKey("registry_accounts.id"))
    buyer_account_id: Mapped[int] = mapped_column(ForeignKey("registry_accounts.id"))
    issuance_id: Mapped[int] = mapped_column(ForeignKey("registry_issuances.id"))
    block_id: Mapped[int] = mapped_column(Identifier, ForeignKey("registry_blocks.id"))
    quantity: Mapped[int] = mapped_column(BigInteger)
    price_fen_per_t: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(default=utc_now)


class RegistryOperation(Base):
    """The registry journal: one row per operation, the event timeline of accounts and blocks.

    ``idempotency_key`` is unique, so a retried request finds its first result instead of
    applying twice. ``block_id`` is the block acted on, ``new_block_id`` the block split off
    (if any); ``account_id`` → ``counterparty_id`` is the direction of the movement.
    """

    __tablename__ = "registry_operations"
    __table_args__ = (
        CheckConstraint(_one_of("kind", OPERATION_KINDS), name="kind"),
        Index("ix_registry_operations_account", "account_id"),
        Index("ix_registry_operations_counterparty", "counterparty_id"),
        Index("ix_registry_operations_block", "block_id"),
        Index("ix_registry_operations_new_block", "new_block_id"),
    )

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime] = mapped_column(default=utc_now)
    actor: Mapped[str] = mapped_column(String(100))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("registry_accounts.id"))
    counterparty_id: Mapped[int | None] = mapped_column(ForeignKey("registry_accounts.id"))
    issuance_id: Mapped[int | None] = mapped_column(ForeignKey("registry_issuances.id"))
    block_id: Mapped[int | None] = mapped_column(Identifier, ForeignKey("registry_blocks.id"))
    new_block_id: Mapped[int | None] = mapped_column(Identifier, ForeignKey("registry_blocks.id"))
    quantity: Mapped[int | None] = mapped_column(BigInteger)
    serial: Mapped[str | None] = mapped_column(String(160))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class JournalEntry(Base):
    """One double-entry journal entry: its lines sum to zero per asset (docs/registry.md, journal).

    Written unsealed (``seq``, ``prev_hash``, ``hash`` NULL) in the transaction of the movement;
    :func:`qingshan.store.journal.seal` later numbers committed entries in seal order and chains
    them: ``hash = sha256(prev_hash ‖ canonical JSON of the entry and its lines)``. A trigger
    lets an entry change only once, from unsealed to sealed, and refuses deletion.
    """

    __tablename__ = "registry_journal_entries"

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    operation_id: Mapped[int | None] = mapped_column(
        Identifier, ForeignKey("registry_operations.id"), unique=True
    )
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class JournalLine(Base):
    """One leg of an entry: an account (or a system book) gains or loses ``quantity`` of an asset.

    ``asset`` is ``points`` (hundredths of a point), ``cash`` (fen) or ``credit:<issuance id>``
    (tonnes, with the serial range and the state the units are in on this side). ``book`` names
    the system counterparty of issuance and accrual (``issuance``, ``points``, ``cash``) where
    no account holds the other side. Append-only (trigger).
    """

    __tablename__ = "registry_journal_lines"
    __table_args__ = (
        CheckConstraint("(account_id IS NULL) <> (book IS NULL)", name="account_or_book"),
        CheckConstraint("quantity <> 0", name="quantity_not_zero"),
        CheckConstraint(_one_of("state", JOURNAL_STATES, nullable=True), name="state"),
        Index("ix_registry_journal_lines_account", "account_id", "asset"),
    )

    entry_id: Mapped[int] = mapped_column(
        Identifier, ForeignKey("registry_journal_entries.id"), primary_key=True
    )
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("registry_accounts.id"))
    book: Mapped[str | None] = mapped_column(String(16))
    asset: Mapped[str] = mapped_column(String(24))
    quantity: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str | None] = mapped_column(String(10))
    first_serial: Mapped[int | None] = mapped_column(BigInteger)
    last_serial: Mapped[int | None] = mapped_column(BigInteger)


class JournalHead(Base):
    """The end of the sealed chain (one row): its position and hash. Sealers lock this row, so
    they chain entries one batch at a time; ``verify`` checks it against the last entry (a
    truncated chain is detected)."""

    __tablename__ = "registry_journal_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


# Device channels: refused input and device events
# ------------------------------------------------------------------------------------------


class RejectedPacket(Base):
    """Input from a device channel that was not (wholly) stored, with its raw bytes and why.

    Nothing that arrives is dropped silently: an HJ 212 packet with a bad CRC, a wrong password
    or an unknown MN, values with unknown codes, a malformed MQTT message — each is one row.
    ``reason`` is a short code (``bad_crc``, ``wrong_pw``, ``unknown_mn``, ``bad_json`` …, see
    ``docs/devices.md``), ``detail`` says it in words. ``peer`` is the TCP peer ``host:port``
    (HJ 212) or the topic (MQTT); ``mn`` is the device's MN when the packet carried one.
    Written in bulk by the channel's writer (one audit row per batch, not per reject).
    """

    __tablename__ = "rejected_packets"
    __table_args__ = (CheckConstraint(_one_of("channel", REJECT_CHANNELS), name="channel"),)

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    channel: Mapped[str] = mapped_column(String(8))
    peer: Mapped[str] = mapped_column(String(200))
    mn: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[bytes] = mapped_column(LargeBinary)


class DeviceEvent(Base):
    """A device's own report that is not a reading: HJ 212 2021 (facility running state
    ``SBxxx-RS``), 2041 (facility running time ``SBxxx-RT``), 2081 (DAQ restart time) and other
    commands of a known device that the server does not turn into readings.

    ``data_time`` is the packet's DataTime in UTC (NULL when it has none); ``payload`` holds the
    CP as sent: ``{"values": [[code, field, value], …], "params": {name: value}}``.
    """

    __tablename__ = "device_events"
    __table_args__ = (Index("ix_device_events_device_id_received_at", "device_id", "received_at"),)

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    cn: Mapped[str] = mapped_column(String(8))
    data_time: Mapped[datetime | None]
    received_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
