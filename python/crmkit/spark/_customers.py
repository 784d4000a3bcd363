"""Per-customer analyses on Spark: rfm, profile, clv_summary, cohorts, funnel.

Each follows the same three steps, so its answer equals the single-machine function's:

1. the single-machine function runs on an empty frame of the same schema, on the
   driver, so bad arguments and missing or mistyped columns raise its own errors
   before any Spark job;
2. one pass over the partitions (``mapInArrow``, no shuffle) gathers the global
   figures the function needs (null counts, the last date that sets ``as_of``, ...),
   with the same polars expressions as on one machine;
3. the per-customer work runs once per hashed customer bucket with those figures
   fixed (:func:`crmkit.spark.map_customers`), through the same crmkit code; what
   needs every customer at once (RFM's quantile ranks, cohort and funnel totals)
   is a Spark aggregation or window on the per-customer rows.

Extension point: a new per-customer analysis (churn features, per-customer KPIs) is one
function here of the same shape: validate with the single-machine function, gather its
global figures with :func:`_partition_stats`, run its per-customer core in a bucket
function in ``_work.py`` through :func:`crmkit.spark.map_customers`.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, Union, cast

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

from crmkit._history import as_of_literal, naive_datetime
from crmkit.errors import CrmError, SchemaError
from crmkit.spark import _work
from crmkit.spark._base import (
    _pyspark,
    from_polars,
    map_customers,
    map_rows,
    polars_schema,
    require_spark_frame,
    session_of,
    to_polars,
    validate_with,
)

__all__ = ["rfm", "profile", "clv_summary", "cohorts", "funnel"]


def _warn(message: str) -> None:
    warnings.warn(message, UserWarning, stacklevel=3)


def _with_row_order(sdf: Any) -> Any:
    """Tags rows with their position (monotonically increasing within the input's
    partition order), so each bucket can restore the input order before summing."""
    from pyspark.sql import functions as F

    return sdf.withColumn(_work.ROW, F.monotonically_increasing_id())


def _partition_stats(sdf: Any, fn: Any, schema: Mapping[str, PolarsDataType], **kwargs: Any) -> pl.DataFrame:
    """One row of figures per partition (computed by ``fn`` with polars), on the driver."""
    return to_polars(map_rows(sdf, fn, schema, kwargs=kwargs))


def _sum(stats: pl.DataFrame, column: str) -> int:
    return int(stats[column].sum() or 0) if stats.height else 0


def _vanished(dropped: Any, result: Any, customer: str) -> int:
    """How many customers of dropped rows have no row in the result (one Spark job)."""
    return int(dropped.select(customer).distinct().join(result.select(customer), on=customer, how="left_anti").count())


# --------------------------------------------------------------------------------------
# rfm
# --------------------------------------------------------------------------------------


def _rfm_stats(df: pl.DataFrame, *, customer: str, date: str, amount: str, order: Optional[str], as_of: Any,
               returns: str) -> pl.DataFrame:
    """Per partition: the counts crmkit.rfm checks and the last date it aggregates."""
    schema = df.schema
    d, a = pl.col(date), pl.col(amount)
    dtype = schema[date]
    key_cols = [customer] + ([order] if order is not None else [])
    as_of_lit = pl.lit(as_of, dtype=dtype) if as_of is not None else None
    float_amount = schema[amount].is_float()
    valid = d.is_not_null() & a.is_not_null()
    if float_amount:
        valid = valid & ~a.is_nan()
    in_window = valid if as_of_lit is None else valid & (d <= as_of_lit)
    kept = in_window & (a >= 0) if returns == "exclude" else in_window
    exprs = [pl.col(c).null_count().cast(pl.Int64).alias(f"null:{c}") for c in dict.fromkeys(key_cols + [date, amount])]
    exprs.append((a.is_nan().sum() if float_amount else pl.lit(0)).cast(pl.Int64).alias("nan"))
    exprs.append(((valid & (d > as_of_lit)).sum() if as_of_lit is not None else pl.lit(0)).cast(pl.Int64).alias("future"))
    exprs.append((in_window & (a < 0)).sum().cast(pl.Int64).alias("returns"))
    exprs.append(d.filter(kept).max().alias("end"))
    return df.select(exprs)


def _rfm_filter_and_agg(df: pl.DataFrame, *, customer: str, date: str, amount: str, order: Optional[str], as_of: Any,
                        returns: str, net: bool, monetary: str, recency_as_of: Any) -> pl.DataFrame:
    """A bucket's rows filtered as crmkit.rfm filters them, then aggregated."""
    schema = df.schema
    d, a = pl.col(date), pl.col(amount)
    valid = d.is_not_null() & a.is_not_null()
    if schema[amount].is_float():
        valid = valid & ~a.is_nan()
    keep = valid if as_of is None else valid & (d <= pl.lit(as_of, dtype=schema[date]))
    if returns == "exclude":
        keep = keep & (a >= 0)
    return _work.rfm_bucket(df.filter(keep), customer=customer, date=date, amount=amount, order=order, net=net,
                            monetary=monetary, as_of=recency_as_of)


