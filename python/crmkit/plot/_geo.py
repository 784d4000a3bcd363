"""Geography and sales-trend charts (the dashboard's map and trend)."""

from __future__ import annotations

from typing import Any, Optional, cast

import numpy as np
import polars as pl

from crmkit._validate import as_frame, require_columns
from crmkit.errors import CrmError
from crmkit.plot._base import _alt, _axes, _rows


def province_map(summary: pl.DataFrame, ax: Any = None, *, measure: Optional[str] = None, lang: str = "zh",
                 title: Optional[str] = None, interactive: bool = False) -> Any:
    """The province tile map from :func:`crmkit.geo.summary` (province level): each
    province a square in its approximate place, coloured by ``measure`` (default: the
    first measure column). ``interactive=True`` returns the Altair chart.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import polars as pl, crmkit
    >>> from crmkit import plot
    >>> s = crmkit.geo.summary(pl.DataFrame({"address": ["广东省广州市", "北京市", "深圳市"]}))
    >>> ax = plot.province_map(s)
    >>> sorted(t.get_text() for t in ax.texts)[:3]
    ['上海', '云南', '内蒙古']
    """
    from crmkit import geo

    fn = "crmkit.plot.province_map"
    df = as_frame(summary, argument="summary")
    require_columns(df, {"province": "any"}, function=fn, argument="summary")
    skip = {"province", "adcode", "label", "longitude", "latitude", "row", "col", "share"}
    measure = measure or next((c for c in df.columns if c not in skip and df.schema[c].is_numeric()), None)
    if measure is None or measure not in df.columns:
        raise CrmError(f"{fn}: no measure column {measure!r} in {df.columns}")
    tiles = geo.province_tiles(lang).join(df.select("province", measure).drop_nulls("province"), on="province",
                                          how="left").with_columns(pl.col(measure).fill_null(0))
    if interactive:
        alt = _alt()
        base = alt.Chart(_rows(tiles)).encode(x=alt.X("col:O", axis=None), y=alt.Y("row:O", axis=None))
        return (
            base.mark_rect(stroke="white", strokeWidth=2, cornerRadius=3).encode(
                color=alt.Color(f"{measure}:Q", scale=alt.Scale(scheme="blues")),
                tooltip=["province:N", alt.Tooltip(f"{measure}:Q", format=",.0f")])
            + base.mark_text(fontSize=11).encode(text="label:N", tooltip=["province:N", f"{measure}:Q"])
        ).properties(title=title or measure, width=430, height=380)
    ax = _axes(ax, fn, (7, 6))
    cmap = __import__("matplotlib").colormaps["Blues"]
    top = float(cast(Optional[float], tiles[measure].max()) or 0) or 1.0  # a numeric column
    for row in tiles.iter_rows(named=True):
        v = float(row[measure]) / top
        ax.add_patch(__import__("matplotlib").patches.Rectangle((row["col"], -row["row"]), 0.94, 0.94,
                                                                  color=cmap(0.08 + 0.9 * v)))
        ax.text(row["col"] + 0.47, -row["row"] + 0.47, row["label"], ha="center", va="center", fontsize=8,
                color="white" if v > 0.6 else "black")
    ax.set_xlim(-0.2, 8.2)
    ax.set_ylim(-7.2, 1.1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or measure)
    return ax


