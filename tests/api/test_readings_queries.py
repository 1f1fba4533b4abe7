"""The query API: envelope, cursor paging, time zones, latest values, aggregates, roles.

Runs on SQLite and PostgreSQL (the ``engine`` fixture of tests/store_backends.py).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from outlet_owners import own_outlets
from qingshan.store.aggregates import aggregate
from qingshan.store.engine import writing
from qingshan.store.readings import upsert_readings
from qingshan.store.registry import ensure_grid, upsert_site

T0 = datetime(2024, 3, 1, 0, tzinfo=UTC)  # 2024-03-01 08:00 in Beijing


def seed(engine, sites, parameters, rows) -> None:
    """Store ``(site, parameter, period, start, value[, flag])`` tuples through the store."""
    frame = pl.DataFrame(
        [
            (sites[site], parameters[key], period, start, value, rest[0] if rest else "N")
            for site, key, period, start, value, *rest in rows
        ],
        schema=["site_id", "parameter_id", "period", "period_start", "value", "flag"],
        orient="row",
    )
    with writing(engine, "test:seed") as session:
        upsert_readings(session, frame, source="test", actor="test:seed")


def hours(site, key, count, start=T0, value=10.0):
    return [(site, key, "hour", start + timedelta(hours=n), value + n) for n in range(count)]


def walk(client, url, headers, params):
    """Every page of a query by following meta.next; returns the pages' results."""
    pages, cursor = [], None
    while True:
        response = client.get(url, headers=headers, params={**params, "cursor": cursor})
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["results"])
        cursor = body["meta"]["next"]
        if cursor is None:
            return pages


def key(record):
    return (record["site"], record["parameter"], record["period"], record["period_start"])


# ------------------------------------------------------------------------------------------
# Envelope and paging
# ------------------------------------------------------------------------------------------


def test_envelope_meta_counts_limits_and_echoes_the_query(
    client, token_for, engine, sites, parameters
):
    seed(engine, sites, parameters, hours("AIR1", "pm25", 5) + hours("AIR5", "pm25", 5))
    response = client.get(
        "/api/v1/readings",
        headers=token_for("analyst"),
        params={"site": "AIR1", "parameter": ["pm25", "so2"], "limit": 2, "period": "hour"},
    )
    meta = response.json()["meta"]
    assert meta["found"] == 5 and meta["found_exact"] is True
    assert meta["limit"] == 2 and meta["next"]
    assert meta["query"]["site"] == ["AIR1"]
    assert meta["query"]["parameter"] == ["pm25", "so2"]
    assert meta["query"]["period"] == ["hour"]
    assert len(response.json()["results"]) == 2


def test_limit_is_between_1_and_1000(client, token_for, sites):
    headers = token_for("analyst")
    for limit in (0, 1001):
        response = client.get("/api/v1/readings", headers=headers, params={"limit": limit})
        assert response.status_code == 422, limit


