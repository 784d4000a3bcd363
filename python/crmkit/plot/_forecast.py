"""Forecast charts (crmkit.forecast's frames)."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import polars as pl

from crmkit._validate import as_frame, require_columns
from crmkit.errors import CrmError
from crmkit.plot._base import _axes


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
    ax = _axes(ax, fn, (8, 4))
    ax.plot(h_one[time_col].to_list(), h_one[target_col].to_numpy(), color="black", linewidth=1.2, label="history")
    colours = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860"]
    for i, m in enumerate(models):
        colour = colours[i % len(colours)]
        x = f_one[time_col].to_list()
        ax.plot(x, f_one[m].to_numpy(), color=colour, linewidth=1.5, label=m)
        levels = sorted({float(c.rsplit("-lo-", 1)[1]) for c in f_one.columns if c.startswith(f"{m}-lo-")})
        if level is not None:
            levels = [lv for lv in levels if lv == float(level)]
        if levels:
            lv = levels[-1]
            name = str(int(lv)) if lv.is_integer() else str(lv)
            lo, hi = f_one[f"{m}-lo-{name}"].to_numpy(), f_one[f"{m}-hi-{name}"].to_numpy()
            if np.isfinite(lo).any():
                ax.fill_between(x, lo, hi, color=colour, alpha=0.2, linewidth=0, label=f"{m} {name}%")
    ax.set_title(title or f"Forecast for {unique_id}")
    ax.set_xlabel(time_col)
    ax.set_ylabel(target_col)
    ax.legend(fontsize=8, loc="best")
    return ax
