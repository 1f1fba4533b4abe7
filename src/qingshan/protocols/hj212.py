"""HJ 212 wire format (污染物在线监控（监测）系统数据传输标准): CRC, framing, parsing, encoding.

Pure: bytes in, :class:`Packet` out, and back. No sockets, clocks or store; the TCP server,
the reject log and ingestion are built on top of this module.

Sources (notes with page numbers in ``shared/reference/hj212.md``):

* HJ 212—2017 §6.3.1 表 2 — communication packet ``##`` + 4-digit length + data segment
  (0 ≤ n ≤ 1024) + 4 hex CRC + ``<CR><LF>``.
* HJ 212—2017 §6.3.2 表 3 — data segment ``QN;ST;CN;PW;MN;Flag;[PNUM;PNO;]CP=&&…&&`` and the
  Flag byte ``V5..V0 D A`` (A = answer required, D = split packet with PNUM/PNO, V = version:
  0 HJ/T 212—2005, 1 HJ 212—2017, 2 HJ 212—2025 as implemented by peers — UNVERIFIED against
  the 2025 text).
* HJ 212—2017 §6.3.3 and 表 4 — CP syntax: ``=`` joins a field and its value, ``,`` separates
  values of one item, ``;`` separates items; pollutant fields are ``<code>-<Field>``.
* HJ 212—2017 附录 A — the CRC (see :func:`crc16`).
* HJ 212—2017 表 C.14 / C.50 — the 9014 data answer, one per sub-packet.

Robustness contract: nothing here raises on received bytes. Every problem becomes a
:class:`Reason` on a :class:`Packet` (``bad_frame``, ``bad_length``, ``bad_crc``,
``bad_field``) with a human ``detail``; tolerated deviations become ``warnings``. The choices on
points the standard leaves open are listed in ``docs/hj212.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

SEGMENT_LIMIT = 1024
"""Largest data segment allowed by HJ 212—2017 表 2; longer ones occur in the field and are
accepted with the warning ``segment_over_1024``."""

HEADER = b"##"
UPLOAD_COMMANDS = frozenset({"2011", "2021", "2031", "2041", "2051", "2061"})
"""Uploads whose CP must carry ``DataTime`` (HJ 212—2017 表 4 and 附录 C.14–C.19)."""

VERSIONS = {0: "2005", 1: "2017", 2: "2025"}
"""Flag version bits V5..V0 → edition (HJ 212—2017 表 3; 2 = 2025 per peers, UNVERIFIED)."""

REPLY_FLAG = 4
"""Flag of a platform reply: version 2017, no answer, not split (HJ 212—2017 表 C.14)."""


class Reason(StrEnum):
    """Why a packet was rejected."""

    BAD_FRAME = "bad_frame"
    """Bytes that are not a packet: no ``##`` header, or several packets where one was given."""
    BAD_LENGTH = "bad_length"
    """The 4-digit length field is not a number or does not match the data segment."""
    BAD_CRC = "bad_crc"
    """The CRC does not match the data segment."""
    BAD_FIELD = "bad_field"
    """The data segment cannot be read: missing CN or CP, bad Flag, PNUM/PNO or DataTime."""


class CrcVariant(StrEnum):
    """CRC algorithm and print order.

    ``hj212`` is the standard (附录 A). The MODBUS ones exist only for devices known to use them
    (field captures in the notes §1.2); a receiver selects them explicitly per device.
    """

    HJ212 = "hj212"
    MODBUS = "modbus"
    """CRC-16/MODBUS printed high byte first."""
    MODBUS_SWAPPED = "modbus_swapped"
    """CRC-16/MODBUS printed low byte first (its order on a MODBUS wire)."""


# --------------------------------------------------------------------------------------------
# CRC (HJ 212—2017 附录 A)
# --------------------------------------------------------------------------------------------


def _reflected_table(poly: int) -> tuple[int, ...]:
    """Eight shift-right steps of the register, XOR ``poly`` when a 1 is shifted out."""
    table = []
    for byte in range(256):
        register = byte
        for _ in range(8):
            register = (register >> 1) ^ poly if register & 1 else register >> 1
        table.append(register)
    return tuple(table)


_STEP = _reflected_table(0xA001)
"""Register after 附录 A's inner loop of eight steps, for each 8-bit register value."""

