"""Segment, RFM, clustering and concentration charts."""

from __future__ import annotations

from typing import Any, Optional, cast

import numpy as np
import polars as pl

from crmkit._validate import as_frame, require_columns
from crmkit.errors import CrmError
from crmkit.plot._base import _BAR, _BOTTLENECK, _alt, _axes, _interactive_twin, _rows
from crmkit.plot._clv import _i_lines


def segments(summary: pl.DataFrame, ax: Any = None, *, segment: str = "segment",
             title: Optional[str] = None) -> Any:
    """Share of customers next to share of revenue per segment, from `crmkit.rfm_summary`
    (or any table with a segment column, ``customers`` and ``revenue``).

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import polars as pl
    >>> from crmkit import plot
    >>> s = pl.DataFrame({"segment": ["Champions", "Lost"], "customers": [20, 80], "revenue": [900.0, 100.0]})
    >>> [round(float(p.get_width()), 2) for p in plot.segments(s).patches]
    [0.2, 0.8, 0.9, 0.1]
    """
    fn = "crmkit.plot.segments"
    df = as_frame(summary, argument="summary")
    require_columns(df, {segment: "any", "customers": "numeric", "revenue": "numeric"}, function=fn,
                    argument="summary")
    customers = df["customers"].cast(pl.Float64)
    revenue = df["revenue"].cast(pl.Float64)
    if customers.sum() <= 0:
        raise CrmError(f"{fn}: argument 'summary': column 'customers' sums to {customers.sum()}; expected customers")
    names = [str(v) for v in df[segment].to_list()]
    y = np.arange(len(names), dtype=float)
    ax = _axes(ax, fn, (7, 1 + 0.45 * len(names)))
    ax.barh(y - 0.2, (customers / customers.sum()).to_numpy(), height=0.38, color=_BAR, label="customers")
    total = revenue.sum()
    share = (revenue / total).to_numpy() if total else np.zeros(len(names))
    ax.barh(y + 0.2, share, height=0.38, color="#DD8452", label="revenue")
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel("share")
    ax.legend()
    ax.set_title(title or "Segments: customers vs revenue")
    return ax


def rfm_grid(rfm_table: pl.DataFrame, ax: Any = None, *, title: Optional[str] = None) -> Any:
    """Customers per (recency score, frequency score) cell, from `crmkit.rfm`: the classic
    RFM map, annotated with each cell's count and mean monetary value.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import polars as pl
    >>> from crmkit import plot
    >>> t = pl.DataFrame({"r_score": [1, 1, 2], "f_score": [1, 2, 2], "monetary": [10.0, 20.0, 30.0]})
    >>> plot.rfm_grid(t).images[0].get_array().tolist()
    [[1.0, 0.0], [1.0, 1.0]]
    """
    fn = "crmkit.plot.rfm_grid"
    df = as_frame(rfm_table, argument="rfm")
    require_columns(df, {"r_score": "integer", "f_score": "integer", "monetary": "numeric"}, function=fn,
                    argument="rfm")
    scored = df.drop_nulls(["r_score", "f_score"])
    if scored.height == 0:
        raise CrmError(f"{fn}: argument 'rfm': no customer has both an r_score and an f_score")
    bins = int(max(cast(int, scored["r_score"].max()), cast(int, scored["f_score"].max())))  # integer score columns
    cells = scored.group_by("f_score", "r_score").agg(pl.len().alias("n"), pl.col("monetary").mean().alias("m"))
    counts = np.zeros((bins, bins))
    money = np.full((bins, bins), np.nan)
    for f, r, n, m in cells.iter_rows():
        counts[f - 1, r - 1], money[f - 1, r - 1] = n, m
    ax = _axes(ax, fn, (6, 5))
    image = ax.imshow(counts, origin="lower", cmap="Greens", aspect="auto")
    for (i, j), n in np.ndenumerate(counts):
        if n:
            ax.text(j, i, f"{int(n):,}\n{money[i, j]:,.0f}", ha="center", va="center", fontsize=7)
    ticks = np.arange(bins)
    ax.set_xticks(ticks, [str(t + 1) for t in ticks])
    ax.set_yticks(ticks, [str(t + 1) for t in ticks])
    ax.set_xlabel("r_score (recent = high)")
    ax.set_ylabel("f_score")
    ax.figure.colorbar(image, ax=ax, label="customers")
    ax.set_title(title or "RFM map: customers (and mean monetary) per cell")
    return ax


