"""Forecast charts (crmkit.forecast's frames)."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import polars as pl

from crmkit._validate import as_frame, require_columns
from crmkit.errors import CrmError
from crmkit.plot._base import _alt, _axes, _interactive_twin, _rows


def _one_series(history: Any, forecast: Any, unique_id: Any, models: Optional[list[str]], id_col: str, time_col: str,
                target_col: str, last: Optional[int]) -> tuple[pl.DataFrame, pl.DataFrame, Any, list[str]]:
    """The history and forecast rows of the series shown, its id and the model columns."""
    fn = "crmkit.plot.forecast"
    hist = as_frame(history, argument="history")
    fcst = as_frame(forecast, argument="forecast")
    require_columns(hist, {id_col: "id", target_col: "numeric"}, function=fn, argument="history")
    require_columns(fcst, {id_col: "id"}, function=fn, argument="forecast")
    for frame, name in ((hist, "history"), (fcst, "forecast")):
        if time_col not in frame.columns:
            raise CrmError(f"{fn}: column '{time_col}' not found in '{name}'")
    if unique_id is None:
        if fcst.height == 0:
            raise CrmError(f"{fn}: 'forecast' is empty")
        unique_id = fcst[id_col][0]
    h_one = hist.filter(pl.col(id_col) == unique_id).sort(time_col)
    f_one = fcst.filter(pl.col(id_col) == unique_id).sort(time_col)
    if f_one.height == 0:
        raise CrmError(f"{fn}: series {unique_id!r} is not in 'forecast'")
    if last is not None:
        h_one = h_one.tail(last)
    skip = {id_col, time_col, target_col, "cutoff", "model"}
    if models is None:
        models = [c for c in f_one.columns if c not in skip and "-lo-" not in c and "-hi-" not in c and f_one.schema[c].is_numeric()]
    missing = [m for m in models if m not in f_one.columns]
    if missing:
        raise CrmError(f"{fn}: model column(s) {missing} not in 'forecast' (it has {f_one.columns})")
    return h_one, f_one, unique_id, models


def _levels(f_one: pl.DataFrame, m: str, level: Optional[float]) -> Optional[str]:
    """The interval level shaded for model ``m`` (the widest, or ``level``), as in its column names."""
    levels = sorted({float(c.rsplit("-lo-", 1)[1]) for c in f_one.columns if c.startswith(f"{m}-lo-")})
    if level is not None:
        levels = [lv for lv in levels if lv == float(level)]
    if not levels:
        return None
    lv = levels[-1]
    return str(int(lv)) if lv.is_integer() else str(lv)


def forecast(
    history: Any,
    forecast: Any,
    ax: Any = None,
    *,
    unique_id: Any = None,
    models: Optional[list[str]] = None,
    level: Optional[float] = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    last: Optional[int] = None,
    title: Optional[str] = None,
) -> Any:
    """One series' history and its forecasts with shaded prediction intervals.

    ``history`` is the long input (``unique_id, ds, y``), ``forecast`` the output of
    ``crmkit.forecast.forecast`` or ``auto``. ``unique_id`` picks the series (default:
    the first); ``models`` the forecast columns (default: every model column); ``level``
    the interval shaded (default: the widest present); ``last`` limits the history shown
    to its last points.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import polars as pl
    >>> from crmkit import plot, forecast as fc
    >>> hist = pl.DataFrame({"unique_id": "a", "ds": list(range(24)), "y": [float(t % 6) for t in range(24)]})
    >>> out = fc.forecast(hist, models=[fc.SeasonalNaive(6)], h=6, level=[80])
    >>> ax = plot.forecast(hist, out)
    >>> [l.get_label() for l in ax.get_lines()]
    ['history', 'SeasonalNaive']
    """
    fn = "crmkit.plot.forecast"
    h_one, f_one, unique_id, models = _one_series(history, forecast, unique_id, models, id_col, time_col, target_col,
                                                  last)
    ax = _axes(ax, fn, (8, 4))
    ax.plot(h_one[time_col].to_list(), h_one[target_col].to_numpy(), color="black", linewidth=1.2, label="history")
    colours = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860"]
    for i, m in enumerate(models):
        colour = colours[i % len(colours)]
        x = f_one[time_col].to_list()
        ax.plot(x, f_one[m].to_numpy(), color=colour, linewidth=1.5, label=m)
        name = _levels(f_one, m, level)
        if name is not None:
            lo, hi = f_one[f"{m}-lo-{name}"].to_numpy(), f_one[f"{m}-hi-{name}"].to_numpy()
            if np.isfinite(lo).any():
                ax.fill_between(x, lo, hi, color=colour, alpha=0.2, linewidth=0, label=f"{m} {name}%")
    ax.set_title(title or f"Forecast for {unique_id}")
    ax.set_xlabel(time_col)
    ax.set_ylabel(target_col)
    ax.legend(fontsize=8, loc="best")
    return ax


def _i_forecast(history: Any, forecast: Any, ax: Any = None, *, unique_id: Any = None, models: Optional[list[str]] = None,
                level: Optional[float] = None, id_col: str = "unique_id", time_col: str = "ds", target_col: str = "y",
                last: Optional[int] = None, title: Optional[str] = None) -> Any:
    alt = _alt()
    h_one, f_one, unique_id, models = _one_series(history, forecast, unique_id, models, id_col, time_col, target_col,
                                                  last)
    temporal = h_one.schema[time_col].is_temporal()
    x = alt.X(f"{time_col}:{'T' if temporal else 'Q'}", title=time_col)
    parts = [h_one.select(pl.col(time_col), pl.col(target_col).cast(pl.Float64).alias("value"),
                          pl.lit("history").alias("series"), pl.lit(None, pl.Float64).alias("lower"),
                          pl.lit(None, pl.Float64).alias("upper"))]
    for m in models:
        name = _levels(f_one, m, level)
        lo = pl.col(f"{m}-lo-{name}") if name is not None else pl.lit(None, pl.Float64)
        hi = pl.col(f"{m}-hi-{name}") if name is not None else pl.lit(None, pl.Float64)
        parts.append(f_one.select(pl.col(time_col), pl.col(m).cast(pl.Float64).alias("value"), pl.lit(m).alias("series"),
                                  lo.cast(pl.Float64).alias("lower"), hi.cast(pl.Float64).alias("upper")))
    data = pl.concat(parts, how="vertical_relaxed")
    tip = [f"{time_col}:{'T' if temporal else 'Q'}", "series:N", alt.Tooltip("value:Q", format=",.2f"),
           alt.Tooltip("lower:Q", format=",.2f"), alt.Tooltip("upper:Q", format=",.2f")]
    base = alt.Chart(_rows(data))
    band = base.transform_filter("datum.lower != null").mark_area(opacity=0.2).encode(
        x=x, y="lower:Q", y2="upper:Q", color="series:N", tooltip=tip)
    lines = base.mark_line().encode(x=x, y=alt.Y("value:Q", title=target_col), color="series:N", tooltip=tip)
    return (band + lines).properties(title=title or f"Forecast for {unique_id}", width=600, height=280)


forecast = _interactive_twin(forecast, _i_forecast)
