"""HJ 212 codec: CRC (附录 A), framing, data segment, split packets, encoding.

Sample packets ``Sxx`` are quoted from shared/reference/hj212.md §4 with their provenance
there; each was checked against the Appendix A reference loop in :func:`appendix_a_crc`.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qingshan.protocols import hj212
from qingshan.protocols.hj212 import CrcVariant, Reason

# ---------------------------------------------------------------------------------------------
# Published packets (notes §4; the standard's own example is S01, HJ 212—2017 附录 A p.20)
# ---------------------------------------------------------------------------------------------

S01 = (
    b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;"
    b"CP=&&RtdInterval=30&&1C80\r\n"
)
S03 = (  # HJ/T 212—2005 style: no QN, no Flag, 2005 codes, lower-case CRC ([XY] test data)
    b"##0136ST=32;CN=2011;PW=000000;MN=LD130133000015;CP=&&DataTime=20160824003817;"
    b"011-Rtd=231.0,011-Flag=N;B01-Rtd=36.91;060-Rtd=1.803,060-Flag=N&&1dc0\r\n"
)
S04 = (  # [XY] README sample with a wrong CRC
    b"##0136ST=32;CN=2011;PW=123456;MN=LD130133000015;CP=&&DataTime=20160824003817;"
    b"B01-Rtd=36.91;011-Rtd=231.0,011-Flag=N;060-Rtd=1.803,060-Flag=N&&4980\r\n"
)
S07 = (  # Flag=8: version bits 000010 (HJ 212—2025 per peers), surface water ST=21
    b"##0435QN=20210301111100112;ST=21;CN=2011;PW=123456;MN=ZLDSZ20210127;Flag=8;"
    b"CP=&&DataTime=20210301111100;w01001-Rtd=8.33,w01001-Flag=N;w01009-Rtd=10.15,"
    b"w01009-Flag=N;w01010-Rtd=9.7,w01010-Flag=N;w01014-Rtd=1425,w01014-Flag=N;"
    b"w01003-Rtd=13.10,w01003-Flag=N;w21011-Rtd=0,w21011-Flag=N;w21001-Rtd=3.563168,"
    b"w21001-Flag=N;w21003-Rtd=0.09055002,w21003-Flag=N;w01019-Rtd=4.102818,w01019-Flag=N;"
    b"w01008-Rtd=0,w01008-Flag=N;w23002-Rtd=0,w23002-Flag=N&&7d00\r\n"
)
S11 = (  # guocay/hj212-protocol test sample with a bad CRC (notes §5)
    b"##0275QN=20190901181526940;ST=32;CN=2011;PW=123456;MN=Y80110010000010;Flag=4;"
    b"CP=&&DataTime=20190901181500;a21005-Rtd=1.760,a21005-Flag=N;a21026-Rtd=106.400,"
    b"a21026-Flag=N;O3-Rtd=63.400,O3-Flag=N;a21004-Rtd=63.200,a21004-Flag=N;a34002-Rtd=9,"
    b"a34002-Flag=N;a34004-Rtd=4,a34004-Flag=N&&1100\r\n"
)
S17 = (  # 9011 request answer with QnRtn
    b"##0094QN=20231008125115215;ST=22;CN=9011;PW=123456;MN=010000A8900016F000169DC0;Flag=4;"
    b"CP=&&QnRtn=1&&CC01\r\n"
)
S21 = (  # a 9014 data answer as the standard prescribes (ST=91, Flag=4, empty CP)
    b"##0087QN=20201015123632010;ST=91;CN=9014;PW=123456;MN=410183160889201000212505;Flag=4;"
    b"CP=&&&&f001\r\n"
)
S28 = (  # device log of a real exchange (mutoushirana/HJ212Virtual Logs/Log.txt)
    b"##0310QN=20210412154520280;ST=21;CN=2011;PW=123456;MN=DXCBZ000000005;Flag=5;"
    b"CP=&&DataTime=20210412154500;w01018-Rtd=235.292750833832,w01018-Flag=N;"
    b"w21003-Rtd=34.4142747017156,w21003-Flag=N;w21011-Rtd=3.48453748242675,w21011-Flag=N;"
    b"w21001-Rtd=33.0912558014464,w21001-Flag=N;w01001-Rtd=7.15293021684183,w01001-Flag=N"
    b"&&F441\r\n"
)
S41 = (  # ambient air station with a05024 (O3) and Flag before Rtd
    b"##0344QN=20220928142812336;ST=22;CN=2011;PW=123456;MN=JSRCTD000YD107;Flag=5;"
    b"CP=&&DataTime=20220928142812;l01001-Flag=N,l01001-Rtd=119.90287;l01002-Flag=N,"
    b"l01002-Rtd=32.48505;a34002-Rtd=5,a34002-Flag=N;a34004-Rtd=4,a34004-Flag=N;"
    b"a21026-Rtd=22.25,a21026-Flag=N;a21004-Rtd=22.7,a21004-Flag=N;a21005-Rtd=0.36,"
    b"a21005-Flag=N;a05024-Rtd=8.82,a05024-Flag=N&&9241\r\n"
)
S43 = (  # a 2025 (Flag=8) 9014 answer
    b"##0075QN=20260706103512345;ST=91;CN=9014;PW=123456;MN=A110000_0001;Flag=8;CP=&&&&0140\r\n"
)
GOOD = [S01, S03, S07, S17, S21, S28, S41, S43]


def appendix_a_crc(data: bytes) -> int:
    """HJ 212—2017 附录 A ``CRC16_Checkout`` transcribed literally (pp.19–20)."""
    crc_reg = 0xFFFF
    for byte in data:
        crc_reg = (crc_reg >> 8) ^ byte
        for _ in range(8):
            check = crc_reg & 0x0001
            crc_reg >>= 1
            if check == 0x0001:
                crc_reg ^= 0xA001
    return crc_reg


# ---------------------------------------------------------------------------------------------
# CRC
# ---------------------------------------------------------------------------------------------


def test_crc_of_the_standards_example_is_1c80():
    """附录 A p.20: the CRC of the example data segment is 1C80."""
    segment = S01[6:-6]
    assert hj212.crc16(segment) == 0x1C80
    assert hj212.crc_text(segment) == "1C80"


def test_crc_check_values_differ_from_modbus():
    """Notes §1.2: check value of "123456789" is 0x2F80; CRC-16/MODBUS gives 0x4B37."""
    assert hj212.crc16(b"123456789") == 0x2F80
    assert hj212.crc16_modbus(b"123456789") == 0x4B37
    assert hj212.crc_text(b"123456789", CrcVariant.MODBUS) == "4B37"
    assert hj212.crc_text(b"123456789", CrcVariant.MODBUS_SWAPPED) == "374B"


def test_crc_of_empty_data_is_the_initial_register():
    assert hj212.crc16(b"") == 0xFFFF == appendix_a_crc(b"")


@given(st.binary(max_size=3000))
def test_crc_equals_the_appendix_a_loop(data):
    assert hj212.crc16(data) == appendix_a_crc(data)


@pytest.mark.parametrize("size", [1, 2, 8, 9, 64, 65, 1024, 9999, 12_800])
def test_crc_equals_the_appendix_a_loop_at_folding_boundaries(size):
    data = (bytes(range(256)) * 51)[:size]
    assert hj212.crc16(data) == appendix_a_crc(data)


@given(st.binary(min_size=1, max_size=500))
def test_crc_low_byte_is_one_of_eight_values(data):
    """Notes §1.2: the result is an entry of the 0xA001 table; its low byte is one of 8."""
    assert hj212.crc16(data) & 0xFF in {0x00, 0x01, 0x40, 0x41, 0x80, 0x81, 0xC0, 0xC1}


# ---------------------------------------------------------------------------------------------
# Published packets
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", GOOD)
def test_published_good_packets_decode(raw):
    packet = hj212.decode_packet(raw)
    assert packet.ok, packet.detail
    assert packet.crc_expected == packet.crc_actual.upper()
    assert packet.raw == raw[:-2]


def test_standard_example_fields():
    """HJ 212—2017 附录 A example: Flag=5 = version 2017 with answer required (表 3)."""
    packet = hj212.decode_packet(S01)
    assert (packet.qn, packet.st, packet.cn, packet.pw) == (
        "20160801085857223",
        "32",
        "1062",
        "100000",
    )
    assert packet.mn == "010000A8900016F000169DC0"
    assert (packet.flag, packet.version, packet.ack_required, packet.split) == (
        5,
        "2017",
        True,
        False,
    )
    assert packet.params == (("RtdInterval", "30"),)
    assert packet.values == ()
    assert packet.data_time is None


def test_2005_style_packet_without_qn_and_flag():
    """S03: QN and Flag absent; 2005 codes kept verbatim; lower-case CRC accepted."""
    packet = hj212.decode_packet(S03)
    assert packet.ok
    assert (packet.qn, packet.flag, packet.version, packet.ack_required) == (
        None,
        None,
        None,
        False,
    )
    assert packet.crc_actual == "1dc0" and packet.crc_expected == "1DC0"
    assert packet.values == (
        ("011", "Rtd", "231.0"),
        ("011", "Flag", "N"),
        ("B01", "Rtd", "36.91"),
        ("060", "Rtd", "1.803"),
        ("060", "Flag", "N"),
    )
    assert packet.time() == datetime(2016, 8, 24, 0, 38, 17)


def test_air_station_values_in_order_as_sent():
    packet = hj212.decode_packet(S41)
    assert packet.values[:2] == (("l01001", "Flag", "N"), ("l01001", "Rtd", "119.90287"))
    assert ("a34004", "Rtd", "4") in packet.values
    assert ("a05024", "Rtd", "8.82") in packet.values
    assert len(packet.values) == 16
    assert packet.as_dict()["values"][4] == {"code": "a34002", "field": "Rtd", "value": "5"}


@pytest.mark.parametrize(
    ("raw", "received", "computed"), [(S04, "4980", "3C00"), (S11, "1100", "2D00")]
)
def test_published_packets_with_wrong_crc_are_bad_crc(raw, received, computed):
    packet = hj212.decode_packet(raw)
    assert packet.error is Reason.BAD_CRC
    assert (packet.crc_actual, packet.crc_expected) == (received, computed)
    assert packet.cn == "2011"  # the fields are still shown, for the reject log


@pytest.mark.parametrize(
    ("flag", "version", "ack", "split"),
    [
        (0, "2005", False, False),
        (1, "2005", True, False),
        (4, "2017", False, False),
        (5, "2017", True, False),
        (6, "2017", False, True),
        (7, "2017", True, True),
        (8, "2025", False, False),
        (9, "2025", True, False),
        (11, "2025", True, True),
    ],
)
def test_flag_bits(flag, version, ack, split):
    """HJ 212—2017 表 3: bits V5..V0 D A; its example: "Flag=7 表示标准版本为本次修订版本号，
    数据段需要拆分并且命令需要应答"."""
    parts = {"pnum": 2, "pno": 1} if split else {}
    segment = hj212.format_segment(cn="9014", st="91", mn="M", pw="P", flag=flag, **parts)
    packet = hj212.decode_packet(hj212.frame(segment))
    assert packet.ok
    assert (packet.version, packet.ack_required, packet.split) == (version, ack, split)
    assert hj212.make_flag(version, ack, split) == flag


