"""Readings sent over HTTP (``POST /api/v1/readings``): check a whole batch, then store it.

All or nothing: every item is checked — its fields (pydantic), then against the registry (the
site exists, the parameter is known for the site's kind, the start begins a whole period, no
second item gives the same reading another value) — and every problem is reported with the
item's index and field. Only a batch without problems is written, in one transaction, through
:func:`qingshan.store.readings.upsert_readings`, the single write path; the caller answers 2xx
only after that transaction has committed.

Idempotent, as every channel into the store: re-sending a batch changes nothing; a changed value
or flag becomes a new revision (``docs/store.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import polars as pl
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from qingshan.services.alerting import evaluate_after_commit
from qingshan.services.readings_query import is_period_start, parse_instant
from qingshan.store.engine import writing
from qingshan.store.models import FLAGS, PERIODS
from qingshan.store.readings import INPUT_SCHEMA, UpsertCounts, upsert_readings
from qingshan.store.registry import ParameterIndex, site_index

MAX_BATCH = 10_000
"""Readings per request (issue 4); larger uploads go through ``qingshan ingest FILE``."""


def _instant(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("give the start as ISO 8601 text, e.g. 2024-03-01T08:00:00+08:00")
    return parse_instant(value)


class ReadingIn(BaseModel):
    """One reading as sent to ``POST /api/v1/readings``."""

    model_config = ConfigDict(extra="forbid")

    site: str = Field(min_length=1, max_length=32, description="site code", examples=["AIR1"])
    parameter: str = Field(
        min_length=1,
        max_length=32,
        description="canonical key (pm25) or HJ 212 code (a34004, converted to the key's unit)",
        examples=["pm25"],
    )
    period: Literal[PERIODS] = Field(  # type: ignore[valid-type]
        description="realtime, minute, hour or day", examples=["hour"]
    )
    start: Annotated[datetime, BeforeValidator(_instant)] = Field(
        description="period start, ISO 8601; without an offset it is Beijing time (+08:00); "
        "a date alone is Beijing midnight",
        examples=["2024-03-01T08:00:00+08:00"],
    )
    value: float = Field(allow_inf_nan=False, description="in the parameter's canonical unit")
    flag: Literal[FLAGS] = Field(  # type: ignore[valid-type]
        default="N", description="HJ 212—2017 Table 8 flag N F M S D C T B, or Qingshan's X R"
    )


@dataclass(frozen=True)
class ItemProblem:
    """What is wrong with item ``index`` of the batch (``field`` None: the item as a whole)."""

    index: int
    field: str | None
    message: str
    kind: str

    def as_detail(self) -> dict[str, Any]:
        """FastAPI's validation-error shape, with the index and field spelled out."""
        location: list[str | int] = ["body", "readings", self.index]
        if self.field is not None:
            location.append(self.field)
        return {
            "loc": location,
            "index": self.index,
            "field": self.field,
            "msg": self.message,
            "type": self.kind,
        }


class BatchRejected(Exception):
    """The batch has problems; nothing was stored."""

    def __init__(self, problems: Sequence[ItemProblem]) -> None:
        self.problems = sorted(problems, key=lambda problem: problem.index)
        super().__init__(f"{len(self.problems)} problems in the batch")


def _validate_fields(items: Sequence[Any]) -> tuple[list[tuple[int, ReadingIn]], list[ItemProblem]]:
    valid: list[tuple[int, ReadingIn]] = []
    problems: list[ItemProblem] = []
    for index, item in enumerate(items):
        try:
            valid.append((index, ReadingIn.model_validate(item)))
        except ValidationError as error:
            for detail in error.errors(include_url=False):
                field = str(detail["loc"][0]) if detail["loc"] else None
                problems.append(ItemProblem(index, field, detail["msg"], detail["type"]))
    return valid, problems


@dataclass
class _Resolver:
    """Resolves items against the registry and checks them; collects rows and problems."""

    sites: dict[str, tuple[int, str]]
    parameters: ParameterIndex

    def __post_init__(self) -> None:
        self.rows: list[tuple[int, int, str, datetime, float, str]] = []
        self.problems: list[ItemProblem] = []
        self.first_of_key: dict[tuple[int, int, str, datetime], tuple[int, float, str]] = {}

    def add(self, index: int, item: ReadingIn) -> None:
        site = self.sites.get(item.site)
        if site is None:
            self._problem(index, "site", f"unknown site {item.site!r}", "unknown_site")
            return
        site_id, site_kind = site
        match = self.parameters.match(item.parameter, site_kind)
        if match is None:
            message = f"unknown parameter {item.parameter!r} for a {site_kind}"
            self._problem(index, "parameter", message, "unknown_parameter")
            return
        if not is_period_start(item.start, item.period):
            start = item.start.isoformat()
            message = f"{start} does not begin a whole {item.period} (Beijing time)"
            self._problem(index, "start", message, "not_period_start")
            return
        value = item.value * match.factor
        key = (site_id, match.parameter_id, item.period, item.start)
        first = self.first_of_key.setdefault(key, (index, value, item.flag))
        if first[1:] != (value, item.flag):
            message = (
                f"same site, parameter, period and start as item {first[0]} "
                "with another value or flag"
            )
            self._problem(index, "value", message, "conflicting_duplicate")
            return
        self.rows.append((*key, value, item.flag))

    def _problem(self, index: int, field: str, message: str, kind: str) -> None:
        self.problems.append(ItemProblem(index, field, message, kind))


def check_batch(session: Session, items: Sequence[Any]) -> pl.DataFrame:
    """The batch as a frame for ``upsert_readings``; :class:`BatchRejected` lists every problem."""
    valid, problems = _validate_fields(items)
    resolver = _Resolver(site_index(session), ParameterIndex(session))
    for index, item in valid:
        resolver.add(index, item)
    problems += resolver.problems
    if problems:
        raise BatchRejected(problems)
    return pl.DataFrame(resolver.rows, schema=INPUT_SCHEMA, orient="row")


def store_batch(engine: Engine, items: Sequence[Any], *, username: str, actor: str) -> UpsertCounts:
    """Check and store a batch in one transaction; returns once it has committed.

    The registry is read inside the write transaction, so a site cannot vanish between the
    check and the write. ``source`` of the readings is ``http:<username>``. The alarm rules
    are evaluated right after the commit (:func:`qingshan.services.alerting.evaluate_after_commit`).
    """
    with writing(engine, actor) as session:
        batch = check_batch(session, items)
        counts = upsert_readings(session, batch, source=f"http:{username}", actor=actor)
    evaluate_after_commit(engine, batch, actor=actor)
    return counts