def rfm(
    sdf: Any,
    customer: str = "customer_id",
    date: str = "order_date",
    amount: str = "amount",
    order: Optional[str] = None,
    as_of: Any = None,
    bins: Union[int, Mapping[str, Sequence[float]]] = 5,
    monetary: str = "sum",
    segments: Any = "rfm",
    returns: str = "net",
    *,
    n_buckets: Optional[int] = None,
) -> Any:
    """:func:`crmkit.rfm` on a Spark DataFrame of orders: the same arguments, columns
    and values (one row per customer; Spark rows have no order, sort if you need one).

    Recency, frequency and monetary value are aggregated per hashed customer bucket
    by crmkit's own code; the quantile scores need every customer's rank, computed
    by three Spark window sorts over the per-customer rows (one row per customer, not
    per order). The per-customer rows are cached while the ranks are taken.

    >>> scores = crmkit.spark.rfm(orders_sdf, bins=5)  # doctest: +SKIP
    """
    from crmkit.segment import _rfm as seg

    _pyspark()
    require_spark_frame(sdf, function="crmkit.spark.rfm", argument="sdf")
    validate_with(seg.rfm, sdf, customer=customer, date=date, amount=amount, order=order, as_of=as_of, bins=bins,
                  monetary=monetary, segments=segments, returns=returns)
    schema = polars_schema(sdf)
    dtype = schema[date]
    fn = seg._FUNC
    cuts: Optional[dict[str, list[float]]] = None
    if isinstance(bins, Mapping):
        cuts = {k: [float(x) for x in seg._check_cuts(v, k)] for k, v in bins.items()}
        level_set = {len(v) + 1 for v in cuts.values()}
        levels: Optional[int] = level_set.pop() if len(level_set) == 1 else None
    else:
        bins = int(bins)
        levels = bins
    as_of_value = pl.select(as_of_literal(as_of, dtype, function=fn)).item() if as_of is not None else None

    stats = _partition_stats(
        sdf, _rfm_stats,
        {**{f"null:{c}": pl.Int64 for c in dict.fromkeys([customer] + ([order] if order else []) + [date, amount])},
         "nan": pl.Int64, "future": pl.Int64, "returns": pl.Int64, "end": dtype},
        customer=customer, date=date, amount=amount, order=order, as_of=as_of_value, returns=returns)
    for c in [customer] + ([order] if order is not None else []):
        n_null = _sum(stats, f"null:{c}")
        if n_null:
            raise SchemaError(
                f"{fn}: column '{c}' in 'orders' holds {n_null} null value(s); a key "
                f"column must be complete. Drop or fill them first (orders.drop_nulls('{c}'))."
            )
    n_null_date, n_null_amount = _sum(stats, f"null:{date}"), _sum(stats, f"null:{amount}")
    nan_amount, n_future, n_ret = _sum(stats, "nan"), _sum(stats, "future"), _sum(stats, "returns")
    if n_future:
        _warn(f"{fn}: ignored {n_future} row(s) dated after as_of={as_of}")
    if returns == "exclude" and n_ret:
        _warn(f"{fn}: dropped {n_ret} return row(s) ('{amount}' < 0) as returns='exclude'")
    net = returns == "net" and n_ret > 0
    data_end = stats["end"].max() if stats.height else None

    out_schema: dict[str, PolarsDataType] = {
        customer: schema[customer], "recency_days": pl.Int64, "frequency": pl.Int64, "monetary": pl.Float64,
        "r_score": pl.Int32, "f_score": pl.Int32, "m_score": pl.Int32, "rfm_score": pl.String,
    }
    if segments is not None:
        out_schema["segment"] = pl.String
    spark = session_of(sdf)
    if data_end is None:
        _warn(f"{fn}: no orders to score; returning an empty frame")
        return from_polars(spark, pl.DataFrame(schema=out_schema))
    if as_of_value is None:
        recency_as_of = pl.select(seg._day_floor(dtype, pl.lit(data_end, dtype=dtype)) + pl.duration(days=1)).item()
    else:
        recency_as_of = as_of_value
    per = map_customers(
        _with_row_order(sdf), _rfm_filter_and_agg,
        {customer: schema[customer], "recency_days": pl.Int64, "frequency": pl.Int64, "monetary": pl.Float64},
        customer=customer, n_buckets=n_buckets,
        kwargs=dict(customer=customer, date=date, amount=amount, order=order, as_of=as_of_value, returns=returns,
                    net=net, monetary=monetary, recency_as_of=recency_as_of),
    )
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    per = per.persist()
    counts = per.agg(F.count(F.lit(1)).alias("n"), F.sum((F.col("frequency") == 0).cast("long")).alias("only")).collect()[0]
    only_returns = int(counts["only"] or 0)
    if only_returns:
        _warn(f"{fn}: left out {only_returns} customer(s) with returns only (no purchase with '{amount}' >= 0)")
        per = per.filter(F.col("frequency") > 0)
    n = int(counts["n"]) - only_returns
    if n_null_date + n_null_amount + nan_amount:
        invalid = F.col(date).isNull() | F.col(amount).isNull()
        if schema[amount].is_float():
            invalid = invalid | F.isnan(F.col(amount))
        lost = _vanished(sdf.filter(invalid), per, customer)
        _warn(
            f"{fn}: dropped rows with a null '{date}' ({n_null_date}), a null '{amount}' "
            f"({n_null_amount}) or a NaN '{amount}' ({nan_amount}) before computing RFM"
            + (f"; {lost} customer(s) had no other order to count and are not in the result" if lost else "")
        )
    if n == 0:
        _warn(f"{fn}: no orders to score; returning an empty frame")
        return from_polars(spark, pl.DataFrame(schema=out_schema))
    if cuts is None:
        # pandas' rank(method="first") in customer order: ties broken by customer id.
        cid = F.col(customer).asc()
        per = (
            per.withColumn("_rr", F.row_number().over(Window.orderBy(F.col("recency_days").asc(), cid)))
            .withColumn("_rf", F.row_number().over(Window.orderBy(F.col("frequency").asc(), cid)))
            .withColumn("_rm", F.row_number().over(Window.orderBy(F.col("monetary").asc(), cid)))
        )
    return map_rows(per, _work.rfm_scores, out_schema,
                    kwargs=dict(n=n, bins=bins, cuts=cuts, segments=segments, levels=levels, out_schema=out_schema))


