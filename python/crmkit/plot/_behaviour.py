"""Funnel and cohort charts (crmkit.behaviour's tables)."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import polars as pl

from crmkit._validate import as_frame, require_columns
from crmkit.errors import CrmError
from crmkit.plot._base import _BAR, _BOTTLENECK, _alt, _axes, _interactive_twin, _rows


def funnel(table: pl.DataFrame, ax: Any = None, *, title: Optional[str] = None) -> Any:
    """Horizontal funnel bars from `crmkit.funnel`'s table: users per step, labelled with
    overall and step conversion; the bottleneck step is drawn in red.

    With ``by`` groups in the table, each step gets one bar per group.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import polars as pl
    >>> from crmkit import plot
    >>> t = pl.DataFrame({"step": ["view", "cart"], "users": [100, 30], "conversion": [1.0, 0.3],
    ...                   "step_conversion": [1.0, 0.3], "is_bottleneck": [False, True]})
    >>> [round(p.get_width()) for p in plot.funnel(t).patches]
    [100, 30]
    """
    fn = "crmkit.plot.funnel"
    df = as_frame(table, argument="table")
    require_columns(df, {"step": "any", "users": "numeric", "conversion": "numeric",
                         "step_conversion": "numeric", "is_bottleneck": "boolean"}, function=fn, argument="table")
    known = {"step_number", "step", "users", "conversion", "step_conversion", "drop_off", "drop_off_rate",
             "median_time_to_step", "mean_time_to_step", "is_bottleneck"}
    by = [c for c in df.columns if c not in known]
    steps = df["step"].unique(maintain_order=True).cast(pl.String).to_list()
    groups = df.select(by).unique(maintain_order=True).rows() if by else [()]
    ax = _axes(ax, fn, (7, 1 + 0.6 * len(steps) * max(1, len(groups) ** 0.5)))
    height = 0.8 / len(groups)
    y = np.arange(len(steps), dtype=float)
    for g, key in enumerate(groups):
        part = df.filter(*[pl.col(c) == v for c, v in zip(by, key)]) if by else df
        part = part.with_columns(pl.col("step").cast(pl.String))
        rows = {r["step"]: r for r in part.iter_rows(named=True)}
        offset = (g - (len(groups) - 1) / 2) * height
        for i, step in enumerate(steps):
            r = rows.get(step)
            if r is None:
                continue
            colour = _BOTTLENECK if r["is_bottleneck"] else _BAR
            alpha = 1.0 if len(groups) == 1 else 0.45 + 0.55 * (g + 1) / len(groups)
            ax.barh(y[i] + offset, r["users"], height=height * 0.95, color=colour, alpha=alpha,
                    label=", ".join(map(str, key)) if (by and i == 0) else None)
            ax.text(r["users"], y[i] + offset, f"  {r['users']:,}  ({r['conversion']:.1%}; step {r['step_conversion']:.1%})",
                    va="center", fontsize=8)
    ax.set_yticks(y, steps)
    ax.invert_yaxis()
    ax.set_xlabel("users")
    ax.margins(x=0.35)
    if by:
        ax.legend(title=", ".join(by), fontsize=8)
    ax.set_title(title or "Funnel (red: bottleneck)")
    return ax


def cohort_heatmap(matrix: pl.DataFrame, ax: Any = None, *, max_periods: Optional[int] = None,
                   annotate: Optional[bool] = None, title: Optional[str] = None) -> Any:
    """Retention heatmap from `crmkit.cohort_matrix`: one row per cohort, one column per
    period since acquisition, colour = share of the cohort active.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import polars as pl
    >>> from crmkit import plot
    >>> m = pl.DataFrame({"cohort": ["2024-01", "2024-02"], "cohort_size": [10, 8],
    ...                   "0": [1.0, 1.0], "1": [0.5, None]})
    >>> plot.cohort_heatmap(m).images[0].get_array().shape
    (2, 2)
    """
    fn = "crmkit.plot.cohort_heatmap"
    df = as_frame(matrix, argument="matrix")
    require_columns(df, {"cohort": "any"}, function=fn, argument="matrix")
    periods = [c for c in df.columns if c.lstrip("-").isdigit()]
    if not periods:
        raise CrmError(f"{fn}: argument 'matrix': expected period columns named 0, 1, 2, ... "
                       f"(crmkit.cohort_matrix's output), found {df.columns}")
    periods = sorted(periods, key=int)[: max_periods or None]
    values = df.select(pl.col(periods).cast(pl.Float64)).to_numpy()
    ax = _axes(ax, fn, (min(2 + 0.45 * len(periods), 16), min(1.5 + 0.3 * df.height, 12)))
    image = ax.imshow(np.ma.masked_invalid(values), aspect="auto", cmap="Blues", vmin=0.0, vmax=1.0)
    labels = [str(c) for c in df["cohort"].to_list()]
    if "cohort_size" in df.columns:
        labels = [f"{c}  (n={n:,})" for c, n in zip(labels, df["cohort_size"].to_list())]
    ax.set_yticks(np.arange(df.height), labels, fontsize=7)
    ax.set_xticks(np.arange(len(periods)), periods, fontsize=7)
    ax.set_xlabel("periods since first purchase")
    if annotate if annotate is not None else values.size <= 400:
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=6,
                        color="white" if v > 0.6 else "black")
    ax.figure.colorbar(image, ax=ax, label="retention")
    ax.set_title(title or "Cohort retention")
    return ax


def _i_funnel(table: pl.DataFrame, ax: Any = None, *, title: Optional[str] = None) -> Any:
    alt = _alt()
    df = as_frame(table, argument="table")
    require_columns(df, {"step": "any", "users": "numeric"}, function="crmkit.plot.funnel", argument="table")
    df = df.with_columns(pl.col("step").cast(pl.String)).with_row_index("order")
    if "is_bottleneck" not in df.columns:
        df = df.with_columns(is_bottleneck=pl.lit(False))
    tips = [c for c in ("step", "users", "conversion", "step_conversion", "drop_off_rate") if c in df.columns]
    return (
        alt.Chart(_rows(df)).mark_bar()
        .encode(x=alt.X("step:N", sort=alt.SortField("order")), y="users:Q",
                color=alt.condition("datum.is_bottleneck", alt.value(_BOTTLENECK), alt.value(_BAR)),
                tooltip=[alt.Tooltip(f"{c}:{'N' if c == 'step' else 'Q'}") for c in tips])
        .properties(title=title or "Funnel (red: bottleneck)", width=480, height=260)
    )


def _i_cohort_heatmap(matrix: pl.DataFrame, ax: Any = None, *, max_periods: Optional[int] = None,
                      annotate: Optional[bool] = None, title: Optional[str] = None) -> Any:
    alt = _alt()
    df = as_frame(matrix, argument="matrix")
    periods = sorted((c for c in df.columns if c.lstrip("-").isdigit()), key=int)[: max_periods or None]
    if not periods:
        raise CrmError(f"crmkit.plot.cohort_heatmap: expected period columns named 0, 1, 2, ..., found {df.columns}")
    long = (df.select(pl.col("cohort").cast(pl.String), *[pl.col(p).cast(pl.Float64) for p in periods])
            .unpivot(index="cohort", variable_name="period", value_name="retention")
            .with_columns(pl.col("period").cast(pl.Int32)).drop_nulls("retention"))
    return (
        alt.Chart(_rows(long)).mark_rect()
        .encode(x="period:O", y="cohort:O", color=alt.Color("retention:Q", scale=alt.Scale(scheme="blues")),
                tooltip=["cohort:O", "period:O", alt.Tooltip("retention:Q", format=".1%")])
        .properties(title=title or "Cohort retention", width=min(40 * len(periods), 900))
    )


funnel = _interactive_twin(funnel, _i_funnel)
cohort_heatmap = _interactive_twin(cohort_heatmap, _i_cohort_heatmap)
