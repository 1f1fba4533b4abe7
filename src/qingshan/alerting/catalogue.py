"""The rule types: what each needs, its defaults, the site kinds it applies to; severities.

A rule is data (``docs/alerting.md``): a type from :data:`RULE_TYPES`, parameters checked by
:func:`validate_parameters`, a scope and a severity. Parameters shared by every type:

* ``period`` — the readings it looks at: ``hour`` (default), ``day`` or ``minute``;
* ``for_periods`` — the condition must hold for N consecutive periods (default 1);
* ``times_in`` — ``[N, M]``: N times within the last M periods (instead of ``for_periods``);
* ``clear_after`` — evaluated periods without the condition that clear the alarm (default 1);
* ``ladder`` — the severity ladder (default none): ``{severity or colour: threshold}`` for the
  rungs above the rule's own severity; an alarm whose value exceeds a rung's threshold takes
  that severity, and an open alarm escalates when a re-trigger reaches a higher rung
  (:mod:`qingshan.alerting.severity`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from qingshan.alerting.anomaly import NEIGHBOUR_THRESHOLD, SPIKE_THRESHOLD
from qingshan.alerting.exceedance import HOURLY_AQI_INDICATORS
from qingshan.alerting.quality import DEVICE_FLAGS, SILENT_INTERVALS

SEVERITIES: dict[str, str] = {
    "critical": "red",
    "major": "orange",
    "minor": "yellow",
    "warning": "blue",
}
"""Severity (ThingsBoard's ladder, highest first) ↔ warning colour (红/橙/黄/蓝 预警)."""

COLOURS: dict[str, str] = {colour: severity for severity, colour in SEVERITIES.items()}

SEVERITY_RANKS: dict[str, int] = {
    severity: rank for rank, severity in enumerate(reversed(SEVERITIES))
}
"""The rungs of the ladder, lowest first: warning 0, minor 1, major 2, critical 3."""

RULE_PERIODS = ("minute", "hour", "day")

WATER_ITEMS: dict[str, str] = {
    "ph": "ph",
    "do": "do",
    "codmn": "codmn",
    "cod": "cod",
    "bod5": "bod5",
    "nh3n": "nh3n",
    "tp": "tp",
    "tn": "tn",
}
"""Store parameter key → GB 3838 item key, for the items automatic water stations measure."""

COMMON_DEFAULTS: dict[str, Any] = {
    "period": "hour",
    "for_periods": 1,
    "times_in": None,
    "clear_after": 1,
    "ladder": None,
}


@dataclass(frozen=True)
class RuleType:
    """A kind of rule: the site kinds it applies to, required and default parameters."""

    name: str
    description: str
    site_kinds: tuple[str, ...] | None
    """Kinds of site the type can judge (None: any kind)."""
    required: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    per_parameter: bool = True
    """Alarms carry the parameter (identity rule + site + pollutant)."""
    graded: bool = True
    """The alarm value grows as the condition gets worse, so a severity ladder can grade it
    (not so for a ratio falling behind its target, a device flag, or a value out of range on
    either side)."""


RULE_TYPES: dict[str, RuleType] = {
    rule.name: rule
    for rule in (
        RuleType(
            "aqi",
            "hourly AQI (parameter 'aqi') or a pollutant's IAQI above a level (HJ 633)",
            ("air_station",),
            defaults={"parameter": "aqi", "level": 100.0},
        ),
        RuleType(
            "water_class",
            "a water item worse than the section's target class (GB 3838 Table 1)",
            ("water_section",),
            required=("parameter",),
        ),
        RuleType(
            "noise",
            "hourly Leq above the zone's day/night limit (GB 3096 Table 1)",
            ("noise_point",),
            defaults={"parameter": "leq"},
        ),
        RuleType(
            "permit",
            "an outlet above its discharge permit limit",
            ("source_outlet",),
            required=("parameter",),
        ),
        RuleType(
            "neighbour",
            "far above the median/MAD of its grid and neighbouring grids (modified z-score)",
            None,
            required=("parameter",),
            defaults={"threshold": NEIGHBOUR_THRESHOLD, "min_spread": 1.0, "min_peers": 4},
        ),
        RuleType(
            "spike",
            "far above its own recent history (Hampel identifier)",
            None,
            required=("parameter",),
            defaults={"window": 24, "threshold": SPIKE_THRESHOLD, "min_spread": 1.0},
        ),
        RuleType(
            "rise",
            "rising in each of the last N periods (Nelson test 3)",
            None,
            required=("parameter",),
            defaults={"steps": 6, "min_rise": 0.0},
        ),
        RuleType(
            "silent",
            "no reading for longer than N reporting intervals",
            None,
            defaults={"intervals": SILENT_INTERVALS},
            per_parameter=False,
        ),
        RuleType(
            "flat_line",
            "the same value N readings in a row (persistence test)",
            None,
            required=("parameter",),
            defaults={"periods": 6},
        ),
        RuleType(
            "impossible",
            "a value outside the physically possible range",
            None,
            required=("parameter", "low", "high"),
            graded=False,
        ),
        RuleType(
            "device_flag",
            "readings flagged D (fault), C (calibration) or M (maintenance) by the device",
            None,
            required=("parameter",),
            defaults={"flags": list(DEVICE_FLAGS)},
            graded=False,
        ),
        RuleType(
            "target_pace",
            "good-day ratio so far this year below the annual target (percent)",
            ("air_station",),
            required=("target_percent",),
            defaults={"period": "day"},
            per_parameter=False,
            graded=False,
        ),
    )
}


def _check_window(merged: dict[str, Any]) -> None:
    if merged["period"] not in RULE_PERIODS:
        raise ValueError(f"period must be one of {RULE_PERIODS}")
    for name in ("for_periods", "clear_after"):
        if not isinstance(merged[name], int) or merged[name] < 1:
            raise ValueError(f"{name} must be a whole number ≥ 1")
    times_in = merged["times_in"]
    if times_in is not None:
        ok = (
            isinstance(times_in, list | tuple)
            and len(times_in) == 2
            and all(isinstance(n, int) for n in times_in)
            and 1 <= times_in[0] <= times_in[1]
        )
        if not ok:
            raise ValueError("times_in must be [N, M] with 1 ≤ N ≤ M")
        merged["times_in"] = [int(times_in[0]), int(times_in[1])]


def _check_specific(rule: RuleType, merged: dict[str, Any]) -> None:
    parameter = merged.get("parameter")
    if rule.name == "aqi" and parameter != "aqi" and parameter not in HOURLY_AQI_INDICATORS:
        raise ValueError(f"aqi rules take parameter 'aqi' or one of {list(HOURLY_AQI_INDICATORS)}")
    if rule.name == "water_class" and parameter not in WATER_ITEMS:
        raise ValueError(f"water_class rules take one of {list(WATER_ITEMS)}")
    if rule.name == "impossible" and not float(merged["low"]) < float(merged["high"]):
        raise ValueError("impossible: low must be below high")
    if rule.name == "target_pace" and not 0 < float(merged["target_percent"]) <= 100:
        raise ValueError("target_percent must be in (0, 100]")
    if rule.name == "device_flag" and not set(merged["flags"]) <= set("NFMSDCTBXR"):
        raise ValueError("flags must be HJ 212 Table 8 flags")


def _check_ladder(rule: RuleType, merged: dict[str, Any]) -> None:
    """The ladder as ``{severity: threshold}`` ordered by rung, thresholds rising with it."""
    ladder = merged["ladder"]
    if ladder is None:
        return
    if not rule.graded:
        raise ValueError(f"{rule.name} rules take no ladder: their value does not grade severity")
    if not isinstance(ladder, dict) or not ladder:
        raise ValueError('ladder must be {severity: threshold, …}, e.g. {"red": 200}')
    steps: dict[str, float] = {}
    for name, threshold in ladder.items():
        severity = severity_of(str(name))
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise ValueError(f"ladder threshold of {name} must be a number")
        if severity in steps:
            raise ValueError(f"ladder names {severity} twice")
        steps[severity] = float(threshold)
    ordered = sorted(steps.items(), key=lambda step: SEVERITY_RANKS[step[0]])
    thresholds = [threshold for _, threshold in ordered]
    if any(high <= low for low, high in pairwise(thresholds)):
        raise ValueError("ladder thresholds must rise with the severity")
    merged["ladder"] = dict(ordered)


def check_ladder_above(severity: str, parameters: dict[str, Any]) -> None:
    """Every rung of a rule's ladder must be above the rule's own severity (its base)."""
    below = [
        rung
        for rung in parameters.get("ladder") or {}
        if SEVERITY_RANKS[rung] <= SEVERITY_RANKS[severity]
    ]
    if below:
        raise ValueError(f"ladder rungs {below} are not above the rule's severity {severity}")


def ladder_steps(severity: str, parameters: dict[str, Any]) -> tuple[int, list[tuple[int, float]]]:
    """The base rank and the ``(rank, threshold)`` rungs of a rule, for
    :func:`qingshan.alerting.severity.rungs`."""
    ladder = parameters.get("ladder") or {}
    return SEVERITY_RANKS[severity], [(SEVERITY_RANKS[s], float(t)) for s, t in ladder.items()]


def validate_parameters(rule_type: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """The complete parameters of a rule: defaults filled in, everything checked.

    Raises
    ------
    ValueError
        Unknown type or parameter, a required parameter missing, a value out of range.
    """
    if rule_type not in RULE_TYPES:
        raise ValueError(f"unknown rule type {rule_type!r}; types: {', '.join(RULE_TYPES)}")
    rule = RULE_TYPES[rule_type]
    known = set(COMMON_DEFAULTS) | set(rule.defaults) | set(rule.required)
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise ValueError(f"{rule_type} rules have no parameters {unknown}; known: {sorted(known)}")
    missing = [name for name in rule.required if parameters.get(name) is None]
    if missing:
        raise ValueError(f"{rule_type} rules need {missing}")
    merged = {**COMMON_DEFAULTS, **rule.defaults, **parameters}
    _check_window(merged)
    _check_specific(rule, merged)
    _check_ladder(rule, merged)
    return merged


def severity_of(text: str) -> str:
    """``critical/major/minor/warning`` from itself or its colour ``red/orange/yellow/blue``."""
    if text in SEVERITIES:
        return text
    if text in COLOURS:
        return COLOURS[text]
    raise ValueError(f"severity must be one of {list(SEVERITIES)} or {list(COLOURS)}")
