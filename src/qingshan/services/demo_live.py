"""Live data for the running demo: the demo's own HJ 212 devices send to the demo's server.

The seeded series end at the start of today; while the demo runs, every device of the demo
(air stations, water sections, outlets) first uploads the hours of today that are already over
(2061), then real-time data (2011) every :data:`REALTIME_INTERVAL_S` seconds and each hour's
data (2061) when the hour is over — through the real TCP server, so the readings, the device
liveness and the alarm rules behave as they would with field devices. Packets come from
:class:`~qingshan.protocols.hj212_simulator.DeviceSimulator` and are sent by
:func:`~qingshan.services.hj212_client.run_devices` (each answer 9014 is checked).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from qingshan.protocols.hj212_simulator import DeviceSimulator
from qingshan.services import hj212_client
from qingshan.services.demo_world import sites
from qingshan.store.aggregates import LOCAL_TIME_ZONE
from qingshan.store.engine import reading
from qingshan.store.models import Device, Site

REALTIME_INTERVAL_S = 15.0
"""Seconds between real-time uploads of each device (HJ 212 devices send every 30 s to a few
minutes; a little faster here so that data arrive while someone watches)."""
HOUR = timedelta(hours=1)
BEIJING = ZoneInfo(LOCAL_TIME_ZONE)

log = logging.getLogger(__name__)


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
    """Send the demo devices' data until cancelled."""
    simulators = {
        device.mn: DeviceSimulator(device.mn, device.st, device.password, seed=seed + index)
        for index, device in enumerate(devices)
    }
    now = _local_now()
    next_hour = now.replace(hour=0, minute=0, second=0)
    while True:
        now = _local_now()
        hours = []
        while next_hour + HOUR <= now:
            hours.append(next_hour)
            next_hour += HOUR
        uploads = {
            mn: [packet for hour in hours for packet in simulator.packets("2061", hour)]
            + simulator.packets("2011", now)
            for mn, simulator in simulators.items()
        }
        await _send(host, port, uploads)
        await asyncio.sleep(interval)