@pytest.mark.parametrize("limit", [1, 7, 1000])
def test_paging_walks_every_row_once_while_rows_are_inserted(
    client, token_for, engine, sites, parameters, limit
):
    original = [
        row
        for site in ("AIR1", "AIR5")
        for parameter in ("pm25", "so2")
        for row in hours(site, parameter, 12)
    ]
    seed(engine, sites, parameters, original)
    headers = token_for("analyst")
    generator = random.Random(limit)
    seen, cursor = [], None
    while True:
        page = client.get(
            "/api/v1/readings", headers=headers, params={"limit": limit, "cursor": cursor}
        ).json()
        seen += [key(record) for record in page["results"]]
        cursor = page["meta"]["next"]
        if cursor is None:
            break
        # Meanwhile: new readings anywhere in the key order, and a revision of an old one.
        site, parameter = generator.choice(["AIR1", "AIR5"]), generator.choice(["pm25", "so2"])
        start = T0 + timedelta(hours=generator.randrange(-48, 48), minutes=30)
        fresh = [(site, parameter, "realtime", start, 1.0), (*original[0][:4], 99.0)]
        seed(engine, sites, parameters, fresh)
    assert len(seen) == len(set(seen))  # never twice
    local = {
        (site, key_, period, (start + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S+08:00"))
        for site, key_, period, start, _ in original
    }
    assert local <= set(seen)  # every row that existed at the start


def test_a_cursor_is_refused_for_another_query_or_when_damaged(
    client, token_for, engine, sites, parameters
):
    seed(engine, sites, parameters, hours("AIR1", "pm25", 5))
    headers = token_for("analyst")
    first = client.get("/api/v1/readings", headers=headers, params={"limit": 2}).json()
    cursor = first["meta"]["next"]
    other = client.get(
        "/api/v1/readings", headers=headers, params={"limit": 2, "cursor": cursor, "site": "AIR1"}
    )
    assert other.status_code == 422
    assert other.json()["detail"][0]["loc"] == ["query", "cursor"]
    damaged = client.get("/api/v1/readings", headers=headers, params={"cursor": cursor[:-3]})
    assert damaged.status_code == 422


# ------------------------------------------------------------------------------------------
# Time convention: Beijing offset, start and end of each period
# ------------------------------------------------------------------------------------------


def test_periods_are_shown_with_start_end_and_offset(client, token_for, engine, sites, parameters):
    seed(
        engine,
        sites,
        parameters,
        [
            ("AIR1", "pm25", "hour", T0, 35.0),
            ("AIR1", "pm25", "day", datetime(2024, 2, 29, 16, tzinfo=UTC), 30.0),
            ("AIR1", "pm25", "realtime", T0 + timedelta(seconds=17), 33.0),
            ("AIR5", "pm25", "minute", T0 + timedelta(minutes=5), 31.0),  # 5-minute interval
        ],
    )
    results = client.get("/api/v1/readings", headers=token_for("analyst")).json()["results"]
    shown = {
        (record["site"], record["period"]): (
            record["period_start"],
            record["period_end"],
            record["period_start_utc"],
            record["period_end_utc"],
        )
        for record in results
    }
    assert shown == {
        ("AIR1", "hour"): (
            "2024-03-01T08:00:00+08:00",
            "2024-03-01T09:00:00+08:00",
            "2024-03-01T00:00:00Z",
            "2024-03-01T01:00:00Z",
        ),
        ("AIR1", "day"): (  # the Beijing calendar day 2024-03-01
            "2024-03-01T00:00:00+08:00",
            "2024-03-02T00:00:00+08:00",
            "2024-02-29T16:00:00Z",
            "2024-03-01T16:00:00Z",
        ),
        ("AIR1", "realtime"): (  # an instant
            "2024-03-01T08:00:17+08:00",
            "2024-03-01T08:00:17+08:00",
            "2024-03-01T00:00:17Z",
            "2024-03-01T00:00:17Z",
        ),
        ("AIR5", "minute"): (  # HJ 212 2051: MinInterval (the site's 5 minutes) from DataTime
            "2024-03-01T08:05:00+08:00",
            "2024-03-01T08:10:00+08:00",
            "2024-03-01T00:05:00Z",
            "2024-03-01T00:10:00Z",
        ),
    }
    assert all(record["received_at"].endswith("+08:00") for record in results)


TIME_SPELLINGS = [
    ("2024-03-01T10:00:00+08:00", "2024-03-01T13:00:00+08:00"),
    ("2024-03-01T02:00:00Z", "2024-03-01T05:00:00Z"),
    ("2024-03-01 10:00", "2024-03-01 13:00"),  # no offset: Beijing time
    ("2024-03-01T10:00:00 08:00", "2024-03-01T13:00:00 08:00"),  # unencoded '+' in a URL
]


def test_time_range_is_start_inclusive_end_exclusive_in_any_spelling(
    client, token_for, engine, sites, parameters
):
    seed(engine, sites, parameters, hours("AIR1", "pm25", 24))
    headers = token_for("analyst")
    for start, end in TIME_SPELLINGS:
        response = client.get(
            "/api/v1/readings", headers=headers, params={"datetime_from": start, "datetime_to": end}
        )
        starts = [record["period_start"] for record in response.json()["results"]]
        assert starts == [f"2024-03-01T{hour}:00:00+08:00" for hour in ("10", "11", "12")], start
        assert response.json()["meta"]["query"]["datetime_from"] == "2024-03-01T10:00:00+08:00"


def test_a_day_filter_selects_the_beijing_calendar_day(
    client, token_for, engine, sites, parameters
):
    seed(engine, sites, parameters, hours("AIR1", "pm25", 48, start=T0 - timedelta(hours=12)))
    response = client.get(
        "/api/v1/readings",
        headers=token_for("analyst"),
        params={"datetime_from": "2024-03-01", "datetime_to": "2024-03-02", "limit": 100},
    )
    starts = [record["period_start"] for record in response.json()["results"]]
    assert len(starts) == 24
    assert starts[0] == "2024-03-01T00:00:00+08:00" and starts[-1] == "2024-03-01T23:00:00+08:00"


BAD_FILTERS = [
    ({"datetime_from": "soon"}, "datetime_from"),
    ({"datetime_from": "2024-03-02", "datetime_to": "2024-03-01"}, "datetime_to"),
    ({"period": "week"}, "period"),
    ({"kind": "volcano"}, "kind"),
]


def test_bad_filters_are_422_naming_the_parameter(client, token_for, sites):
    headers = token_for("analyst")
    for params, parameter in BAD_FILTERS:
        response = client.get("/api/v1/readings", headers=headers, params=params)
        assert response.status_code == 422, params
        assert response.json()["detail"][0]["loc"] == ["query", parameter]


# ------------------------------------------------------------------------------------------
# Latest values and aggregates
# ------------------------------------------------------------------------------------------


def test_latest_gives_the_newest_reading_per_site_parameter_and_period(
    client, token_for, engine, sites, parameters
):
    seed(
        engine,
        sites,
        parameters,
        hours("AIR1", "pm25", 6)
        + hours("AIR1", "so2", 3)
        + hours("AIR5", "pm25", 4)
        + [("AIR5", "pm25", "minute", T0 + timedelta(minutes=55), 7.0)],
    )
    headers = token_for("grid_officer")
    results = client.get("/api/v1/readings/latest", headers=headers).json()["results"]
    newest = {
        (r["site"], r["parameter"], r["period"]): (r["period_start"], r["value"]) for r in results
    }
    assert newest == {
        ("AIR1", "pm25", "hour"): ("2024-03-01T13:00:00+08:00", 15.0),
        ("AIR1", "so2", "hour"): ("2024-03-01T10:00:00+08:00", 12.0),
        ("AIR5", "pm25", "hour"): ("2024-03-01T11:00:00+08:00", 13.0),
        ("AIR5", "pm25", "minute"): ("2024-03-01T08:55:00+08:00", 7.0),
    }
    hourly = client.get(
        "/api/v1/readings/latest", headers=headers, params={"period": "hour", "site": "AIR5"}
    ).json()["results"]
    assert [(r["site"], r["period"]) for r in hourly] == [("AIR5", "hour")]
    one_by_one = walk(client, "/api/v1/readings/latest", headers, {"limit": 1})
    assert sorted(key(page[0]) for page in one_by_one) == sorted(key(r) for r in results)


def test_aggregates_carry_coverage_by_gb3095_table4(client, token_for, engine, sites, parameters):
    """GB 3095—2026 Table 4: an hour needs ≥ 45 minutes of data, a day ≥ 20 hourly values.

    AIR5 reports every 5 minutes (12 values expected per hour). 08:00: 9 normal values
    (45 min) and 2 in maintenance (M) → valid; 09:00: 8 normal values (40 min) → not valid.
    """
    eight, nine = T0, T0 + timedelta(hours=1)
    minute = [
        ("AIR5", "pm25", "minute", eight + timedelta(minutes=5 * n), 10.0 + n) for n in range(9)
    ]
    minute += [
        ("AIR5", "pm25", "minute", eight + timedelta(minutes=5 * n), 99.0, "M") for n in (9, 10)
    ]
    minute += [("AIR5", "pm25", "minute", nine + timedelta(minutes=5 * n), 20.0) for n in range(8)]
    seed(engine, sites, parameters, minute)
    with writing(engine, "test:aggregate") as session:
        aggregate(session, start=T0, end=T0 + timedelta(hours=2), actor="test:aggregate")
    headers = token_for("analyst")
    results = client.get(
        "/api/v1/aggregates", headers=headers, params={"site": "AIR5", "period": "hour"}
    ).json()["results"]
    coverage = [
        (
            r["period_start"],
            r["period_end"],
            r["expected_count"],
            r["valid_count"],
            r["percent_complete"],
            r["valid"],
            r["value"],
        )
        for r in results
    ]
    assert coverage == [
        ("2024-03-01T08:00:00+08:00", "2024-03-01T09:00:00+08:00", 12, 9, 75.0, True, 14.0),
        ("2024-03-01T09:00:00+08:00", "2024-03-01T10:00:00+08:00", 12, 8, 66.7, False, 20.0),
    ]
    invalid = client.get(
        "/api/v1/aggregates", headers=headers, params={"valid": "false", "site": "AIR5"}
    ).json()["results"]
    assert [(r["period"], r["period_start"], r["valid_count"]) for r in invalid] == [
        ("day", "2024-03-01T00:00:00+08:00", 1),  # one valid hour of 24 expected
        ("hour", "2024-03-01T09:00:00+08:00", 8),
    ]


# ------------------------------------------------------------------------------------------
# Sites and parameters
# ------------------------------------------------------------------------------------------


def test_sites_filter_by_kind_grid_and_township(client, token_for, engine, sites):
    with writing(engine, "test:fixture") as session:
        other = ensure_grid(
            session,
            district=("420107", "青山区"),
            township=("420107002", "钢花村街道", "street"),
            grid=("G-02", "第二网格"),
        )
        upsert_site(
            session,
            "LAKE",
            name="青山湖",
            kind="water_section",
            latitude=30.6,
            longitude=114.4,
            grid_id=other.id,
            water_target_class="III",
            waterbody_type="lake",
        )
    headers = token_for("analyst")

    def codes(**params):
        response = client.get("/api/v1/sites", headers=headers, params=params)
        return [site["code"] for site in response.json()["results"]]

    assert codes() == ["AIR1", "AIR5", "RIVER", "STACK", "LAKE"]
    assert codes(kind="water_section") == ["RIVER", "LAKE"]
    assert codes(grid="G-02") == ["LAKE"]
    assert codes(township="420107001") == ["AIR1", "AIR5", "RIVER", "STACK"]
    assert codes(kind="air_station,water_section", township="420107002") == ["LAKE"]
    lake = client.get("/api/v1/sites", headers=headers, params={"site": "LAKE"}).json()
    assert {
        key: lake["results"][0][key]
        for key in ("grid", "township_name", "district", "waterbody_type", "water_target_class")
    } == {
        "grid": "G-02",
        "township_name": "钢花村街道",
        "district": "420107",
        "waterbody_type": "lake",
        "water_target_class": "III",
    }


def test_parameters_list_units_and_hj212_codes(client, token_for, engine):
    headers = token_for("analyst")
    pm25 = client.get("/api/v1/parameters", headers=headers, params={"parameter": "pm25"})
    (record,) = pm25.json()["results"]
    assert (record["unit"], record["medium"]) == ("µg/m³", "air")
    assert "hj212:a34004" in record["codes"]  # HJ 212—2017 Table B.2
    water = client.get("/api/v1/parameters", headers=headers, params={"medium": "water"})
    assert water.json()["results"] and {r["medium"] for r in water.json()["results"]} == {"water"}


# ------------------------------------------------------------------------------------------
# Roles
# ------------------------------------------------------------------------------------------

READ_URLS = (
    "/api/v1/sites",
    "/api/v1/parameters",
    "/api/v1/readings",
    "/api/v1/readings/latest",
    "/api/v1/aggregates",
)


READ_ROLES = {"analyst": 200, "grid_officer": 200, "admin": 200, "device": 403, "enterprise": 200}


def test_who_may_read(client, token_for, sites):
    for role, status in READ_ROLES.items():
        headers = token_for(role)
        for url in READ_URLS:
            assert client.get(url, headers=headers).status_code == status, (role, url)
            exported = client.get(url, headers=headers, params={"format": "csv"})
            assert exported.status_code == status, (role, url)


def test_reading_needs_a_token(client, sites):
    for url in READ_URLS:
        assert client.get(url).status_code == 401, url
        assert client.get(url, params={"format": "xlsx"}).status_code == 401, url


def test_found_is_a_lower_bound_past_the_count_cap(
    client, token_for, engine, sites, parameters, monkeypatch
):
    monkeypatch.setattr("qingshan.services.listing.FOUND_COUNT_CAP", 5)
    seed(engine, sites, parameters, hours("AIR1", "pm25", 8))
    headers = token_for("analyst")
    meta = client.get("/api/v1/readings", headers=headers).json()["meta"]
    assert (meta["found"], meta["found_exact"]) == (5, False)
    narrow = client.get(
        "/api/v1/readings", headers=headers, params={"datetime_to": "2024-03-01 10:00"}
    )
    assert (narrow.json()["meta"]["found"], narrow.json()["meta"]["found_exact"]) == (2, True)


def test_an_enterprise_reads_only_its_own_outlets(client, token_for, engine, sites, parameters):
    """STACK is the enterprise user's outlet, STACK2 a rival's: every listing and export of
    the enterprise user holds STACK only, while an analyst's holds both."""
    with writing(engine, "test:fixture") as session:
        rival = upsert_site(
            session, "STACK2", name="STACK2", kind="source_outlet", latitude=30.6, longitude=114.4
        ).id
    ids = {**sites, "STACK2": rival}
    seed(engine, ids, parameters, hours("STACK", "flue_so2", 3) + hours("STACK2", "flue_so2", 3))
    with writing(engine, "test:aggregate") as session:
        aggregate(session, start=T0, end=T0 + timedelta(hours=3), actor="test:aggregate")
    firm, analyst = token_for("enterprise"), token_for("analyst")
    own_outlets(engine, "enterprise-user", "FIRM", "STACK")
    own_outlets(engine, None, "RIVAL", "STACK2")

    def site_codes(url, headers, **params):
        body = client.get(url, headers=headers, params=params)
        assert body.status_code == 200, body.text
        if params.get("format") == "csv":
            return {line.split(",")[0] for line in body.text.splitlines()[1:]}
        return {row["code" if url.endswith("/sites") else "site"] for row in body.json()["results"]}

    for url in ("/api/v1/sites", *READ_URLS[1:]):
        if url.endswith("/parameters"):
            continue
        assert site_codes(url, firm) == {"STACK"}, url
        assert site_codes(url, firm, format="csv") == {"STACK"}, url
        assert {"STACK", "STACK2"} <= site_codes(url, analyst), url
    assert site_codes("/api/v1/readings", firm, site="STACK2") == set()
    listed = client.get("/api/v1/sites", headers=firm).json()["results"]
    assert (listed[0]["owner"], listed[0]["owner_name"]) == ("FIRM", "FIRM 有限公司")


def test_an_enterprise_without_a_company_reads_no_site(client, token_for, sites):
    headers = token_for("enterprise")
    for url in READ_URLS:
        body = client.get(url, headers=headers).json()
        assert body["results"] == [] or url.endswith("/parameters"), url