def test_unknown_version_bits_are_a_warning():
    packet = hj212.decode_packet(hj212.frame("ST=91;CN=9014;PW=1;MN=2;Flag=16;CP=&&&&"))
    assert packet.ok and packet.version is None
    assert "unknown_version:4" in packet.warnings


# ---------------------------------------------------------------------------------------------
# Replies and encoding
# ---------------------------------------------------------------------------------------------


def test_9014_reply_echoes_qn_pw_mn_with_st_91_and_flag_4():
    """表 C.14: QN=<same>;ST=91;CN=9014;PW=<same>;MN=<same>;Flag=4;CP=&&&&. The published S21
    answer has this exact segment (its CRC printed in lower case)."""
    upload = hj212.decode_packet(S21)._replace(st="21", cn="2011", flag=5)
    assert hj212.reply(upload) == S21.replace(b"f001", b"F001")


def test_9014_reply_to_a_real_upload():
    answer = hj212.decode_packet(hj212.reply(hj212.decode_packet(S28)))
    assert answer.ok
    assert (answer.qn, answer.st, answer.cn, answer.pw, answer.mn, answer.flag) == (
        "20210412154520280",
        "91",
        "9014",
        "123456",
        "DXCBZ000000005",
        4,
    )
    assert answer.values == () and answer.params == ()


