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