def sales_trend(trend: pl.DataFrame, ax: Any = None, *, title: Optional[str] = None, interactive: bool = False) -> Any:
    """Revenue per period and group from :func:`crmkit.dashboard.sales_trend` (period,
    group, revenue) or :func:`crmkit.dashboard.sales_forecast` (with ``part``,
    ``lower``, ``upper``: the forecast is drawn dashed, its interval shaded).
    ``interactive=True`` returns the Altair chart (legend selection, zoom).

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import datetime as dt, polars as pl
    >>> from crmkit import plot
    >>> t = pl.DataFrame({"period": [dt.date(2024, 1, 1), dt.date(2024, 2, 1)], "group": ["web", "web"],
    ...                   "revenue": [10.0, 12.0]})
    >>> [line.get_label() for line in plot.sales_trend(t).get_lines()]
    ['web']
    >>> f = t.with_columns(part=pl.Series(["actual", "forecast"]), lower=pl.Series([None, 9.0]),
    ...                    upper=pl.Series([None, 15.0]))
    >>> ax = plot.sales_trend(f)
    >>> [line.get_label() for line in ax.get_lines()], len(ax.collections)
    (['web', 'web (forecast)'], 1)
    """
    fn = "crmkit.plot.sales_trend"
    df = as_frame(trend, argument="trend")
    require_columns(df, {"period": "temporal", "group": "any", "revenue": "numeric"}, function=fn, argument="trend")
    banded = {"part", "lower", "upper"} <= set(df.columns)
    if not banded:
        df = df.with_columns(part=pl.lit("actual"), lower=pl.lit(None, pl.Float64), upper=pl.lit(None, pl.Float64))
    df = df.with_columns(pl.col("group").cast(pl.String), pl.col("part").cast(pl.String))
    if interactive:
        alt = _alt()
        pick = alt.selection_point(fields=["group"], bind="legend")
        x = alt.X("utcyearmonthdate(period):T", axis=alt.Axis(format="%Y-%m"), title="period")
        tip = [alt.Tooltip("utcyearmonthdate(period):T", format="%Y-%m-%d"), "group:N", "part:N",
               alt.Tooltip("revenue:Q", format=",.0f"), alt.Tooltip("lower:Q", format=",.0f"),
               alt.Tooltip("upper:Q", format=",.0f")]
        base = alt.Chart(_rows(df.select("period", "group", "part", "revenue", "lower", "upper")))
        opacity = alt.condition(pick, alt.value(1.0), alt.value(0.15))
        layers = [
            base.transform_filter("datum.part == 'actual'").mark_line(point=True).encode(
                x=x, y="revenue:Q", color="group:N", opacity=opacity, tooltip=tip),
        ]
        if banded:
            fut = base.transform_filter("datum.part == 'forecast'")
            layers = [fut.mark_area(opacity=0.18).encode(x=x, y="lower:Q", y2="upper:Q", color="group:N", tooltip=tip),
                      *layers,
                      fut.mark_line(strokeDash=[6, 4]).encode(x=x, y="revenue:Q", color="group:N", opacity=opacity,
                                                               tooltip=tip)]
        chart = alt.layer(*layers) if banded else layers[0]
        return (
            chart.add_params(pick, alt.selection_interval(encodings=["x"], bind="scales"))
            .properties(title=title or ("Sales trend and forecast (shaded: interval)" if banded else "Sales trend"),
                        width=700, height=280)
        )
    ax = _axes(ax, fn, (9, 4))
    for (group,), part in df.sort("period").group_by("group", maintain_order=True):
        actual = part.filter(pl.col("part") == "actual")
        line = ax.plot(actual["period"].to_list(), actual["revenue"].to_numpy(), marker="o", markersize=3,
                       label=str(group))[0]
        ahead = part.filter(pl.col("part") == "forecast")
        if ahead.height:
            ax.plot(ahead["period"].to_list(), ahead["revenue"].to_numpy(), linestyle="--", color=line.get_color(),
                    label=f"{group} (forecast)")
            ax.fill_between(ahead["period"].to_list(), ahead["lower"].fill_null(np.nan).to_numpy(),
                            ahead["upper"].fill_null(np.nan).to_numpy(), color=line.get_color(), alpha=0.18, linewidth=0)
    ax.set_ylabel("revenue")
    ax.legend(fontsize=8)
    ax.set_title(title or ("Sales trend and forecast (shaded: interval)" if banded else "Sales trend"))
    return ax