_STEP_HIGH = tuple(value >> 8 for value in _STEP)


def _power_of_step(exponent: int, vector: int) -> int:
    for _ in range(exponent):
        vector = _STEP_HIGH[vector]
    return vector


_PERIOD = 8
"""``_STEP_HIGH`` is linear over GF(2) and its 8th power is the identity (checked below)."""
assert all(_power_of_step(_PERIOD, v) == v for v in range(256))

_BYTE_FROM_END = tuple(
    tuple(_power_of_step(offset + 1, byte) for byte in range(256)) for offset in range(_PERIOD)
)
"""``[r][b]``: contribution to the final state of byte ``b`` found ``r`` (mod 8) bytes
before the last byte of the body."""

_INITIAL_STATE = tuple(_power_of_step(n, 0xFF) for n in range(_PERIOD))
"""Contribution of the register's initial 0xFFFF after ``n`` bytes (mod 8)."""


def crc16(data: bytes) -> int:
    """Return the HJ 212 CRC of ``data`` (HJ 212—2017 附录 A, 规范性附录, pp.19–20).

    The normative loop is ``reg = 0xFFFF``; per byte ``reg = (reg >> 8) ^ byte`` then eight
    times "shift right, XOR 0xA001 if a 1 fell out". This is **not** CRC-16/MODBUS, which does
    ``reg ^= byte``: here the register's low byte is dropped before each byte. Check values:
    ``b"123456789"`` → 0x2F80; the standard's example segment → 0x1C80 (附录 A p.20).

    Why the odd implementation: only the high byte of the register survives from one byte to
    the next, and that 8-bit state evolves linearly (over GF(2)) with period 8. So the bytes
    of the body (all but the last byte) can be XOR-ed together by their distance from the end
    modulo 8 — done by folding one big integer onto itself, at C speed — and the 8 resulting
    bytes looked up in 8 tables. About 3× faster than a Python loop over the bytes of a
    typical 400-byte segment; the tests check it against the literal 附录 A loop.

    Parameters
    ----------
    data : bytes
        The data segment (from ``QN=`` through the closing ``&&``), never ``##`` or the length.

    Returns
    -------
    int
        The 16-bit register, printed as 4 upper-case hex digits, high byte first.
    """
    if not data:
        return 0xFFFF
    body = data[:-1]
    folded = int.from_bytes(body, "big")  # byte r from the end sits at bits 8r … 8r+7
    size = folded.bit_length()
    while size > 64:
        half = (size + 127) // 128 * 64  # a multiple of 64 bits keeps distances mod 8
        folded = (folded & ((1 << half) - 1)) ^ (folded >> half)
        size = folded.bit_length()
    state = _INITIAL_STATE[len(body) % _PERIOD]
    for table in _BYTE_FROM_END:
        state ^= table[folded & 0xFF]
        folded >>= 8
    return _STEP[state ^ data[-1]]


def crc16_modbus(data: bytes) -> int:
    """Return CRC-16/MODBUS of ``data`` (init 0xFFFF, reflected 0xA001; ``b"123456789"`` →
    0x4B37). Not HJ 212: only for devices configured with a MODBUS variant."""
    register = 0xFFFF
    for byte in data:
        register = (register >> 8) ^ _STEP[(register ^ byte) & 0xFF]
    return register


def crc_text(segment: bytes, variant: CrcVariant = CrcVariant.HJ212) -> str:
    """Return the 4 hex characters (upper case) that a packet carries for ``segment``."""
    if variant is CrcVariant.HJ212:
        return f"{crc16(segment):04X}"
    value = crc16_modbus(segment)
    if variant is CrcVariant.MODBUS_SWAPPED:
        value = (value & 0xFF) << 8 | value >> 8
    return f"{value:04X}"


# --------------------------------------------------------------------------------------------
# Decoded packets
# --------------------------------------------------------------------------------------------


Value = tuple[str, str, str]
"""One ``<code>-<Field>=<value>`` of the CP as ``(code, field, value)``, e.g.
``("a34004", "Rtd", "35")``. Values stay text, exactly as sent (``"231.0"`` and ``"231"``
differ in precision); the consumer converts what it stores. Plain tuples: a named tuple per
value would cost a fifth of the decode time."""


