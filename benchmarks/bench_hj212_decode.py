"""HJ 212 decode with CRC: packets per second on one core, against a naive baseline.

Run: ``PYTHONPATH=src python benchmarks/bench_hj212_decode.py [--packets N] [--rounds R]``

Workload: typical 2011 real-time uploads of an ambient air station (ST=22, 9 channels with
``-Rtd`` and ``-Flag``, about 370 bytes each) from the device simulator, fed to one
:class:`~qingshan.protocols.hj212.StreamDecoder` one packet per read, as a TCP server would.

Baselines, measured in the same run on the same packets: a straightforward pure-Python
decoder — a regular expression for the frame and ``split`` for the fields — with the 附录 A
CRC loop bit by bit as the standard prints it ("naive"), and the same with the usual
256-entry table CRC ("table CRC"), i.e. what first implementations look like. No HJ 212
library exists on PyPI to compare with (a name search of the package index finds none).

Target (issue 4): ≥ 50,000 packets/s per core. The best of R rounds is reported for each
decoder (other processes on the machine only ever slow a round down).
"""

from __future__ import annotations

import argparse
import platform
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from qingshan.protocols.hj212 import StreamDecoder
from qingshan.protocols.hj212_simulator import DeviceSimulator

TARGET = 50_000
_FRAME = re.compile(rb"##(\d{4})(.*)([0-9A-Fa-f]{4})\r\n", re.DOTALL)


def typical_2011_packets(count: int) -> list[bytes]:
    devices = [DeviceSimulator(f"01000{index:019d}", "22", seed=index) for index in range(50)]
    start = datetime(2026, 3, 1, 8, 0, 0)
    return [
        devices[index % len(devices)].packets("2011", start + timedelta(seconds=30 * index))[0]
        for index in range(count)
    ]


def naive_crc(data: bytes) -> int:
    register = 0xFFFF
    for byte in data:
        register = (register >> 8) ^ byte
        for _ in range(8):
            carry = register & 1
            register >>= 1
            if carry:
                register ^= 0xA001
    return register


def _table() -> list[int]:
    table = []
    for byte in range(256):
        register = byte
        for _ in range(8):
            register = (register >> 1) ^ 0xA001 if register & 1 else register >> 1
        table.append(register)
    return table


_TABLE = _table()


def table_crc(data: bytes) -> int:
    register = 0xFFFF
    for byte in data:
        register = _TABLE[(register >> 8) ^ byte]
    return register


def naive_decode(raw: bytes, crc: Callable[[bytes], int] = naive_crc) -> dict[str, object]:
    match = _FRAME.fullmatch(raw)
    if match is None:
        return {"ok": False, "error": "bad_frame"}
    segment = match.group(2)
    if int(match.group(1)) != len(segment):
        return {"ok": False, "error": "bad_length"}
    if f"{crc(segment):04X}" != match.group(3).decode().upper():
        return {"ok": False, "error": "bad_crc"}
    head, _, cp = segment.decode().partition("CP=&&")
    fields = dict(item.split("=", 1) for item in head.strip(";").split(";"))
    values = []
    for item in cp.rstrip("&").replace(",", ";").split(";"):
        name, _, value = item.partition("=")
        code, _, field = name.rpartition("-")
        values.append((code, field, value))
    return {"ok": True, **fields, "values": values}


def ours(packets: list[bytes]) -> int:
    decoder = StreamDecoder()
    decoded = 0
    for raw in packets:
        for packet in decoder.feed(raw):
            decoded += packet.ok and len(packet.values) > 0
    return decoded


def naive(packets: list[bytes]) -> int:
    return sum(bool(naive_decode(raw)["ok"]) for raw in packets)


def table_crc_baseline(packets: list[bytes]) -> int:
    return sum(bool(naive_decode(raw, table_crc)["ok"]) for raw in packets)


def best_rate(run: Callable[[list[bytes]], int], packets: list[bytes], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        decoded = run(packets)
        best = min(best, time.perf_counter() - started)
        if decoded != len(packets):
            raise SystemExit(f"{run.__name__} decoded {decoded} of {len(packets)} packets")
    return len(packets) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    packets = typical_2011_packets(args.packets)
    size = sum(map(len, packets)) / len(packets)
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.processor()}")
    print(f"{len(packets)} 2011 packets, {size:.0f} bytes on average, best of {args.rounds}")
    ours_rate = best_rate(ours, packets, args.rounds)
    print(f"qingshan StreamDecoder       : {ours_rate:10,.0f} packets/s")
    baselines = [
        ("naive (bitwise CRC)", naive, packets[: len(packets) // 10]),  # 10× slower: fewer
        ("naive with table CRC", table_crc_baseline, packets),
    ]
    for name, run, workload in baselines:
        rate = best_rate(run, workload, args.rounds)
        print(f"{name:<29}: {rate:10,.0f} packets/s   ratio {ours_rate / rate:5.2f} x")
    verdict = "met" if ours_rate >= TARGET else "NOT met"
    print(f"target {TARGET:,} packets/s per core: {verdict}")


if __name__ == "__main__":
    main()
