"""Grid adjacency from polygons: shared edges count, corners and distant grids do not."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grid_polygons import SIDE_M, square
from qingshan.alerting.adjacency import (
    MIN_SHARED_M,
    TOLERANCE_M,
    cached_polygon_neighbours,
    polygon_neighbours,
)


def tiling() -> list[tuple[str, str]]:
    """A 3 × 3 tiling of 1 km squares, named by row and column: ``r0c0`` is south-west."""
    return [
        (f"r{row}c{column}", square(column * SIDE_M, row * SIDE_M))
        for row in range(3)
        for column in range(3)
    ]


def test_three_by_three_tiling_counts_edges_not_corners() -> None:
    """Rook contiguity: a corner tile has 2 neighbours, an edge tile 3, the centre 4."""
    found = polygon_neighbours(tiling()).neighbours
    assert found["r0c0"] == {"r0c1", "r1c0"}
    assert found["r0c1"] == {"r0c0", "r0c2", "r1c1"}
    assert found["r1c1"] == {"r0c1", "r1c0", "r1c2", "r2c1"}
    assert sorted(len(found[key]) for key in found) == [2, 2, 2, 2, 3, 3, 3, 3, 4]


def test_a_digitising_gap_of_one_metre_still_makes_neighbours() -> None:
    grids = [("west", square(0, 0)), ("east", square(SIDE_M + 1.0, 0))]
    assert polygon_neighbours(grids).neighbours == {"west": {"east"}, "east": {"west"}}


def test_an_overlap_of_two_metres_still_makes_neighbours() -> None:
    grids = [("west", square(0, 0)), ("east", square(SIDE_M - 2.0, 0))]
    assert polygon_neighbours(grids).neighbours["west"] == {"east"}


def test_a_gap_wider_than_the_tolerance_and_a_far_grid_are_not_neighbours() -> None:
    grids = [
        ("west", square(0, 0)),
        ("beyond-gap", square(SIDE_M + 2 * TOLERANCE_M, 0)),
        ("far", square(20 * SIDE_M, 0)),
    ]
    assert polygon_neighbours(grids).neighbours == {
        "west": frozenset(),
        "beyond-gap": frozenset(),
        "far": frozenset(),
    }


def test_a_short_common_edge_is_below_the_minimum_shared_length() -> None:
    """East grid overlaps the west one's edge by only 30 m (< 50 m): not neighbours; 60 m: yes."""
    for overlap, expected in ((30.0, frozenset()), (60.0, frozenset({"east"}))):
        grids = [("west", square(0, 0)), ("east", square(SIDE_M, SIDE_M - overlap))]
        assert polygon_neighbours(grids).neighbours["west"] == expected
    assert MIN_SHARED_M == 50.0


def test_unreadable_boundaries_are_reported_not_guessed() -> None:
    grids = [
        ("ok", square(0, 0)),
        ("text", "not json"),
        ("point", json.dumps({"type": "Point", "coordinates": [114, 30]})),
    ]
    result = polygon_neighbours(grids)
    assert result.neighbours == {"ok": frozenset()}
    assert sorted(result.unreadable) == ["point", "text"]
    assert "Point" in result.unreadable["point"]


def test_the_cached_adjacency_is_the_same_object_for_the_same_grid_set() -> None:
    grids = tuple(tiling())
    assert cached_polygon_neighbours(grids) is cached_polygon_neighbours(tuple(tiling()))
    assert cached_polygon_neighbours(grids).neighbours == polygon_neighbours(grids).neighbours


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=12, unique=True)
)
def test_adjacency_of_tiles_is_symmetric_and_means_sharing_an_edge(
    cells: list[tuple[int, int]],
) -> None:
    """Any set of unit tiles: neighbours exactly when they differ by one step in a row or a
    column (never diagonally, never themselves)."""
    grids = [(cell, square(cell[1] * SIDE_M, cell[0] * SIDE_M)) for cell in cells]
    found = polygon_neighbours(grids).neighbours
    for a in cells:
        expected = {b for b in cells if abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1}
        assert found[a] == expected


def test_bad_tolerances_are_refused() -> None:
    with pytest.raises(ValueError, match="tolerance_m"):
        polygon_neighbours(tiling(), tolerance_m=-1)