# --------------------------------------------------------------------------------------
# profile
# --------------------------------------------------------------------------------------


def _one_row(schema: pl.Schema) -> pl.DataFrame:
    """One row of the schema with a plain value in each column (1, 1.0, "a", 2000-01-01)."""
    values: dict[str, Any] = {}
    for c, t in schema.items():
        if t.is_integer():
            values[c] = pl.Series(c, [1]).cast(t)
        elif t.is_float():
            values[c] = pl.Series(c, [1.0]).cast(t)
        elif t == pl.String:
            values[c] = pl.Series(c, ["a"])
        elif t == pl.Date or isinstance(t, pl.Datetime):
            values[c] = pl.Series(c, [_dt.date(2000, 1, 1)]).cast(t)
        else:
            values[c] = pl.Series(c, [None]).cast(t)
    return pl.DataFrame(list(values.values()))


def _profile_stats(df: pl.DataFrame, *, customer: str, date: str, amount: str, as_of: Any, returns: str) -> pl.DataFrame:
    from crmkit.profiles import _to_us

    dtype = df.schema[date]
    d, a = pl.col(date), pl.col(amount)
    in_window = d.is_not_null() if as_of is None else d.is_not_null() & (d <= pl.lit(as_of, dtype=dtype))
    kept = in_window & ~(a < 0).fill_null(False) if returns == "exclude" else in_window
    return df.select(
        pl.col(customer).null_count().cast(pl.Int64).alias("null_customer"),
        d.null_count().cast(pl.Int64).alias("null_date"),
        (in_window & (a < 0)).sum().cast(pl.Int64).alias("returns"),
        _to_us(d, dtype).filter(kept).max().cast(pl.Int64).alias("end_us"),
    )


