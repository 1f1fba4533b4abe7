"""A simulated HJ 212 device: realistic upload packets for tests, benchmarks and demos.

Pure and deterministic: the caller gives the times and a seed; nothing is sent anywhere (the
TCP client that feeds a server is built on top of this later).

What it produces follows HJ 212—2017 附录 C: 2011 real-time data with ``-Rtd`` and ``-Flag``
(表 C.14), 2051/2061/2031 minute/hour/day data with ``-Min``, ``-Avg``, ``-Max``, ``-Flag``
and, for discharge flows and pollutants at sources, ``-Cou`` (表 C.16–C.18). DataTime is the
sampling instant for 2011 and the start of the period otherwise (表 4). Segments over the
1024-byte limit are split into parts with PNUM/PNO, each with its own QN, the same DataTime
and whole pollutant groups (表 C.49/C.50).

The value ranges are illustrative (typical of Chinese monitoring data), not from a standard.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from qingshan.protocols.hj212 import SEGMENT_LIMIT, format_cp, format_segment, frame, make_flag


@dataclass(frozen=True)
class Channel:
    """One simulated measurement: code, plausible range and the decimals it is sent with."""

    code: str
    low: float
    high: float
    decimals: int


CHANNELS: dict[str, tuple[Channel, ...]] = {
    "22": (  # ambient air station: µg/m³, CO mg/m³, meteorology
        Channel("a34004", 8, 150, 0),
        Channel("a34002", 15, 250, 0),
        Channel("a21026", 3, 40, 0),
        Channel("a21004", 8, 90, 0),
        Channel("a21005", 0.2, 2.5, 2),
        Channel("a05024", 10, 220, 0),
        Channel("a01001", -5, 35, 1),
        Channel("a01002", 20, 95, 1),
        Channel("a01006", 99, 103, 2),
    ),
    "21": (  # surface-water automatic station: mg/L, pH, °C, µS/cm
        Channel("w01001", 6.5, 8.8, 2),
        Channel("w01009", 3, 12, 2),
        Channel("w01010", 4, 30, 1),
        Channel("w01014", 150, 900, 0),
        Channel("w01019", 1, 8, 2),
        Channel("w21003", 0.05, 2, 3),
        Channel("w21011", 0.01, 0.4, 3),
        Channel("w21001", 0.3, 5, 2),
    ),
    "32": (  # wastewater outlet: flow L/s, concentrations mg/L
        Channel("w00000", 5, 60, 2),
        Channel("w01018", 10, 80, 1),
        Channel("w21003", 0.1, 8, 2),
        Channel("w21011", 0.05, 1.5, 3),
        Channel("w21001", 2, 20, 2),
        Channel("w01001", 6, 9, 2),
    ),
    "31": (  # stack: flow m³/s, concentrations mg/m³, O2 %, temperature °C, velocity m/s
        Channel("a00000", 20, 80, 1),
        Channel("a21026", 5, 50, 2),
        Channel("a21002", 20, 100, 1),
        Channel("a34013", 1, 15, 2),
        Channel("a19001", 6, 12, 1),
        Channel("a01012", 40, 120, 1),
        Channel("a01011", 5, 15, 2),
    ),
}

FLOW_CODES = {"w00000": 1e-3, "a00000": 1.0}
"""Flow codes and the factor from (flow unit × s) to m³: L/s → m³ ×1e-3, m³/s ×1."""

COU_FACTOR = {"32": 1e-3, "31": 1e-6}
"""(concentration × m³) → kg at sources: mg/L × m³ = g (×1e-3), mg/m³ × m³ = mg (×1e-6)."""

PERIODS = {"2051": timedelta(minutes=10), "2061": timedelta(hours=1), "2031": timedelta(days=1)}
"""Period of each statistics upload (2051 uses the default MinInterval of 10 minutes)."""


def period_start(cn: str, when: datetime) -> datetime:
    """DataTime of an upload: the instant for 2011, the period start for 2051/2061/2031."""
    if cn == "2011":
        return when.replace(microsecond=0)
    if cn == "2031":
        return when.replace(hour=0, minute=0, second=0, microsecond=0)
    if cn == "2061":
        return when.replace(minute=0, second=0, microsecond=0)
    minutes = int(PERIODS["2051"].total_seconds() // 60)
    return when.replace(minute=when.minute - when.minute % minutes, second=0, microsecond=0)


class DeviceSimulator:
    """One device (MN) of one system (ST) producing upload packets.

    Values follow a bounded random walk per channel, so consecutive packets look like a
    real series; ``fault_rate`` marks that share of values with a non-normal flag (表 8).
    """

    def __init__(
        self,
        mn: str,
        st: str = "22",
        pw: str = "123456",
        *,
        seed: int = 0,
        version: str = "2017",
        ack: bool = True,
        fault_rate: float = 0.0,
        max_segment: int = SEGMENT_LIMIT,
        channels: tuple[Channel, ...] | None = None,
    ) -> None:
        """``channels`` replaces the system's default channels (:data:`CHANNELS`), e.g. with
        ranges that fit a site's permit limits or water class."""
        if channels is None and st not in CHANNELS:
            raise ValueError(f"no simulated channels for ST={st}; choose from {sorted(CHANNELS)}")
        self.mn, self.st, self.pw = mn, st, pw
        self.channels = channels if channels is not None else CHANNELS[st]
        self._random = random.Random(seed)
        self._level = {c.code: self._random.uniform(c.low, c.high) for c in self.channels}
        self._version, self._ack = version, ack
        self._fault_rate = fault_rate
        self._max_segment = max_segment
        self._sequence = 0
        self._volume = 0.0
        """Discharge volume of the current period [m³], set by the flow channel."""

    def packets(self, cn: str, when: datetime) -> list[bytes]:
        """The framed packet(s) of one upload ``cn`` (2011, 2051, 2061, 2031) at ``when``.

        More than one packet only when the segment would exceed ``max_segment``.
        """
        data_time = period_start(cn, when).strftime("%Y%m%d%H%M%S")
        groups = [self._group(cn, channel) for channel in self.channels]
        parts = self._split(data_time, groups, cn)
        return [
            frame(self._segment(cn, self._next_qn(when), part, len(parts), number))
            for number, part in enumerate(parts, start=1)
        ]

    def _group(self, cn: str, channel: Channel) -> list[tuple[str, str, str]]:
        flag = self._flag()
        if cn == "2011":
            return [(channel.code, "Rtd", self._reading(channel)), (channel.code, "Flag", flag)]
        samples = sorted(float(self._reading(channel)) for _ in range(5))
        average = sum(samples) / len(samples)
        fields = [
            ("Min", _fixed(samples[0], channel.decimals)),
            ("Avg", _fixed(average, channel.decimals)),
            ("Max", _fixed(samples[-1], channel.decimals)),
        ]
        cou = self._cou(cn, channel, average)
        if cou is not None:
            fields.insert(0, ("Cou", cou))
        return [(channel.code, name, text) for name, text in [*fields, ("Flag", flag)]]

    def _cou(self, cn: str, channel: Channel, average: float) -> str | None:
        """Discharge amount over the period (表 C.16 ``-Cou``), only at sources (ST 31/32):
        the flow's volume in m³ (its Avg × the period), each pollutant's mass in kg (its Avg ×
        that volume). The flow channel comes first in :data:`CHANNELS`, so its volume is known
        when the pollutants are reached."""
        if self.st not in COU_FACTOR:
            return None
        if channel.code in FLOW_CODES:
            self._volume = average * FLOW_CODES[channel.code] * PERIODS[cn].total_seconds()
            return _fixed(self._volume, 2)
        if channel.code in ("w01001", "a19001", "a01012", "a01011"):  # pH and stack state
            return None
        return _fixed(average * self._volume * COU_FACTOR[self.st], 4)

    def _reading(self, channel: Channel) -> str:
        span = channel.high - channel.low
        level = self._level[channel.code] + self._random.gauss(0, span * 0.03)
        self._level[channel.code] = min(channel.high, max(channel.low, level))
        return _fixed(self._level[channel.code], channel.decimals)

    def _flag(self) -> str:
        if self._fault_rate and self._random.random() < self._fault_rate:
            return self._random.choice("FMSDCTB")
        return "N"

    def _split(
        self, data_time: str, groups: list[list[tuple[str, str, str]]], cn: str
    ) -> list[str]:
        """CP texts of the parts: whole pollutant groups, each part with DataTime (表 C.50)."""
        header = len(self._segment(cn, "0" * 17, "", 9999, 9999))
        parts: list[list[tuple[str, str, str]]] = [[]]
        for group in groups:
            candidate = parts[-1] + group
            if parts[-1] and header + len(format_cp(data_time, candidate)) > self._max_segment:
                parts.append(list(group))
            else:
                parts[-1] = candidate
        return [format_cp(data_time, part) for part in parts]

    def _next_qn(self, when: datetime) -> str:
        """QN = send time to the millisecond (表 3); a counter keeps QNs of one second apart."""
        self._sequence += 1
        return when.strftime("%Y%m%d%H%M%S") + f"{self._sequence % 1000:03d}"

    def _segment(self, cn: str, qn: str, cp: str, total: int, number: int) -> str:
        split = total > 1
        return format_segment(
            qn=qn,
            st=self.st,
            cn=cn,
            pw=self.pw,
            mn=self.mn,
            flag=make_flag(self._version, self._ack, split),
            pnum=total if split else None,
            pno=number if split else None,
            cp=cp,
        )


def _fixed(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"
