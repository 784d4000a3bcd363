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
           "frequency_recency_matrix", "segments", "rfm_grid", "choose_k", "value_concentration", "kpi", "kpi_tiles"]

_BAR = "#4C72B0"
_BOTTLENECK = "#C44E52"


def _pyplot(function: str) -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise CrmError(f"{function}: needs matplotlib, which is not installed; "
                       "install it with `pip install 'crmkit[plot]'`") from exc
    use_cjk_fonts()
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


# --- churn ---

__all__ += ["gains", "calibration", "feature_importance", "reasons"]


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
    df = as_frame(table, argument="table")
    require_columns(df, {"cumulative_customers": "numeric", "cumulative_capture": "numeric", "lift": "numeric"},
                    function=fn, argument="table")
    total = df["cumulative_customers"].max()
    x = np.concatenate([[0.0], df["cumulative_customers"].to_numpy() / total])
    y = np.concatenate([[0.0], df["cumulative_capture"].to_numpy()])
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
    df = as_frame(table, argument="table")
    require_columns(df, {"mean_predicted": "numeric", "observed_rate": "numeric", "customers": "numeric"},
                    function=fn, argument="table")
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
    ax = _axes(ax, fn, (7, 1 + 0.3 * len(order)))
    y = np.arange(len(order))
    ax.barh(y, values[order], color=_BAR)
    ax.set_yticks(y)
    ax.set_yticklabels([names_[i] for i in order])
    ax.invert_yaxis()
    ax.set_xlabel("importance")
    ax.set_title(title or "Feature importance")
    return ax


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
    ax = _axes(ax, fn, (7, 1 + 0.35 * kinds.height))
    y = np.arange(kinds.height)
    ax.barh(y, kinds["len"].to_numpy(), color=_BAR)
    ax.set_yticks(y)
    ax.set_yticklabels(kinds["kind"].to_list())
    ax.invert_yaxis()
    ax.set_xlabel("customers")
    ax.set_title(title or "Top churn reasons")
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


# --- kpi ---


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


# --- experiments ---
__all__ += ["experiment", "uplift"]


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
    get = lambda c: df[c].cast(pl.Float64).fill_null(np.nan).to_numpy()  # noqa: E731
    ax = _axes(ax, fn, (7, 1.2 + 0.35 * df.height))
    _forest(ax, labels, get(value), get(f"{value}_lower"), get(f"{value}_upper"), colours)
    if value == "lift":
        from matplotlib.ticker import PercentFormatter

        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("relative lift vs control" if value == "lift" else "difference vs control")
    ax.set_title(title or "Treatment effects (red: significant)")
    return ax


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
    get = lambda c: df[c].cast(pl.Float64).fill_null(np.nan).to_numpy()  # noqa: E731
    lo, hi = get(f"{value}_lower"), get(f"{value}_upper")
    colours = ["#55A868" if lo[i] > 0 else (_BOTTLENECK if hi[i] < 0 else _BAR) for i in range(df.height)]
    ax = _axes(ax, fn, (7, 1.2 + 0.35 * df.height))
    _forest(ax, labels, get(value), lo, hi, colours)
    if value == "incremental_response":
        from matplotlib.ticker import PercentFormatter

        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(value.replace("_", " ") + " over the holdout (green: positive)")
    ax.set_title(title or "Campaign uplift")
    return ax


# --- dashboard and geography ---
# Chinese text and the interactive twins: `plot.<name>(..., interactive=True)` returns the
# Altair chart the dashboard draws (for Jupyter), instead of matplotlib Axes.

#: Fonts with Chinese glyphs, tried in this order after matplotlib's default (DejaVu
#: Sans, which has none): Noto/Source Han (Linux, Adobe), WenQuanYi (Debian's
#: fonts-wqy-microhei, which `make test` installs), Microsoft YaHei/SimHei (Windows),
#: PingFang/Heiti (macOS), Arial Unicode. Only installed ones are used.
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei",
             "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC", "Arial Unicode MS")

_CJK_DONE = False


def use_cjk_fonts() -> list[str]:
    """Adds the installed fonts of :data:`CJK_FONTS` as matplotlib fallbacks (glyph by
    glyph, matplotlib >= 3.6) so Chinese labels draw instead of empty boxes; returns
    the fonts used. crmkit.plot calls it before drawing; call it yourself for your own
    figures. Without any CJK font installed it changes nothing (install one, e.g.
    Debian's ``fonts-wqy-microhei``).

    >>> from crmkit import plot
    >>> isinstance(plot.use_cjk_fonts(), list)
    True
    """
    global _CJK_DONE
    import matplotlib
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    found = [f for f in CJK_FONTS if f in installed]
    if not _CJK_DONE and found:
        # matplotlib falls back glyph by glyph along font.family (a generic family such
        # as "sans-serif" counts as its first installed font), so the CJK fonts go last.
        family = list(matplotlib.rcParams["font.family"])
        matplotlib.rcParams["font.family"] = family + [f for f in found if f not in family]
        _CJK_DONE = True
    return found