def test_9013_answer_to_a_notification():
    """表 C.4: the platform answers the 1013 time-calibration request with 9013."""
    request = hj212.decode_packet(
        hj212.frame(
            hj212.format_segment(
                qn="20160801085857223", st="32", cn="1013", pw="123456", mn="M1", flag=5
            )
        )
    )
    assert hj212.decode_packet(hj212.reply(request, "9013")).cn == "9013"


def test_frame_counts_bytes_and_prints_upper_case_crc():
    frame = hj212.frame("QN=1;CN=9014;CP=&&&&")
    assert frame.startswith(b"##0020QN=1;") and frame.endswith(b"\r\n")
    assert frame[-6:-2] == hj212.crc_text(b"QN=1;CN=9014;CP=&&&&").encode()


def test_frame_rejects_segments_longer_than_the_length_field():
    with pytest.raises(ValueError, match="4-digit"):
        hj212.frame("x" * 10_000)


def test_format_cp_groups_fields_by_code():
    """HJ 212—2017 §6.3.3 / 表 C.16: ``,`` within one pollutant, ``;`` between items."""
    cp = hj212.format_cp(
        "20160801084000",
        [("w01018", "Avg", "17.5"), ("w01018", "Flag", "N"), ("w21003", "Avg", "1.2")],
    )
    assert cp == "DataTime=20160801084000;w01018-Avg=17.5,w01018-Flag=N;w21003-Avg=1.2"


