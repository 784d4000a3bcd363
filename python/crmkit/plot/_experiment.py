"""Experiment and campaign charts (crmkit.experiment's tables)."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import polars as pl

from crmkit._validate import as_frame, require_columns
from crmkit.errors import CrmError
from crmkit.plot._base import _BAR, _BOTTLENECK, _alt, _axes, _interactive_twin, _rows


def _forest(ax: Any, labels: list[str], est: np.ndarray, lo: np.ndarray, hi: np.ndarray, colours: list[str]) -> None:
    y = np.arange(len(labels))
    for i in range(len(labels)):
        if np.isfinite(lo[i]) and np.isfinite(hi[i]):
            ax.plot([lo[i], hi[i]], [y[i], y[i]], color=colours[i], linewidth=2)
        if np.isfinite(est[i]):
            ax.plot(est[i], y[i], "o", color=colours[i])
    ax.axvline(0.0, color="grey", linestyle=":", linewidth=1)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()


def experiment(results: pl.DataFrame, ax: Any = None, *, value: str = "lift", title: Optional[str] = None) -> Any:
    """Forest plot of `crmkit.experiment.ab_test` / `bayes` / `sequential` results: the
    relative lift (``value="lift"``) or absolute difference (``"diff"``) with its interval
    per variant × metric (× segment), significant rows highlighted; rows whose value is
    undefined (null, see the ``reason`` column) are labelled as such.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import polars as pl
    >>> from crmkit import experiment as ex, plot
    >>> agg = pl.DataFrame({"variant": ["control", "b"], "n": [1000, 1000], "sum": [100, 120]})
    >>> [t.get_text() for t in plot.experiment(ex.ab_test(agg)).get_yticklabels()]
    ['b · converted']
    """
    fn = "crmkit.plot.experiment"
    labels, est, lo, hi, colours = _experiment_rows(results, value, fn)
    ax = _axes(ax, fn, (7, 1.2 + 0.35 * len(labels)))
    _forest(ax, labels, est, lo, hi, colours)
    if value == "lift":
        from matplotlib.ticker import PercentFormatter

        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("relative lift vs control" if value == "lift" else "difference vs control")
    ax.set_title(title or "Treatment effects (red: significant)")
    return ax


def _experiment_rows(results: Any, value: str, fn: str) -> tuple[Any, ...]:
    df = as_frame(results, argument="results")
    if value not in ("lift", "diff"):
        raise CrmError(f"{fn}: argument 'value' must be 'lift' or 'diff', found {value!r}")
    require_columns(df, {"metric": "any", value: "numeric", f"{value}_lower": "numeric", f"{value}_upper": "numeric"},
                    function=fn, argument="results")
    if df.height == 0:
        raise CrmError(f"{fn}: 'results' has no rows")
    known = {"metric", "kind", "n", "control_n", "mean", "control_mean", "diff", "diff_lower", "diff_upper", "lift",
             "lift_lower", "lift_upper", "p_value", "lift_p_value", "p_adjusted", "significant", "test", "statistic",
             "df", "theta", "variance_reduction", "heterogeneity_q", "heterogeneity_p", "heterogeneity_i2", "reason",
             "chance_to_win", "expected_loss", "risk_control"}
    keys = [c for c in df.columns if c not in known]
    labels = [" · ".join(str(r[k]) for k in [*keys, "metric"]) + ("" if r[value] is not None else "  (undefined)")
              for r in df.iter_rows(named=True)]
    sig = df["significant"].fill_null(False).to_list() if "significant" in df.columns else [False] * df.height
    colours = [_BOTTLENECK if s else _BAR for s in sig]
    def get(c: str) -> np.ndarray:
        values: np.ndarray = df[c].cast(pl.Float64).fill_null(np.nan).to_numpy()
        return values

    return labels, get(value), get(f"{value}_lower"), get(f"{value}_upper"), colours


def uplift(campaign_result: pl.DataFrame, ax: Any = None, *, value: str = "incremental_response",
           title: Optional[str] = None) -> Any:
    """Incremental effect per campaign (and segment) with its interval from
    `crmkit.experiment.campaign` — which campaigns and which segments responded to being
    contacted. ``value``: ``"incremental_response"`` (default),
    ``"incremental_revenue_per_customer"`` or ``"incremental_orders_per_customer"``.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import crmkit
    >>> from crmkit import plot
    >>> w = crmkit.datasets.generate(n_customers=1_000, seed=1, campaigns=2)
    >>> len(plot.uplift(crmkit.experiment.campaign(w.campaigns, w.orders)).get_yticklabels())
    2
    """
    fn = "crmkit.plot.uplift"
    labels, est, lo, hi, colours = _uplift_rows(campaign_result, value, fn)
    ax = _axes(ax, fn, (7, 1.2 + 0.35 * len(labels)))
    _forest(ax, labels, est, lo, hi, colours)
    if value == "incremental_response":
        from matplotlib.ticker import PercentFormatter

        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(value.replace("_", " ") + " over the holdout (green: positive)")
    ax.set_title(title or "Campaign uplift")
    return ax


def _uplift_rows(campaign_result: Any, value: str, fn: str) -> tuple[Any, ...]:
    df = as_frame(campaign_result, argument="campaign_result")
    allowed = ("incremental_response", "incremental_revenue_per_customer", "incremental_orders_per_customer")
    if value not in allowed:
        raise CrmError(f"{fn}: argument 'value' must be one of {list(allowed)}, found {value!r}")
    require_columns(df, {value: "numeric", f"{value}_lower": "numeric", f"{value}_upper": "numeric"},
                    function=fn, argument="campaign_result")
    df = df.filter(pl.col(value).is_not_null() | pl.col("reason").is_not_null()) if "reason" in df.columns \
        else df.filter(pl.col(value).is_not_null())
    if df.height == 0:
        raise CrmError(f"{fn}: no treatment rows with an increment to plot")
    stop = df.columns.index("sent_at") if "sent_at" in df.columns else 2
    keys = [c for c in df.columns[:stop] if c != "group"]
    many_groups = "group" in df.columns and df["group"].n_unique() > 1
    labels = [" · ".join(str(r[k]) for k in keys) + (f" · {r['group']}" if many_groups else "")
              for r in df.iter_rows(named=True)]
    def get(c: str) -> np.ndarray:
        values: np.ndarray = df[c].cast(pl.Float64).fill_null(np.nan).to_numpy()
        return values

    lo, hi = get(f"{value}_lower"), get(f"{value}_upper")
    colours = ["#55A868" if lo[i] > 0 else (_BOTTLENECK if hi[i] < 0 else _BAR) for i in range(df.height)]
    return labels, get(value), lo, hi, colours


def _i_forest(labels: list[Any], est: Any, lo: Any, hi: Any, colours: list[Any], title: str, xtitle: str, percent: bool) -> Any:
    alt = _alt()
    def nan(v: float) -> Optional[float]:
        return None if not np.isfinite(v) else float(v)

    df = pl.DataFrame({"row": labels, "estimate": [nan(v) for v in est], "lower": [nan(v) for v in lo],
                       "upper": [nan(v) for v in hi], "colour": colours},
                      schema={"row": pl.String, "estimate": pl.Float64, "lower": pl.Float64, "upper": pl.Float64,
                              "colour": pl.String})
    fmt = ".1%" if percent else ",.4g"
    base = alt.Chart(_rows(df)).encode(y=alt.Y("row:N", sort=None, title=None))
    tips = ["row:N", alt.Tooltip("estimate:Q", format=fmt), alt.Tooltip("lower:Q", format=fmt),
            alt.Tooltip("upper:Q", format=fmt)]
    axis = alt.Axis(format="%") if percent else alt.Axis()
    bars = base.mark_rule(strokeWidth=2).encode(x=alt.X("lower:Q", title=xtitle, axis=axis), x2="upper:Q",
                                                color=alt.Color("colour:N", scale=None), tooltip=tips)
    dots = base.mark_point(filled=True, size=60).encode(x="estimate:Q", color=alt.Color("colour:N", scale=None),
                                                        tooltip=tips)
    zero = alt.Chart(_rows(pl.DataFrame({"x": [0.0]}))).mark_rule(color="grey", strokeDash=[3, 3]).encode(x="x:Q")
    return (bars + dots + zero).properties(title=title, width=420, height=max(60, 24 * len(labels)))


def _i_experiment(results: pl.DataFrame, ax: Any = None, *, value: str = "lift", title: Optional[str] = None) -> Any:
    labels, est, lo, hi, colours = _experiment_rows(results, value, "crmkit.plot.experiment")
    return _i_forest(labels, est, lo, hi, colours, title or "Treatment effects (red: significant)",
                     "relative lift vs control" if value == "lift" else "difference vs control", value == "lift")


def _i_uplift(campaign_result: pl.DataFrame, ax: Any = None, *, value: str = "incremental_response",
              title: Optional[str] = None) -> Any:
    labels, est, lo, hi, colours = _uplift_rows(campaign_result, value, "crmkit.plot.uplift")
    return _i_forest(labels, est, lo, hi, colours, title or "Campaign uplift",
                     value.replace("_", " ") + " over the holdout (green: positive)", value == "incremental_response")


experiment = _interactive_twin(experiment, _i_experiment)
uplift = _interactive_twin(uplift, _i_uplift)