def profile(
    sdf: Any,
    as_of: Any = None,
    *,
    customer: str = "customer_id",
    date: str = "order_date",
    amount: str = "amount",
    order: Optional[str] = None,
    channel: Optional[str] = None,
    discount: Optional[str] = None,
    returns: str = "net",
    n_buckets: Optional[int] = None,
) -> Any:
    """:func:`crmkit.profile` of a Spark DataFrame of orders: one row per customer with
    the same columns and values. ``channel``, ``discount`` and ``order`` default to
    the standard column names when the frame has them (as on one machine).
    ``customers``, ``items`` and ``events`` are not taken here: join their figures to
    the result in Spark.

    >>> p = crmkit.spark.profile(orders_sdf)  # doctest: +SKIP
    """
    from crmkit import profiles as pr
    from crmkit.segment import _rfm as seg

    _pyspark()
    fn = pr._FUNC
    require_spark_frame(sdf, function="crmkit.spark.profile", argument="sdf")
    cols = sdf.columns
    names = dict(
        order=order if order is not None else ("order_id" if "order_id" in cols else None),
        channel=channel if channel is not None else ("channel" if "channel" in cols else None),
        discount=discount if discount is not None else ("discount" if "discount" in cols else None),
    )
    kwargs: dict[str, Any] = dict(customer=customer, date=date, amount=amount, returns=returns, **names)
    validate_with(pr.profile, sdf, as_of=as_of, **kwargs)
    schema = polars_schema(sdf)
    dtype = schema[date]
    as_of_value = pl.select(as_of_literal(as_of, dtype, function=fn)).item() if as_of is not None else None
    stats = _partition_stats(sdf, _profile_stats, {"null_customer": pl.Int64, "null_date": pl.Int64,
                                                   "returns": pl.Int64, "end_us": pl.Int64},
                             customer=customer, date=date, amount=amount, as_of=as_of_value, returns=returns)
    n_null = _sum(stats, "null_customer")
    if n_null:
        raise SchemaError(f"{fn}: column '{customer}' in 'orders' holds {n_null} null value(s); drop or fill them first "
                          f"(orders.drop_nulls('{customer}'))")
    n_ret, n_null_date = _sum(stats, "returns"), _sum(stats, "null_date")
    if returns == "exclude" and n_ret:
        _warn(f"{fn}: dropped {n_ret} return row(s) ('{amount}' < 0) as returns='exclude'")
    end_us = stats["end_us"].max() if stats.height else None
    # The result's schema is the single-machine function's on one made-up order.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        template = pr.profile(_one_row(schema), as_of=_dt.date(2000, 1, 2), **kwargs).clear()
    spark = session_of(sdf)
    if end_us is None:
        return from_polars(spark, template)
    if as_of is None:
        end = pl.lit(end_us, pl.Int64).cast(pl.Datetime("us"))
        if getattr(dtype, "time_zone", None) is None:
            as_of_dt = end.dt.truncate("1d") + pl.duration(days=1)
        else:
            as_of_dt = pr._naive_utc(pr._from_naive_utc(end, dtype).dt.truncate("1d") + pl.duration(days=1), dtype)
        naive_utc = pl.select(as_of_dt).item()
        if dtype == pl.Date:
            bucket_as_of: Any = naive_utc.date()
        elif getattr(dtype, "time_zone", None) is None:
            bucket_as_of = naive_utc
        else:
            bucket_as_of = naive_utc.replace(tzinfo=_dt.timezone.utc)
    else:
        bucket_as_of = as_of
    out = map_customers(_with_row_order(sdf), _work.profile_bucket, template.schema, customer=customer,
                        n_buckets=n_buckets, kwargs=dict(as_of=bucket_as_of, **kwargs))
    if n_null_date:
        from pyspark.sql import functions as F

        lost = _vanished(sdf.filter(F.col(date).isNull()), out, customer)
        _warn(f"{fn}: dropped {n_null_date} row(s) with a null '{date}'"
              + (f"; {lost} customer(s) had no other order and are not in the result" if lost else ""))
    if returns == "net" and n_ret:
        from pyspark.sql import functions as F

        valid = F.col(date).isNotNull()
        left_out = _vanished(sdf.filter(valid), out, customer)
        if left_out:
            _warn(f"{fn}: left out {left_out} customer(s) with returns only (no purchase with '{amount}' >= 0)")
    return out