codes = st.from_regex(r"[aw][0-9]{5}", fullmatch=True)
fields = st.sampled_from(["Rtd", "Min", "Avg", "Max", "Cou", "Flag", "ZsRtd", "EFlag"])
numbers = st.from_regex(r"-?[0-9]{1,6}(\.[0-9]{1,4})?", fullmatch=True)
times = st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)).map(
    lambda t: t.strftime("%Y%m%d%H%M%S")
)


@given(
    qn=times.map(lambda t: t + "123"),
    st_code=st.from_regex(r"[0-9]{2}", fullmatch=True),
    cn=st.sampled_from(["2011", "2051", "2061", "2031"]),
    pw=st.from_regex(r"[0-9A-Za-z]{0,6}", fullmatch=True),
    mn=st.from_regex(r"[0-9A-F]{1,24}", fullmatch=True),
    flag=st.integers(0, 255).map(lambda f: f & ~2),
    data_time=times,
    values=st.lists(st.tuples(codes, fields, numbers), max_size=40),
    variant=st.sampled_from(list(CrcVariant)),
)
def test_encode_decode_round_trip(qn, st_code, cn, pw, mn, flag, data_time, values, variant):
    cp = hj212.format_cp(data_time, values)
    segment = hj212.format_segment(qn=qn, st=st_code, cn=cn, pw=pw, mn=mn, flag=flag, cp=cp)
    packet = hj212.decode_packet(hj212.frame(segment, variant), variant)
    assert packet.ok, packet.detail
    assert (packet.qn, packet.st, packet.cn, packet.pw, packet.mn, packet.flag) == (
        qn,
        st_code,
        cn,
        pw,
        mn,
        flag,
    )
    assert packet.data_time == data_time
    grouped = sorted(values, key=lambda v: [c for c, _, _ in values].index(v[0]))
    assert list(packet.values) == grouped


# ---------------------------------------------------------------------------------------------
# Data segment tolerance and bad fields
# ---------------------------------------------------------------------------------------------


def _decoded(segment: str) -> hj212.Packet:
    return hj212.decode_packet(hj212.frame(segment))


def test_header_tolerances_seen_in_the_standard_and_the_field():
    """表 C.22 ``,`` between header fields; 表 C.19 ``Flag=5CP=&&``; S33 ``FLAG=0``; field
    order ``ST;CN;QN`` (S38–S40)."""
    assert _decoded("QN=20160801085857534,ST=32;CN=9014;PW=1;MN=2;Flag=4;CP=&&&&").st == "32"
    assert _decoded("QN=1;ST=32;CN=9014;PW=1;MN=2;Flag=5CP=&&&&").flag == 5
    assert _decoded("ST=32;CN=9014;PW=1;MN=2;FLAG=0;CP=&&&&").version == "2005"
    packet = _decoded("ST=32;CN=2011;QN=7;PW=;MN=2;CP=&&DataTime=20160801000000&&")
    assert (packet.qn, packet.pw) == ("7", "")


def test_unknown_and_duplicate_header_fields_are_warnings():
    packet = _decoded("QN=1;ST=32;CN=9014;XX=5;CN=9013;PW=1;MN=2;CP=&&&&")
    assert packet.ok and packet.cn == "9014"
    assert packet.warnings == ("unknown_field:XX", "duplicate_field:CN")


def test_info_text_between_slashes_keeps_separators():
    """表 B.8: ``i11001-Info=//…//`` wraps free text (UTF-8 Chinese allowed, §6.3)."""
    packet = _decoded(
        "QN=1;ST=32;CN=3020;PW=1;MN=2;Flag=4;CP=&&DataTime=20160801000000;"
        "PolId=w01018;i11001-Info=//日志;a=1,b=2//&&"
    )
    assert packet.ok
    assert packet.values == (("i11001", "Info", "//日志;a=1,b=2//"),)
    assert packet.params == (("PolId", "w01018"),)


def test_values_of_one_pollutant_separated_by_semicolons():
    """[XY] ``T212MapperTest``: ``011-Rtd=231.0;011-Flag=N`` (notes §2.6)."""
    packet = _decoded(
        "ST=32;CN=2011;PW=1;MN=2;CP=&&DataTime=20160824003817;011-Rtd=231.0;011-Flag=N&&"
    )
    assert packet.values == (("011", "Rtd", "231.0"), ("011", "Flag", "N"))


