"""Plots of crmkit's tables, for the notebook: each takes the table a crmkit function
returned, draws it with matplotlib and returns the ``Axes``.

matplotlib is optional (``pip install 'crmkit[plot]'``); only this module needs it.
Every function accepts ``ax=`` to draw into an existing figure.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import crmkit
>>> from crmkit import plot
>>> world = crmkit.datasets.load_sample()
>>> table = crmkit.funnel(world.events, ["view", "cart", "checkout", "purchase"], window="7d")
>>> ax = plot.funnel(table)
>>> [t.get_text() for t in ax.get_yticklabels()]
['view', 'cart', 'checkout', 'purchase']
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import polars as pl

from crmkit._validate import as_frame, require_columns
from crmkit.errors import CrmError

__all__ = ["funnel", "cohort_heatmap", "calibration_holdout", "period_transactions", "probability_alive_matrix",
           "frequency_recency_matrix", "segments", "rfm_grid", "choose_k", "value_concentration"]

_BAR = "#4C72B0"
_BOTTLENECK = "#C44E52"


def _pyplot(function: str) -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise CrmError(f"{function}: needs matplotlib, which is not installed; "
                       "install it with `pip install 'crmkit[plot]'`") from exc
    return plt


def _axes(ax: Any, function: str, figsize: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    _, ax = _pyplot(function).subplots(figsize=figsize)
    return ax


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
            max_frequency = int(df["frequency"].max())  # type: ignore[arg-type]
        if max_recency is None:
            max_recency = float(df["T"].max())  # type: ignore[arg-type]
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
    bins = int(max(scored["r_score"].max(), scored["f_score"].max()))  # type: ignore[arg-type]
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


# --- forecast ---
__all__ += ["forecast"]


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
