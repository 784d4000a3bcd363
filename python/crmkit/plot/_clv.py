"""Lifetime-value charts (crmkit.clv's models and tables)."""

from __future__ import annotations

from typing import Any, Optional, cast

import numpy as np
import polars as pl

from crmkit._validate import as_frame, require_columns
from crmkit.errors import CrmError
from crmkit.plot._base import _BAR, _alt, _axes, _interactive_twin, _rows


def calibration_holdout(table: pl.DataFrame, ax: Any = None, *, title: Optional[str] = None) -> Any:
    """Actual vs predicted holdout purchases by calibration frequency, from
    `crmkit.clv.calibration_holdout` (lifetimes' calibration/holdout plot).

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import polars as pl
    >>> from crmkit import plot
    >>> t = pl.DataFrame({"frequency": [0, 1, 2], "n_customers": [50, 20, 5],
    ...                   "actual_holdout": [0.2, 0.9, 1.8], "predicted_holdout": [0.25, 0.8, 1.7]})
    >>> [line.get_label() for line in plot.calibration_holdout(t).get_lines()]
    ['actual', 'model']
    """
    fn = "crmkit.plot.calibration_holdout"
    df = as_frame(table, argument="table")
    require_columns(df, {"frequency": "numeric", "actual_holdout": "numeric", "predicted_holdout": "numeric"},
                    function=fn, argument="table")
    ax = _axes(ax, fn, (7, 4))
    x = df["frequency"].to_numpy()
    ax.plot(x, df["actual_holdout"].to_numpy(), marker="o", label="actual")
    ax.plot(x, df["predicted_holdout"].to_numpy(), marker="s", linestyle="--", label="model")
    ax.set_xlabel("purchases in the calibration period (last group includes more)")
    ax.set_ylabel("mean purchases in the holdout period")
    ax.legend()
    ax.set_title(title or "Calibration vs holdout")
    return ax


def period_transactions(table: pl.DataFrame, ax: Any = None, *, title: Optional[str] = None) -> Any:
    """Customers by number of repeat purchases, observed and expected by the model,
    from `crmkit.clv.period_transactions` (lifetimes' plot_period_transactions).

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import polars as pl
    >>> from crmkit import plot
    >>> t = pl.DataFrame({"frequency": [0, 1, 2], "label": ["0", "1", "2+"], "actual": [50, 20, 5],
    ...                   "model": [48.0, 22.5, 4.5]})
    >>> [float(b.get_height()) for b in plot.period_transactions(t).patches]
    [50.0, 20.0, 5.0, 48.0, 22.5, 4.5]
    """
    fn = "crmkit.plot.period_transactions"
    df = as_frame(table, argument="table")
    require_columns(df, {"label": "string", "actual": "numeric", "model": "numeric"}, function=fn, argument="table")
    ax = _axes(ax, fn, (7, 4))
    x = np.arange(df.height)
    ax.bar(x - 0.2, df["actual"].to_numpy(), width=0.4, color=_BAR, label="actual")
    ax.bar(x + 0.2, df["model"].to_numpy(), width=0.4, color="#DD8452", label="model")
    ax.set_xticks(x, df["label"].to_list())
    ax.set_xlabel("repeat purchases")
    ax.set_ylabel("customers")
    ax.legend()
    ax.set_title(title or "Repeat purchases: actual vs model")
    return ax


def _history_grid(summary: Any, max_frequency: Optional[int], max_recency: Optional[float], T: Optional[float],
                  function: str) -> tuple[np.ndarray, np.ndarray, float]:
    if summary is not None:
        df = as_frame(summary, argument="summary")
        require_columns(df, {"frequency": "numeric", "T": "numeric"}, function=function, argument="summary")
        if df.height == 0:
            raise CrmError(f"{function}: argument 'summary' is empty; expected at least one customer")
        if max_frequency is None:
            max_frequency = int(cast(float, df["frequency"].max()))  # a numeric column
        if max_recency is None:
            max_recency = float(cast(float, df["T"].max()))
    if max_frequency is None or max_recency is None:
        raise CrmError(f"{function}: give the customers' summary (clv.summary) or both max_frequency and max_recency")
    if max_frequency < 0 or not max_recency > 0:
        raise CrmError(f"{function}: max_frequency must be >= 0 and max_recency > 0, "
                       f"found {max_frequency} and {max_recency}")
    T = max_recency if T is None else float(T)
    frequency = np.arange(max_frequency + 1, dtype=float)
    recency = np.linspace(0.0, max_recency, min(int(max_recency) + 1, 200))
    return frequency, recency, T


