"""The severity ladder: rungs of values, and the steps at which an episode escalates."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qingshan.alerting.catalogue import (
    SEVERITY_RANKS,
    check_ladder_above,
    ladder_steps,
    validate_parameters,
)
from qingshan.alerting.severity import escalation_steps, rungs


def test_rungs_exceed_thresholds_strictly_and_never_fall_below_the_base() -> None:
    """Base minor (1), major above 50, critical above 70: 50 itself stays minor."""
    values = [np.nan, 40.0, 50.0, 50.1, 70.0, 71.0]
    assert rungs(values, 1, [(2, 50.0), (3, 70.0)]).tolist() == [1, 1, 1, 2, 2, 3]


def held(series: list[int], t: list[int], rung: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {"series": series, "t": t, "rung": rung, "value": [float(10 * r) for r in rung]},
        schema={"series": pl.Int64, "t": pl.Int64, "rung": pl.Int8, "value": pl.Float64},
    )


def test_an_episode_escalates_at_each_new_rung_and_never_de_escalates() -> None:
    """Series 0: an episode from t = 0 (rungs 1, 2, 1, 3) and one from t = 10 (2, 2);
    series 1: one episode from t = 5 (0, 0)."""
    periods = held([0, 0, 0, 0, 0, 0, 1, 1], [0, 1, 2, 3, 10, 11, 5, 6], [1, 2, 1, 3, 2, 2, 0, 0])
    starts = pl.DataFrame({"series": [0, 0, 1], "start": [0, 10, 5]})
    steps = escalation_steps(periods, starts)
    assert steps.select("series", "start", "t", "rung").rows() == [
        (0, 0, 0, 1),
        (0, 0, 1, 2),
        (0, 0, 3, 3),
        (0, 10, 10, 2),
        (1, 5, 5, 0),
    ]
    assert steps["value"].to_list() == [10.0, 20.0, 30.0, 20.0, 0.0]


@given(st.lists(st.integers(0, 3), min_size=1, max_size=30))
def test_steps_climb_strictly_to_the_episode_maximum(sequence: list[int]) -> None:
    periods = held([0] * len(sequence), list(range(len(sequence))), sequence)
    steps = escalation_steps(periods, pl.DataFrame({"series": [0], "start": [0]}))
    climbed = steps["rung"].to_list()
    assert climbed[0] == sequence[0]
    assert climbed[-1] == max(sequence)
    assert all(low < high for low, high in pairwise(climbed))
    for t, rung in steps.select("t", "rung").rows():
        assert rung == sequence[t] and rung > max(sequence[:t], default=-1)


def test_a_ladder_is_stored_by_severity_in_rising_order() -> None:
    checked = validate_parameters(
        "permit", {"parameter": "flue_so2", "ladder": {"red": 70, "orange": 50}}
    )
    assert list(checked["ladder"].items()) == [("major", 50.0), ("critical", 70.0)]
    assert ladder_steps("minor", checked) == (1, [(2, 50.0), (3, 70.0)])
    assert SEVERITY_RANKS == {"warning": 0, "minor": 1, "major": 2, "critical": 3}


@pytest.mark.parametrize(
    ("rule_type", "parameters", "message"),
    [
        ("permit", {"parameter": "x", "ladder": {"red": 50, "orange": 70}}, "rise"),
        ("permit", {"parameter": "x", "ladder": {"red": 50, "critical": 70}}, "twice"),
        ("permit", {"parameter": "x", "ladder": {"purple": 50}}, "severity must be"),
        ("permit", {"parameter": "x", "ladder": {"red": "high"}}, "number"),
        ("permit", {"parameter": "x", "ladder": []}, "ladder must be"),
        ("target_pace", {"target_percent": 85, "ladder": {"red": 80}}, "no ladder"),
    ],
)
def test_bad_ladders_are_refused(
    rule_type: str, parameters: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        validate_parameters(rule_type, parameters)


def test_ladder_rungs_must_lie_above_the_rules_own_severity() -> None:
    checked = validate_parameters("permit", {"parameter": "x", "ladder": {"orange": 50}})
    check_ladder_above("minor", checked)
    with pytest.raises(ValueError, match="not above"):
        check_ladder_above("major", checked)
