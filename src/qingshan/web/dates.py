"""Days and instants as the pages take and show them: Beijing calendar days in filters (the
bureau's day, like the 问题清单's deadlines), Beijing wall-clock time in tables."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from fastapi import HTTPException, status

from qingshan.services.case_workflow import BEIJING, beijing_midnight


def optional_day(value: str | None, field: str) -> date | None:
    """A ``YYYY-MM-DD`` filter field ('' or absent: no bound); 422 naming the field otherwise."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"{field}: {value!r} is not a date (YYYY-MM-DD)"
        ) from None


def day_start(day: date | None) -> datetime | None:
    """The instant a Beijing day starts (a period's inclusive lower bound)."""
    return beijing_midnight(day) if day else None


def day_end(day: date | None) -> datetime | None:
    """The instant after a Beijing day (an inclusive last day as an exclusive upper bound)."""
    return beijing_midnight(day + timedelta(days=1)) if day else None


def beijing_time(instant: datetime | str | None) -> str:
    """``YYYY-MM-DD HH:MM`` in Beijing time ('—' for none); ISO text is accepted as well."""
    if instant is None or instant == "":
        return "—"
    moment = datetime.fromisoformat(instant) if isinstance(instant, str) else instant
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
