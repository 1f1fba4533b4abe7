"""Chart options built in Python (web/charts.py): layout that ECharts does not arrange itself."""

from __future__ import annotations

from typing import Any

import pytest

from qingshan.web import charts

LEGEND_ROW = 24
"""Height of a one-line scroll legend (ECharts' default item height 14 plus padding 5 × 2)."""
AXIS_NAME_ROW = 24
"""Height of the value axis' name above the plot (12 px text, its gap 15 to the axis end)."""

SEVEN_SECTORS = {f"sector {n}": [1.0, 2.0, 3.0] for n in range(7)}


@pytest.mark.parametrize(
    "spec",
    [
        charts.grouped_bars(["2021", "2022", "2023"], SEVEN_SECTORS, unit="10⁴ t", stacked=True),
        charts.line_chart(["2021", "2022", "2023"], SEVEN_SECTORS, unit="tCO2/万元"),
    ],
    ids=["grouped bars", "lines"],
)
def test_a_top_legend_leaves_a_row_for_the_axis_name(spec: dict[str, Any]) -> None:
    """The carbon inventory's legend of seven sectors covered its unit (grid top was 36)."""
    option = spec["option"]
    assert option["legend"]["top"] == 0 and option["yAxis"]["name"]
    assert option["grid"]["top"] >= LEGEND_ROW + AXIS_NAME_ROW


def test_a_limit_above_every_value_is_on_the_chart() -> None:
    """SRC01's SO₂ (readings 13–35 mg/m³, permit limit 50) drew no limit line: ECharts scales
    the axis to the data only."""
    spec = charts.line_chart(
        ["00:00", "01:00", "02:00"], {"SO₂": [13.0, None, 35.0]}, unit="mg/m³",
        limits=[("许可排放限值", 50.0)],
    )  # fmt: skip
    assert spec["option"]["yAxis"]["max"] == 60  # 10 % above the limit, rounded up
    within = charts.line_chart(
        ["00:00", "01:00"], {"Ld": [52.0, 58.0]}, unit="dB(A)", limits=[("昼间限值", 55.0)]
    )
    assert "max" not in within["option"]["yAxis"]  # the data already reach the limit