def test_device_status_run_time_and_site_information_fields():
    """表 4 / 表 C.24–C.29: ``SBxxx-RS`` status (2021), ``SBxxx-RT`` hours (2041), ``-Info``
    site information (3020) with ``PolId``/``InfoId``-style parameters."""
    status = _decoded("ST=32;CN=2021;PW=1;MN=2;CP=&&DataTime=20160801085857;SB1-RS=1;SB2-RS=0&&")
    assert status.values == (("SB1", "RS", "1"), ("SB2", "RS", "0"))
    hours = _decoded("ST=32;CN=2041;PW=1;MN=2;CP=&&DataTime=20160801000000;SB1-RT=18.5&&")
    assert hours.values == (("SB1", "RT", "18.5"),)
    info = _decoded(
        "ST=32;CN=3020;PW=1;MN=2;CP=&&DataTime=20160801085857;PolId=w01018;i12001-Info=0&&"
    )
    assert (info.params, info.values) == ((("PolId", "w01018"),), (("i12001", "Info", "0"),))


def test_negative_values_and_code_with_dash():
    packet = _decoded("ST=22;CN=2011;PW=1;MN=2;CP=&&DataTime=20160824003817;a01001-Rtd=-5.2&&")
    assert packet.values == (("a01001", "Rtd", "-5.2"),)


def test_datetime_with_milliseconds_is_kept():
    packet = _decoded("ST=32;CN=2011;PW=1;MN=2;CP=&&DataTime=20160824003817000;B01-Rtd=1&&")
    assert packet.ok and packet.data_time == "20160824003817000"
    assert packet.time() == datetime(2016, 8, 24, 0, 38, 17)


@pytest.mark.parametrize(
    ("segment", "message"),
    [
        ("QN=1;ST=32;PW=1;MN=2;Flag=4;CP=&&&&", "no CN"),
        ("QN=1;ST=32;CN=2011;PW=1;MN=2;Flag=x;CP=&&&&", "Flag"),
        ("QN=1;ST=32;CN=2011;PW=1;MN=2;Flag=256;CP=&&&&", "Flag"),
        ("QN=1;ST=32;CN=2011;PW=1;MN=2;Flag=4", "no CP"),
        ("QN=1;ST=32;CN=2011;PW=1;MN=2;Flag=4;CP=&&DataTime=20160824003817", "no CP"),
        ("QN=1;ST=32;CN=2011;PW=1;MN=2;Flag=4;CP=&&a34004-Rtd=3&&", "without DataTime"),
        ("QN=1;ST=32;CN=2011;Flag=4;CP=&&DataTime=20230229120000&&", "DataTime"),
        ("QN=1;ST=32;CN=2011;Flag=4;CP=&&DataTime=2023022912&&", "DataTime"),
        ("QN=1;ST=32;CN=2011;Flag=4;CP=&&DataTime=20230228120000;a34004&&", "a34004"),
        ("QN=1;ST=32;CN=2011;Flag=4;CP=&&DataTime=20230228120000;-Rtd=4&&", "-Rtd"),
        ("QN=1;ST=32;CN=2011;Flag=7;CP=&&DataTime=20230228120000&&", "PNUM"),
        ("QN=1;ST=32;CN=2011;Flag=7;PNUM=2;PNO=3;CP=&&DataTime=20230228120000&&", "PNO"),
        ("QN=1;ST=32;CN=2011;Flag=7;PNUM=2;PNO=0;CP=&&DataTime=20230228120000&&", "PNO"),
        ("QN;ST=32;CN=2011;Flag=4;CP=&&DataTime=20230228120000&&", "QN"),
        ("ST=32;CN=9014;Flag=" + "5" * 5000 + ";CP=&&&&", "Flag"),
    ],
)
def test_bad_fields(segment, message):
    packet = _decoded(segment)
    assert packet.error is Reason.BAD_FIELD
    assert message in packet.detail


def test_leap_day_is_a_valid_datetime():
    packet = _decoded("QN=1;ST=32;CN=2011;Flag=4;CP=&&DataTime=20240229120000&&")
    assert packet.ok


def test_non_utf8_text_is_replaced_with_a_warning():
    segment = b"ST=32;CN=3020;PW=1;MN=2;CP=&&i11001-Info=//" + "日志".encode("gbk") + b"//&&"
    packet = hj212.decode_packet(hj212.frame(segment))
    assert packet.ok and "not_utf8" in packet.warnings


