"""One-call scoring and model checks over a customers' summary frame, and the demo step."""

from __future__ import annotations

import math
from typing import Any, Optional, Union, cast

import numpy as np
import polars as pl

from crmkit import _core
from crmkit._plugin import plugin_call
from crmkit._validate import FrameT, Kind, as_lazy, require_columns
from crmkit.clv._fitters import (_MONTH_FACTOR, BetaGeoBetaBinomFitter, BetaGeoFitter, GammaGammaFitter,
                                 ModifiedBetaGeoFitter, ParetoNBDFitter, _check_horizon, _TimeModel, _vector)
from crmkit.clv._summary import summary as _summary_fn
from crmkit.errors import ConvergenceError, CrmError

# one-call scoring and model checking
# ---------------------------------------------------------------------------


def predict(
    summary: FrameT,
    transaction_model: _TimeModel,
    spend_model: Optional[GammaGammaFitter] = None,
    horizon: float = 12,
    freq: str = "D",
    discount_rate: float = 0.01,
    frequency: str = "frequency",
    recency: str = "recency",
    T: str = "T",
    monetary_value: str = "monetary_value",
) -> FrameT:
    """Adds per-customer ``p_alive``, ``expected_purchases`` over the next
    ``horizon`` months, and with a spend model ``expected_spend`` and ``clv``
    (discounted at ``discount_rate`` per month, as lifetimes'
    ``customer_lifetime_value``). ``freq`` is the time unit of recency and T.
    Works on a LazyFrame too (returns one); scoring runs as polars expressions.

    >>> import polars as pl
    >>> from crmkit import clv
    >>> s = pl.DataFrame({"frequency": [0, 2, 1, 0, 5, 3, 0, 1, 4, 2, 6, 1],
    ...                   "recency": [0.0, 30.4, 1.7, 0.0, 35.0, 20.0, 0.0, 12.0, 5.0, 3.0, 8.0, 0.5],
    ...                   "T": [38.9, 38.9, 38.9, 38.0, 38.0, 37.1, 36.0, 36.0, 38.0, 37.5, 38.2, 36.3]})
    >>> clv.predict(s, clv.BetaGeoFitter(penalizer_coef=0.01).fit(s), horizon=3, freq="W").columns
    ['frequency', 'recency', 'T', 'p_alive', 'expected_purchases']
    """
    fn = "clv.predict"
    if not isinstance(transaction_model, _TimeModel) or isinstance(transaction_model, BetaGeoBetaBinomFitter):
        raise CrmError(f"{fn}: transaction_model must be a fitted BetaGeoFitter, ModifiedBetaGeoFitter or ParetoNBDFitter")
    if freq not in _MONTH_FACTOR:
        raise CrmError(f"{fn}: argument 'freq' must be one of {sorted(_MONTH_FACTOR)}, found {freq!r}")
    _check_horizon(horizon, discount_rate, "horizon", fn)
    lazy = as_lazy(summary, argument="summary")
    need: dict[str, Kind] = {frequency: "numeric", recency: "numeric", T: "numeric"}
    if spend_model is not None:
        need[monetary_value] = "numeric"
    require_columns(lazy, need, function=fn, argument="summary")
    factor = _MONTH_FACTOR[freq]
    months = int(math.ceil(horizon))
    cols = [
        transaction_model.p_alive_expr(frequency, recency, T).alias("p_alive"),
        transaction_model.expected_purchases_expr(horizon * factor, frequency, recency, T).alias("expected_purchases"),
    ]
    if spend_model is not None:
        cols.append(spend_model.expected_spend_expr(frequency, monetary_value).alias("expected_spend"))
        cols.append(
            plugin_call(
                "clv_score",
                [pl.col(frequency), pl.col(recency), pl.col(T), pl.col(monetary_value)],
                {"model": transaction_model._model, "target": "clv", "params": transaction_model._params(),
                 "spend_params": spend_model._params(), "months": months, "factor": factor,
                 "discount_rate": float(discount_rate)},
            ).alias("clv")
        )
    out = lazy.with_columns(cols)
    return out.collect() if isinstance(summary, pl.DataFrame) else out


