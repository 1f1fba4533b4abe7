"""CSV and XLSX export of queries: every row (past the 1000-row page), same filters, same fields.

Runs on SQLite and PostgreSQL (the ``engine`` fixture of tests/store_backends.py).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import openpyxl
import polars as pl

from qingshan.services.readings_query import READING_COLUMNS, SITE_COLUMNS
from qingshan.store.engine import writing
from qingshan.store.readings import upsert_readings

T0 = datetime(2024, 3, 1, tzinfo=UTC)
ROWS = 1_500


def seed_minutes(engine, sites, parameters) -> None:
    frame = pl.DataFrame(
        {
            "site_id": [sites["AIR1"]] * ROWS,
            "parameter_id": [parameters["pm25"]] * ROWS,
            "period": ["minute"] * ROWS,
            "period_start": [T0 + timedelta(minutes=n) for n in range(ROWS)],
            "value": [float(n % 80) for n in range(ROWS)],
            "flag": ["N"] * ROWS,
        }
    )
    with writing(engine, "test:seed") as session:
        upsert_readings(session, frame, source="test", actor="test:seed")


def all_pages(client, headers, params) -> list[dict]:
    records, cursor = [], None
    while True:
        body = client.get(
            "/api/v1/readings", headers=headers, params={**params, "cursor": cursor, "limit": 1000}
        ).json()
        records += body["results"]
        cursor = body["meta"]["next"]
        if cursor is None:
            return records


def as_text(value) -> str:
    return "" if value is None else str(value)


def test_csv_export_streams_every_row_with_bom_and_the_json_fields(
    client, token_for, engine, sites, parameters
):
    seed_minutes(engine, sites, parameters)
    headers = token_for("analyst")
    params = {"site": "AIR1", "period": "minute", "datetime_from": "2024-03-01 08:10"}
    response = client.get("/api/v1/readings", headers=headers, params={**params, "format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")  # utf-8-sig: Excel reads µg/m³
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == READING_COLUMNS
    assert len(rows) - 1 == ROWS - 10  # more than one page of 1000, the filter applied
    expected = [
        [as_text(record[column]) for column in READING_COLUMNS]
        for record in all_pages(client, headers, params)
    ]
    assert rows[1:] == expected
    assert rows[1][READING_COLUMNS.index("unit")] == "µg/m³"
    assert rows[1][READING_COLUMNS.index("period_end")] == "2024-03-01T08:11:00+08:00"


def test_xlsx_export_has_every_row(client, token_for, engine, sites, parameters):
    seed_minutes(engine, sites, parameters)
    response = client.get(
        "/api/v1/readings", headers=token_for("grid_officer"), params={"format": "xlsx"}
    )
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == READING_COLUMNS
    assert len(rows) - 1 == ROWS
    first = dict(zip(READING_COLUMNS, rows[1], strict=True))
    assert (first["site"], first["parameter"], first["value"]) == ("AIR1", "pm25", 0.0)
    assert first["period_start"] == "2024-03-01T08:00:00+08:00"


def test_sites_export_writes_nested_values_as_json(client, token_for, sites):
    response = client.get("/api/v1/sites", headers=token_for("analyst"), params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == SITE_COLUMNS
    stack = next(row for row in rows if row["code"] == "STACK")
    assert stack["permit_limits"] == '{"flue_so2": {"limit": 35.0}}'
    assert stack["air_class"] == ""  # None is an empty cell


def test_export_from_a_cursor_continues_where_the_page_ended(
    client, token_for, engine, sites, parameters
):
    seed_minutes(engine, sites, parameters)
    headers = token_for("analyst")
    page = client.get("/api/v1/readings", headers=headers, params={"limit": 1000}).json()
    rest = client.get(
        "/api/v1/readings",
        headers=headers,
        params={"format": "csv", "cursor": page["meta"]["next"]},
    )
    rows = list(csv.reader(io.StringIO(rest.content.decode("utf-8-sig"))))
    assert len(rows) - 1 == ROWS - 1000
    assert (
        rows[1][READING_COLUMNS.index("period_start")] == "2024-03-02T00:40:00+08:00"
    )  # minute 1000 after 08:00
    bad = client.get("/api/v1/readings", headers=headers, params={"format": "csv", "cursor": "x"})
    assert bad.status_code == 422


def test_xlsx_refuses_more_rows_than_a_worksheet_holds(
    client, token_for, engine, sites, parameters, monkeypatch
):
    monkeypatch.setattr("qingshan.api.listing.XLSX_MAX_DATA_ROWS", ROWS - 1)
    seed_minutes(engine, sites, parameters)
    headers = token_for("analyst")
    refused = client.get("/api/v1/readings", headers=headers, params={"format": "xlsx"})
    assert refused.status_code == 422
    assert "format=csv" in refused.json()["detail"]
    one_less = {"format": "xlsx", "datetime_from": "2024-03-01 08:01"}
    assert client.get("/api/v1/readings", headers=headers, params=one_less).status_code == 200