def choose_k(scores: Any, ax: Any = None, *, chosen: Optional[int] = None, title: Optional[str] = None) -> Any:
    """Inertia (left axis) and silhouette (right axis) against k, from `crmkit.choose_k`
    (its result or its ``scores`` table); the chosen k is marked.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import polars as pl
    >>> from crmkit import plot
    >>> t = pl.DataFrame({"k": [2, 3, 4], "inertia": [90.0, 40.0, 35.0], "silhouette": [0.5, 0.7, 0.6]})
    >>> [line.get_label() for line in plot.choose_k(t, chosen=3).get_lines()]
    ['inertia', 'k = 3']
    """
    fn = "crmkit.plot.choose_k"
    if hasattr(scores, "scores") and hasattr(scores, "k"):
        chosen = scores.k if chosen is None else chosen
        scores = scores.scores
    df = as_frame(scores, argument="scores")
    require_columns(df, {"k": "integer", "inertia": "numeric"}, function=fn, argument="scores")
    ax = _axes(ax, fn, (7, 4))
    k = df["k"].to_numpy()
    ax.plot(k, df["inertia"].to_numpy(), marker="o", color=_BAR, label="inertia")
    ax.set_xlabel("k (clusters)")
    ax.set_ylabel("inertia", color=_BAR)
    if "silhouette" in df.columns and df["silhouette"].null_count() < df.height:
        twin = ax.twinx()
        twin.plot(k, df["silhouette"].cast(pl.Float64).to_numpy(), marker="s", color="#DD8452", label="silhouette")
        twin.set_ylabel("silhouette", color="#DD8452")
    if chosen is not None:
        ax.axvline(chosen, color=_BOTTLENECK, linestyle=":", label=f"k = {chosen}")
    ax.set_title(title or "Choosing k")
    return ax


def value_concentration(values: Any, ax: Any = None, *, label: str = "value", title: Optional[str] = None) -> Any:
    """Share of total value held by the top x% of customers (a Lorenz-style curve, read
    as "the top 20% of customers hold 70% of the value"); ``values`` is a Series or
    array of per-customer value (revenue, CLV). Nulls and NaN are left out; negative
    values are rejected.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> from crmkit import plot
    >>> line = plot.value_concentration([1.0, 1.0, 8.0]).get_lines()[0]
    >>> [round(float(v), 2) for v in line.get_ydata()]
    [0.0, 0.8, 0.9, 1.0]
    """
    fn = "crmkit.plot.value_concentration"
    v = pl.Series("value", values) if not isinstance(values, pl.Series) else values
    if not v.dtype.is_numeric():
        raise CrmError(f"{fn}: expected numeric per-customer values, found dtype {v.dtype}")
    v = v.cast(pl.Float64).drop_nulls().drop_nans()
    if v.len() == 0:
        raise CrmError(f"{fn}: no values to plot (empty, or all null/NaN)")
    if (v < 0).any():
        raise CrmError(f"{fn}: found {(v < 0).sum()} negative values; expected values >= 0")
    total = v.sum()
    if total <= 0:
        raise CrmError(f"{fn}: the values sum to 0; nothing to concentrate")
    ordered = np.sort(v.to_numpy())[::-1]
    share = np.concatenate([[0.0], np.cumsum(ordered) / total])
    customers = np.linspace(0.0, 1.0, len(share))
    ax = _axes(ax, fn, (6, 4))
    ax.plot(customers, share, color=_BAR, label=label)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    top = int(np.ceil(0.2 * len(ordered)))
    ax.annotate(f"top 20%: {share[top]:.0%} of {label}", (customers[top], share[top]), textcoords="offset points",
                xytext=(10, -15), fontsize=8)
    ax.set_xlabel("share of customers (highest first)")
    ax.set_ylabel(f"share of {label}")
    ax.set_title(title or f"Concentration of {label}")
    return ax