def calibration_holdout(
    summary: Union[pl.DataFrame, pl.LazyFrame],
    model: _TimeModel,
    max_frequency: int = 7,
) -> pl.DataFrame:
    """Actual vs predicted holdout purchases by calibration frequency.

    ``summary`` comes from ``clv.summary(..., calibration_end=...)`` and ``model`` is
    fitted on its calibration columns. Customers with a calibration frequency
    above ``max_frequency`` are grouped with it (lifetimes' plot does the same).

    >>> import polars as pl
    >>> from crmkit import clv
    >>> s = pl.DataFrame({"frequency": [0, 2, 1, 0, 5, 3, 0, 1, 4, 2, 6, 1],
    ...                   "recency": [0.0, 30.4, 1.7, 0.0, 35.0, 20.0, 0.0, 12.0, 5.0, 3.0, 8.0, 0.5],
    ...                   "T": [38.9, 38.9, 38.9, 38.0, 38.0, 37.1, 36.0, 36.0, 38.0, 37.5, 38.2, 36.3],
    ...                   "frequency_holdout": [0, 1, 0, 0, 3, 1, 1, 0, 0, 0, 1, 0], "duration_holdout": [39.0] * 12})
    >>> clv.calibration_holdout(s, clv.BetaGeoFitter(penalizer_coef=0.01).fit(s), max_frequency=3).columns
    ['frequency', 'n_customers', 'actual_holdout', 'predicted_holdout']
    """
    fn = "clv.calibration_holdout"
    frame = as_lazy(summary, argument="summary")
    require_columns(frame, {"frequency": "numeric", "recency": "numeric", "T": "numeric",
                            "frequency_holdout": "numeric", "duration_holdout": "numeric"}, function=fn,
                    argument="summary")
    df = frame.collect()
    predicted = model.conditional_expected_number_of_purchases_up_to_time(
        df["duration_holdout"], df["frequency"], df["recency"], df["T"])
    return (
        df.with_columns(pl.Series("__pred", np.asarray(predicted)),
                        pl.col("frequency").clip(upper_bound=max_frequency).cast(pl.Int64).alias("__f"))
        .group_by("__f")
        .agg(pl.len().alias("n_customers"), pl.col("frequency_holdout").mean().alias("actual_holdout"),
             pl.col("__pred").mean().alias("predicted_holdout"))
        .rename({"__f": "frequency"})
        .sort("frequency")
    )