def _history_matrix(predict: Any, summary: Any, max_frequency: Optional[int], max_recency: Optional[float],
                    T: Optional[float], ax: Any, *, function: str, label: str, cmap: str, title: Optional[str],
                    default_title: str) -> Any:
    """Evaluates ``predict(frequency, recency, T)`` on the history grid and draws it;
    ``default_title`` may name ``{T}``, the observation length used."""
    frequency, recency, T = _history_grid(summary, max_frequency, max_recency, T, function)
    f, r = np.meshgrid(frequency, recency, indexing="ij")
    values = np.asarray(predict(f.ravel(), r.ravel(), np.full(f.size, T)), dtype=float).reshape(f.shape)
    ax = _axes(ax, function, (7, 5))
    image = ax.imshow(values, aspect="auto", origin="lower", cmap=cmap,
                      extent=(recency[0], recency[-1], frequency[0] - 0.5, frequency[-1] + 0.5))
    ax.set_xlabel("recency (time of last purchase)")
    ax.set_ylabel("frequency (repeat purchases)")
    ax.figure.colorbar(image, ax=ax, label=label)
    ax.set_title(title or default_title.format(T=T))
    return ax


def probability_alive_matrix(model: Any, summary: Any = None, ax: Any = None, *, max_frequency: Optional[int] = None,
                             max_recency: Optional[float] = None, T: Optional[float] = None,
                             title: Optional[str] = None) -> Any:
    """P(alive) over a grid of histories (frequency x recency) for a customer observed
    for ``T`` periods, from a fitted crmkit.clv model. The grid spans the customers'
    ``summary`` (clv.summary's frame; T defaults to the longest) or the given maxima.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> from crmkit import clv, plot
    >>> f = [0, 2, 1, 0, 5, 3, 0, 1, 4, 2, 6, 1]
    >>> r = [0.0, 30.4, 1.7, 0.0, 35.0, 20.0, 0.0, 12.0, 5.0, 3.0, 8.0, 0.5]
    >>> T = [38.9, 38.9, 38.9, 38.0, 38.0, 37.1, 36.0, 36.0, 38.0, 37.5, 38.2, 36.3]
    >>> m = clv.BetaGeoFitter(penalizer_coef=0.01).fit(f, r, T)
    >>> plot.probability_alive_matrix(m, max_frequency=6, max_recency=38.9).images[0].get_array().shape
    (7, 39)
    """
    return _history_matrix(
        model.conditional_probability_alive, summary, max_frequency, max_recency, T, ax,
        function="crmkit.plot.probability_alive_matrix", label="P(alive)", cmap="RdYlGn",
        title=title, default_title="Probability alive, by history (T = {T:g})")


def frequency_recency_matrix(model: Any, summary: Any = None, ax: Any = None, *, t: float = 1.0, max_frequency: Optional[int] = None,
                             max_recency: Optional[float] = None, T: Optional[float] = None,
                             title: Optional[str] = None) -> Any:
    """Expected purchases in the next ``t`` periods over a grid of histories, from a
    fitted crmkit.clv model (lifetimes' frequency/recency matrix); the grid as in
    `probability_alive_matrix`.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> from crmkit import clv, plot
    >>> f = [0, 2, 1, 0, 5, 3, 0, 1, 4, 2, 6, 1]
    >>> r = [0.0, 30.4, 1.7, 0.0, 35.0, 20.0, 0.0, 12.0, 5.0, 3.0, 8.0, 0.5]
    >>> T = [38.9, 38.9, 38.9, 38.0, 38.0, 37.1, 36.0, 36.0, 38.0, 37.5, 38.2, 36.3]
    >>> m = clv.BetaGeoFitter(penalizer_coef=0.01).fit(f, r, T)
    >>> plot.frequency_recency_matrix(m, t=10, max_frequency=6, max_recency=38.9).get_title()
    'Expected purchases in the next 10 periods (T = 38.9)'
    """
    return _history_matrix(
        lambda f, r, T_: model.conditional_expected_number_of_purchases_up_to_time(t, f, r, T_), summary,
        max_frequency, max_recency, T, ax, function="crmkit.plot.frequency_recency_matrix",
        label="expected purchases", cmap="viridis",
        title=title, default_title=f"Expected purchases in the next {t:g} periods (T = {{T:g}})")


