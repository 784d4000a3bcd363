"""Model fits on compressed summaries and parallel scoring, on Spark.

A CLV model's likelihood depends on a customer only through (frequency, recency, T):
customers with the same triple are counted once with a weight, so the driver fits on
the distinct triples (CDNOW: 1,016 rows for 2,357 customers; a million customers give
tens of thousands), never on raw transactions. Scoring ships the fitted parameters
to the workers and runs the same polars expressions per partition.

Extension point: the churn model (issue 11) scores per partition the same way:
``score`` dispatches on the model type; add a branch that builds its prediction
expression on the worker.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import polars as pl

from crmkit._validate import Kind
from crmkit.errors import CrmError, SchemaError
from crmkit.spark._base import _pyspark, map_rows, polars_schema, require_spark_frame, to_polars

__all__ = ["fit", "predict", "score"]


def _need(sdf: Any, columns: Mapping[str, Kind], function: str) -> None:
    from crmkit._validate import require_columns

    require_columns(pl.DataFrame(schema=polars_schema(sdf)), columns, function=function, argument="summary_sdf")


def fit(model: Any, summary_sdf: Any, *, frequency: str = "frequency", recency: str = "recency", T: str = "T",
        monetary_value: str = "monetary_value", columns: Optional[Sequence[str]] = None, max_rows: int = 2_000_000,
        seed: int = 0, **fit_options: Any) -> Any:
    """Fits ``model`` on the driver from a Spark per-customer summary, and returns it.

    - CLV transaction models (``BetaGeoFitter``, ``ModifiedBetaGeoFitter``,
      ``ParetoNBDFitter``, ``BetaGeoBetaBinomFitter`` with ``T="n_periods"``): the
      distinct (frequency, recency, T) rows with their counts as weights; the fit
      equals the single-machine fit on every customer.
    - ``GammaGammaFitter``: distinct (frequency, monetary_value) rows of repeat
      customers (frequency > 0) with weights.
    - ``KMeans``: distinct rows of ``columns`` (e.g. scaled RFM features) with
      their counts as ``sample_weight``.

    When the distinct rows exceed ``max_rows``, a uniform sample of that many rows
    (by ``seed``) is fitted instead, with a warning.

    >>> bgf = crmkit.spark.fit(crmkit.clv.BetaGeoFitter(), summary_sdf)  # doctest: +SKIP
    """
    from crmkit import clv
    from crmkit.cluster import KMeans

    fn = "crmkit.spark.fit"
    _pyspark()
    require_spark_frame(summary_sdf, function=fn, argument="summary_sdf")
    from pyspark.sql import functions as F

    if isinstance(model, clv.GammaGammaFitter):
        cols = [frequency, monetary_value]
        _need(summary_sdf, {c: "numeric" for c in cols}, fn)
        data = summary_sdf.filter(F.col(frequency) > 0)
    elif isinstance(model, clv._fitters._TimeModel):
        cols = [frequency, recency, T]
        _need(summary_sdf, {c: "numeric" for c in cols}, fn)
        data = summary_sdf
    elif isinstance(model, KMeans):
        if not columns:
            raise CrmError(f"{fn}: pass columns=[...] (the feature columns) to fit a KMeans")
        cols = list(columns)
        _need(summary_sdf, {c: "numeric" for c in cols}, fn)
        data = summary_sdf
    else:
        raise CrmError(
            f"{fn}: model must be a crmkit CLV fitter (clv.BetaGeoFitter, ...) or crmkit.KMeans, found {type(model).__name__}"
        )
    compressed = data.groupBy(*cols).agg(F.count(F.lit(1)).alias("__w"))
    n_distinct = compressed.count()
    if n_distinct > max_rows:
        warnings.warn(f"{fn}: {n_distinct:,} distinct rows exceed max_rows={max_rows:,}; fitting a uniform sample of "
                      f"about {max_rows:,} of them (weights kept)", UserWarning, stacklevel=2)
        compressed = compressed.sample(fraction=max_rows / n_distinct, seed=seed)
    # A fixed order, so the fit does not depend on how Spark returned the rows.
    rows = to_polars(compressed).sort(cols)
    if rows.height == 0:
        raise CrmError(f"{fn}: the summary has no rows to fit on")
    w = rows["__w"].cast(pl.Float64).to_numpy()
    if isinstance(model, KMeans):
        return model.fit(rows.select(cols), sample_weight=w, **fit_options)
    arrays = [rows[c].cast(pl.Float64).to_numpy() for c in cols]
    if isinstance(model, clv.GammaGammaFitter):
        f, m = arrays
        return model.fit(f, m, weights=w, **fit_options)
    # The fit of every customer, one row each: the objective is scaled as for unit
    # weights (a sum, or for Pareto/NBD a mean of the weights, which is 1 there, not
    # the mean count of the compressed rows), so a penalizer weighs the same.
    unknown = set(fit_options) - {"initial_params", "max_iter"}
    if unknown:
        raise CrmError(f"{fn}: unknown fit option(s) {sorted(unknown)}; pass initial_params or max_iter")
    x, tx, t = arrays
    clv._fitters._check_history(x, tx, t, fn, discrete=model._columns[2] == "n_periods")
    total = float(w.sum())
    divisor = total if model._divisor(np.ones(2)) == 2.0 else 1.0
    model._run_fit([x, tx, t], w, divisor, fit_options.get("initial_params"), int(fit_options.get("max_iter", 500)))
    model.data_extent_ = {"max_frequency": float(x.max()), "max_T": float(t.max())}
    return model


def _predict_part(df: pl.DataFrame, *, model: Any, spend_model: Any, options: dict[str, Any]) -> pl.DataFrame:
    from crmkit import clv

    return clv.predict(df, model, spend_model, **options)


def predict(summary_sdf: Any, transaction_model: Any, spend_model: Any = None, horizon: float = 12, freq: str = "D",
            discount_rate: float = 0.01, frequency: str = "frequency", recency: str = "recency", T: str = "T",
            monetary_value: str = "monetary_value") -> Any:
    """:func:`crmkit.clv.predict` per partition (``mapInArrow``, no shuffle): adds
    ``p_alive``, ``expected_purchases`` and with a spend model ``expected_spend`` and
    ``clv``, equal to the single-machine scores.

    >>> scored = crmkit.spark.predict(summary_sdf, bgf, ggf, horizon=12, freq="W")  # doctest: +SKIP
    """
    from crmkit import clv

    _pyspark()
    require_spark_frame(summary_sdf, function="crmkit.spark.predict", argument="summary_sdf")
    options: dict[str, Any] = dict(horizon=horizon, freq=freq, discount_rate=discount_rate, frequency=frequency, recency=recency, T=T,
                   monetary_value=monetary_value)
    # The single-machine function checks models, arguments and columns on the driver.
    template = clv.predict(pl.DataFrame(schema=polars_schema(summary_sdf)), transaction_model, spend_model, **options)
    return map_rows(summary_sdf, _predict_part, template.schema,
                    kwargs=dict(model=transaction_model, spend_model=spend_model, options=options))


def _kmeans_part(df: pl.DataFrame, *, centers: np.ndarray, columns: list[str], output: str) -> pl.DataFrame:
    from crmkit import _core

    arr = np.ascontiguousarray(df.select(columns).cast(pl.Float64).to_numpy())
    labels, _ = _core.kmeans_predict(arr, centers)
    return df.with_columns(pl.Series(output, labels).cast(pl.Int32))


def score(sdf: Any, model: Any, *, columns: Optional[Sequence[str]] = None, output: str = "cluster",
          **options: Any) -> Any:
    """Scores every row of ``sdf`` with a fitted model, per partition (no shuffle).

    - ``KMeans``: adds ``output`` (default ``"cluster"``), the closest centre, for the
      feature ``columns`` (default: the names the model was fitted on);
    - CLV transaction models: :func:`predict` (``options`` are its arguments, e.g.
      ``spend_model=``, ``horizon=``, ``freq=``);
    - ``churn.ChurnModel`` on churn features (:func:`churn_features` at the scoring
      date): ``ChurnModel.score_features`` per partition (``options``: ``reasons=``,
      ``exact_reasons=``), the same probabilities, bands and reasons as on one machine.

    >>> segs = crmkit.spark.score(features_sdf, km)  # doctest: +SKIP
    """
    from crmkit import clv
    from crmkit.cluster import KMeans

    fn = "crmkit.spark.score"
    _pyspark()
    require_spark_frame(sdf, function=fn, argument="sdf")
    if isinstance(model, KMeans):
        model._fitted("predict")
        cols = list(columns) if columns is not None else (
            list(model.feature_names_in_) if hasattr(model, "feature_names_in_") else None)
        if cols is None:
            raise CrmError(f"{fn}: the KMeans was fitted without column names; pass columns=[...]")
        if len(cols) != model.n_features_in_:
            raise CrmError(f"{fn}: {len(cols)} column(s) given, the model was fitted on {model.n_features_in_}")
        schema = polars_schema(sdf)
        _need(sdf, {c: "numeric" for c in cols}, fn)
        if output in schema:
            raise SchemaError(f"{fn}: 'sdf' already has a column '{output}'; pass output=... to name the result")
        out_schema = {**dict(schema), output: pl.Int32}
        return map_rows(sdf, _kmeans_part, out_schema,
                        kwargs=dict(centers=np.ascontiguousarray(model.cluster_centers_), columns=cols, output=output))
    if isinstance(model, clv._fitters._TimeModel):
        return predict(sdf, model, **options)
    from crmkit.churn import ChurnModel

    if isinstance(model, ChurnModel):
        return _score_churn(sdf, model, fn, **options)
    raise CrmError(f"{fn}: model must be a fitted crmkit.KMeans, CLV fitter or churn.ChurnModel, found "
                   f"{type(model).__name__}")


def _churn_part(df: pl.DataFrame, *, model_json: str, reasons: bool, exact: bool, out_schema: dict[str, Any]) -> pl.DataFrame:
    from crmkit.churn import ChurnModel

    if df.height == 0:
        return pl.DataFrame(schema=out_schema)
    # The model travels as its JSON (its Rust trees do not pickle), read once per partition.
    model = ChurnModel.from_json(model_json)
    return model.score_features(df, reasons=reasons, exact_reasons=exact)


def _score_churn(sdf: Any, model: Any, fn: str, reasons: bool = True, exact_reasons: Optional[bool] = None) -> Any:
    """ChurnModel.score_features per partition on churn features (from
    :func:`crmkit.spark.churn_features`). Whether reasons use exact TreeSHAP is decided
    once for the whole frame (by its row count, as on one machine), never per partition,
    so every customer gets the single-machine scores and reasons."""
    from crmkit.churn._model import EXACT_REASON_ROWS

    model._check_fitted(fn)
    _need(sdf, {model.customer: "any", "tenure": "numeric"}, fn)
    exact = exact_reasons
    if reasons and exact is None:
        exact = sdf.count() <= EXACT_REASON_ROWS
    sample = to_polars(sdf.limit(1))
    if sample.height == 0:
        raise CrmError(f"{fn}: the features frame has no rows to score")
    template = model.score_features(sample, reasons=reasons, exact_reasons=exact)
    out_schema = dict(template.schema)
    return map_rows(sdf, _churn_part, out_schema, kwargs=dict(model_json=model.to_json(), reasons=reasons,
                                                              exact=bool(exact), out_schema=out_schema))


def _clean_part(df: pl.DataFrame, *, columns: Any, region: str) -> pl.DataFrame:
    from crmkit import clean

    return clean.customers(df, columns, region).data


def clean(sdf: Any, columns: Optional[dict[str, str]] = None, region: str = "CN") -> Any:
    """:func:`crmkit.clean.customers` on every partition (``mapInArrow``, no shuffle):
    the same cleaned values, rows in place. ``columns`` maps column -> kind
    ('text', 'name', 'phone', 'email', 'date', 'amount', 'skip'); None infers them
    from the names. (The per-column report needs a pass of its own: run
    ``crmkit.clean.customers`` on a sample for it.)

    >>> cleaned = crmkit.spark.clean(customers_sdf, {"phone": "phone", "name": "name"})  # doctest: +SKIP
    """
    from crmkit import clean as _clean

    _pyspark()
    require_spark_frame(sdf, function="crmkit.spark.clean", argument="sdf")
    template = _clean.customers(pl.DataFrame(schema=polars_schema(sdf)), columns, region).data
    return map_rows(sdf, _clean_part, template.schema, kwargs=dict(columns=columns, region=region))