# --------------------------------------------------------------------------------------
# clv_summary
# --------------------------------------------------------------------------------------


def _clv_stats(df: pl.DataFrame, *, customer: str, date: str, amount: Optional[str], cal: Any, obs: Any) -> pl.DataFrame:
    from crmkit import clv

    dt = clv._summary._as_datetime_expr(date, df.schema[date])
    exprs = [pl.len().cast(pl.Int64).alias("rows"), pl.col(customer).null_count().cast(pl.Int64).alias("c"),
             pl.col(date).null_count().cast(pl.Int64).alias("d"), dt.max().alias("max")]
    if amount is not None:
        av = pl.col(amount).cast(pl.Float64)
        exprs.append((av.is_null() | av.is_nan()).sum().cast(pl.Int64).alias("a"))
    else:
        exprs.append(pl.lit(0, pl.Int64).alias("a"))
    if cal is not None:
        hold = dt > pl.lit(cal)
        if obs is not None:
            hold = hold & (dt <= pl.lit(obs))
        exprs.append(hold.sum().cast(pl.Int64).alias("hold"))
        exprs.append(dt.filter(hold).max().alias("hold_max"))
    else:
        exprs += [pl.lit(0, pl.Int64).alias("hold"), pl.lit(None, pl.Datetime("us")).alias("hold_max")]
    return df.select(exprs)


def clv_summary(
    sdf: Any,
    customer: str = "customer_id",
    date: str = "order_date",
    amount: Optional[str] = None,
    freq: str = "D",
    observation_end: Any = None,
    calibration_end: Any = None,
    freq_multiplier: float = 1,
    include_first_transaction: bool = False,
    *,
    n_buckets: Optional[int] = None,
) -> Any:
    """:func:`crmkit.clv.summary` of a Spark DataFrame of transactions: lifetimes'
    ``frequency``, ``recency``, ``T`` (and ``monetary_value``; with
    ``calibration_end`` the holdout columns), one row per customer, equal to the
    single-machine result.

    >>> summary_sdf = crmkit.spark.clv_summary(orders_sdf, amount="amount", freq="W")  # doctest: +SKIP
    """
    from crmkit import clv

    _pyspark()
    fn = "clv.summary"
    require_spark_frame(sdf, function="crmkit.spark.clv_summary", argument="sdf")
    args = dict(customer=customer, date=date, amount=amount, freq=freq, freq_multiplier=freq_multiplier,
                include_first_transaction=include_first_transaction)
    validate_with(clv.summary, sdf, observation_end=observation_end, calibration_end=calibration_end, **args)
    schema = polars_schema(sdf)
    cal = naive_datetime(calibration_end, "calibration_end", fn) if calibration_end is not None else None
    obs = naive_datetime(observation_end, "observation_end", fn) if observation_end is not None else None
    stats = _partition_stats(sdf, _clv_stats, {"rows": pl.Int64, "c": pl.Int64, "d": pl.Int64, "max": pl.Datetime("us"),
                                               "a": pl.Int64, "hold": pl.Int64, "hold_max": pl.Datetime("us")},
                             customer=customer, date=date, amount=amount, cal=cal, obs=obs)
    rows = _sum(stats, "rows")
    if rows == 0:
        raise CrmError(f"{fn}: 'transactions' is empty (0 rows); there is nothing to summarise")
    for key, col in (("c", customer), ("d", date), ("a", amount)):
        if col is not None and _sum(stats, key):
            raise SchemaError(
                f"{fn}: column '{col}' in 'transactions' holds {_sum(stats, key)} null/NaN value(s) of {rows}; "
                f"drop or fill them first (for example transactions.drop_nulls('{col}'))"
            )
    end = obs if obs is not None else cast(_dt.datetime, stats["max"].max())
    out_schema: dict[str, PolarsDataType] = {customer: schema[customer], "frequency": pl.Int64, "recency": pl.Float64,
                                          "T": pl.Float64}
    if amount is not None:
        out_schema["monetary_value"] = pl.Float64
    if cal is not None:
        if cal >= end:
            raise CrmError(f"{fn}: calibration_end ({cal}) must be before the observation end ({end})")
        if _sum(stats, "hold") == 0:
            raise CrmError(
                f"{fn}: no transactions fall in the holdout period ({cal}, {end}]; check calibration_end and observation_end"
            )
        out_schema["frequency_holdout"] = pl.Int64
        if amount is not None:
            out_schema["monetary_value_holdout"] = pl.Float64
        out_schema["duration_holdout"] = pl.Float64
    return map_customers(_with_row_order(sdf), _work.clv_bucket, out_schema, customer=customer, n_buckets=n_buckets,
                         kwargs=dict(end=end, calibration_end=cal, **args))


