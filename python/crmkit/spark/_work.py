"""Functions that run on the Spark workers, one call per customer bucket or partition.

Each takes a polars DataFrame (all rows of the bucket's customers, or a partition's
rows) and returns one; the driver sends them by reference with their arguments, so a
worker needs the same crmkit version as the driver.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional

import numpy as np
import polars as pl

ROW = "__crmkit_row"


def _in_input_order(df: pl.DataFrame) -> pl.DataFrame:
    """A bucket's rows in the input's order (Spark's shuffle does not keep it): sums of
    floats then add a customer's amounts in the same order as on one machine."""
    return df.sort(ROW).drop(ROW) if ROW in df.columns else df


# --- rfm ------------------------------------------------------------------------------


def rfm_bucket(df: pl.DataFrame, *, customer: str, date: str, amount: str, order: Optional[str], net: bool,
               monetary: str, as_of: Any) -> pl.DataFrame:
    """recency_days, frequency, monetary per customer, as crmkit.rfm aggregates them
    (the rows arrive filtered as rfm filters them)."""
    from crmkit.segment import _rfm as seg

    df = _in_input_order(df)
    dtype = df.schema[date]
    agg = None
    if order is None and df.schema[customer] in seg._DENSE_ID_TYPES and df.height:
        # The same one-pass kernel as on one machine (sums in row order), on dense codes.
        codes = df[customer].rank("dense").cast(pl.Int64)
        coded = df.with_columns(codes.alias(customer))
        agg = seg._dense_agg(coded, customer, date, amount, dtype, net)
        if agg is not None:
            ids = pl.DataFrame({customer: codes, "_id": df[customer]}).unique(customer)
            agg = agg.join(ids, on=customer, how="left").with_columns(pl.col("_id").alias(customer)).drop("_id")
    if agg is None:
        d, a = pl.col(date), pl.col(amount)
        lf = df.lazy()
        if net:
            purchase = a >= 0
            lf = lf.with_columns(
                pl.when(purchase).then(d).alias("_pdate"),
                (pl.when(purchase).then(pl.col(order)) if order is not None else purchase.cast(pl.UInt32)).alias("_pfreq"),
            )
            last = pl.col("_pdate").max()
            freq = pl.col("_pfreq").sum() if order is None else pl.col("_pfreq").drop_nulls().n_unique()
        else:
            last = d.max()
            freq = pl.len() if order is None else pl.col(order).n_unique()
        agg = lf.group_by(customer).agg(
            last.alias("_last"), freq.cast(pl.Int64).alias("frequency"), a.sum().cast(pl.Float64).alias("monetary")
        ).collect()
    as_of_lit = pl.lit(as_of, dtype=dtype)
    from crmkit._history import days_between

    out = agg.with_columns(days_between(as_of_lit, pl.col("_last"), dtype).alias("recency_days"))
    if monetary == "mean":
        out = out.with_columns(pl.col("monetary") / pl.col("frequency"))
    return out.select(customer, "recency_days", "frequency", "monetary")


def rfm_scores(df: pl.DataFrame, *, n: int, bins: Any, cuts: Any, segments: Any, levels: Any,
               out_schema: dict[str, Any]) -> pl.DataFrame:
    """Scores, rfm_score and segment for rows holding their global ranks (row-local)."""
    from crmkit.segment import _rfm as seg

    seg_expr = seg._segment_expr(segments, levels) if segments is not None else None
    cut_arrays = {k: np.asarray(v, dtype=np.float64) for k, v in cuts.items()} if cuts is not None else None
    return seg._add_scores(df, n, bins, cut_arrays, segments, seg_expr, out_schema)


# --- profile --------------------------------------------------------------------------


def profile_bucket(df: pl.DataFrame, **kwargs: Any) -> pl.DataFrame:
    from crmkit.profiles import profile

    df = _in_input_order(df)
    with warnings.catch_warnings():
        # The driver reports dropped rows and customers once for all buckets.
        warnings.simplefilter("ignore")
        return profile(df, **kwargs)


# --- clv summary ----------------------------------------------------------------------


def clv_bucket(df: pl.DataFrame, *, customer: str, date: str, amount: Optional[str], freq: str, end: Any,
               calibration_end: Any, freq_multiplier: float, include_first_transaction: bool) -> pl.DataFrame:
    """crmkit.clv.summary's per-customer part with the period ends fixed by the driver."""
    from crmkit import clv

    df = _in_input_order(df)
    unit = clv._summary._unit(freq, "crmkit.spark.clv_summary")
    schema = df.schema
    cols = [pl.col(customer), clv._summary._as_datetime_expr(date, schema[date]).alias("__date")]
    if amount is not None:
        cols.append(pl.col(amount).cast(pl.Float64).alias("__amount"))
    base = df.lazy().select(cols)
    id_dtype = schema[customer]
    with_amount = amount is not None
    if calibration_end is None:
        end_p = clv._summary._period_of(end, unit)
        rows = base.with_columns(clv._summary._period_expr(unit)).filter(pl.col("__period") <= end_p)
        per = clv._summary._per_customer(rows, customer, id_dtype, with_amount)
        return clv._summary._finish(per, customer, with_amount, end_p, freq_multiplier, include_first_transaction)
    cal_p = clv._summary._period_of(calibration_end, unit)
    cal_rows = base.filter(pl.col("__date") <= calibration_end).with_columns(clv._summary._period_expr(unit))
    cal = clv._summary._finish(clv._summary._per_customer(cal_rows, customer, id_dtype, with_amount), customer, with_amount, cal_p,
                      freq_multiplier, include_first_transaction)
    hold_rows = base.filter((pl.col("__date") > calibration_end) & (pl.col("__date") <= end)).with_columns(
        clv._summary._period_expr(unit))
    hold = clv._summary._per_customer(hold_rows, customer, id_dtype, with_amount)
    hold_cols = [pl.col(customer), pl.col("periods").cast(pl.Int64).alias("frequency_holdout")]
    if with_amount:
        hold_cols.append((pl.col("total") / pl.col("rows")).alias("monetary_value_holdout"))
    duration = (clv._summary._period_of(end, unit) - cal_p) / freq_multiplier
    fill = [pl.col("frequency_holdout").fill_null(0)]
    if with_amount:
        fill.append(pl.col("monetary_value_holdout").fill_null(0.0))
    if hold.height == 0:
        hold = pl.DataFrame(schema={customer: id_dtype, "periods": pl.Int64, "total": pl.Float64, "rows": pl.Int64})
    return cal.join(hold.select(hold_cols), on=customer, how="left").with_columns(
        *fill, pl.lit(float(duration)).alias("duration_holdout"))


# --- cohorts --------------------------------------------------------------------------


def cohort_bucket(df: pl.DataFrame, *, customer: str, date: str, period: str, value: Optional[str],
                  last: int) -> pl.DataFrame:
    from crmkit import behaviour as bh

    df = _in_input_order(df)
    base = cohort_base(df, customer=customer, date=date, period=period, value=value)
    if base.height == 0:
        return pl.DataFrame()
    return bh._cohort_table(base, customer, value, last)


def cohort_base(df: pl.DataFrame, *, customer: str, date: str, period: str, value: Optional[str]) -> pl.DataFrame:
    """(customer, _slot, _start[, _value]) as crmkit.cohorts computes them."""
    from crmkit import behaviour as bh

    every, unit = bh._period(period, "crmkit.spark.cohorts")
    slot, start = bh._cohort_slot(df.schema, date, every, unit)
    return df.select(
        pl.col(customer), slot.alias("_slot"), start.alias("_start"),
        *([pl.col(value).cast(pl.Float64).alias("_value")] if value else []),
    )


# --- funnel ---------------------------------------------------------------------------


def funnel_bucket(df: pl.DataFrame, *, steps: list[Any], user: str, event: str, timestamp: str, window: Any, mode: str,
                  by: list[Any]) -> pl.DataFrame:
    """Per user: a presence row (_j = -1) and one row per step reached with its time."""
    from crmkit import behaviour as bh

    users, times, steps, keys, _ = bh._levels(df, steps, user, event, timestamp, window, mode, by or None,
                                              "crmkit.spark.funnel")
    n_steps = len(steps)
    mask = times >= 0
    uidx, sidx = np.nonzero(mask)
    reached = pl.DataFrame({"_u": uidx.astype(np.int64), "_j": sidx.astype(np.int64),
                            "_time": times[mask].astype(np.int64)})
    present = pl.DataFrame({"_u": np.arange(users.height, dtype=np.int64), "_j": np.full(users.height, -1, np.int64),
                            "_time": np.zeros(users.height, np.int64)})
    rows = pl.concat([present, reached])
    key_frame = users.select(keys).with_row_index("_u").with_columns(pl.col("_u").cast(pl.Int64))
    del n_steps
    return rows.join(key_frame, on="_u", how="left").select(*keys, "_j", "_time")


# --- row-local ------------------------------------------------------------------------


def apply_exprs(df: pl.DataFrame, *, build: Any, args: tuple[Any, ...] = ()) -> pl.DataFrame:
    """``df.with_columns(build(df.schema, *args))``: cleaners, model scores. The
    expressions are built here on the worker (crmkit's plugin expressions name the
    compiled library by its path, which differs from machine to machine)."""
    return df.with_columns(build(df.schema, *args))


# --- churn features -------------------------------------------------------------------


def churn_stats(df: pl.DataFrame, *, customer: str, date: str, amount: str, channel: Optional[str],
                c_us: int) -> pl.DataFrame:
    """Per partition: the pre-cutoff row count, null keys/amounts among those rows and
    the channel values seen before the cutoff with their counts (long rows kind, key, n)."""
    from crmkit.churn._features import _date_us

    pre = df.filter(_date_us(date, df.schema[date]) < c_us)
    rows = [("rows", "", pre.height), ("null", customer, pre[customer].null_count()),
            ("null", amount, pre[amount].null_count())]
    out = pl.DataFrame(rows, schema={"kind": pl.String, "key": pl.String, "n": pl.Int64}, orient="row")
    if channel is not None:
        counts = pre.group_by(pl.col(channel).cast(pl.String).alias("key")).agg(pl.len().cast(pl.Int64).alias("n"))
        out = pl.concat([out, counts.drop_nulls("key").select(pl.lit("channel").alias("kind"), "key", "n")])
    return out


def churn_btyd_inputs(df: pl.DataFrame, *, customer: str, date: str, amount: str, c_us: int) -> pl.DataFrame:
    """BG/NBD and Gamma-Gamma inputs in days per customer, as churn.features derives
    them: frequency = repeat purchase days, recency = first to last purchase day, T =
    first purchase day to the last day before the cutoff, monetary_value = mean value
    of the repeat purchase days (0 for one-time buyers)."""
    from crmkit.churn._features import _DAY_US, _date_us

    day_us = _DAY_US
    pre = _in_input_order(df).select(
        pl.col(customer), (_date_us(date, df.schema[date]) // day_us).alias("__day"),
        _date_us(date, df.schema[date]).alias("__us"), pl.col(amount).cast(pl.Float64).alias("__a"),
    ).filter(pl.col("__us") < c_us).sort("__us", maintain_order=True)
    per = pre.group_by(customer).agg(
        pl.col("__day").n_unique().cast(pl.Float64).alias("__days"),
        pl.col("__day").min().alias("__first"),
        pl.col("__day").max().alias("__last"),
        pl.col("__a").sum().alias("__sum"),
        pl.col("__a").filter(pl.col("__day") == pl.col("__day").min()).sum().alias("__a_first"),
    )
    cut_day = (c_us - 1) // day_us
    x = pl.col("__days") - 1
    return per.select(
        pl.col(customer),
        x.alias("frequency"),
        (pl.col("__last") - pl.col("__first")).cast(pl.Float64).alias("recency"),
        (pl.lit(cut_day) - pl.col("__first")).cast(pl.Float64).alias("T"),
        pl.when(x > 0).then((pl.col("__sum") - pl.col("__a_first")) / x).otherwise(0.0).alias("monetary_value"),
    )


def churn_bucket(df: pl.DataFrame, *, c_us: int, date: str, channel: Optional[str], channels: Optional[list[Any]],
                 options: dict[str, Any], null_btyd: bool, out_schema: dict[str, Any]) -> pl.DataFrame:
    """churn.features on a bucket's customers with the driver's global figures fixed:
    the channel columns seen before the cutoff anywhere (an Enum of them) and the
    BG/NBD and Gamma-Gamma models fitted on every customer."""
    from crmkit.churn._features import _date_us

    df = _in_input_order(df)
    df = df.filter(_date_us(date, df.schema[date]) < c_us)
    if df.height == 0:
        return pl.DataFrame(schema=out_schema)
    return churn_features_of(df, channel=channel, channels=channels, options=options,
                             null_btyd=null_btyd).select(list(out_schema))


def churn_features_of(df: pl.DataFrame, *, channel: Optional[str], channels: Optional[list[Any]], options: dict[str, Any],
                      null_btyd: bool) -> pl.DataFrame:
    """churn.features on pre-cutoff rows, the channel read as an Enum of the channels
    seen anywhere (so every bucket has the same channel_share columns)."""
    from crmkit import churn

    if channel is not None and channels is not None:
        df = df.with_columns(pl.when(pl.col(channel).cast(pl.String).is_in(channels))
                             .then(pl.col(channel).cast(pl.String)).cast(pl.Enum(channels)).alias(channel))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = churn.features(df, **options)
    if null_btyd:
        out = out.with_columns(pl.lit(None, pl.Float64).alias(c) for c in
                               ("btyd_p_alive", "btyd_p_no_purchase", "btyd_expected_purchases", "btyd_expected_spend"))
    return out


def churn_item_bucket(df: pl.DataFrame, *, customer: str, order_id: str, category: str, product: str,
                      quantity: Optional[str]) -> pl.DataFrame:
    """Item figures per customer from the bucket's pre-cutoff order lines (each line
    already carries its order's customer)."""
    from crmkit.churn._features import _item_stats

    keyed = df.lazy().select(customer, order_id).unique(order_id)
    lines = df.drop(customer)
    return _item_stats(keyed, lines, customer, order_id, category, product, quantity, "crmkit.spark.churn_features").collect()


def churn_event_bucket(df: pl.DataFrame, *, c_us: int, event_customer: str, customer: str, event_time: str,
                       event_name: str, session: str, cart_event: str, purchase_event: str) -> pl.DataFrame:
    from crmkit.churn._features import _event_features

    return _event_features(df, c_us, event_customer, customer, event_time, event_name, session, cart_event,
                           purchase_event, "crmkit.spark.churn_features").collect()


class NoSpendModel:
    """Stands for a Gamma-Gamma model that could not be fitted: NaN spend per purchase
    (btyd_expected_spend null), as churn.features gives on one machine."""

    def conditional_expected_average_profit(self, frequency: Any, monetary_value: Any) -> np.ndarray:
        return np.full(len(np.asarray(frequency)), np.nan)


# --- forecast -------------------------------------------------------------------------


def forecast_stats(df: pl.DataFrame, *, id_col: str, time_col: str, target_col: str) -> pl.DataFrame:
    """Per bucket of whole series: how often each step between consecutive points occurs
    (as integer microseconds or index steps, for the frequency inference) and the counts
    that decide whether the intermittent-demand candidate joins ``auto``."""
    dtype = df.schema[time_col]
    ds = pl.col(time_col)
    if dtype == pl.Date:
        ds = ds.cast(pl.Datetime("us"))
    elif not dtype.is_integer():
        ds = ds.dt.cast_time_unit("us")
    step = ds.sort().diff().over(id_col)
    if not dtype.is_integer():
        step = step.dt.total_microseconds()
    steps = (df.select(step.cast(pl.Int64).alias("key")).drop_nulls()
             .group_by("key").agg(pl.len().cast(pl.Int64).alias("n")).with_columns(pl.lit("step").alias("kind")))
    y = pl.col(target_col).cast(pl.Float64)
    counts = df.select(
        pl.lit("rows").alias("kind"), pl.lit(0, pl.Int64).alias("key"), pl.len().cast(pl.Int64).alias("n"),
    ).vstack(df.select(pl.lit("negative").alias("kind"), pl.lit(0, pl.Int64).alias("key"),
                       (y < 0).sum().cast(pl.Int64).alias("n")))
    counts = counts.vstack(df.select(pl.lit("zero").alias("kind"), pl.lit(0, pl.Int64).alias("key"),
                                     (y == 0).sum().cast(pl.Int64).alias("n")))
    return pl.concat([counts, steps.select("kind", "key", "n")])


def forecast_bucket(df: pl.DataFrame, *, auto: bool, options: dict[str, Any], out_schema: dict[str, Any],
                    fixed: Optional[dict[str, Any]] = None) -> pl.DataFrame:
    """crmkit.forecast.forecast (or auto) on a bucket's whole series, with the driver's
    frequency and candidate models fixed (and, for auto, the panel's choice and conformal
    quantiles decided over every bucket)."""
    from crmkit import forecast as fc
    from crmkit.forecast import _auto

    if df.height == 0:
        return pl.DataFrame(schema=out_schema)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out: pl.DataFrame = _auto._auto(df, **options, fixed=fixed) if auto else fc.forecast(df, **options)
    return out.select(list(out_schema))


def forecast_auto_stats(df: pl.DataFrame, *, options: dict[str, Any], default: Optional[str]) -> pl.DataFrame:
    """A bucket's figures for auto's panel decisions: without ``default``, each pool
    option's summed cross-validated MASE over the series every pool option scored (and
    their count); with it, the scaled absolute errors of the series' chosen options per
    horizon step (for the conformal quantiles)."""
    from crmkit.forecast import _auto

    stats: dict[str, Any] = {}
    if df.height:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _auto._auto(df, **options, fixed={"default": default, "quantiles": {}} if default else None, stats=stats)
    if default is None:
        pool = stats.get("pool", [])
        return pl.DataFrame({"name": pool, "order": list(range(len(pool))),
                             "sum": [float(v) for v in stats.get("pool_sum", [])],
                             "n": [int(stats.get("pool_n", 0))] * len(pool),
                             "fallback": [stats.get("fallback", "")] * len(pool)},
                            schema={"name": pl.String, "order": pl.Int64, "sum": pl.Float64, "n": pl.Int64,
                                    "fallback": pl.String})
    errors = stats.get("errors", [])
    return pl.DataFrame({"step": np.concatenate([np.full(len(e), i, dtype=np.int64) for i, e in enumerate(errors)])
                         if errors else np.empty(0, dtype=np.int64),
                         "value": np.concatenate(errors) if errors else np.empty(0)},
                        schema={"step": pl.Int64, "value": pl.Float64})


# --- kpi ------------------------------------------------------------------------------


def _kpi_orders(df: pl.DataFrame, *, date: str, n: int, unit: str, as_of: Any) -> pl.LazyFrame:
    """Orders before ``as_of`` with their naive timestamp and period start, as kpi.compute prepares them."""
    from crmkit.kpi import _compute as kc

    lf = df.lazy().with_columns(kc._local_ts(date, df.schema[date]).alias("__ts"))
    lf = lf.filter(pl.col("__ts") < pl.lit(as_of, dtype=pl.Datetime("us")))
    return lf.with_columns(kc._period_start(pl.col("__ts"), n, unit).alias("period_start"))


def kpi_periods(df: pl.DataFrame, *, date: str, n: int, unit: str) -> pl.DataFrame:
    """Per partition and period: the first and last naive timestamp (the driver finds the
    analysis date and the periods with orders from them)."""
    from crmkit.kpi import _compute as kc

    lf = df.lazy().select(kc._local_ts(date, df.schema[date]).alias("__ts")).drop_nulls()
    return lf.group_by(kc._period_start(pl.col("__ts"), n, unit).alias("period_start")).agg(
        pl.col("__ts").min().alias("first"), pl.col("__ts").max().alias("last")).collect()


def kpi_orders_bucket(df: pl.DataFrame, *, customer: str, date: str, amount: str, discount: Optional[str],
                      by_cols: list[str], n: int, unit: str, as_of: Any, retained: bool, churn_days: Optional[int],
                      ends: Optional[list[Any]], out_schema: dict[str, Any]) -> pl.DataFrame:
    """A customer bucket's order sums per (period, group) (``__part`` = "base") and, with
    ``churn_days``, its windowed churn counts (``__part`` = "churn"): additive over buckets."""
    from crmkit.kpi import _compute as kc

    df = _in_input_order(df)
    lf = _kpi_orders(df, date=date, n=n, unit=unit, as_of=as_of)
    keys = ["period_start", *by_cols]
    parts = [kc._order_base(lf, df.schema, by_cols, customer, amount, discount, n, unit, retained)
             .with_columns(pl.lit("base").alias("__part"))]
    if churn_days is not None:
        parts.append(kc._churn(lf, None, keys, by_cols, customer, n, unit, churn_days, None, ends=ends)
                     .with_columns(pl.lit("churn").alias("__part")))
    frames = [f.collect() for f in parts]
    out = pl.concat(frames, how="diagonal_relaxed")
    return out.select([pl.col(c).cast(t) if c in out.columns else pl.lit(None, t).alias(c)
                       for c, t in out_schema.items()])


def kpi_events_bucket(df: pl.DataFrame, *, customer: str, timestamp: str, event: str, purchase_event: str,
                      by_cols: list[str], n: int, unit: str, as_of: Any, out_schema: dict[str, Any]) -> pl.DataFrame:
    from crmkit.kpi import _compute as kc

    df = _in_input_order(df)
    ev = _kpi_orders(df, date=timestamp, n=n, unit=unit, as_of=as_of)
    out = kc._event_frame(ev, ["period_start", *by_cols], customer, event, purchase_event).collect()
    return out.select([pl.col(c).cast(t) for c, t in out_schema.items()])


def kpi_surveys_part(df: pl.DataFrame, *, survey_date: str, nps_score: str, csat: str, by_cols: list[str], n: int,
                     unit: str, as_of: Any, out_schema: dict[str, Any]) -> pl.DataFrame:
    from crmkit.kpi import _compute as kc

    sv = _kpi_orders(df, date=survey_date, n=n, unit=unit, as_of=as_of)
    out = kc._survey_frame(sv, ["period_start", *by_cols], nps_score, csat).collect()
    return out.select([pl.col(c).cast(t) for c, t in out_schema.items()])
