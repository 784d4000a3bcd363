"""crmkit.spark.forecast: every series of a long Spark frame forecast by crmkit's Rust
models, one Python call per bucket of whole series (a grouped Arrow UDF), the same
numbers as :func:`crmkit.forecast.forecast` / :func:`crmkit.forecast.auto` on one machine.

What the single-machine call decides from all series together is decided on the driver
first, from one pass of counts: the frequency (the most common step between consecutive
points, as ``forecast`` infers it) and, for ``auto``, whether the intermittent-demand
candidate joins (non-negative data with more than 5% zeros).
"""

from __future__ import annotations

import datetime as _dt
import warnings
from typing import Any, Optional, Sequence, cast

import polars as pl

from crmkit.errors import CrmError, SchemaError
from crmkit.spark import _work
from crmkit.spark._base import _pyspark, map_customers, polars_schema, require_spark_frame, to_polars

__all__ = ["forecast"]

_FN = "crmkit.spark.forecast"


def _infer(steps: pl.DataFrame, dtype: pl.DataType, time_col: str) -> Any:
    """The single-machine inference on a two-point series with the most common step."""
    from crmkit.forecast._frames import _infer_freq

    if steps.height == 0:
        raise CrmError(f"{_FN}: cannot infer the frequency of '{time_col}' (every series has a single point); pass freq=")
    if dtype.is_integer():
        positive = steps.filter(pl.col("key") > 0)
        step = int(cast(int, positive["key"].min())) if positive.height else 1  # an integer column
        return step
    mode = steps.sort(["n", "key"], descending=[True, False])["key"][0]
    start = _dt.datetime(2001, 1, 1)
    frame = pl.DataFrame({"unique_id": ["s", "s"], "ds": [start, start + _dt.timedelta(microseconds=int(mode))]})
    return _infer_freq(frame, pl.Datetime("us"), function=_FN, time_col=time_col).text()


