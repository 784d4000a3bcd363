"""Forecasting purchase trends for many series at once, with statsforecast's models,
names and frames (``unique_id, ds, y``), fitted in Rust.

- :func:`series` turns orders into regular series (revenue, orders, customers, new
  customers per week/month/... and group), empty periods as 0;
- model classes under statsforecast's names (``AutoETS``, ``AutoTheta``, ``Naive``,
  ``SeasonalNaive``, ``CrostonSBA``, ...), each with an ``alias``;
- :func:`forecast`, :func:`cross_validation`, :func:`evaluate` as in statsforecast /
  utilsforecast;
- :func:`auto`: per-series choice (or combination) by cross-validation;
- :func:`trend`: which series grow and which shrink, with significance.

>>> import polars as pl
>>> from crmkit import forecast as fc
>>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(1, 13)), "y": [float(t) for t in range(1, 13)]})
>>> fc.forecast(df, models=[fc.Naive()], h=1)["Naive"].to_list()
[12.0]
"""

from crmkit.forecast._auto import auto, default_candidates, trend
from crmkit.forecast._demo import demo_step
from crmkit.forecast._engine import cross_validation, evaluate, forecast
from crmkit.forecast._models import *  # noqa: F403
from crmkit.forecast._models import __all__ as _model_names
from crmkit.forecast._series import series

__all__ = ["series", "forecast", "cross_validation", "evaluate", "auto", "trend", "default_candidates", *_model_names]
