"""Sites import: sites with their grid, township and district; bad cells named."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from grid_polygons import square
from qingshan.services.sites import import_grid_boundaries, import_sites, set_outlet_owner
from qingshan.services.tables import InputError
from qingshan.store.engine import reading, writing
from qingshan.store.ledger import open_account
from qingshan.store.models import AuditEntry, Grid, RegistryAccount, Site

HEADER = (
    "code,name,kind,latitude,longitude,air_class,noise_zone,reporting_interval_minutes,"
    "permit_limits,grid_code,grid_name,township_code,township_name,township_kind,"
    "district_code,district_name\n"
)

GRID = "G1,一网格,420107001,红卫路,street,420107,青山区\n"


def test_sites_are_created_then_updated(engine, tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text(
        HEADER
        + "S1,青山站,air_station,30.6,114.4,II,,1,,"
        + GRID
        + "S2,厂界,noise_point,30.61,114.41,,3,60,,"
        + GRID
        + 'S3,排口,source_outlet,30.62,114.42,,,60,"{""flue_so2"": {""limit"": 35}}",,,,,,,\n',
        encoding="utf-8",
    )
    assert import_sites(engine, path, "test:sites") == 3
    path.write_text(HEADER + "S1,青山国控站,air_station,30.6,114.4,I,,1,,,,,,,,\n", "utf-8")
    import_sites(engine, path, "test:sites")
    with reading(engine) as session:
        sites = {site.code: site for site in session.scalars(select(Site))}
        assert session.scalar(select(Grid.name)) == "一网格"
        assert sites["S2"].grid.township.district.name == "青山区"
    assert (sites["S1"].name, sites["S1"].air_class, sites["S1"].grid_id) == (
        "青山国控站",
        "I",
        None,
    )
    assert sites["S2"].noise_zone == "3"
    assert sites["S3"].permit_limits == {"flue_so2": {"limit": 35}}


def test_bad_site_cells_are_reported(engine, tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text(
        HEADER
        + "S1,站,air_station,95,114.4,III,,7,,,,,,,,\n"
        + "S2,站,volcano,30,114.4,,,60,{oops,,,,,,,\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as caught:
        import_sites(engine, path, "test:sites")
    problems = sorted((p.row, p.column) for p in caught.value.problems)
    assert problems == [
        (2, "air_class"),
        (2, "latitude"),
        (2, "reporting_interval_minutes"),
        (3, "kind"),
        (3, "permit_limits"),
    ]


def feature(code: str | None, geometry: object) -> dict[str, object]:
    return {"type": "Feature", "properties": {"grid_code": code}, "geometry": geometry}


def write_collection(path, features: list[dict[str, object]]) -> None:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "utf-8")


def test_grid_boundaries_are_set_from_geojson(engine, tmp_path):
    sites = tmp_path / "sites.csv"
    sites.write_text(HEADER + "S1,青山站,air_station,30.6,114.4,II,,1,," + GRID, "utf-8")
    import_sites(engine, sites, "test:sites")
    boundaries = tmp_path / "grids.geojson"
    write_collection(boundaries, [feature("G1", json.loads(square(0, 0)))])
    assert import_grid_boundaries(engine, boundaries, "test:sites") == 1
    with reading(engine) as session:
        stored = session.scalar(select(Grid.boundary).where(Grid.code == "G1"))
    assert json.loads(stored) == json.loads(square(0, 0))


def test_bad_grid_boundaries_are_named_and_nothing_changes(engine, tmp_path):
    sites = tmp_path / "sites.csv"
    sites.write_text(HEADER + "S1,青山站,air_station,30.6,114.4,II,,1,," + GRID, "utf-8")
    import_sites(engine, sites, "test:sites")
    boundaries = tmp_path / "grids.geojson"
    polygon = json.loads(square(0, 0))
    write_collection(
        boundaries,
        [
            feature("G1", polygon),
            feature("G9", polygon),
            feature(None, polygon),
            feature("G1", {"type": "Point", "coordinates": [114, 30]}),
        ],
    )
    with pytest.raises(InputError) as caught:
        import_grid_boundaries(engine, boundaries, "test:sites")
    problems = [(p.row, p.column) for p in caught.value.problems]
    assert problems == [(2, "grid_code"), (3, "grid_code"), (4, "grid_code"), (4, "geometry")]
    assert "Point" in caught.value.summary()
    with reading(engine) as session:
        assert session.scalar(select(Grid.boundary)) is None
    boundaries.write_text("[1, 2]", "utf-8")
    with pytest.raises(InputError, match="FeatureCollection"):
        import_grid_boundaries(engine, boundaries, "test:sites")


OWNED_HEADER = "code,name,kind,latitude,longitude,permit_limits,owner\n"


def _enterprise_account(engine, code: str = "ENT01", kind: str = "enterprise") -> None:
    with writing(engine, "test:registry") as session:
        open_account(session, code, f"{code} 公司", kind)


def _owners(engine) -> dict[str, str | None]:
    with reading(engine) as session:
        rows = session.execute(
            select(Site.code, RegistryAccount.code).outerjoin(
                RegistryAccount, RegistryAccount.id == Site.owner_account_id
            )
        )
        return dict(rows.all())


def test_the_import_sets_outlet_owners_and_keeps_them_without_the_column(engine, tmp_path):
    _enterprise_account(engine)
    path = tmp_path / "sites.csv"
    path.write_text(
        OWNED_HEADER
        + "S1,排口,source_outlet,30.6,114.4,,ENT01\n"
        + "S2,排口二,source_outlet,30.6,114.4,,\n",
        encoding="utf-8",
    )
    import_sites(engine, path, "test:sites")
    assert _owners(engine) == {"S1": "ENT01", "S2": None}
    path.write_text(HEADER + "S1,一号排口,source_outlet,30.6,114.4,,,60,,,,,,,,\n", "utf-8")
    import_sites(engine, path, "test:sites")
    assert _owners(engine) == {"S1": "ENT01", "S2": None}
    with reading(engine) as session:
        audited = session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "sites", AuditEntry.actor == "test:sites")
        ).all()
    assert any((entry.after or {}).get("owner_account_id") for entry in audited)


def test_unknown_owners_and_owned_non_outlets_are_refused_and_nothing_changes(engine, tmp_path):
    _enterprise_account(engine)
    _enterprise_account(engine, "PRJ01", "project_owner")
    path = tmp_path / "sites.csv"
    path.write_text(
        OWNED_HEADER
        + "S1,排口,source_outlet,30.6,114.4,,ENT99\n"
        + "S2,排口,source_outlet,30.6,114.4,,PRJ01\n"
        + "S3,站,air_station,30.6,114.4,,ENT01\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as caught:
        import_sites(engine, path, "test:sites")
    assert [(p.row, p.column) for p in caught.value.problems] == [(4, "owner")]
    path.write_text(OWNED_HEADER + "S1,排口,source_outlet,30.6,114.4,,ENT99\n"
                    + "S2,排口,source_outlet,30.6,114.4,,PRJ01\n", "utf-8")  # fmt: skip
    with pytest.raises(InputError) as caught:
        import_sites(engine, path, "test:sites")
    assert [(p.row, p.column) for p in caught.value.problems] == [(2, "owner"), (3, "owner")]
    assert "no enterprise account 'ENT99'" in caught.value.summary()
    assert _owners(engine) == {}


def test_an_outlet_owner_is_set_and_cleared_by_code(engine, tmp_path):
    _enterprise_account(engine)
    path = tmp_path / "sites.csv"
    path.write_text(
        OWNED_HEADER + "S1,排口,source_outlet,30.6,114.4,,\n" + "S2,站,air_station,30.6,114.4,,\n",
        encoding="utf-8",
    )
    import_sites(engine, path, "test:sites")
    set_outlet_owner(engine, "S1", "ENT01", "test:owner")
    assert _owners(engine)["S1"] == "ENT01"
    for site, owner, message in (
        ("S2", "ENT01", "only source outlets"),
        ("S9", "ENT01", "no site"),
        ("S1", "ENT02", "no enterprise account"),
    ):
        with pytest.raises(ValueError, match=message):
            set_outlet_owner(engine, site, owner, "test:owner")
    assert _owners(engine)["S1"] == "ENT01"
    set_outlet_owner(engine, "S1", None, "test:owner")
    assert _owners(engine)["S1"] is None