class Packet(NamedTuple):
    """One packet as decoded (``error is None``) or rejected (``error`` says why).

    Header fields are text as received (None when absent); ``flag``, ``pnum`` and ``pno`` are
    integers. A rejected packet keeps whatever could still be read (for example the MN of a
    packet with a bad CRC), and always its raw bytes.
    """

    raw: bytes
    error: Reason | None = None
    detail: str = ""
    warnings: tuple[str, ...] = ()
    crc_expected: str | None = None
    """CRC computed over the received data segment (upper case)."""
    crc_actual: str | None = None
    """The 4 CRC characters as received."""
    qn: str | None = None
    st: str | None = None
    cn: str | None = None
    pw: str | None = None
    mn: str | None = None
    flag: int | None = None
    pnum: int | None = None
    pno: int | None = None
    data_time: str | None = None
    """``DataTime`` as sent (YYYYMMDDhhmmss, local time; 17 digits when milliseconds are sent)."""
    values: tuple[Value, ...] = ()
    params: tuple[tuple[str, str], ...] = ()
    """CP items that are not pollutant fields, e.g. ``("RtdInterval", "30")``."""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def version(self) -> str | None:
        """Edition from the Flag's version bits: ``"2005"``, ``"2017"``, ``"2025"``, or None."""
        return None if self.flag is None else VERSIONS.get(self.flag >> 2)

    @property
    def ack_required(self) -> bool:
        """Flag bit A: the receiver must answer (HJ 212—2017 表 3)."""
        return self.flag is not None and bool(self.flag & 1)

    @property
    def split(self) -> bool:
        """Flag bit D: one part of a split packet, with PNUM and PNO."""
        return self.flag is not None and bool(self.flag & 2)

    def time(self) -> datetime | None:
        """``DataTime`` as a naive local datetime (Asia/Shanghai), or None."""
        return None if self.data_time is None else _parse_time(self.data_time)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form printed by ``qingshan hj212 decode``."""
        return {
            "ok": self.ok,
            "error": None if self.error is None else str(self.error),
            "detail": self.detail or None,
            "warnings": list(self.warnings),
            "qn": self.qn,
            "st": self.st,
            "cn": self.cn,
            "pw": self.pw,
            "mn": self.mn,
            "flag": self.flag,
            "version": self.version,
            "ack_required": self.ack_required,
            "pnum": self.pnum,
            "pno": self.pno,
            "data_time": self.data_time,
            "crc_expected": self.crc_expected,
            "crc_actual": self.crc_actual,
            "values": [{"code": c, "field": f, "value": v} for c, f, v in self.values],
            "params": dict(self.params),
        }


class _FieldError(Exception):
    """Internal: the data segment is unreadable. Never escapes this module."""


_HEADER_NAMES = frozenset({"QN", "ST", "CN", "PW", "MN", "FLAG", "PNUM", "PNO"})
"""Header field names, matched case-insensitively (field capture ``FLAG=0``, notes §2.1)."""

_CP_OPEN = "CP=&&"
_CP_CLOSE = "&&"


def parse_segment(
    segment: bytes,
    raw: bytes | None = None,
    crc: tuple[str, str] | None = None,
    warnings: Sequence[str] = (),
) -> Packet:
    """Read a data segment into a :class:`Packet`; never raises.

    Header fields are read by name, in any order (field data put ``ST;CN;QN`` first and omit
    QN and Flag); ``,`` is accepted in place of ``;`` between header fields (HJ 212—2017
    表 C.22 / C.48 print it so). Unknown header fields are skipped with a warning.

    Parameters
    ----------
    segment : bytes
        The data segment, ``QN=…`` through the closing ``&&``.
    raw : bytes, optional
        The whole packet, kept on the result (default: the segment).
    crc : (expected, actual), optional
        The CRC check already made by the framing, kept on the result.
    warnings : sequence of str
        Warnings from the framing, kept ahead of the segment's own.
    """
    raw = segment if raw is None else raw
    expected, actual = (None, None) if crc is None else crc
    found = list(warnings)
    try:
        return _parse(segment, raw, found, expected, actual)
    except _FieldError as error:
        return Packet(
            raw=raw,
            error=Reason.BAD_FIELD,
            detail=str(error),
            warnings=tuple(found),
            crc_expected=expected,
            crc_actual=actual,
        )


def _decode_text(segment: bytes, warnings: list[str]) -> str:
    """ASCII per §6.3; UTF-8 for Chinese text in ``-Info`` fields; anything else replaced."""
    try:
        return segment.decode("utf-8")
    except UnicodeDecodeError:
        warnings.append("not_utf8")
        return segment.decode("utf-8", errors="replace")


def _parse(
    segment: bytes, raw: bytes, warnings: list[str], expected: str | None, actual: str | None
) -> Packet:
    text = _decode_text(segment, warnings)
    open_at = text.find(_CP_OPEN)
    close_at = text.rfind(_CP_CLOSE)
    if open_at < 0 or close_at < open_at + len(_CP_OPEN):
        raise _FieldError("no CP=&&…&& in the data segment")
    if text[close_at + 2 :].strip():
        warnings.append("text_after_cp")
    header = _parse_header(text[:open_at], warnings)
    data_time, values, params = _parse_cp(text[open_at + len(_CP_OPEN) : close_at], warnings)
    flag, pnum, pno = _flag_and_parts(header, warnings)
    cn = header.get("CN")
    if not cn:
        raise _FieldError("no CN (command code)")
    if data_time is None and cn in UPLOAD_COMMANDS:
        raise _FieldError(f"upload CN={cn} without DataTime")
    return Packet(
        raw=raw,
        warnings=tuple(warnings),
        crc_expected=expected,
        crc_actual=actual,
        qn=header.get("QN"),
        st=header.get("ST"),
        cn=cn,
        pw=header.get("PW"),
        mn=header.get("MN"),
        flag=flag,
        pnum=pnum,
        pno=pno,
        data_time=data_time,
        values=values,
        params=params,
    )


def _parse_header(text: str, warnings: list[str]) -> dict[str, str]:
    """Header fields by upper-cased name (``QN``, ``FLAG``…); the first of duplicates wins."""
    header: dict[str, str] = {}
    for item in _split_items(text):
        name, equals, value = item.partition("=")
        if not equals or not name:
            if item:
                raise _FieldError(f"header item {item[:40]!r} is not name=value")
            continue
        key = name.upper()
        if key not in _HEADER_NAMES:
            warnings.append(f"unknown_field:{name}")
        elif key in header:
            warnings.append(f"duplicate_field:{name}")
        else:
            header[key] = value
    return header


def _small_int(name: str, text: str | None, upper: int) -> int | None:
    if text is None:
        return None
    if not (text.isdigit() and text.isascii() and len(text) <= 4) or int(text) > upper:
        raise _FieldError(f"{name}={text[:20]!r} is not an integer 0–{upper}")
    return int(text)


def _flag_and_parts(
    header: dict[str, str], warnings: list[str]
) -> tuple[int | None, int | None, int | None]:
    """Flag byte and the split-packet numbers (HJ 212—2017 表 3: PNUM/PNO present iff D=1)."""
    flag = _small_int("Flag", header.get("FLAG"), 255)
    pnum = _small_int("PNUM", header.get("PNUM"), 9999)
    pno = _small_int("PNO", header.get("PNO"), 9999)
    if flag is not None and flag >> 2 not in VERSIONS:
        warnings.append(f"unknown_version:{flag >> 2}")
    split = flag is not None and bool(flag & 2)
    if split and (pnum is None or pno is None):
        raise _FieldError("Flag has the D bit (split packet) but PNUM or PNO is missing")
    if pnum is not None or pno is not None:
        if pnum is None or pno is None or not 1 <= pno <= pnum:
            raise _FieldError(f"PNUM={pnum}, PNO={pno}: need 1 ≤ PNO ≤ PNUM")
        if not split:
            warnings.append("pnum_without_d_bit")
    return flag, pnum, pno


def _split_items(cp: str) -> list[str]:
    """Split CP into ``key=value`` items on ``;`` and ``,``, keeping ``//…//`` text whole
    (表 B.8 ``i11001-Info=//…//`` wraps free text that may contain separators)."""
    if "//" not in cp:
        return cp.replace(",", ";").split(";")
    items: list[str] = []
    for index, chunk in enumerate(cp.split("//")):
        if index % 2:  # inside //…//: glue back onto the item it belongs to
            items[-1] += f"//{chunk}//"
        else:
            pieces = chunk.replace(",", ";").split(";")
            if items and pieces:
                items[-1] += pieces.pop(0)
            items.extend(pieces)
    return items


def _parse_cp(
    cp: str, warnings: list[str]
) -> tuple[str | None, tuple[Value, ...], tuple[tuple[str, str], ...]]:
    """Split CP into DataTime, pollutant values and other parameters (HJ 212—2017 §6.3.3).

    Values of one pollutant are grouped by their code, whatever the separator (peers write
    ``011-Rtd=231.0;011-Flag=N`` as well as ``,``, notes §2.6).
    """
    values, others = _cp_fields(cp)
    data_time: str | None = None
    params: list[tuple[str, str]] = []
    for name, value in others:
        if name != "DataTime":
            params.append((name, value))
        elif data_time is not None:
            warnings.append("duplicate_field:DataTime")
        elif not _valid_time(value):
            raise _FieldError(f"DataTime={value[:20]!r} is not YYYYMMDDhhmmss")
        else:
            data_time = value
    return data_time, values, tuple(params)


def _cp_fields(cp: str) -> tuple[tuple[Value, ...], list[tuple[str, str]]]:
    """Pollutant fields ``<code>-<Field>=value`` and the other items (``DataTime`` …).

    The code is what precedes the last ``-`` of the name (field names have no ``-``; values
    may, e.g. negative numbers).
    """
    values: list[Value] = []
    others: list[tuple[str, str]] = []
    for item in _split_items(cp):
        name, equals, text = item.partition("=")
        code, dash, field = name.rpartition("-")
        if not equals or not field or (dash and not code):
            if item:
                raise _FieldError(f"CP item {item[:40]!r} is not name=value or code-Field=value")
        elif dash:
            values.append((code, field, text))
        else:
            others.append((name, text))
    return tuple(values), others


_TIME = re.compile(
    r"\d{4}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])([01]\d|2[0-3])[0-5]\d[0-5]\d(\d{3})?"
)
"""``YYYYMMDDhhmmss`` (HJ 212—2017 表 4, N14), optionally with 3 millisecond digits."""


def _valid_time(text: str) -> bool:
    """Whether ``text`` is a DataTime; only days 29–31 need the calendar."""
    if _TIME.fullmatch(text) is None:
        return False
    return text[6:8] <= "28" or _parse_time(text) is not None


def _parse_time(text: str) -> datetime | None:
    if _TIME.fullmatch(text) is None:
        return None
    try:
        return datetime(
            int(text[0:4]),
            int(text[4:6]),
            int(text[6:8]),
            int(text[8:10]),
            int(text[10:12]),
            int(text[12:14]),
            int(text[14:17] or 0) * 1000,
        )
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# Framing
# --------------------------------------------------------------------------------------------


_HEADER_PATTERN = re.compile(rb"##[0-9]{4}")


def _is_hex4(text: bytes) -> bool:
    return len(text) == 4 and all(c in b"0123456789abcdefABCDEF" for c in text)


def _rejected(raw: bytes, reason: Reason, detail: str) -> Packet:
    return Packet(raw=raw, error=reason, detail=detail)


def _char_counted_end(buffer: bytes, start: int, chars: int) -> int:
    """Byte offset where ``chars`` characters of UTF-8 text starting at ``start`` end.

    Peers that count .NET chars instead of bytes declare a shorter length when the segment
    holds Chinese text (notes §1.1); invalid bytes count one each.
    """
    text = buffer[start : start + 4 * chars].decode("utf-8", errors="surrogateescape")
    return start + len(text[:chars].encode("utf-8", errors="surrogateescape"))


class StreamDecoder:
    """Incremental decoder for one connection: :meth:`feed` bytes, get packets and rejects.

    Frames by the length field (HJ 212—2017 表 2). On any failure it reports the bytes from the
    failed ``##`` up to the next ``##`` and resynchronises there; bytes between packets are
    reported as ``bad_frame``. The tail ``\\r\\n`` is optional (``\\n`` alone occurs in the
    field). A packet is returned as soon as its CRC has arrived, so an answer is never held
    back waiting for the tail. Memory stays bounded by one packet because garbage is reported
    as it arrives.
    """

    def __init__(self, crc_variant: CrcVariant = CrcVariant.HJ212) -> None:
        self._pending = b""
        """Bytes received but not yet reported (at most one incomplete packet)."""
        self._variant = crc_variant
        self._tail_pending = False

    def feed(self, data: bytes) -> list[Packet]:
        """Add received bytes; return every packet or reject now complete, in order."""
        return self._drain(self._pending + data, final=False)

    def close(self) -> list[Packet]:
        """End of stream: whatever is left is reported (a truncated packet, garbage)."""
        return self._drain(self._pending, final=True)

    def _drain(self, buffer: bytes, final: bool) -> list[Packet]:
        """Report everything complete in ``buffer``; keep the rest for the next read.

        ``buffer`` is immutable ``bytes``: with one packet per read (the usual case) the
        received bytes are decoded in place, without copying into a growing buffer.
        """
        out: list[Packet] = []
        position = 0
        while position < len(buffer):
            position = self._skip_tail(buffer, position, final)
            if self._tail_pending:
                break
            start = buffer.find(HEADER, position)
            if start < 0:  # keep a last "#": it may start the next header
                start = len(buffer) - (1 if buffer.endswith(b"#") and not final else 0)
            while buffer.startswith(b"###", start):  # in a run of "#", the last two start it
                start += 1
            if start > position:
                garbage = buffer[position:start]
                out.append(_rejected(garbage, Reason.BAD_FRAME, "bytes outside any ## packet"))
                position = start
            step = self._frame_at(buffer, start, final) if start < len(buffer) else None
            if step is None:
                break
            packet, position = step
            out.append(packet)
        self._pending = buffer[position:]
        return out

    def _skip_tail(self, buffer: bytes, position: int, final: bool) -> int:
        """Swallow the ``\\r\\n`` (or ``\\n``) that ends the previous packet."""
        if not self._tail_pending:
            return position
        if buffer.startswith(b"\r\n", position):
            position += 2
        elif buffer.startswith(b"\n", position):
            position += 1
        elif buffer.startswith(b"\r", position) and position + 1 == len(buffer) and not final:
            return position  # wait: the \n may come with the next read
        self._tail_pending = False
        return position

    def _frame_at(self, buffer: bytes, start: int, final: bool) -> tuple[Packet, int] | None:
        """Decode the packet whose ``##`` is at ``start``; None = wait for more bytes."""
        if not buffer.startswith(HEADER, start) or len(buffer) - start < 6:
            if not final:
                return None
            return self._fail(buffer, start, Reason.BAD_LENGTH, "truncated before the length")
        digits = buffer[start + 2 : start + 6]
        if not digits.isdigit():
            return self._fail(buffer, start, Reason.BAD_LENGTH, f"length field {digits!r}")
        size = int(digits)
        crc_start = start + 6 + size
        if len(buffer) < crc_start + 4:
            if buffer.find(b"\n", start + 6) < 0 and not final:
                return None
            detail = f"length field {size}, but the packet ends after {len(buffer) - start} bytes"
            return self._misframed(buffer, start, detail)
        raw = buffer[start : crc_start + 4]
        segment, received = raw[6:-4], raw[-4:]
        expected = crc_text(segment, self._variant)
        if received.upper() == expected.encode():
            return self._accept(raw, segment, expected, []), start + len(raw)
        if not segment.isascii():
            char_end = _char_counted_end(buffer, start + 6, size)
            if char_end + 4 > len(buffer) and not final:
                return None
            raw = buffer[start : char_end + 4]
            chars_expected = crc_text(raw[6:-4], self._variant)
            if raw[-4:].upper() == chars_expected.encode():
                warnings = ["length_counts_characters"]
                return self._accept(raw, raw[6:-4], chars_expected, warnings), start + len(raw)
        if not _is_hex4(received) or self._line_crc_matches(buffer, start):
            return self._misframed(buffer, start, f"length field {size} does not end the segment")
        if _HEADER_PATTERN.search(buffer, start + 2, crc_start):
            detail = "another packet starts inside the declared length (truncated packet)"
            return self._fail(buffer, start, Reason.BAD_LENGTH, detail)
        packet = parse_segment(segment, crc=(expected, received.decode("ascii")))
        raw, resume = self._resync(buffer, start)
        detail = f"CRC {received.decode('ascii')} received, {expected} computed ({self._variant})"
        return packet._replace(raw=raw, error=Reason.BAD_CRC, detail=detail), resume

    def _accept(self, raw: bytes, segment: bytes, expected: str, warnings: list[str]) -> Packet:
        """A packet whose CRC matches: parse it, and swallow its tail when it comes."""
        if len(segment) > SEGMENT_LIMIT:
            warnings.append("segment_over_1024")
        self._tail_pending = True
        return parse_segment(segment, raw, (expected, raw[-4:].decode("ascii")), warnings)

    def _line_crc_matches(self, buffer: bytes, start: int) -> bool:
        """Whether the packet is intact up to its line end: then only the length is wrong."""
        line_end = buffer.find(b"\n", start)
        if line_end < 0:
            line_end = len(buffer)
        if buffer.startswith(b"\r", line_end - 1):
            line_end -= 1
        segment = buffer[start + 6 : line_end - 4]
        return line_end - 4 > start + 6 and (
            buffer[line_end - 4 : line_end].upper() == crc_text(segment, self._variant).encode()
        )

    def _misframed(self, buffer: bytes, start: int, detail: str) -> tuple[Packet, int]:
        if self._line_crc_matches(buffer, start):
            detail += " (the CRC at the line end matches: the length field is wrong)"
        return self._fail(buffer, start, Reason.BAD_LENGTH, detail)

    def _fail(self, buffer: bytes, start: int, reason: Reason, detail: str) -> tuple[Packet, int]:
        raw, resume = self._resync(buffer, start)
        return _rejected(raw, reason, detail), resume

    @staticmethod
    def _resync(buffer: bytes, start: int) -> tuple[bytes, int]:
        """The rejected bytes: from ``start`` to the next ``##`` (where decoding resumes)."""
        resume = buffer.find(HEADER, start + 1)
        if resume < 0:
            resume = len(buffer)
        while buffer.startswith(b"###", resume):  # in a run of "#", the last two start a header
            resume += 1
        if resume == len(buffer) > start + 2 and buffer.endswith(b"#"):
            resume -= 1  # the next packet's "##" may be split across reads
        return buffer[start:resume], resume


def decode_stream(
    chunks: Iterable[bytes], crc_variant: CrcVariant = CrcVariant.HJ212
) -> list[Packet]:
    """Decode a whole byte stream given in chunks (split anywhere): every packet and reject."""
    decoder = StreamDecoder(crc_variant)
    packets = [packet for chunk in chunks for packet in decoder.feed(chunk)]
    return packets + decoder.close()


def decode_packet(data: bytes, crc_variant: CrcVariant = CrcVariant.HJ212) -> Packet:
    """Decode exactly one packet (a line of a capture file); never raises.

    The trailing ``\\r\\n`` is optional. Anything else around the packet, or several packets
    on one line, is ``bad_frame`` (the detail lists what was found).
    """
    pieces = decode_stream([data], crc_variant)
    if len(pieces) == 1:
        return pieces[0]
    if not pieces:
        return _rejected(data, Reason.BAD_FRAME, "empty input")
    found = ", ".join(str(p.error) if p.error else f"a CN={p.cn} packet" for p in pieces)
    return _rejected(data, Reason.BAD_FRAME, f"expected one packet, found: {found}")


# --------------------------------------------------------------------------------------------
# Split packets (HJ 212—2017 表 3 PNUM/PNO, 表 C.49/C.50)
# --------------------------------------------------------------------------------------------

SplitKey = tuple[str | None, str | None, str | None, str | None, int]


class SplitAssembler:
    """Collect the parts of split packets and return the whole once every PNO has arrived.

    Parts are matched by (MN, ST, CN, DataTime, PNUM), not QN: in the standard's example each
    part has its own QN and repeats DataTime (表 C.50; notes §2.8). Parts may arrive in any
    order; a repeated PNO is ignored (devices re-send unanswered parts).
    """

    def __init__(self) -> None:
        self._parts: dict[SplitKey, dict[int, Packet]] = {}

    def add(self, packet: Packet) -> Packet | None:
        """Add one part; return the reassembled packet when complete, else None.

        A packet that is not split is returned unchanged.
        """
        if packet.pnum is None or packet.pno is None:
            return packet
        key = (packet.mn, packet.st, packet.cn, packet.data_time, packet.pnum)
        parts = self._parts.setdefault(key, {})
        parts.setdefault(packet.pno, packet)
        if len(parts) < packet.pnum:
            return None
        del self._parts[key]
        return merge_parts([parts[number] for number in sorted(parts)])

    def incomplete(self) -> dict[SplitKey, list[int]]:
        """Split packets still waiting for parts, with the PNOs received so far."""
        return {key: sorted(parts) for key, parts in self._parts.items()}


def merge_parts(parts: Sequence[Packet]) -> Packet:
    """Join the parts of one split packet (given in PNO order) into one packet.

    The result has the header of part 1 with the D bit cleared and no PNUM/PNO, the values and
    parameters of every part in order, and the parts' raw bytes concatenated.
    """
    first = parts[0]
    flag = None if first.flag is None else first.flag & ~2
    return first._replace(
        raw=b"".join(p.raw for p in parts),
        flag=flag,
        pnum=None,
        pno=None,
        warnings=tuple(w for p in parts for w in p.warnings),
        values=tuple(v for p in parts for v in p.values),
        params=tuple(item for p in parts for item in p.params),
    )


# --------------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------------


def frame(segment: str | bytes, crc_variant: CrcVariant = CrcVariant.HJ212) -> bytes:
    """Wrap a data segment: ``##`` + 4-digit byte length + segment + CRC + ``\\r\\n``.

    Raises
    ------
    ValueError
        If the segment is longer than the 4-digit length field allows (9999 bytes).
    """
    data = segment.encode("utf-8") if isinstance(segment, str) else segment
    if len(data) > 9999:
        raise ValueError(f"data segment of {len(data)} bytes exceeds the 4-digit length field")
    return b"##%04d%s%s\r\n" % (len(data), data, crc_text(data, crc_variant).encode())


def format_cp(
    data_time: str | None,
    values: Iterable[tuple[str, str, str]] = (),
    params: Iterable[tuple[str, str]] = (),
) -> str:
    """The CP body: ``DataTime=…;`` then parameters, then one item per code with its fields
    joined by ``,`` (HJ 212—2017 §6.3.3, e.g. 表 C.16)."""
    items = [] if data_time is None else [f"DataTime={data_time}"]
    items += [f"{name}={value}" for name, value in params]
    groups: dict[str, list[str]] = {}
    for code, field, value in values:
        groups.setdefault(code, []).append(f"{code}-{field}={value}")
    items += [",".join(fields) for fields in groups.values()]
    return ";".join(items)


def format_segment(
    *,
    cn: str,
    st: str,
    mn: str,
    pw: str,
    cp: str = "",
    qn: str | None = None,
    flag: int | None = None,
    pnum: int | None = None,
    pno: int | None = None,
) -> str:
    """The data segment in the standard's field order (HJ 212—2017 表 3)."""
    fields = [("QN", qn), ("ST", st), ("CN", cn), ("PW", pw), ("MN", mn), ("Flag", flag)]
    fields += [("PNUM", pnum), ("PNO", pno)]
    head = "".join(f"{name}={value};" for name, value in fields if value is not None)
    return f"{head}CP=&&{cp}&&"


def reply(packet: Packet, cn: str = "9014") -> bytes:
    """The platform's answer to ``packet``: ``QN=<same>;ST=91;CN=<cn>;PW=<same>;MN=<same>;
    Flag=4;CP=&&&&`` (HJ 212—2017 表 C.14 for 9014 after an upload, 表 C.4 for 9013 after the
    1013 notification). QN, PW and MN are echoed as received (QN is the device's match key)."""
    qn = "" if packet.qn is None else f"QN={packet.qn};"  # format_segment's order, inlined:
    segment = f"{qn}ST=91;CN={cn};PW={packet.pw or ''};MN={packet.mn or ''};Flag={REPLY_FLAG};"
    return frame(segment + "CP=&&&&")  # one answer per upload, so built without the general path


def make_flag(version: str = "2017", ack: bool = True, split: bool = False) -> int:
    """The Flag byte for an edition (``"2005"``, ``"2017"``, ``"2025"``) and the A and D bits."""
    bits = {name: number for number, name in VERSIONS.items()}[version]
    return bits << 2 | (2 if split else 0) | (1 if ack else 0)
