"""Raster inputs read in blocks of rows: ``.npy`` files (numpy, always available) and GeoTIFF
(through rasterio, the optional ``raster`` extra: ``pip install 'qingshan[raster]'``).

Every source is opened lazily (``.npy`` as a memory map, GeoTIFF by windows), so a county at
30 m (10⁸ cells) is read one strip of rows at a time. Grids are compared before any cell is
read: same shape, and for GeoTIFF the same transform and CRS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from qingshan.services.tables import InputError

RASTER_SUFFIXES = (".npy", ".tif", ".tiff")


def rasterio_or_error(path: Path) -> Any:
    """Import rasterio, or explain how to install it (naming the file that needs it)."""
    try:
        import rasterio
    except ImportError as error:
        raise InputError.single(
            path,
            "reading GeoTIFF or polygons needs rasterio: pip install 'qingshan[raster]' "
            "(or give the raster as .npy)",
        ) from error
    return rasterio


@dataclass(frozen=True)
class Grid:
    rows: int
    columns: int
    transform: tuple[float, ...] | None = None
    crs: str | None = None

    def describe(self) -> str:
        text = f"{self.rows}×{self.columns} cells"
        if self.transform is not None:
            text += f", transform {tuple(round(v, 6) for v in self.transform[:6])}, CRS {self.crs}"
        return text


class RasterSource(Protocol):
    path: Path
    grid: Grid
    nodata: float | None

    def read_rows(self, start: int, stop: int) -> NDArray[Any]: ...


class NpySource:
    """A 2-D ``.npy`` array, memory-mapped; NaN marks missing values of float rasters."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as error:
            raise InputError.single(path, f"cannot read the .npy raster: {error}") from error
        if self._array.ndim != 2:
            raise InputError.single(
                path, f"a raster must be 2-D, this array is {self._array.ndim}-D"
            )
        self.grid = Grid(*self._array.shape)
        self.nodata: float | None = None

    def read_rows(self, start: int, stop: int) -> NDArray[Any]:
        return np.asarray(self._array[start:stop])


class TiffSource:
    """Band 1 of a GeoTIFF via rasterio windows; its nodata value becomes NaN (float) on read."""

    def __init__(self, path: Path) -> None:
        rasterio = rasterio_or_error(path)
        self.path = path
        try:
            self._dataset = rasterio.open(path)
        except Exception as error:  # rasterio raises RasterioIOError and others
            raise InputError.single(path, f"cannot open the GeoTIFF: {error}") from error
        dataset = self._dataset
        self.grid = Grid(
            dataset.height,
            dataset.width,
            tuple(dataset.transform),
            str(dataset.crs) if dataset.crs else None,
        )
        self.nodata: float | None = dataset.nodata
        self._window = rasterio.windows.Window

    def read_rows(self, start: int, stop: int) -> NDArray[Any]:
        window = self._window(0, start, self.grid.columns, stop - start)
        return np.asarray(self._dataset.read(1, window=window))


def open_raster(path: Path) -> RasterSource:
    suffix = path.suffix.lower()
    if suffix not in RASTER_SUFFIXES:
        raise InputError.single(path, f"unsupported raster format {suffix!r}; use .npy or .tif")
    if not path.is_file():
        raise InputError.single(path, "file not found")
    return NpySource(path) if suffix == ".npy" else TiffSource(path)


def check_same_grid(reference: RasterSource, others: list[RasterSource]) -> None:
    """Raise naming every raster whose grid differs from ``reference`` (the land cover)."""
    problems = []
    for source in others:
        same_shape = (source.grid.rows, source.grid.columns) == (
            reference.grid.rows,
            reference.grid.columns,
        )
        same_place = (
            reference.grid.transform is None
            or source.grid.transform is None
            or (
                np.allclose(source.grid.transform, reference.grid.transform)
                and source.grid.crs == reference.grid.crs
            )
        )
        if not (same_shape and same_place):
            problems.append(
                InputError.single(
                    source.path,
                    f"grid {source.grid.describe()} differs from the land-cover grid "
                    f"{reference.grid.describe()} ({reference.path.name})",
                ).problems[0]
            )
    if problems:
        raise InputError(problems)


def as_float(block: NDArray[Any], nodata: float | None) -> NDArray[np.float64]:
    """A driver block as float64 with the source's nodata value as NaN."""
    values = block.astype(np.float64, copy=True)
    if nodata is not None and not np.isnan(nodata):
        values[block == nodata] = np.nan
    return values


class PolygonZones:
    """Township polygons (GeoJSON) burnt onto the land-cover grid one strip at a time: each
    cell gets the index of its township in ``names`` (−1 outside); a cell belongs to the
    polygon containing its centre (rasterio's ``all_touched=False``). Needs rasterio and a
    georeferenced (GeoTIFF) land cover."""

    def __init__(self, path: Path, field: str, names: list[str], template: RasterSource) -> None:
        import json

        self.path = path
        self.field = field
        self.nodata: float | None = None
        self._rasterio = rasterio_or_error(path)
        if template.grid.transform is None:
            raise InputError.single(
                path,
                "township polygons need a georeferenced land cover "
                "(GeoTIFF); with .npy rasters give a township-id raster",
            )
        self.grid = template.grid
        try:
            features = json.loads(path.read_text("utf-8"))["features"]
        except (OSError, ValueError, KeyError) as error:
            raise InputError.single(path, f"not a GeoJSON FeatureCollection: {error}") from error
        self._shapes = []
        for number, feature in enumerate(features, start=1):
            name = str((feature.get("properties") or {}).get(field))
            if name not in names:
                raise InputError.single(
                    path,
                    f"feature {number}: township {name!r} (property "
                    f"{field!r}) is not in the township list",
                )
            self._shapes.append((feature["geometry"], names.index(name)))

    def read_rows(self, start: int, stop: int) -> NDArray[Any]:
        from affine import Affine

        assert self.grid.transform is not None  # checked in __init__
        a, b, c, d, e, f = self.grid.transform[:6]
        transform = Affine(a, b, c + b * start, d, e, f + e * start)  # the strip's origin
        return np.asarray(
            self._rasterio.features.rasterize(
                self._shapes,
                out_shape=(stop - start, self.grid.columns),
                transform=transform,
                fill=-1,
                dtype="int32",
            )
        )


def npy_to_geotiff(
    source: Path, target: Path, grid: Grid, crs: str | None, strip_rows: int = 1024
) -> Path:
    """Copy a float32 ``.npy`` layer into a georeferenced, compressed GeoTIFF, strip by strip
    (so a county-sized layer never sits in memory)."""
    rasterio = rasterio_or_error(target)
    from affine import Affine

    assert grid.transform is not None
    array = np.load(source, mmap_mode="r")
    profile = {
        "driver": "GTiff",
        "height": grid.rows,
        "width": grid.columns,
        "count": 1,
        "dtype": "float32",
        "crs": crs,
        "transform": Affine(*grid.transform[:6]),
        "compress": "deflate",
        "tiled": True,
    }
    with rasterio.open(target, "w", **profile) as dataset:
        for start in range(0, grid.rows, strip_rows):
            stop = min(start + strip_rows, grid.rows)
            window = rasterio.windows.Window(0, start, grid.columns, stop - start)
            dataset.write(np.asarray(array[start:stop]), 1, window=window)
    return target