def _i_lines(df: pl.DataFrame, x: str, ys: dict[str, str], title: str, xtitle: str, ytitle: str, mark: str = "line") -> Any:
    alt = _alt()
    long = df.select(pl.col(x), *[pl.col(c).cast(pl.Float64).alias(n) for c, n in ys.items()]).unpivot(
        index=x, variable_name="series", value_name="value")
    chart = alt.Chart(_rows(long))
    chart = chart.mark_line(point=True) if mark == "line" else chart.mark_bar()
    enc = {"x": alt.X(f"{x}:{'O' if mark == 'bar' else 'Q'}", title=xtitle), "y": alt.Y("value:Q", title=ytitle),
           "color": "series:N",
           "tooltip": [f"{x}:{'O' if mark == 'bar' else 'Q'}", "series:N", alt.Tooltip("value:Q", format=",.3f")]}
    if mark == "bar":
        enc["xOffset"] = "series:N"
    return chart.encode(**enc).properties(title=title, width=480, height=260)


def _i_calibration_holdout(table: pl.DataFrame, ax: Any = None, *, title: Optional[str] = None) -> Any:
    df = as_frame(table, argument="table")
    require_columns(df, {"frequency": "numeric", "actual_holdout": "numeric", "predicted_holdout": "numeric"},
                    function="crmkit.plot.calibration_holdout", argument="table")
    return _i_lines(df, "frequency", {"actual_holdout": "actual", "predicted_holdout": "model"},
                    title or "Calibration vs holdout", "purchases in the calibration period",
                    "mean purchases in the holdout period")


def _i_period_transactions(table: pl.DataFrame, ax: Any = None, *, title: Optional[str] = None) -> Any:
    df = as_frame(table, argument="table")
    require_columns(df, {"label": "string", "actual": "numeric", "model": "numeric"},
                    function="crmkit.plot.period_transactions", argument="table")
    return _i_lines(df, "label", {"actual": "actual", "model": "model"}, title or "Repeat purchases: actual vs model",
                    "repeat purchases", "customers", mark="bar")


def _i_history(predict: Any, label: str, summary: Any, max_frequency: Any, max_recency: Any, T: Any, title: str) -> Any:
    alt = _alt()
    frequency, recency, T = _history_grid(summary, max_frequency, max_recency, T, "crmkit.plot")
    f, r = np.meshgrid(frequency, recency, indexing="ij")
    values = np.asarray(predict(f.ravel(), r.ravel(), np.full(f.size, T)), dtype=float)
    df = pl.DataFrame({"frequency": f.ravel(), "recency": np.round(r.ravel(), 2), label: values})
    return (
        alt.Chart(_rows(df)).mark_rect()
        .encode(x=alt.X("recency:O", axis=alt.Axis(labelOverlap=True)), y=alt.Y("frequency:O", sort="descending"),
                color=alt.Color(f"{label}:Q", scale=alt.Scale(scheme="redyellowgreen")),
                tooltip=["frequency:O", "recency:O", alt.Tooltip(f"{label}:Q", format=".3f")])
        .properties(title=title.format(T=T), width=520, height=300)
    )


def _i_probability_alive_matrix(model: Any, summary: Any = None, ax: Any = None, *, max_frequency: Optional[int] = None,
                                max_recency: Optional[float] = None, T: Optional[float] = None,
                                title: Optional[str] = None) -> Any:
    return _i_history(model.conditional_probability_alive, "p_alive", summary, max_frequency, max_recency, T,
                      title or "Probability alive, by history (T = {T:g})")


def _i_frequency_recency_matrix(model: Any, summary: Any = None, ax: Any = None, *, t: float = 1.0,
                                max_frequency: Optional[int] = None, max_recency: Optional[float] = None,
                                T: Optional[float] = None, title: Optional[str] = None) -> Any:
    return _i_history(lambda f, r, T_: model.conditional_expected_number_of_purchases_up_to_time(t, f, r, T_),
                      "expected_purchases", summary, max_frequency, max_recency, T,
                      title or f"Expected purchases in the next {t:g} periods (T = {{T:g}})")


calibration_holdout = _interactive_twin(calibration_holdout, _i_calibration_holdout)
period_transactions = _interactive_twin(period_transactions, _i_period_transactions)
probability_alive_matrix = _interactive_twin(probability_alive_matrix, _i_probability_alive_matrix)
frequency_recency_matrix = _interactive_twin(frequency_recency_matrix, _i_frequency_recency_matrix)
