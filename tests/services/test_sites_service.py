"""Sites import: sites with their grid, township and district; bad cells named."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from grid_polygons import square
from qingshan.services.sites import import_grid_boundaries, import_sites
from qingshan.services.tables import InputError
from qingshan.store.engine import reading
from qingshan.store.models import Grid, Site

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