# ---------------------------------------------------------------------------------------------
# Framing: length, tails, resynchronisation, > 1024 segments
# ---------------------------------------------------------------------------------------------


def test_segment_over_1024_is_accepted_with_a_warning():
    """表 2 allows 0 ≤ n ≤ 1024, but field packets of 1025–1703 bytes carry valid CRCs (§1.1)."""
    values = [(f"a{index:05d}", "Rtd", "1.000") for index in range(100)]
    segment = hj212.format_segment(
        qn="1",
        st="22",
        cn="2011",
        pw="1",
        mn="2",
        flag=4,
        cp=hj212.format_cp("20230228120000", values),
    )
    assert len(segment) > 1024
    packet = hj212.decode_packet(hj212.frame(segment))
    assert packet.ok and packet.warnings == ("segment_over_1024",)
    assert len(packet.values) == 100


def test_length_counting_characters_is_accepted_with_a_warning():
    """Notes §1.1/§7.3: peers counting .NET chars declare fewer than the UTF-8 bytes."""
    segment = (
        "ST=32;CN=3020;PW=1;MN=2;Flag=4;CP=&&DataTime=20230228120000;i11001-Info=//运行正常//&&"
    )
    data = segment.encode()
    framed = b"##%04d%s%s\r\n" % (len(segment), data, hj212.crc_text(data).encode())
    packet = hj212.decode_packet(framed)
    assert packet.ok and packet.warnings == ("length_counts_characters",)
    assert hj212.decode_packet(hj212.frame(segment)).warnings == ()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", Reason.BAD_FRAME),
        (b"hello\r\n", Reason.BAD_FRAME),
        (b"##01x1QN=1&&1C80\r\n", Reason.BAD_LENGTH),
        (b"##01", Reason.BAD_LENGTH),
        (S01[:50], Reason.BAD_LENGTH),
        (S01[:-4], Reason.BAD_LENGTH),
        (S01.replace(b"##0101", b"##0100"), Reason.BAD_LENGTH),
        (S01.replace(b"##0101", b"##0102"), Reason.BAD_LENGTH),
        (S01.replace(b"1C80", b"1C8G"), Reason.BAD_LENGTH),
        (b"xx" + S01, Reason.BAD_FRAME),
        (S01 + S01, Reason.BAD_FRAME),
    ],
)
def test_framing_errors(raw, reason):
    packet = hj212.decode_packet(raw)
    assert packet.error is reason
    assert packet.detail


def test_wrong_length_with_a_valid_crc_at_the_line_end_is_explained():
    packet = hj212.decode_packet(S01.replace(b"##0101", b"##0099"))
    assert packet.error is Reason.BAD_LENGTH
    assert "length field is wrong" in packet.detail


@pytest.mark.parametrize("tail", [b"\r\n", b"\n", b""])
def test_stream_of_packets_with_any_tail(tail):
    stream = b"".join(p[:-2] + tail for p in GOOD)
    packets = hj212.decode_stream([stream])
    assert [p.ok for p in packets] == [True] * len(GOOD)
    assert [p.raw for p in packets] == [p[:-2] for p in GOOD]


def test_resynchronises_after_garbage_and_broken_packets():
    stream = b"\x00\xffnoise" + S01 + b"##0101QN=2016" + S28 + b"###" + S41 + S04 + S17
    packets = hj212.decode_stream([stream])
    assert [(p.error, p.cn) for p in packets] == [
        (Reason.BAD_FRAME, None),
        (None, "1062"),
        (Reason.BAD_LENGTH, None),  # truncated: S28's header appears inside its length
        (None, "2011"),
        (Reason.BAD_FRAME, None),  # "###" before S41's "##": a header starts at the last "##"
        (None, "2011"),
        (Reason.BAD_CRC, "2011"),
        (None, "9011"),
    ]
    assert packets[4].raw == b"###"
    assert [p.raw for p in packets if p.ok] == [S01[:-2], S28[:-2], S41[:-2], S17[:-2]]
    assert sum(len(p.raw) for p in packets) + 2 * 4 == len(stream)


def test_crlf_split_across_reads_is_not_garbage():
    decoder = hj212.StreamDecoder()
    first = decoder.feed(S01[:-1])  # everything up to the \r
    assert [p.ok for p in first] == [True]
    assert decoder.feed(b"\n") == []
    assert [p.ok for p in decoder.feed(S17)] == [True]
    assert decoder.close() == []


