"""KPIs over time, targets, alerts a manager can trust, and sales-team performance.

- :func:`compute` — exact KPIs per period and group in long format (revenue, orders,
  AOV, active / new / returning customers, repeat, churn and retention rates, NPS,
  CSAT, conversion...), lazily composed so it streams over large parquet data;
- :func:`targets` — attainment against a user's targets, pro-rated for a running period;
- :func:`alerts` / :func:`bands` — anomalies per series: robust seasonal baselines,
  holiday calendars, level-shift detection, binomial noise for rates;
- :func:`sales_performance` — per sales owner and period: win rate, won revenue,
  deal size, cycle length, open pipeline, rank;
- :mod:`crmkit.kpi.calendars` — the Chinese retail calendar.
"""

from crmkit.kpi._compute import ALL_KPIS, compute

__all__ = ["ALL_KPIS", "compute"]

from crmkit.kpi import calendars  # noqa: E402
from crmkit.kpi._alerts import alerts, bands  # noqa: E402

__all__ += ["alerts", "bands", "calendars"]
from crmkit.kpi._sales import sales_performance, targets  # noqa: E402

__all__ += ["sales_performance", "targets"]
from crmkit.kpi._monitor import demo_step  # noqa: E402