def period_transactions(
    summary: Union[pl.DataFrame, pl.LazyFrame],
    model: _TimeModel,
    max_frequency: int = 7,
    *,
    frequency: str = "frequency",
    T: str = "T",
) -> pl.DataFrame:
    """How many customers made 0, 1, 2, ... repeat purchases, observed and as the model
    expects for the same customers (the numbers behind lifetimes'
    ``plot_period_transactions``, computed exactly instead of by simulation): the
    expected count for x is the sum over customers of P(X(T) = x). The last row,
    ``max_frequency`` and more, holds the rest, so both columns add up to the number
    of customers. Columns: ``frequency``, ``label`` ("7+" on the last row),
    ``actual``, ``model``.

    >>> import polars as pl
    >>> from crmkit import clv
    >>> s = pl.DataFrame({"frequency": [0, 2, 1, 0, 5, 3, 0, 1, 4, 2, 6, 1],
    ...                   "recency": [0.0, 30.4, 1.7, 0.0, 35.0, 20.0, 0.0, 12.0, 5.0, 3.0, 8.0, 0.5],
    ...                   "T": [38.9, 38.9, 38.9, 38.0, 38.0, 37.1, 36.0, 36.0, 38.0, 37.5, 38.2, 36.3]})
    >>> table = clv.period_transactions(s, clv.BetaGeoFitter(penalizer_coef=0.01).fit(s), max_frequency=3)
    >>> table["label"].to_list(), table["actual"].to_list(), round(table["model"].sum(), 9)
    (['0', '1', '2', '3+'], [3, 3, 2, 4], 12.0)
    """
    fn = "clv.period_transactions"
    if not isinstance(model, (BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter)):
        raise CrmError(f"{fn}: model must be a fitted BetaGeoFitter, ModifiedBetaGeoFitter or ParetoNBDFitter")
    if isinstance(max_frequency, bool) or not isinstance(max_frequency, int) or not 1 <= max_frequency <= 1000:
        raise CrmError(f"{fn}: max_frequency must be an integer from 1 to 1000, found {max_frequency!r}")
    frame = as_lazy(summary, argument="summary")
    require_columns(frame, {frequency: "numeric", T: "numeric"}, function=fn, argument="summary")
    df = frame.select(pl.col(frequency).cast(pl.Float64), pl.col(T).cast(pl.Float64)).collect()
    if df.height == 0:
        raise CrmError(f"{fn}: 'summary' is empty (0 rows)")
    x = _vector(df[frequency], frequency, fn)
    ages = df.group_by(T).len()  # customers sharing an age share their probabilities
    t = _vector(ages[T], T, fn)
    w = ages["len"].to_numpy().astype(np.float64)
    counts = np.arange(max_frequency, dtype=np.float64)
    probs = _core.clv_count_pmf(model._model, model._params(), np.repeat(counts, len(t)), np.tile(t, max_frequency))
    expected = probs.reshape(max_frequency, len(t)) @ w
    expected = np.append(expected, max(float(w.sum()) - float(expected.sum()), 0.0))
    actual = np.bincount(np.minimum(x, max_frequency).astype(np.int64), minlength=max_frequency + 1)
    return pl.DataFrame({
        "frequency": np.arange(max_frequency + 1, dtype=np.int64),
        "label": [str(k) for k in range(max_frequency)] + [f"{max_frequency}+"],
        "actual": actual.astype(np.int64),
        "model": expected,
    })


# ---------------------------------------------------------------------------


# demo step
# ---------------------------------------------------------------------------


def demo_step(ctx: Any) -> Any:
    """Summarises orders, fits BG/NBD + Gamma-Gamma and scores every customer."""
    from crmkit._pipeline import StepOutput

    stats = _summary_fn(ctx.orders, amount="amount", freq="D",
                        observation_end=ctx.as_of if ctx.as_of is not None else None)
    repeat = stats.filter((pl.col("frequency") > 0) & (pl.col("monetary_value") > 0))
    lines = [f"{stats.height:,} customers, {repeat.height:,} repeat buyers"]
    try:
        bgf = BetaGeoFitter().fit(stats)
    except CrmError as e:
        lines.append(f"BG/NBD without penalty failed ({e}); refitting with penalizer_coef=0.001")
        try:
            bgf = BetaGeoFitter(penalizer_coef=0.001).fit(stats)
        except CrmError as e2:
            lines.append(f"BG/NBD skipped: {e2}")
            return StepOutput({"summary": stats}, lines)
    lines.append("BG/NBD " + ", ".join(f"{k}={v:.4g}" for k, v in bgf.params_.items()))
    gg = None
    try:
        gg = GammaGammaFitter().fit(repeat)
        lines.append("Gamma-Gamma " + ", ".join(f"{k}={v:.4g}" for k, v in gg.params_.items()))
    except (CrmError, ConvergenceError) as e:
        lines.append(f"Gamma-Gamma skipped: {e}")
    scored = predict(stats, bgf, gg, horizon=12, freq="D")
    if gg is not None:
        clv_values = scored["clv"]
        lines.append(f"12-month CLV: total {clv_values.sum():,.0f}, median {cast(float, clv_values.median()):,.2f}")
    return StepOutput({"customers": scored, "params": pl.concat([bgf.summary] + ([gg.summary] if gg else []))}, lines)
