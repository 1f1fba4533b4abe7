"""The raster route with GeoTIFF rasters and township polygons (the optional ``raster`` extra):
the same district as ``.npy`` + township-id raster must give the same accounts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qingshan.services import gep
from qingshan.services.tables import InputError

rasterio = pytest.importorskip(
    "rasterio", reason="rasterio is the optional 'raster' extra: pip install 'qingshan[raster]'"
)
from rasterio import features  # noqa: E402
from rasterio.transform import from_origin  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gep"
TRANSFORM = from_origin(500_000.0, 3_300_000.0, 90.0, 90.0)
CRS = "EPSG:32649"


def _write_tif(source: Path, target: Path, transform=TRANSFORM) -> None:
    array = np.load(source)
    profile = {
        "driver": "GTiff",
        "height": array.shape[0],
        "width": array.shape[1],
        "count": 1,
        "dtype": str(array.dtype),
        "crs": CRS,
        "transform": transform,
    }
    if array.dtype.kind == "f":
        profile["nodata"] = np.nan
    with rasterio.open(target, "w", **profile) as dataset:
        dataset.write(array, 1)


@pytest.fixture
def geotiff_example(tmp_path: Path) -> Path:
    target = tmp_path / "gep"
    shutil.copytree(EXAMPLE, target)
    for npy in (target / "rasters").glob("*.npy"):
        _write_tif(npy, npy.with_suffix(".tif"))
    townships = np.load(target / "rasters" / "townships.npy")
    names = ["青山镇", "白云街道", "龙潭乡", "石门镇", "清溪乡"]
    polygons = [
        {"type": "Feature", "geometry": geometry, "properties": {"township": names[int(v) - 1]}}
        for geometry, v in features.shapes(townships, mask=townships > 0, transform=TRANSFORM)
    ]
    (target / "townships.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": polygons}), "utf-8"
    )
    for name in ("config.toml", "config-2022.toml"):
        config = target / name
        text = config.read_text("utf-8").replace(".npy", ".tif")
        text = text.replace(
            'townships = "rasters/townships.tif"', 'townships = "townships.geojson"'
        )
        config.write_text(text.replace("cell_size_m = 90\n", ""), "utf-8")
    return target


def test_geotiff_and_polygons_give_the_npy_accounts(geotiff_example: Path) -> None:
    reference = gep.run(gep.load_run(EXAMPLE / "config.toml"))
    result = gep.run(gep.load_run(geotiff_example / "config.toml"))
    assert result.inputs.raster is not None
    assert result.inputs.raster.cell_area_m2 == pytest.approx(8100.0)
    assert result.totals.gep == pytest.approx(reference.totals.gep, rel=1e-9)
    assert result.tables["townships"]["gep_wan"].to_list() == pytest.approx(
        reference.tables["townships"]["gep_wan"].to_list(), rel=1e-9
    )


def test_a_shifted_geotiff_is_named(geotiff_example: Path) -> None:
    shifted = from_origin(500_090.0, 3_300_000.0, 90.0, 90.0)
    _write_tif(
        EXAMPLE / "rasters" / "et_mm.npy", geotiff_example / "rasters" / "et_mm.tif", shifted
    )
    with pytest.raises(InputError, match="differs from the land-cover grid") as raised:
        gep.load_run(geotiff_example / "config.toml")
    assert raised.value.problems[0].file.endswith("et_mm.tif")


def test_georeferenced_inputs_give_geotiff_layers(geotiff_example: Path, tmp_path: Path) -> None:
    from qingshan.services.gep_outputs import run_to_directory

    out = tmp_path / "out"
    result, written = run_to_directory(gep.load_run(geotiff_example / "config.toml"), out)
    layer = out / "layers" / "water_conservation.value.tif"
    assert layer in written and not layer.with_suffix(".npy").exists()
    with rasterio.open(layer) as dataset:
        assert str(dataset.crs) == CRS and tuple(dataset.transform) == tuple(TRANSFORM)
        total = dataset.read(1).sum(dtype=np.float64)
    water = result.tables["indicators"].filter(
        result.tables["indicators"]["indicator"] == "water_conservation"
    )
    assert total / 1e4 == pytest.approx(water["value_wan"].sum(), rel=1e-5)
    # The township polygons come back with their values as properties.
    polygons = json.loads((out / "layers" / "townships.geojson").read_text("utf-8"))
    gep_by_township = {
        f["properties"]["township"]: f["properties"]["gep_wan"] for f in polygons["features"]
    }
    expected = dict(
        zip(
            result.tables["townships"]["township"],
            result.tables["townships"]["gep_wan"],
            strict=True,
        )
    )
    assert gep_by_township == {t: pytest.approx(expected[t]) for t in gep_by_township}