def forecast(
    series_sdf: Any,
    *,
    h: int,
    models: Optional[Sequence[Any]] = None,
    freq: Any = None,
    level: Optional[Sequence[float]] = None,
    season_length: Optional[int] = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    n_buckets: Optional[int] = None,
) -> Any:
    """Forecasts every series of a long Spark frame (``unique_id, ds, y``, as
    :func:`crmkit.forecast.series` builds them) ``h`` steps ahead.

    With ``models`` (crmkit.forecast model objects) the result is
    :func:`crmkit.forecast.forecast`'s: ``unique_id, ds`` and a column per model alias
    (plus ``-lo-``/``-hi-`` bounds per ``level``). Without, it is
    :func:`crmkit.forecast.auto`'s per-series choice or combination (``auto`` and
    ``model`` columns; ``season_length`` as there). Each series is fitted on its own,
    so the values equal the single-machine ones exactly. ``auto``'s two decisions that
    involve every series (the panel's option, the conformal interval quantiles) are made
    on the driver from every bucket's figures, as on one machine: that costs one more
    pass over the series for each (the cross-validation fits run again).

    >>> fc = crmkit.spark.forecast(series_sdf, h=8, freq="1w")  # doctest: +SKIP
    >>> fc = crmkit.spark.forecast(series_sdf, h=8, models=[AutoETS(season_length=52)])  # doctest: +SKIP
    """
    from crmkit import forecast as fc
    from crmkit.forecast._engine import check_models

    _pyspark()
    require_spark_frame(series_sdf, function=_FN, argument="series_sdf")
    if isinstance(h, bool) or not isinstance(h, int) or h < 1:
        raise CrmError(f"{_FN}: argument 'h' (the horizon) must be a whole number >= 1, found {h!r}")
    schema = polars_schema(series_sdf)
    for col, kind in ((id_col, "the series key"), (time_col, "the period"), (target_col, "the value")):
        if col not in schema:
            raise SchemaError(f"{_FN}: column '{col}' ({kind}) not found in 'series_sdf'; it has columns {list(schema)}")
    auto = models is None
    cands = None if models is None else check_models(list(models), function=_FN)
    # The single-machine checks (dtypes, freq against the ds type, levels) on a tiny
    # frame of the same schema: one series of two points is enough for them.
    dtype = schema[time_col]
    if not (dtype == pl.Date or isinstance(dtype, pl.Datetime) or dtype.is_integer()):
        raise SchemaError(f"forecast: column '{time_col}' in 'df' must be a date, a datetime or an integer period "
                          f"index, found dtype {dtype}")
    stats = to_polars(map_customers(
        series_sdf, _work.forecast_stats, {"kind": pl.String, "key": pl.Int64, "n": pl.Int64}, customer=id_col,
        n_buckets=n_buckets, kwargs=dict(id_col=id_col, time_col=time_col, target_col=target_col)))
    totals = stats.group_by("kind", "key").agg(pl.col("n").sum())

    def count(kind: str) -> int:
        hit = totals.filter(pl.col("kind") == kind)
        return int(hit["n"].sum()) if hit.height else 0

    if count("rows") == 0:
        raise CrmError(f"{_FN}: 'series_sdf' is empty (0 rows); there is no series to forecast")
    if freq is None:
        freq = _infer(totals.filter(pl.col("kind") == "step").select("key", "n"), dtype, time_col)
    options: dict[str, Any] = dict(h=h, freq=freq, level=level, id_col=id_col, time_col=time_col, target_col=target_col)
    if auto:
        from crmkit.forecast._frames import parse_freq

        m = season_length if season_length is not None else parse_freq(freq, function=_FN).season_length()
        cands = fc.default_candidates(int(m))
        if count("negative") == 0 and count("zero") / count("rows") > 0.05:
            cands.append(fc.CrostonSBA())
        options.update(models=cands, season_length=season_length)
    else:
        options["models"] = cands
    # The output schema, from the first series (one small job), through the same function.
    first = series_sdf.select(id_col).limit(1)
    sample = to_polars(series_sdf.join(first, on=id_col, how="inner"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out_schema = dict((fc.auto if auto else fc.forecast)(sample, **options).schema)
    fixed = _auto_decisions(series_sdf, options, h, level, id_col, n_buckets) if auto else None
    return map_customers(series_sdf, _work.forecast_bucket, out_schema, customer=id_col, n_buckets=n_buckets,
                         kwargs=dict(auto=auto, options=options, out_schema=out_schema, fixed=fixed))


def _auto_decisions(series_sdf: Any, options: dict[str, Any], h: int, level: Any, id_col: str,
                    n_buckets: Optional[int]) -> dict[str, Any]:
    """auto's two panel-wide decisions, made as on one machine from every bucket's figures:
    the panel's option (lowest mean cross-validated MASE over the series every pool option
    scored) and, with ``level``, the conformal quantiles of the pooled scaled errors. Each
    is one pass over the series (the cross-validation fits run again in each pass)."""
    from crmkit.forecast._auto import conformal_quantiles
    from crmkit.forecast._frames import check_levels

    pool = to_polars(map_customers(
        series_sdf, _work.forecast_auto_stats,
        {"name": pl.String, "order": pl.Int64, "sum": pl.Float64, "n": pl.Int64, "fallback": pl.String},
        customer=id_col, n_buckets=n_buckets, kwargs=dict(options=options, default=None)))
    totals = pool.group_by("name", "order").agg(pl.col("sum").sum(), pl.col("n").sum()).sort("order")
    n = int(cast(int, totals["n"].max()) or 0) if totals.height else 0  # an Int64 column
    if n > 0:
        means = totals.with_columns((pl.col("sum") / pl.col("n")).alias("mean"))
        default = str(means.sort(["mean", "order"])["name"][0])
    else:
        default = str(pool["fallback"][0]) if pool.height else "combination"
    # The pool's count is per bucket; the buckets' series are disjoint, so they add up.
    fixed: dict[str, Any] = {"default": default, "quantiles": None}
    levels = check_levels(level, function=_FN)
    if levels and options.get("intervals", "conformal") == "conformal":
        errors = to_polars(map_customers(
            series_sdf, _work.forecast_auto_stats, {"step": pl.Int64, "value": pl.Float64},
            customer=id_col, n_buckets=n_buckets, kwargs=dict(options=options, default=default)))
        per_step = [errors.filter(pl.col("step") == i)["value"].to_numpy() for i in range(h)]
        fixed["quantiles"] = conformal_quantiles(per_step, levels)
    return fixed