def test_long_log_packet_in_three_reads_with_the_next_packet_started():
    """Notes §1.3: a 1703-character CN=3020 log packet arrived in reads of 464, 1024 and 225
    characters, the last one also carrying the start of the next packet; tail ``\n`` only."""
    dump = (b"##0076ST=32;CN=2011".hex().upper() * 50)[:1597]  # devices log raw traffic
    segment = (
        "QN=20201125101010101;ST=32;CN=3020;PW=123456;MN=MN1;Flag=4;"
        f"CP=&&DataTime=20201125101010;i11001-Info=//{dump}//&&"
    )
    assert len(segment) == 1703
    stream = hj212.frame(segment)[:-2] + b"\n" + S17
    chunks = [stream[:464], stream[464:1488], stream[1488:1734], stream[1734:]]
    decoder = hj212.StreamDecoder()
    reads = [decoder.feed(chunk) for chunk in chunks]
    assert [len(r) for r in reads] == [0, 0, 1, 1]
    first, second = reads[2][0], reads[3][0]
    assert first.ok and first.cn == "3020" and first.warnings == ("segment_over_1024",)
    assert first.values == (("i11001", "Info", f"//{dump}//"),)
    assert second.ok and second.cn == "9011"


def test_each_part_of_a_split_upload_gets_its_own_answer():
    """表 C.50: one 9014 per sub-packet, echoing that sub-packet's QN."""
    parts = [
        _part("20160801085857534", 1, "w01018-Avg=1"),
        _part("20160801085857535", 2, "w21003-Avg=2"),
    ]
    answers = [hj212.decode_packet(hj212.reply(part)) for part in parts]
    assert [a.qn for a in answers] == ["20160801085857534", "20160801085857535"]
    assert {(a.st, a.cn, a.flag) for a in answers} == {("91", "9014", 4)}


def test_modbus_variant_only_when_selected():
    """S25–S27 in the notes: devices printing CRC-16/MODBUS low byte first."""
    segment = S17[6:-6]
    framed = hj212.frame(segment, CrcVariant.MODBUS_SWAPPED)
    assert hj212.decode_packet(framed).error is Reason.BAD_CRC
    assert hj212.decode_packet(framed, CrcVariant.MODBUS_SWAPPED).ok
    assert hj212.decode_packet(hj212.frame(segment, CrcVariant.MODBUS), CrcVariant.MODBUS).ok


# ---------------------------------------------------------------------------------------------
# Split packets (表 3 PNUM/PNO, 表 C.49/C.50)
# ---------------------------------------------------------------------------------------------


def _part(qn: str, pno: int, values: str, flag: int = 7, pnum: int = 3) -> hj212.Packet:
    cp = f"DataTime=20160801084000;{values}"
    segment = hj212.format_segment(
        qn=qn, st="32", cn="2051", pw="123456", mn="MN1", flag=flag, pnum=pnum, pno=pno, cp=cp
    )
    return hj212.decode_packet(hj212.frame(segment))


def test_split_parts_reassemble_in_any_order_each_with_its_own_qn():
    parts = [
        _part("20160801085857534", 1, "w01018-Avg=1,w01018-Flag=N"),
        _part("20160801085857535", 2, "w21003-Avg=2,w21003-Flag=N"),
        _part("20160801085857536", 3, "w21011-Avg=3,w21011-Flag=N"),
    ]
    assert all(p.ok and p.split and p.ack_required for p in parts)
    assembler = hj212.SplitAssembler()
    assert assembler.add(parts[2]) is None
    assert assembler.add(parts[0]) is None
    assert assembler.add(parts[0]) is None  # a re-sent part is ignored
    assert assembler.incomplete() == {("MN1", "32", "2051", "20160801084000", 3): [1, 3]}
    whole = assembler.add(parts[1])
    assert whole is not None and assembler.incomplete() == {}
    assert [code for code, field, _ in whole.values if field == "Avg"] == [
        "w01018",
        "w21003",
        "w21011",
    ]
    assert (whole.qn, whole.flag, whole.pnum, whole.pno, whole.split) == (
        "20160801085857534",
        5,
        None,
        None,
        False,
    )
    assert whole.raw == b"".join(p.raw for p in parts)


def test_assembler_passes_unsplit_packets_through():
    packet = hj212.decode_packet(S28)
    assert hj212.SplitAssembler().add(packet) is packet


def test_parts_of_different_times_are_not_mixed():
    assembler = hj212.SplitAssembler()
    one = _part("1", 1, "a-Rtd=1", pnum=2)
    other = _part("2", 2, "a-Rtd=2", pnum=2)._replace(data_time="20160801085000")
    assert assembler.add(one) is None and assembler.add(other) is None
    assert len(assembler.incomplete()) == 2


