"""KPI charts (crmkit.kpi's tables)."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import polars as pl

from crmkit._validate import as_frame, require_columns
from crmkit.errors import CrmError
from crmkit.plot._base import _BAR, _BOTTLENECK, _alt, _axes, _interactive_twin, _pyplot, _rows


def kpi(table: pl.DataFrame, ax: Any = None, *, kpi: Optional[str] = None, by: Optional[dict[str, Any]] = None,
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
    part, name = _kpi_series(table, kpi, by, band_options, fn)
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


def _kpi_series(table: Any, kpi: Optional[str], by: Optional[dict[str, Any]], band_options: dict[str, Any], fn: str) -> tuple[Any, ...]:
    """One KPI's rows of one group, with its bands, in time order; and the KPI's name."""
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
    return part.sort("period_start"), name


def kpi_tiles(table: pl.DataFrame, ax: Any = None, *, kpis: Optional[list[Any]] = None, title: Optional[str] = None) -> Any:
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
    df, chosen = _tile_rows(table, kpis, fn)
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
        text, change = _tile_text(s)
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


def _tile_text(s: pl.DataFrame) -> tuple[str, Optional[float]]:
    last = s.row(-1, named=True)
    value = last["value"]
    text = "n/a" if value is None else (f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}")
    return text, last.get("change_pct")


def _tile_rows(table: Any, kpis: Optional[list[Any]], fn: str) -> tuple[pl.DataFrame, list[Any]]:
    """The overall (or first group's) complete-period rows and the KPIs to show."""
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
    return df, chosen


# --- interactive twins ------------------------------------------------------------------


def _i_kpi(table: pl.DataFrame, ax: Any = None, *, kpi: Optional[str] = None, by: Optional[dict[str, Any]] = None,
           title: Optional[str] = None, **band_options: Any) -> Any:
    alt = _alt()
    part, name = _kpi_series(table, kpi, by, band_options, "crmkit.plot.kpi")
    cols = [c for c in ("period_start", "value", "expected", "lower", "upper", "is_alert", "severity", "reason")
            if c in part.columns]
    df = part.select(cols).with_columns(pl.col(c).cast(pl.Float64) for c in ("value", "expected", "lower", "upper")
                                        if c in cols)
    x = alt.X("period_start:T", title=None)
    tips = [alt.Tooltip("period_start:T"), alt.Tooltip("value:Q", format=",.4g")] + (
        [alt.Tooltip("expected:Q", format=",.4g"), alt.Tooltip("lower:Q", format=",.4g"),
         alt.Tooltip("upper:Q", format=",.4g")] if "lower" in cols else [])
    base = alt.Chart(_rows(df))
    layers = []
    if "lower" in cols:
        layers.append(base.mark_area(opacity=0.18, color=_BAR).encode(x=x, y=alt.Y("lower:Q", title=name), y2="upper:Q"))
        layers.append(base.mark_line(color=_BAR, strokeDash=[3, 3]).encode(x=x, y="expected:Q"))
    layers.append(base.mark_line(color="#222", point=True).encode(x=x, y=alt.Y("value:Q", title=name), tooltip=tips))
    if "is_alert" in cols:
        alert_tips = tips + [c for c in ("severity:N", "reason:N") if c.split(":")[0] in cols]
        layers.append(base.transform_filter("datum.is_alert").mark_point(filled=True, size=90, color=_BOTTLENECK)
                      .encode(x=x, y="value:Q", tooltip=alert_tips))
    label = name if not by else f"{name} ({', '.join(f'{k}={v}' for k, v in by.items())})"
    return alt.layer(*layers).properties(title=title or label, width=560, height=260)


def _i_kpi_tiles(table: pl.DataFrame, ax: Any = None, *, kpis: Optional[list[Any]] = None,
                 title: Optional[str] = None) -> Any:
    alt = _alt()
    df, chosen = _tile_rows(table, kpis, "crmkit.plot.kpi_tiles")
    tiles = []
    for name in chosen:
        s = df.filter(pl.col("kpi").cast(pl.String) == name).sort("period_start")
        text, change = _tile_text(s)
        head = f"{name}: {text}" + ("" if change is None else f" ({change:+.1%})")
        spark = s.select("period_start", pl.col("value").cast(pl.Float64))
        tiles.append(alt.Chart(_rows(spark)).mark_area(line={"color": _BAR}, color=_BAR, opacity=0.25).encode(
            x=alt.X("period_start:T", axis=None), y=alt.Y("value:Q", axis=None),
            tooltip=[alt.Tooltip("period_start:T"), alt.Tooltip("value:Q", format=",.4g")],
        ).properties(title=head, width=170, height=60))
    rows = [alt.hconcat(*tiles[i: i + 4]) for i in range(0, len(tiles), 4)]
    chart = alt.vconcat(*rows) if len(rows) > 1 else rows[0]
    return chart.properties(title=title) if title else chart


kpi = _interactive_twin(kpi, _i_kpi)
kpi_tiles = _interactive_twin(kpi_tiles, _i_kpi_tiles)
