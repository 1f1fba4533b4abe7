"""Simulated device packets: valid HJ 212, period starts per 表 4, splitting per 表 C.50."""

from __future__ import annotations

from datetime import datetime

import pytest

from qingshan.protocols import hj212
from qingshan.protocols.hj212_simulator import CHANNELS, DeviceSimulator, period_start

WHEN = datetime(2026, 3, 1, 10, 17, 23)


@pytest.mark.parametrize("st", sorted(CHANNELS))
@pytest.mark.parametrize("cn", ["2011", "2051", "2061", "2031"])
def test_every_upload_decodes(st, cn):
    (packet,) = [hj212.decode_packet(p) for p in DeviceSimulator("MN1", st).packets(cn, WHEN)]
    assert packet.ok, packet.detail
    assert (packet.st, packet.cn, packet.mn, packet.flag) == (st, cn, "MN1", 5)
    codes = {code for code, _, _ in packet.values}
    assert codes == {channel.code for channel in CHANNELS[st]}
    fields = {field for _, field, _ in packet.values}
    assert fields >= ({"Rtd", "Flag"} if cn == "2011" else {"Min", "Avg", "Max", "Flag"})


@pytest.mark.parametrize(
    ("cn", "start"),
    [
        ("2011", "20260301101723"),
        ("2051", "20260301101000"),
        ("2061", "20260301100000"),
        ("2031", "20260301000000"),
    ],
)
def test_datatime_is_the_period_start(cn, start):
    """表 4: DataTime is the acquisition instant for 2011, the period start for 2051/2061/2031."""
    assert period_start(cn, WHEN).strftime("%Y%m%d%H%M%S") == start
    (raw,) = DeviceSimulator("MN1").packets(cn, WHEN)
    assert hj212.decode_packet(raw).data_time == start


def test_sources_report_discharge_amounts():
    """表 C.16: minute/hour/day data of a source carry -Cou for flow and pollutants."""
    (raw,) = DeviceSimulator("MN1", "32").packets("2061", WHEN)
    fields = {
        (code, field): float(v)
        for code, field, v in hj212.decode_packet(raw).values
        if field != "Flag"
    }
    couples = {code for code, field in fields if field == "Cou"}
    assert couples == {"w00000", "w01018", "w21003", "w21011", "w21001"}
    volume = fields["w00000", "Avg"] * 3600 / 1000  # L/s over one hour → m³
    assert fields["w00000", "Cou"] == pytest.approx(volume, abs=0.2)
    cod_kg = fields["w01018", "Avg"] * volume / 1000  # mg/L × m³ = g → kg
    assert fields["w01018", "Cou"] == pytest.approx(cod_kg, rel=0.01)


def test_long_uploads_are_split_and_reassemble():
    """表 C.50: parts with PNUM/PNO, own QN, same DataTime, whole pollutant groups."""
    device = DeviceSimulator("MN1", "22", max_segment=300)
    parts = [hj212.decode_packet(raw) for raw in device.packets("2061", WHEN)]
    assert len(parts) > 1
    assert all(p.ok and p.split and p.pnum == len(parts) for p in parts)
    assert [p.pno for p in parts] == list(range(1, len(parts) + 1))
    assert len({p.qn for p in parts}) == len(parts)
    assert {p.data_time for p in parts} == {"20260301100000"}
    assembler = hj212.SplitAssembler()
    results = [assembler.add(p) for p in reversed(parts)]
    whole = results[-1]
    assert whole is not None and results[:-1] == [None] * (len(parts) - 1)
    assert len(whole.values) == 4 * len(CHANNELS["22"])


def test_same_seed_same_packets():
    first = DeviceSimulator("MN1", seed=7).packets("2011", WHEN)
    assert DeviceSimulator("MN1", seed=7).packets("2011", WHEN) == first
    assert DeviceSimulator("MN1", seed=8).packets("2011", WHEN) != first


def test_values_stay_in_their_ranges_and_faults_are_flagged():
    device = DeviceSimulator("MN1", "21", fault_rate=0.5, seed=3)
    limits = {c.code: (c.low, c.high) for c in CHANNELS["21"]}
    flags = set()
    for minute in range(50):
        (raw,) = device.packets("2011", WHEN.replace(minute=minute))
        for code, field, value in hj212.decode_packet(raw).values:
            if field == "Rtd":
                low, high = limits[code]
                assert low - 0.01 <= float(value) <= high + 0.01
            else:
                flags.add(value)
    assert "N" in flags and flags - {"N"} and flags <= set("NFMSDCTB")


def test_version_2025_and_no_answer():
    (raw,) = DeviceSimulator("MN1", version="2025", ack=False).packets("2011", WHEN)
    packet = hj212.decode_packet(raw)
    assert (packet.flag, packet.version, packet.ack_required) == (8, "2025", False)


def test_unknown_system_is_refused():
    with pytest.raises(ValueError, match="ST=99"):
        DeviceSimulator("MN1", "99")