def _interactive_twin(static: Any, twin: Any) -> Any:
    import functools

    @functools.wraps(static)
    def draw(*args: Any, interactive: bool = False, **kwargs: Any) -> Any:
        if interactive:
            return twin(*args, **kwargs)
        return static(*args, **kwargs)

    draw.__doc__ = (static.__doc__ or "") + (
        "\n    ``interactive=True`` returns the interactive Altair chart instead (tooltips, zoom;\n"
        "    the dashboard's chart), for Jupyter; needs ``crmkit[dashboard]``.\n"
    )
    return draw


def _alt() -> Any:
    try:
        import altair as alt
    except ImportError as exc:
        raise CrmError("crmkit.plot(..., interactive=True) needs Altair: pip install 'crmkit[dashboard]'") from exc
    return alt


def _rows(df: pl.DataFrame) -> Any:
    from crmkit.dashboard import _values

    return _alt().Data(values=_values(df))


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


def _i_choose_k(scores: Any, ax: Any = None, *, chosen: Optional[int] = None, title: Optional[str] = None) -> Any:
    if hasattr(scores, "scores") and hasattr(scores, "k"):
        scores = scores.scores
    df = as_frame(scores, argument="scores")
    require_columns(df, {"k": "integer", "inertia": "numeric"}, function="crmkit.plot.choose_k", argument="scores")
    ys = {"inertia": "inertia"}
    if "silhouette" in df.columns:
        ys["silhouette"] = "silhouette"
    return _i_lines(df, "k", ys, title or "Choosing k", "k (clusters)", "score").resolve_scale(y="independent")


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


funnel = _interactive_twin(funnel, _i_funnel)
cohort_heatmap = _interactive_twin(cohort_heatmap, _i_cohort_heatmap)
calibration_holdout = _interactive_twin(calibration_holdout, _i_calibration_holdout)
period_transactions = _interactive_twin(period_transactions, _i_period_transactions)
probability_alive_matrix = _interactive_twin(probability_alive_matrix, _i_probability_alive_matrix)
frequency_recency_matrix = _interactive_twin(frequency_recency_matrix, _i_frequency_recency_matrix)
segments = _interactive_twin(segments, _i_segments)
rfm_grid = _interactive_twin(rfm_grid, _i_rfm_grid)
choose_k = _interactive_twin(choose_k, _i_choose_k)
value_concentration = _interactive_twin(value_concentration, _i_value_concentration)


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
    top = float(tiles[measure].max() or 0) or 1.0
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
    group, revenue). ``interactive=True`` returns the Altair chart (legend selection, zoom).

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import datetime as dt, polars as pl
    >>> from crmkit import plot
    >>> t = pl.DataFrame({"period": [dt.date(2024, 1, 1), dt.date(2024, 2, 1)], "group": ["web", "web"],
    ...                   "revenue": [10.0, 12.0]})
    >>> [line.get_label() for line in plot.sales_trend(t).get_lines()]
    ['web']
    """
    fn = "crmkit.plot.sales_trend"
    df = as_frame(trend, argument="trend")
    require_columns(df, {"period": "temporal", "group": "any", "revenue": "numeric"}, function=fn, argument="trend")
    if interactive:
        alt = _alt()
        pick = alt.selection_point(fields=["group"], bind="legend")
        return (
            alt.Chart(_rows(df)).mark_line(point=True)
            .encode(x=alt.X("utcyearmonthdate(period):T", axis=alt.Axis(format="%Y-%m")), y="revenue:Q", color="group:N",
                    opacity=alt.condition(pick, alt.value(1.0), alt.value(0.15)),
                    tooltip=[alt.Tooltip("utcyearmonthdate(period):T", format="%Y-%m-%d"), "group:N",
                             alt.Tooltip("revenue:Q", format=",.0f")])
            .add_params(pick, alt.selection_interval(encodings=["x"], bind="scales"))
            .properties(title=title or "Sales trend", width=700, height=280)
        )
    ax = _axes(ax, fn, (9, 4))
    for (group,), part in df.sort("period").group_by(pl.col("group").cast(pl.String), maintain_order=True):
        ax.plot(part["period"].to_list(), part["revenue"].to_numpy(), marker="o", markersize=3, label=str(group))
    ax.set_ylabel("revenue")
    ax.legend(fontsize=8)
    ax.set_title(title or "Sales trend")
    return ax


__all__ += ["CJK_FONTS", "use_cjk_fonts", "province_map", "sales_trend"]
