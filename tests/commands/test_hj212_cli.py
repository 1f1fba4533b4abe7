"""``qingshan hj212 decode`` and ``qingshan hj212 sample``."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from qingshan.cli import app
from qingshan.protocols import hj212

runner = CliRunner()

S01 = (
    "##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;"
    "CP=&&RtdInterval=30&&1C80"
)
S41 = (
    "##0344QN=20220928142812336;ST=22;CN=2011;PW=123456;MN=JSRCTD000YD107;Flag=5;"
    "CP=&&DataTime=20220928142812;l01001-Flag=N,l01001-Rtd=119.90287;l01002-Flag=N,"
    "l01002-Rtd=32.48505;a34002-Rtd=5,a34002-Flag=N;a34004-Rtd=4,a34004-Flag=N;"
    "a21026-Rtd=22.25,a21026-Flag=N;a21004-Rtd=22.7,a21004-Flag=N;a21005-Rtd=0.36,"
    "a21005-Flag=N;a05024-Rtd=8.82,a05024-Flag=N&&9241"
)
KEYS = {
    "ok",
    "error",
    "qn",
    "st",
    "cn",
    "pw",
    "mn",
    "flag",
    "version",
    "ack_required",
    "pnum",
    "pno",
    "data_time",
    "crc_expected",
    "crc_actual",
    "values",
}


def _lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines()]


def test_decode_file_one_object_per_line(tmp_path):
    capture = tmp_path / "capture.txt"
    capture.write_text(f"{S41}\r\n\r\n{S01[:-4]}0000\n{S01}\n", encoding="ascii")
    result = runner.invoke(app, ["hj212", "decode", str(capture)])
    assert result.exit_code == 2  # one line is bad
    objects = _lines(result.stdout)
    assert len(objects) == 3
    assert all(set(o) >= KEYS for o in objects)
    first, bad, last = objects
    assert first["ok"] and first["version"] == "2017" and first["ack_required"]
    assert first["data_time"] == "20220928142812"
    assert {"code": "a34004", "field": "Rtd", "value": "4"} in first["values"]
    assert (bad["ok"], bad["error"], bad["crc_actual"], bad["crc_expected"]) == (
        False,
        "bad_crc",
        "0000",
        "1C80",
    )
    assert last["ok"] and last["cn"] == "1062"


def test_decode_stdin_all_good_exits_0():
    result = runner.invoke(app, ["hj212", "decode", "-"], input=f"{S01}\n{S41}\n")
    assert result.exit_code == 0
    assert [o["cn"] for o in _lines(result.stdout)] == ["1062", "2011"]


def test_decode_ignores_a_byte_order_mark(tmp_path):
    capture = tmp_path / "capture.txt"
    capture.write_bytes(b"\xef\xbb\xbf" + S01.encode() + b"\r\n")
    result = runner.invoke(app, ["hj212", "decode", str(capture)])
    assert result.exit_code == 0 and _lines(result.stdout)[0]["ok"]


def test_decode_garbage_line_is_bad_frame():
    result = runner.invoke(app, ["hj212", "decode"], input="hello world\n")
    (obj,) = _lines(result.stdout)
    assert (obj["ok"], obj["error"], obj["values"]) == (False, "bad_frame", [])


def test_decode_with_a_modbus_device():
    framed = hj212.frame(S01[6:-4], hj212.CrcVariant.MODBUS_SWAPPED).decode()
    default = runner.invoke(app, ["hj212", "decode"], input=framed)
    assert _lines(default.stdout)[0]["error"] == "bad_crc"
    chosen = runner.invoke(app, ["hj212", "decode", "--crc", "modbus_swapped"], input=framed)
    assert chosen.exit_code == 0 and _lines(chosen.stdout)[0]["ok"]


def test_decode_missing_file_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["hj212", "decode", str(tmp_path / "nope.txt")])
    assert result.exit_code == 2 and "Usage" in result.output


def test_sample_output_decodes():
    sample = runner.invoke(app, ["hj212", "sample", "--st", "32", "--cn", "2061", "--count", "4"])
    assert sample.exit_code == 0
    decoded = runner.invoke(app, ["hj212", "decode", "-"], input=sample.stdout_bytes)
    objects = _lines(decoded.stdout)
    assert decoded.exit_code == 0 and len(objects) == 4
    assert {o["cn"] for o in objects} == {"2061"}
    assert [o["data_time"] for o in objects] == ["20260101080000"] * 4


def test_sample_refuses_unknown_system():
    result = runner.invoke(app, ["hj212", "sample", "--st", "99"])
    assert result.exit_code == 2