# --------------------------------------------------------------------------------------
# cohorts
# --------------------------------------------------------------------------------------


def _cohort_stats(df: pl.DataFrame, *, customer: str, date: str, period: str, value: Optional[str]) -> pl.DataFrame:
    base = _work.cohort_base(df, customer=customer, date=date, period=period, value=value)
    return base.select(pl.len().cast(pl.Int64).alias("rows"), pl.col(customer).null_count().cast(pl.Int64).alias("c"),
                       pl.col("_slot").null_count().cast(pl.Int64).alias("s"), pl.col("_slot").max().cast(pl.Int64).alias("last"))


def cohorts(sdf: Any, customer: str = "customer_id", date: str = "order_date", period: str = "1mo",
            value: Optional[str] = None, *, n_buckets: Optional[int] = None) -> Any:
    """:func:`crmkit.cohorts` of a Spark DataFrame of orders: the long cohort table
    (``cohort``, ``period_index``, ``customers``, ``cohort_size``, ``retention``, and
    with ``value`` its sums), equal to the single-machine result. Each customer
    bucket builds its part of the table; the parts are added up in Spark and the
    (small) table is finished on the driver.

    >>> table = crmkit.spark.cohorts(orders_sdf, period="1mo")  # doctest: +SKIP
    """
    from crmkit import behaviour as bh

    _pyspark()
    fn = "crmkit.cohorts"
    require_spark_frame(sdf, function="crmkit.spark.cohorts", argument="sdf")
    validate_with(bh.cohorts, sdf, customer=customer, date=date, period=period, value=value)
    schema = polars_schema(sdf)
    stats = _partition_stats(sdf, _cohort_stats, {"rows": pl.Int64, "c": pl.Int64, "s": pl.Int64, "last": pl.Int64},
                             customer=customer, date=date, period=period, value=value)
    rows = _sum(stats, "rows")
    for key, col in (("c", customer), ("s", date)):
        if _sum(stats, key):
            raise SchemaError(
                f"{fn}: column '{col}' in 'orders' holds {_sum(stats, key)} null/NaN value(s) of "
                f"{rows}; a key column must be complete. Drop or fill them first "
                f"(for example orders.drop_nulls('{col}'))."
            )
    spark = session_of(sdf)
    template = bh.cohorts(pl.DataFrame(schema=schema), customer=customer, date=date, period=period, value=value)
    if rows == 0:
        return from_polars(spark, template)
    last = int(cast(int, stats["last"].max()))
    part_schema: dict[str, PolarsDataType] = {"cohort": pl.Date, "period_index": pl.Int64, "customers": pl.UInt32,
                                           "cohort_size": pl.UInt32, "retention": pl.Float64}
    if value:
        part_schema.update({"value": pl.Float64, "value_per_customer": pl.Float64})
    parts = map_customers(sdf, _work.cohort_bucket, part_schema, customer=customer, n_buckets=n_buckets,
                          kwargs=dict(customer=customer, date=date, period=period, value=value, last=last))
    from pyspark.sql import functions as F

    aggs = [F.sum("customers").alias("customers"), F.sum("cohort_size").alias("cohort_size")]
    if value:
        aggs.append(F.sum("value").alias("value"))
    table = to_polars(parts.groupBy("cohort", "period_index").agg(*aggs))
    table = table.with_columns(pl.col("customers").cast(pl.UInt32), pl.col("cohort_size").cast(pl.UInt32))
    table = table.with_columns((pl.col("customers") / pl.col("cohort_size")).alias("retention"))
    if value:
        table = table.with_columns((pl.col("value") / pl.col("cohort_size")).alias("value_per_customer"))
    return from_polars(spark, table.sort("cohort", "period_index").select(template.columns))


