"""Duration, repetition and episodes: boundaries, and agreement with a naive loop."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qingshan.alerting.windows import consecutive, episodes, n_in_m, run_lengths

conditions = st.lists(st.booleans(), min_size=1, max_size=40)


def naive_consecutive(held: list[bool], n: int) -> list[bool]:
    return [i >= n - 1 and all(held[i - n + 1 : i + 1]) for i in range(len(held))]


def naive_n_in_m(held: list[bool], n: int, m: int) -> list[bool]:
    return [held[i] and sum(held[max(0, i - m + 1) : i + 1]) >= n for i in range(len(held))]


def test_consecutive_holds_from_the_nth_period_of_a_run() -> None:
    held = [True, True, False, True, True, True, False]
    assert consecutive(held, 3).tolist() == [False, False, False, False, False, True, False]
    assert consecutive(held, 2).tolist() == [False, True, False, False, True, True, False]
    assert consecutive(held, 1).tolist() == held


def test_a_run_at_the_start_of_the_panel_counts_from_the_first_column() -> None:
    assert consecutive([True, True, True], 3).tolist() == [False, False, True]
    assert run_lengths([[True, False, True], [True, True, True]]).tolist() == [[1, 0, 1], [1, 2, 3]]


def test_n_in_m_window_includes_the_current_period_and_m_minus_1_before() -> None:
    held = [True, False, False, True, False, True]
    # 2 in 3: period 5 sees periods 3–5 (two holds); period 3 sees 1–3 (one hold)
    assert n_in_m(held, 2, 3).tolist() == [False, False, False, False, False, True]
    # 2 in 4: period 3 sees 0–3 (two holds)
    assert n_in_m(held, 2, 4).tolist() == [False, False, False, True, False, True]


def test_bad_windows_are_refused() -> None:
    with pytest.raises(ValueError):
        consecutive([True], 0)
    with pytest.raises(ValueError):
        n_in_m([True], 3, 2)


@given(conditions, st.integers(1, 6))
def test_consecutive_matches_a_naive_loop(held: list[bool], n: int) -> None:
    assert consecutive(held, n).tolist() == naive_consecutive(held, n)


@given(conditions, st.integers(1, 5), st.integers(0, 5))
def test_n_in_m_matches_a_naive_loop(held: list[bool], n: int, extra: int) -> None:
    assert n_in_m(held, n, n + extra).tolist() == naive_n_in_m(held, n, n + extra)


def naive_episodes(held: list[bool], clear_after: int) -> list[tuple[int, int, int, int | None]]:
    """A state machine walked period by period: (start, end, count, cleared)."""
    found: list[list] = []
    open_episode = None
    falses = 0
    for t, h in enumerate(held):
        if h:
            if open_episode is None:
                open_episode = [t, t, 0, None]
                found.append(open_episode)
            open_episode[1], open_episode[2], falses = t, open_episode[2] + 1, 0
        elif open_episode is not None:
            falses += 1
            if falses == clear_after:
                open_episode[3], open_episode = t, None
    return [tuple(e) for e in found]


def events(held: list[bool]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "series": [7] * len(held),
            "t": list(range(len(held))),
            "held": held,
            "value": [float(t) for t in range(len(held))],
        }
    )


def test_episode_clears_at_the_nth_false_and_a_retrigger_before_extends_it() -> None:
    held = [True, False, True, False, False, True]
    found = episodes(events(held), clear_after=2)
    assert found.select("start", "end", "count", "peak", "cleared").rows() == [
        (0, 2, 2, 2.0, 4),
        (5, 5, 1, 5.0, None),
    ]


@given(conditions, st.integers(1, 4))
def test_episodes_match_a_state_machine(held: list[bool], clear_after: int) -> None:
    found = episodes(events(held), clear_after).select("start", "end", "count", "cleared")
    assert found.rows() == naive_episodes(held, clear_after)


def test_missing_periods_neither_extend_nor_clear() -> None:
    """Periods without data are absent from the events: t = 1, 2 are missing here."""
    frame = pl.DataFrame(
        {"series": [1, 1, 1], "t": [0, 3, 4], "held": [True, False, True], "value": [1.0, 0, 2]}
    )
    assert episodes(frame, clear_after=2).select("start", "end", "cleared").rows() == [(0, 4, None)]


def test_series_are_independent() -> None:
    frame = pl.DataFrame(
        {"series": [1, 2, 1, 2], "t": [0, 0, 1, 1], "held": [True, False, False, True],
         "value": np.arange(4.0)}
    )  # fmt: skip
    assert episodes(frame, 1).select("series", "start", "cleared").rows() == [
        (1, 0, 1),
        (2, 1, None),
    ]


@given(conditions, conditions, st.integers(1, 3))
def test_episodes_of_several_series_in_any_order(
    first: list[bool], second: list[bool], k: int
) -> None:
    """Two series shuffled together give each series' own episodes (a clear is never found
    in the next series)."""
    frame = pl.concat(
        [events(first), events(second).with_columns(pl.lit(9, dtype=pl.Int64).alias("series"))]
    )
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=1)
    found = episodes(shuffled, k).select("series", "start", "end", "count", "cleared").rows()
    expected = [(7, *e) for e in naive_episodes(first, k)] + [
        (9, *e) for e in naive_episodes(second, k)
    ]
    assert found == expected
