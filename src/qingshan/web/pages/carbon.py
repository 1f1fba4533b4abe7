"""The carbon books: inventory by sector, intensity against the targets' pace, factor library."""

from __future__ import annotations

from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from qingshan.api.deps import Caller
from qingshan.carbon.factors import names
from qingshan.carbon.targets import INDICATORS
from qingshan.config import get_settings
from qingshan.services import carbon
from qingshan.services.carbon_books import CarbonBooks, books_library, load_books
from qingshan.services.tables import InputError
from qingshan.web.charts import grouped_bars, line_chart
from qingshan.web.i18n import N_, localized
from qingshan.web.i18n import gettext_ as _
from qingshan.web.rendering import render
from qingshan.web.session import signed_in

router = APIRouter(include_in_schema=False)
Analyst = Annotated[Caller, Depends(signed_in("analyst"))]

SECTORS_EN = {
    "energy_supply": "Energy supply",
    "industry": "Industry",
    "buildings": "Buildings",
    "transport": "Transport",
    "agriculture": "Agriculture",
    "waste": "Waste",
    "lulucf": "LULUCF",
}
SUMMARY_ROWS = {"total": N_("Total"), "reporting_enterprises": N_("Reporting enterprises")}
"""Rows of the inventory that are sums, not sectors (not stacked in the chart)."""
INDICATORS_EN = {
    "co2_per_gdp": "CO2 per unit of GDP",
    "energy_per_gdp": "Energy per unit of GDP",
    "total_co2": "Total CO2",
    "total_energy": "Total energy consumption",
    "non_fossil_share": "Share of non-fossil energy",
}
STATUS_LABELS = {"on_pace": N_("On pace"), "off_pace": N_("Off pace"), "achieved": N_("Achieved")}


def sector_label(key: str) -> str:
    if key in SUMMARY_ROWS:
        return _(SUMMARY_ROWS[key])
    return localized(names()["sectors"][key]["zh"], SECTORS_EN[key])


def indicator_label(key: str) -> str:
    return localized(INDICATORS[key][0], INDICATORS_EN[key])


def _inventory_chart(inventory: pl.DataFrame) -> dict[str, Any]:
    years = sorted(inventory["year"].unique().to_list())
    sectors_only = inventory.filter(~pl.col("sector").is_in(list(SUMMARY_ROWS)))
    wide = sectors_only.pivot(on="sector", index="year", values="total_location_co2e_t").sort(
        "year"
    )
    sectors = [column for column in wide.columns if column != "year"]
    return grouped_bars(
        [str(year) for year in years],
        {
            sector_label(sector): [
                None if value is None else round(value / 1e4, 2) for value in wide[sector]
            ]
            for sector in sectors
        },
        unit=_("10⁴ t CO2"),
        stacked=True,
    )


def _trajectory_charts(books: CarbonBooks) -> list[dict[str, Any]]:
    if books.trajectory is None or books.progress is None:
        return []
    charts = []
    for target in books.progress.iter_rows(named=True):
        rows = books.trajectory.filter(pl.col("indicator") == target["indicator"]).sort("year")
        charts.append(
            {
                "id": f"trajectory-{target['indicator']}",
                "label": f"{indicator_label(target['indicator'])} ({target['unit']})",
                "spec": line_chart(
                    [str(year) for year in rows["year"]],
                    {
                        _("Actual"): rows["actual"].to_list(),
                        _("Required path"): rows["required_path"].to_list(),
                        _("Linear path"): rows["linear_path"].to_list(),
                    },
                    unit=target["unit"],
                    dashed=frozenset({_("Required path"), _("Linear path")}),
                ),
            }
        )
    return charts


@router.get("/carbon", response_class=HTMLResponse)
def carbon_page(request: Request, caller: Analyst) -> HTMLResponse:
    """The books folder's inventory and targets; a bad file is shown with its row and column."""
    folder = get_settings().books_dir
    try:
        books, problem = load_books(folder), None
    except InputError as error:
        books, problem = None, str(error)
    context: dict[str, Any] = {"folder": folder, "books": books, "problem": problem}
    if books is not None:
        latest = books.annual.sort("year").tail(1).to_dicts()[0]
        context |= {
            "latest": latest,
            "inventory_chart": _inventory_chart(books.inventory),
            "trajectory_charts": _trajectory_charts(books),
            "progress": books.progress.to_dicts() if books.progress is not None else [],
            "sector_rows": books.inventory.filter(pl.col("year") == latest["year"])
            .sort("total_location_co2e_t", descending=True)
            .to_dicts(),
            "sector_label": sector_label,
            "indicator_label": indicator_label,
            "status_labels": STATUS_LABELS,
        }
    return render(request, "carbon.html", caller, context)


@router.get("/carbon/factors", response_class=HTMLResponse)
def factor_library(request: Request, caller: Analyst, series: str | None = None) -> HTMLResponse:
    """Every emission factor with its document, clause, date and verification status."""
    library = books_library(get_settings().books_dir)
    table = carbon.factor_table(library, series or None, None, None)
    return render(
        request,
        "carbon_factors.html",
        caller,
        {
            "factors": table.to_dicts(),
            "series": series or "",
            "all_series": library.series,
        },
    )