# --------------------------------------------------------------------------------------
# funnel
# --------------------------------------------------------------------------------------


def funnel(
    sdf: Any,
    steps: Sequence[Any],
    user: str = "customer_id",
    event: str = "event",
    timestamp: str = "timestamp",
    window: Any = "7d",
    mode: str = "ordered",
    by: Union[None, str, Sequence[str]] = None,
    *,
    n_buckets: Optional[int] = None,
) -> Any:
    """:func:`crmkit.funnel` (ClickHouse ``windowFunnel`` semantics) over a Spark
    DataFrame of events: each user bucket finds every user's level and times with
    crmkit's kernel; users per step, the exact median (``percentile``) and the mean
    time to step are Spark aggregations; the small funnel table is finished on the
    driver. Equal to the single-machine result.

    >>> f = crmkit.spark.funnel(events_sdf, ["view", "cart", "buy"], window="1d")  # doctest: +SKIP
    """
    from crmkit import behaviour as bh

    _pyspark()
    require_spark_frame(sdf, function="crmkit.spark.funnel", argument="sdf")
    validate_with(bh.funnel, sdf, steps, user=user, event=event, timestamp=timestamp, window=window, mode=mode, by=by)
    steps = bh._check_steps(steps, "crmkit.funnel")
    keys = bh._as_list(by)
    schema = polars_schema(sdf)
    integer_time = schema[timestamp].is_integer()
    part_schema = {**{k: schema[k] for k in keys}, "_j": pl.Int64, "_time": pl.Int64}
    rows = map_customers(sdf, _work.funnel_bucket, part_schema, customer=user, n_buckets=n_buckets,
                         kwargs=dict(steps=steps, user=user, event=event, timestamp=timestamp, window=window, mode=mode,
                                     by=keys))
    from pyspark.sql import functions as F

    agg = to_polars(
        rows.groupBy(*keys, "_j").agg(
            F.count(F.lit(1)).alias("users"),
            F.expr("percentile(_time, 0.5)").alias("_median"),
            F.sum(F.col("_time").cast("decimal(38,0)")).cast("string").alias("_sum"),
        )
    )
    spark = session_of(sdf)
    key_values = agg.filter(pl.col("_j") == -1).select(keys).sort(keys) if keys else pl.DataFrame()
    agg = agg.filter(pl.col("_j") >= 0).with_columns(
        pl.col("users").cast(pl.UInt32),
        # The mean from the exact integer sum (a float sum would depend on the order).
        (pl.col("_sum").cast(pl.Float64) / pl.col("users").cast(pl.Float64)).alias("_mean"),
    ).drop("_sum")
    if agg.height == 0 and not keys:
        agg = pl.DataFrame(schema={"_j": pl.Int64, "users": pl.UInt32, "_median": pl.Float64, "_mean": pl.Float64})
    table = bh._funnel_table(agg, key_values, steps, keys, integer_time)
    return from_polars(spark, table)


del np
