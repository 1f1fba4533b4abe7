"""Carbon-inclusion arithmetic: reductions, points, serial ranges and the offset cap."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qingshan.carbon import inclusion


def test_bus_ride_worked_example() -> None:
    """碳惠通: ≈120 g CO2 per bus ride → 1.1 carbon points (carbon.md §3.3.1)."""
    assert inclusion.reduction_mg(1, 120.0) == 120_000
    assert inclusion.points_centi(1, 1.1) == 110
    assert inclusion.points_centi(20 / 1.1, 1.1) == 2000  # 20 points buy a 2-yuan coupon


def test_shared_ebike_worked_example() -> None:
    """共享电动助力车: 43 g CO2 per km (carbon.md §3.3.1): 4,479 t/yr planned ≈ 104 M km."""
    assert inclusion.reduction_mg(10, 43.0) == 430_000
    km_per_year = 4_479 * 1_000_000 / 43
    assert inclusion.reduction_mg(km_per_year, 43.0) == pytest.approx(4_479 * 10**9, rel=1e-12)


def test_shipped_methodologies_cite_sources_and_inactive_ones_lack_factors() -> None:
    methodologies = {m.code: m for m in inclusion.shipped_methodologies()}
    assert methodologies["CQ-BUS"].grams_per_unit == 120.0
    assert methodologies["CQ-EBIKE"].grams_per_unit == 43.0
    for methodology in methodologies.values():
        assert methodology.source and methodology.document
        if methodology.kind == "action":
            assert methodology.active == (methodology.grams_per_unit is not None)
    assert {m.scheme for m in methodologies.values()} == {"CQCER", "PHCER", "CDCER"}


def test_national_ets_offset_cap_is_five_percent() -> None:
    """碳排放权交易管理办法（试行） Art. 29 (carbon.md §7.6): 1,000,000 t → 50,000 t."""
    (scheme,) = inclusion.shipped_schemes()
    assert scheme.offset_cap_percent == 5.0
    assert inclusion.offset_cap_tonnes(1_000_000, 5.0) == 50_000
    assert inclusion.offset_cap_tonnes(9_999, 5.0) == 499  # rounded down: 499.95


def test_serials_round_trip_and_reject_bad_text() -> None:
    prefix = inclusion.serial_prefix("AR-CQCM-001", 2023, "P001")
    serial = inclusion.format_serial(prefix, 701, 1000)
    assert serial == "QS-AR-CQCM-001-2023-P001-701-1000"
    assert inclusion.parse_serial(serial) == (prefix, 701, 1000)
    for bad in ("QS-X-2023-P-10-9", "VCS-1-2", "QS-X-2023-P-0-5"):
        with pytest.raises(ValueError):
            inclusion.parse_serial(bad)
    with pytest.raises(ValueError, match="project code"):
        inclusion.serial_prefix("AR-CQCM-001", 2023, "P-001")


@given(first=st.integers(1, 10**9), size=st.integers(2, 10**6), data=st.data())
def test_split_keeps_a_contiguous_partition(first: int, size: int, data: st.DataObject) -> None:
    last = first + size - 1
    quantity = data.draw(st.integers(1, size - 1))
    (kept_first, kept_last), (moved_first, moved_last) = inclusion.split_upper(
        first, last, quantity
    )
    assert (kept_first, moved_last) == (first, last)
    assert kept_last + 1 == moved_first
    assert moved_last - moved_first + 1 == quantity


def test_split_refuses_nothing_or_everything() -> None:
    for quantity in (0, 10, 11):
        with pytest.raises(ValueError):
            inclusion.split_upper(1, 10, quantity)