def _i_segments(summary: pl.DataFrame, ax: Any = None, *, segment: str = "segment", title: Optional[str] = None) -> Any:
    alt = _alt()
    df = as_frame(summary, argument="summary")
    require_columns(df, {segment: "any", "customers": "numeric", "revenue": "numeric"}, function="crmkit.plot.segments",
                    argument="summary")
    long = df.select(pl.col(segment).cast(pl.String).alias("segment"),
                     (pl.col("customers") / pl.col("customers").sum()).alias("customers"),
                     (pl.col("revenue") / pl.col("revenue").sum()).alias("revenue")).unpivot(
        index="segment", variable_name="measure", value_name="share")
    return (
        alt.Chart(_rows(long)).mark_bar()
        .encode(y=alt.Y("segment:N", sort=None), x=alt.X("share:Q", axis=alt.Axis(format="%")), yOffset="measure:N",
                color="measure:N", tooltip=["segment:N", "measure:N", alt.Tooltip("share:Q", format=".1%")])
        .properties(title=title or "Segments: customers vs revenue", width=420)
    )


def _i_rfm_grid(rfm_table: pl.DataFrame, ax: Any = None, *, title: Optional[str] = None) -> Any:
    alt = _alt()
    df = as_frame(rfm_table, argument="rfm")
    require_columns(df, {"r_score": "integer", "f_score": "integer", "monetary": "numeric"},
                    function="crmkit.plot.rfm_grid", argument="rfm")
    cells = df.drop_nulls(["r_score", "f_score"]).group_by("r_score", "f_score").agg(
        customers=pl.len(), monetary=pl.col("monetary").mean())
    base = alt.Chart(_rows(cells)).encode(x="r_score:O", y=alt.Y("f_score:O", sort="descending"))
    return (
        base.mark_rect().encode(color=alt.Color("customers:Q", scale=alt.Scale(scheme="greens")),
                                tooltip=["r_score:O", "f_score:O", "customers:Q", alt.Tooltip("monetary:Q", format=",.0f")])
        + base.mark_text(fontSize=10).encode(text="customers:Q")
    ).properties(title=title or "RFM map: customers per cell", width=320, height=320)


def _i_choose_k(scores: Any, ax: Any = None, *, chosen: Optional[int] = None, title: Optional[str] = None) -> Any:
    if hasattr(scores, "scores") and hasattr(scores, "k"):
        scores = scores.scores
    df = as_frame(scores, argument="scores")
    require_columns(df, {"k": "integer", "inertia": "numeric"}, function="crmkit.plot.choose_k", argument="scores")
    ys = {"inertia": "inertia"}
    if "silhouette" in df.columns:
        ys["silhouette"] = "silhouette"
    return _i_lines(df, "k", ys, title or "Choosing k", "k (clusters)", "score").resolve_scale(y="independent")


def _i_value_concentration(values: Any, ax: Any = None, *, label: str = "value", title: Optional[str] = None) -> Any:
    alt = _alt()
    v = pl.Series("value", values) if not isinstance(values, pl.Series) else values
    v = v.cast(pl.Float64).drop_nulls().drop_nans()
    if v.len() == 0 or (v < 0).any() or v.sum() <= 0:
        raise CrmError("crmkit.plot.value_concentration: expected non-negative values with a positive sum")
    ordered = np.sort(v.to_numpy())[::-1]
    share = np.concatenate([[0.0], np.cumsum(ordered) / ordered.sum()])
    step = max(1, len(share) // 400)  # at most ~400 points in the file
    idx = np.unique(np.r_[np.arange(0, len(share), step), len(share) - 1])
    df = pl.DataFrame({"customers": idx / (len(share) - 1), "share": share[idx]})
    return (
        alt.Chart(_rows(df)).mark_line()
        .encode(x=alt.X("customers:Q", axis=alt.Axis(format="%"), title="share of customers (highest first)"),
                y=alt.Y("share:Q", axis=alt.Axis(format="%"), title=f"share of {label}"),
                tooltip=[alt.Tooltip("customers:Q", format=".1%"), alt.Tooltip("share:Q", format=".1%")])
        .properties(title=title or f"Concentration of {label}", width=420, height=280)
    )


segments = _interactive_twin(segments, _i_segments)
rfm_grid = _interactive_twin(rfm_grid, _i_rfm_grid)
choose_k = _interactive_twin(choose_k, _i_choose_k)
value_concentration = _interactive_twin(value_concentration, _i_value_concentration)
