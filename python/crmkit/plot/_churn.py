"""Churn-model charts: gains, calibration, feature importance, reasons."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import polars as pl

from crmkit._validate import as_frame, require_columns
from crmkit.errors import CrmError
from crmkit.plot._base import _BAR, _alt, _axes, _interactive_twin, _rows


def gains(table: pl.DataFrame, ax: Any = None, *, title: Optional[str] = None) -> Any:
    """Cumulative gains from `crmkit.metrics.gains_table`: the share of all churners
    reached when contacting the top x% by score, against random contact (the diagonal).

    >>> import matplotlib; matplotlib.use("Agg")
    >>> from crmkit import metrics, plot
    >>> t = metrics.gains_table([1, 0, 1, 0, 0, 1, 0, 0, 0, 0], [.9, .8, .7, .6, .5, .4, .3, .2, .1, 0], n_bins=5)
    >>> [round(float(v), 3) for v in plot.gains(t).get_lines()[0].get_ydata()]
    [0.0, 0.333, 0.667, 1.0, 1.0, 1.0]
    """
    fn = "crmkit.plot.gains"
    df, x, y = _gains_points(table, fn)
    ax = _axes(ax, fn, (6, 4))
    ax.plot(x, y, marker="o", color=_BAR, label="model")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="random")
    ax.annotate(f"top group: lift {df['lift'][0]:.1f}x", (x[1], y[1]), textcoords="offset points", xytext=(8, -12),
                fontsize=8)
    ax.set_xlabel("share of customers contacted (highest score first)")
    ax.set_ylabel("share of churners reached")
    ax.legend(loc="lower right")
    ax.set_title(title or "Cumulative gains")
    return ax


def _gains_points(table: Any, fn: str) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    df = as_frame(table, argument="table")
    require_columns(df, {"cumulative_customers": "numeric", "cumulative_capture": "numeric", "lift": "numeric"},
                    function=fn, argument="table")
    total = df["cumulative_customers"].max()
    x = np.concatenate([[0.0], df["cumulative_customers"].to_numpy() / total])
    y = np.concatenate([[0.0], df["cumulative_capture"].to_numpy()])
    return df, x, y


def _calibration_table(table: Any, fn: str) -> pl.DataFrame:
    df = as_frame(table, argument="table")
    require_columns(df, {"mean_predicted": "numeric", "observed_rate": "numeric", "customers": "numeric"},
                    function=fn, argument="table")
    return df


def calibration(table: pl.DataFrame, ax: Any = None, *, title: Optional[str] = None) -> Any:
    """Reliability diagram from `crmkit.metrics.calibration_table`: observed churn rate
    against the mean predicted probability per bin (on the diagonal when calibrated),
    marker size by the bin's customers.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> from crmkit import metrics, plot
    >>> t = metrics.calibration_table([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], n_bins=2)
    >>> [float(v) for v in plot.calibration(t).get_lines()[0].get_ydata()]
    [0.0, 1.0]
    """
    fn = "crmkit.plot.calibration"
    df = _calibration_table(table, fn)
    ax = _axes(ax, fn, (5, 5))
    ax.plot(df["mean_predicted"].to_numpy(), df["observed_rate"].to_numpy(), marker="o", color=_BAR, label="model")
    w = df["customers"].to_numpy().astype(float)
    ax.scatter(df["mean_predicted"].to_numpy(), df["observed_rate"].to_numpy(), s=20 + 200 * w / max(w.max(), 1e-12),
               color=_BAR, alpha=0.4)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="perfect")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed rate")
    ax.legend(loc="upper left")
    ax.set_title(title or "Calibration")
    return ax


def feature_importance(importance: Any, ax: Any = None, *, names: Any = None, top: int = 20,
                       title: Optional[str] = None) -> Any:
    """Horizontal bars of the ``top`` largest feature importances: a frame with ``feature``
    and ``importance`` columns, or an array with ``names`` (e.g. a crmkit.ml model's
    ``feature_importances_`` and ``feature_names_in_``).

    >>> import matplotlib; matplotlib.use("Agg")
    >>> from crmkit import plot
    >>> ax = plot.feature_importance([0.1, 0.6, 0.3], names=["a", "b", "c"], top=2)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['b', 'c']
    """
    fn = "crmkit.plot.feature_importance"
    names_, values, order = _top_importances(importance, names, top, fn)
    ax = _axes(ax, fn, (7, 1 + 0.3 * len(order)))
    y = np.arange(len(order))
    ax.barh(y, values[order], color=_BAR)
    ax.set_yticks(y)
    ax.set_yticklabels([names_[i] for i in order])
    ax.invert_yaxis()
    ax.set_xlabel("importance")
    ax.set_title(title or "Feature importance")
    return ax


def _top_importances(importance: Any, names: Any, top: int, fn: str) -> tuple[list[Any], np.ndarray, np.ndarray]:
    if isinstance(importance, pl.DataFrame):
        require_columns(importance, {"feature": "any", "importance": "numeric"}, function=fn, argument="importance")
        names_, values = importance["feature"].cast(pl.String).to_list(), importance["importance"].to_numpy()
    else:
        values = np.asarray(importance, dtype=float).reshape(-1)
        names_ = list(names) if names is not None else [f"x{i}" for i in range(len(values))]
        if len(names_) != len(values):
            raise CrmError(f"{fn}: {len(names_)} names for {len(values)} importances")
    if len(values) == 0:
        raise CrmError(f"{fn}: no importances to plot")
    order = np.argsort(-values, kind="stable")[: max(1, int(top))]
    return names_, values, order


def reasons(scores: pl.DataFrame, ax: Any = None, *, top: int = 12, title: Optional[str] = None) -> Any:
    """How often each kind of reason appears in `ChurnModel.score`'s ``top_reasons``
    among the customers given (e.g. the high-risk band); a reason's kind is its wording
    with the numbers taken out ("no order for # days").

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import polars as pl
    >>> from crmkit import plot
    >>> s = pl.DataFrame({"top_reasons": ["no order for 94 days; 1 order(s) in total", "no order for 12 days"]})
    >>> [t.get_text() for t in plot.reasons(s).get_yticklabels()]
    ['no order for # days', '# order(s) in total']
    """
    fn = "crmkit.plot.reasons"
    kinds = _reason_kinds(scores, top, fn)
    ax = _axes(ax, fn, (7, 1 + 0.35 * kinds.height))
    y = np.arange(kinds.height)
    ax.barh(y, kinds["len"].to_numpy(), color=_BAR)
    ax.set_yticks(y)
    ax.set_yticklabels(kinds["kind"].to_list())
    ax.invert_yaxis()
    ax.set_xlabel("customers")
    ax.set_title(title or "Top churn reasons")
    return ax


def _reason_kinds(scores: Any, top: int, fn: str) -> pl.DataFrame:
    df = as_frame(scores, argument="scores")
    require_columns(df, {"top_reasons": "string"}, function=fn, argument="scores")
    kinds = (
        df.select(pl.col("top_reasons").cast(pl.String).str.split("; ").alias("r")).explode("r")
        .filter(pl.col("r").is_not_null() & (pl.col("r") != ""))
        .select(pl.col("r").str.replace_all(r"[-+]?\d[\d.,]*", "#").alias("kind"))
        .group_by("kind").len().sort(["len", "kind"], descending=[True, False]).head(max(1, int(top)))
    )
    if kinds.height == 0:
        raise CrmError(f"{fn}: no reasons to count (every top_reasons is empty)")
    return kinds


# --- interactive twins (Altair, the dashboard's charts) -------------------------------


def _i_bars(names: list[Any], values: Any, title: str, xtitle: str) -> Any:
    alt = _alt()
    df = pl.DataFrame({"name": [str(n) for n in names], "value": np.asarray(values, dtype=float)})
    return alt.Chart(_rows(df)).mark_bar(color=_BAR).encode(
        x=alt.X("value:Q", title=xtitle),
        y=alt.Y("name:N", sort=None, title=None),
        tooltip=["name:N", alt.Tooltip("value:Q", format=",.4g")],
    ).properties(title=title, width=420, height=max(80, 22 * len(names)))


def _i_gains(table: pl.DataFrame, ax: Any = None, *, title: Optional[str] = None) -> Any:
    alt = _alt()
    _, x, y = _gains_points(table, "crmkit.plot.gains")
    df = pl.concat([pl.DataFrame({"contacted": x, "reached": y, "line": "model"}),
                    pl.DataFrame({"contacted": [0.0, 1.0], "reached": [0.0, 1.0], "line": "random"})])
    return alt.Chart(_rows(df)).mark_line(point=True).encode(
        x=alt.X("contacted:Q", title="share of customers contacted (highest score first)", axis=alt.Axis(format="%")),
        y=alt.Y("reached:Q", title="share of churners reached", axis=alt.Axis(format="%")),
        color=alt.Color("line:N", title=None, scale=alt.Scale(range=[_BAR, "grey"])),
        tooltip=["line:N", alt.Tooltip("contacted:Q", format=".1%"), alt.Tooltip("reached:Q", format=".1%")],
    ).properties(title=title or "Cumulative gains", width=420, height=300)


def _i_calibration(table: pl.DataFrame, ax: Any = None, *, title: Optional[str] = None) -> Any:
    alt = _alt()
    df = _calibration_table(table, "crmkit.plot.calibration").select(
        pl.col("mean_predicted").cast(pl.Float64), pl.col("observed_rate").cast(pl.Float64),
        pl.col("customers").cast(pl.Float64))
    diagonal = alt.Chart(_rows(pl.DataFrame({"p": [0.0, 1.0]}))).mark_line(color="grey", strokeDash=[3, 3]).encode(
        x="p:Q", y="p:Q")
    points = alt.Chart(_rows(df)).mark_line(point=True, color=_BAR).encode(
        x=alt.X("mean_predicted:Q", title="predicted probability", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("observed_rate:Q", title="observed rate", scale=alt.Scale(domain=[0, 1])),
        tooltip=[alt.Tooltip("mean_predicted:Q", format=".3f"), alt.Tooltip("observed_rate:Q", format=".3f"),
                 alt.Tooltip("customers:Q", format=",.0f")],
    )
    return (diagonal + points).properties(title=title or "Calibration", width=320, height=320)


def _i_feature_importance(importance: Any, ax: Any = None, *, names: Any = None, top: int = 20,
                          title: Optional[str] = None) -> Any:
    names_, values, order = _top_importances(importance, names, top, "crmkit.plot.feature_importance")
    return _i_bars([names_[i] for i in order], values[order], title or "Feature importance", "importance")


def _i_reasons(scores: pl.DataFrame, ax: Any = None, *, top: int = 12, title: Optional[str] = None) -> Any:
    kinds = _reason_kinds(scores, top, "crmkit.plot.reasons")
    return _i_bars(kinds["kind"].to_list(), kinds["len"].to_numpy(), title or "Top churn reasons", "customers")


gains = _interactive_twin(gains, _i_gains)
calibration = _interactive_twin(calibration, _i_calibration)
feature_importance = _interactive_twin(feature_importance, _i_feature_importance)
reasons = _interactive_twin(reasons, _i_reasons)
