"""KPI charts (crmkit.kpi's tables)."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import polars as pl

from crmkit._validate import as_frame, require_columns
from crmkit.errors import CrmError
from crmkit.plot._base import _BAR, _BOTTLENECK, _axes, _pyplot


def kpi(table: pl.DataFrame, ax: Any = None, *, kpi: Optional[str] = None, by: Optional[dict] = None,
        title: Optional[str] = None, **band_options: Any) -> Any:
    """One KPI over time with its expected band and alert markers.

    ``table`` is :func:`crmkit.kpi.compute`'s table (the bands are computed with
    :func:`crmkit.kpi.bands` and ``band_options``) or a table ``bands`` returned.
    ``kpi`` picks the KPI (default: the first), ``by`` the group, e.g.
    ``{"channel": "app"}`` (default: the rows whose group columns are null, else the
    first group).

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import crmkit
    >>> from crmkit import plot
    >>> k = crmkit.kpi.compute(crmkit.datasets.generate(n_customers=500, seed=1).orders, freq="1w", kpis="orders")
    >>> ax = plot.kpi(k, kpi="orders", holidays="none")
    >>> ax.get_title()
    'orders'
    """
    fn = "crmkit.plot.kpi"
    from crmkit.kpi import bands as _bands
    from crmkit.kpi._compute import STANDARD_COLUMNS

    df = as_frame(table, argument="table")
    require_columns(df, {"period_start": "date", "kpi": "any", "value": "numeric"}, function=fn, argument="table")
    names = df["kpi"].cast(pl.String).unique(maintain_order=True).to_list()
    name = names[0] if kpi is None else kpi
    if name not in names:
        raise CrmError(f"{fn}: kpi {name!r} is not in the table; it holds {names}")
    if "expected" not in df.columns:
        df = _bands(df, kpis=name, **band_options)
    extra = {"expected", "lower", "upper", "score", "direction", "severity", "kind", "reason", "is_alert"}
    groups = [c for c in df.columns if c not in STANDARD_COLUMNS and c not in extra]
    part = df.filter(pl.col("kpi").cast(pl.String) == name)
    if by:
        unknown = [c for c in by if c not in groups]
        if unknown:
            raise CrmError(f"{fn}: by={by} names column(s) {unknown} that are not group columns {groups}")
        for c, v in by.items():
            part = part.filter(pl.col(c) == v)
    elif groups:
        overall = part.filter(pl.all_horizontal(pl.col(c).is_null() for c in groups))
        part = overall if overall.height else part.filter(
            *[pl.col(c) == part[c][0] for c in groups])
    if part.height == 0:
        raise CrmError(f"{fn}: no rows for kpi {name!r} and group {by}")
    part = part.sort("period_start")
    ax = _axes(ax, fn, (9, 4))
    x = part["period_start"].to_numpy()
    if "lower" in part.columns:
        lo = part["lower"].cast(pl.Float64).fill_null(np.nan).to_numpy()
        hi = part["upper"].cast(pl.Float64).fill_null(np.nan).to_numpy()
        ax.fill_between(x, lo, hi, color=_BAR, alpha=0.15, linewidth=0, label="expected band")
        ax.plot(x, part["expected"].cast(pl.Float64).fill_null(np.nan).to_numpy(), color=_BAR, linestyle=":",
                linewidth=1, label="expected")
    ax.plot(x, part["value"].cast(pl.Float64).fill_null(np.nan).to_numpy(), color="#222", linewidth=1.2, label=name)
    if "is_alert" in part.columns:
        hit = part.filter(pl.col("is_alert"))
        if hit.height:
            ax.scatter(hit["period_start"].to_numpy(), hit["value"].to_numpy(), color=_BOTTLENECK, zorder=3,
                       label="alert")
    ax.set_title(title or (name if not by else f"{name} ({', '.join(f'{k}={v}' for k, v in by.items())})"))
    ax.legend(loc="best", fontsize=8)
    return ax


def kpi_tiles(table: pl.DataFrame, ax: Any = None, *, kpis: Optional[list] = None, title: Optional[str] = None) -> Any:
    """KPI tiles: each KPI's latest complete value, its change on the period before and
    a sparkline of its history, from :func:`crmkit.kpi.compute`'s table (overall rows,
    or the first group). Returns the figure's first ``Axes``.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import crmkit
    >>> from crmkit import plot
    >>> k = crmkit.kpi.compute(crmkit.datasets.generate(n_customers=500, seed=1).orders)
    >>> ax = plot.kpi_tiles(k, kpis=["revenue", "orders", "aov"])
    >>> [a.get_title() for a in ax.figure.axes]
    ['revenue', 'orders', 'aov']
    """
    fn = "crmkit.plot.kpi_tiles"
    from crmkit.kpi._compute import STANDARD_COLUMNS

    df = as_frame(table, argument="table")
    require_columns(df, {"period_start": "date", "kpi": "any", "value": "numeric"}, function=fn, argument="table")
    groups = [c for c in df.columns if c not in STANDARD_COLUMNS]
    if groups:
        overall = df.filter(pl.all_horizontal(pl.col(c).is_null() for c in groups))
        df = overall if overall.height else df.filter(*[pl.col(c) == df[c][0] for c in groups])
    if "is_complete" in df.columns and df["is_complete"].any():
        df = df.filter(pl.col("is_complete"))
    names = df["kpi"].cast(pl.String).unique(maintain_order=True).to_list()
    chosen = names if kpis is None else list(kpis)
    missing = [k for k in chosen if k not in names]
    if missing:
        raise CrmError(f"{fn}: KPI(s) {missing} are not in the table; it holds {names}")
    plt = _pyplot(fn)
    cols = min(4, len(chosen))
    rows = int(np.ceil(len(chosen) / cols))
    if ax is not None:
        fig = ax.figure
        fig.clear()
    else:
        fig = plt.figure(figsize=(3.2 * cols, 2.0 * rows))
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(len(chosen))]
    for a, name in zip(axes, chosen):
        s = df.filter(pl.col("kpi").cast(pl.String) == name).sort("period_start")
        v = s["value"].cast(pl.Float64).fill_null(np.nan).to_numpy()
        a.plot(np.arange(len(v)), v, color=_BAR, linewidth=1)
        last = s.row(-1, named=True)
        value = last["value"]
        change = last.get("change_pct")
        text = "n/a" if value is None else (f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}")
        a.text(0.02, 0.95, text, transform=a.transAxes, fontsize=14, fontweight="bold", va="top")
        if change is not None:
            colour = "#2a9d55" if change >= 0 else _BOTTLENECK
            a.text(0.02, 0.62, f"{change:+.1%}", transform=a.transAxes, fontsize=9, color=colour, va="top")
        a.set_title(name, fontsize=9)
        a.set_xticks([])
        a.set_yticks([])
        for side in ("top", "right", "left"):
            a.spines[side].set_visible(False)
    if title:
        fig.suptitle(title)
    return axes[0]
