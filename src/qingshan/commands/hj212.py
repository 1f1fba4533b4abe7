"""``qingshan hj212 …``: look at HJ 212 packets (decode) and produce sample uploads.

The receiving server, the simulator that feeds it and the reject log come with the store.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from qingshan.commands.common import EXIT_BAD_INPUT, emit_json
from qingshan.protocols.hj212 import CrcVariant, decode_packet
from qingshan.protocols.hj212_simulator import CHANNELS, DeviceSimulator

_BOM = b"\xef\xbb\xbf"
"""UTF-8 byte-order mark that Windows editors put at the start of saved captures."""

app = typer.Typer(help="HJ 212 (污染物在线监控系统数据传输标准) packets: decode and samples.")


class UploadChoice(StrEnum):
    realtime = "2011"
    minute = "2051"
    hour = "2061"
    day = "2031"


def _open_input(source: str) -> BinaryIO:
    if source == "-":
        return sys.stdin.buffer
    path = Path(source)
    if not path.is_file():
        raise typer.BadParameter(f"{source}: no such file", param_hint="FILE")
    return path.open("rb")


@app.command("decode")
def decode_command(
    source: Annotated[
        str, typer.Argument(metavar="[FILE|-]", help="Packets, one per line; - = stdin.")
    ] = "-",
    crc: Annotated[
        CrcVariant,
        typer.Option(help="CRC algorithm: hj212 (附录 A) or a MODBUS variant some devices use."),
    ] = CrcVariant.HJ212,
) -> None:
    """Print one JSON object per non-empty input line: the decoded packet or why it is bad.

    Exit code 0 when every line is a good packet, 2 when any is not (all lines are printed).
    """
    all_ok = True
    with _open_input(source) as stream:
        for line in stream:
            if not line.strip():
                continue
            packet = decode_packet(line.strip(b" \t\r\n").removeprefix(_BOM) + b"\r\n", crc)
            all_ok = all_ok and packet.ok
            emit_json(packet.as_dict())
    if not all_ok:
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command("sample")
def sample_command(
    cn: Annotated[UploadChoice, typer.Option(help="Upload command.")] = UploadChoice.realtime,
    st: Annotated[
        str, typer.Option(help=f"System code, one of {', '.join(sorted(CHANNELS))}.")
    ] = "22",
    mn: Annotated[str, typer.Option(help="Device MN.")] = "010000A8900016F000169DC0",
    pw: Annotated[str, typer.Option(help="Device password.")] = "123456",
    count: Annotated[int, typer.Option(min=1, help="Number of uploads.")] = 3,
    start: Annotated[
        datetime, typer.Option(help="Time of the first upload (local time).")
    ] = datetime(2026, 1, 1, 8, 0, 0),
    interval: Annotated[int, typer.Option(min=1, help="Seconds between uploads.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same packets).")] = 0,
) -> None:
    """Print simulated upload packets, one per line (pipe into ``qingshan hj212 decode -``)."""
    if st not in CHANNELS:
        raise typer.BadParameter(f"choose one of {', '.join(sorted(CHANNELS))}", param_hint="--st")
    device = DeviceSimulator(mn, st, pw, seed=seed)
    for index in range(count):
        for packet in device.packets(cn.value, start + timedelta(seconds=interval * index)):
            sys.stdout.buffer.write(packet)
    sys.stdout.flush()
