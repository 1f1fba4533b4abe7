"""Live data for the running demo.

* The demo's own HJ 212 devices (air stations, water sections, outlets) send real-time data
  (2011) every :data:`REALTIME_INTERVAL_S` seconds through the real TCP server, so device
  liveness, the server's checks and its answers (9014) behave as with field devices. Packets
  come from :class:`~qingshan.protocols.hj212_simulator.DeviceSimulator` and are sent by
  :func:`~qingshan.services.hj212_client.run_devices`.
* Each hour that is over is stored for every site from the same deterministic series the seed
  used (:func:`run_hours`), so the hourly series — what the map, the pages and the alarm rules
  judge — carry on from the seeded history without a jump (a simulator's random walk would start
  elsewhere and raise false spike and permit alarms at the join).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Engine, func, select

from qingshan.protocols.hj212_simulator import Channel, DeviceSimulator
from qingshan.services import hj212_client
from qingshan.services.demo_series import readings_frame
from qingshan.services.demo_world import sites
from qingshan.store.aggregates import LOCAL_TIME_ZONE, aggregate_hour_batch
from qingshan.store.engine import reading, writing
from qingshan.store.models import Device, Parameter, Reading, Site
from qingshan.store.readings import upsert_readings

REALTIME_INTERVAL_S = 15.0
"""Seconds between real-time uploads of each device (HJ 212 devices send every 30 s to a few
minutes; a little faster here so that data arrive while someone watches)."""
HOUR = timedelta(hours=1)
LIVE_SOURCE = "demo:hourly"
LIVE_ACTOR = "demo:live"
BEIJING = ZoneInfo(LOCAL_TIME_ZONE)

log = logging.getLogger(__name__)


DEMO_CHANNELS: dict[str, tuple[Channel, ...]] = {
    "21": (  # surface water around Class II–III (GB 3838—2002 Table 1), the sections' targets
        Channel("w01001", 7.0, 8.4, 2),  # pH
        Channel("w01009", 5.5, 9.0, 2),  # dissolved oxygen, mg/L (III ≥ 5)
        Channel("w01010", 8, 24, 1),  # water temperature, °C
        Channel("w01014", 250, 600, 0),  # conductivity, µS/cm
        Channel("w01019", 1.5, 5.0, 2),  # permanganate index, mg/L (III ≤ 6)
        Channel("w21003", 0.1, 0.9, 3),  # ammonia nitrogen, mg/L (III ≤ 1.0)
        Channel("w21011", 0.02, 0.15, 3),  # total phosphorus, mg/L (III river ≤ 0.2)
        Channel("w21001", 0.4, 0.95, 2),  # total nitrogen, mg/L (III ≤ 1.0)
    ),
    "32": (  # wastewater outlet below its permit (demo_world.OUTFALL_LIMITS: COD 50, NH3-N 5)
        Channel("w00000", 5, 60, 2),
        Channel("w01018", 12, 42, 1),
        Channel("w21003", 0.2, 4.2, 2),
        Channel("w21011", 0.05, 0.45, 3),
        Channel("w21001", 2, 14, 2),
        Channel("w01001", 6.5, 8.5, 2),
    ),
    "31": (  # gas boiler stack below its permit (demo_world.STACK_LIMITS: SO2 50, NOx 100, dust 10)
        Channel("a00000", 20, 80, 1),
        Channel("a21026", 3, 38, 2),
        Channel("a21002", 25, 85, 1),
        Channel("a34013", 1, 8.5, 2),
        Channel("a19001", 6, 12, 1),
        Channel("a01012", 40, 120, 1),
        Channel("a01011", 5, 15, 2),
    ),
}
"""The demo's live channels where the simulator's generic ranges would not fit the demo's
sites: outlets stay within their permits and sections near their target classes (the seeded
history has the exceedances; live data should not turn every outlet red)."""


@dataclass(frozen=True)
class LiveDevice:
    mn: str
    st: str
    password: str


def demo_devices(engine: Engine) -> list[LiveDevice]:
    """The registered devices of the demo's sites, with the system code (ST) of each site."""
    systems = {site.code: site.system for site in sites() if site.system}
    with reading(engine) as session:
        rows = session.execute(
            select(Device.mn, Device.password, Site.code).join(Site, Site.id == Device.site_id)
        ).all()
    return [LiveDevice(mn, systems[code], pw) for mn, pw, code in rows if code in systems]


def _local_now() -> datetime:
    """Beijing wall-clock time without a zone: HJ 212 DataTimes are local times."""
    return datetime.now(BEIJING).replace(tzinfo=None, microsecond=0)


async def _send(host: str, port: int, uploads: dict[str, list[bytes]]) -> None:
    runs = await hj212_client.run_devices(host, port, uploads, window=8)
    unanswered = sum(len(run.unanswered) for run in runs)
    if unanswered:
        log.warning("demo devices: %d packets were not answered", unanswered)


async def run_live(
    host: str,
    port: int,
    devices: list[LiveDevice],
    *,
    seed: int = 0,
    interval: float = REALTIME_INTERVAL_S,
) -> None:
    """Send the demo devices' real-time data until cancelled."""
    simulators = {
        device.mn: DeviceSimulator(
            device.mn,
            device.st,
            device.password,
            seed=seed + index,
            channels=DEMO_CHANNELS.get(device.st),
        )
        for index, device in enumerate(devices)
    }
    while True:
        now = _local_now()
        uploads = {mn: simulator.packets("2011", now) for mn, simulator in simulators.items()}
        await _send(host, port, uploads)
        await asyncio.sleep(interval)


async def run_hours(engine: Engine, *, seed: int, interval: float = REALTIME_INTERVAL_S) -> None:
    """Until cancelled: each hour that is over, every demo site gets that hour's readings from
    the same deterministic series the seeding used, through ``upsert_readings`` and the hour
    aggregation — from the last stored hour on, so a demo started days after its seeding
    catches up too."""
    codes = [site.code for site in sites()]
    stored_until = await asyncio.to_thread(_last_stored_hour, engine, codes)
    while True:
        now_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        if stored_until is not None and now_hour > stored_until:
            await asyncio.to_thread(_store_hours, engine, seed, codes, stored_until, now_hour)
            stored_until = now_hour
        await asyncio.sleep(interval)


def _last_stored_hour(engine: Engine, codes: list[str]) -> datetime | None:
    """The end of the last stored hour of the sites ``codes`` (None: they have none)."""
    with reading(engine) as session:
        last = session.scalar(
            select(func.max(Reading.period_start))
            .join(Site, Site.id == Reading.site_id)
            .where(Site.code.in_(codes), Reading.period == "hour")
        )
    return None if last is None else last.replace(tzinfo=UTC) + HOUR


def _store_hours(
    engine: Engine, seed: int, codes: list[str], start: datetime, end: datetime
) -> None:
    """The hours [start, end) of the sites ``codes`` (one transaction)."""
    by_code = {site.code: site for site in sites()}
    with reading(engine) as session:
        site_ids = dict(
            session.execute(select(Site.code, Site.id).where(Site.code.in_(codes))).all()
        )
        parameter_ids = dict(session.execute(select(Parameter.key, Parameter.id)).all())
    frames = [
        readings_frame(seed, by_code[code], site_ids[code], parameter_ids, start, end)
        for code in site_ids
    ]
    filled = [frame for frame in frames if frame.height]
    if not filled:
        return
    batch = pl.concat(filled)
    with writing(engine, LIVE_ACTOR) as session:
        upsert_readings(session, batch, source=LIVE_SOURCE, actor=LIVE_ACTOR)
        aggregate_hour_batch(session, batch, actor=LIVE_ACTOR)