def test_pnum_without_d_bit_is_a_warning():
    packet = _part("1", 1, "a-Rtd=1", flag=5)
    assert packet.ok and "pnum_without_d_bit" in packet.warnings


# ---------------------------------------------------------------------------------------------
# Fuzzing: never an exception, always a reason
# ---------------------------------------------------------------------------------------------

REASONS = set(Reason)
pieces = st.one_of(
    st.sampled_from([*GOOD, S04, S11]),
    st.binary(max_size=40),
    st.sampled_from([b"##", b"#", b"\r\n", b"\n", b"##0101", b"##9999", b"&&", b"CP=&&"]),
    st.sampled_from(GOOD).flatmap(lambda p: st.integers(0, len(p)).map(lambda n: p[:n])),
)


def _check(packets: list[hj212.Packet]) -> None:
    for packet in packets:
        assert packet.ok or (packet.error in REASONS and packet.detail)
        assert packet.raw
        packet.as_dict()


@given(st.binary(min_size=1, max_size=2000))
def test_random_bytes_never_raise(data):
    packets = hj212.decode_stream([data])
    _check(packets)
    _assert_every_byte_reported(data, packets)
    _check([hj212.decode_packet(data)])


segment_tokens = st.sampled_from(
    [
        "QN=",
        "ST=",
        "CN=",
        "2011",
        "PW=",
        "MN=",
        "Flag=",
        "7",
        "PNUM=",
        "PNO=",
        "CP=&&",
        "&&",
        "DataTime=",
        "20230228120000",
        "a34004",
        "-Rtd=",
        "-",
        "=",
        ";",
        ",",
        "//",
        "1.5",
        "日",
    ]
)


@given(st.lists(st.one_of(segment_tokens, st.text(max_size=5)), max_size=30))
def test_random_segments_never_raise(tokens):
    packet = hj212.parse_segment("".join(tokens).encode("utf-8", "surrogatepass"))
    assert packet.ok or (packet.error is Reason.BAD_FIELD and packet.detail)
    packet.as_dict()


@settings(max_examples=300)
@given(st.lists(pieces, max_size=12), st.lists(st.integers(1, 400), max_size=30))
def test_mixed_streams_in_any_chunks_never_raise_and_lose_nothing(parts, cuts):
    stream = b"".join(parts)
    chunks, rest = [], stream
    for cut in cuts:
        chunks.append(rest[:cut])
        rest = rest[cut:]
    chunks.append(rest)
    packets = hj212.decode_stream(chunks)
    _check(packets)
    _assert_every_byte_reported(stream, packets)


def _assert_every_byte_reported(stream: bytes, packets: list[hj212.Packet]) -> None:
    """The raw bytes of packets and rejects, in order, are the stream less good packets' tails."""
    position = 0
    for packet in packets:
        assert stream.startswith(packet.raw, position)
        position += len(packet.raw)
        if packet.ok and stream.startswith(b"\r\n", position):
            position += 2
        elif packet.ok and stream.startswith(b"\n", position):
            position += 1
    assert position == len(stream)


@given(st.lists(st.sampled_from(GOOD), min_size=1, max_size=8), st.data())
def test_good_packets_survive_any_chunking(packets, data):
    stream = b"".join(packets)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    decoded = hj212.decode_stream(chunks)
    assert [p.raw for p in decoded] == [p[:-2] for p in packets]
    assert all(p.ok for p in decoded)


@given(st.sampled_from(GOOD), st.data())
def test_truncated_packets_are_rejected_with_a_reason(raw, data):
    cut = data.draw(st.integers(0, len(raw) - 3))
    packet = hj212.decode_packet(raw[:cut])
    assert packet.error in {Reason.BAD_FRAME, Reason.BAD_LENGTH}


@given(st.sampled_from(GOOD), st.data())
def test_any_single_changed_segment_byte_is_detected(raw, data):
    """附录 A's register is linear and invertible per byte: a one-byte change always shows."""
    position = data.draw(st.integers(6, len(raw) - 7))
    replacement = data.draw(st.integers(0x20, 0x7E).filter(lambda b: b != raw[position]))
    corrupted = raw[:position] + bytes([replacement]) + raw[position + 1 :]
    assert hj212.decode_packet(corrupted).error is Reason.BAD_CRC


def test_header_split_across_reads_after_a_bad_packet():
    decoder = hj212.StreamDecoder()
    first = decoder.feed(S04 + b"#")
    assert [p.error for p in first] == [Reason.BAD_CRC]
    assert [p.ok for p in decoder.feed(S17[1:])] == [True]
