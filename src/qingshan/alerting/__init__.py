"""Alarm detection kernels: readings in, condition series out (pure: numpy and polars, no I/O).

The kernels work on *panels*: 2-D float arrays of shape ``(series, periods)`` on a regular time
grid (one row per site or site-parameter, one column per period, NaN where no valid value), or on
long polars tables where a grouping is needed. Each returns a boolean condition of the same
shape (True = the rule's condition holds in that period) and, where useful, the value that
made it hold (the peak of an alarm).

Modules:

* :mod:`~qingshan.alerting.windows` — "for N consecutive periods", "N times in M periods",
  and the episodes (start, end, peak, count, clear time) that become alarms;
* :mod:`~qingshan.alerting.exceedance` — AQI/IAQI, water class, noise and permit limits;
* :mod:`~qingshan.alerting.anomaly` — neighbour anomaly, spike, sustained rise (robust
  statistics);
* :mod:`~qingshan.alerting.quality` — silence, flat lines, impossible values, device flags;
* :mod:`~qingshan.alerting.pace` — good-day ratio against the annual target;
* :mod:`~qingshan.alerting.catalogue` — the rule types, their parameters and severities.

Rules, alarms, notifications and cases are different things (``docs/alerting.md``): this package
only says *when a condition holds*; the service turns that into alarms.
"""
