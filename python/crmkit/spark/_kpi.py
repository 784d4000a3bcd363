"""crmkit.spark.kpi: kpi.compute on Spark DataFrames.

Every KPI of :func:`crmkit.kpi.compute` is a sum over customers per (period, group):
each customer bucket computes its small table on a worker (the same polars query as on
one machine), the driver adds the buckets up and finishes the table (grid of periods
and groups, ratios, previous and year-ago values) exactly as one machine does.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Optional, Sequence, Union, cast

import polars as pl

from crmkit.errors import CrmError, SchemaError
from crmkit.spark import _work
from crmkit.spark._base import (
    _pyspark,
    empty_like,
    from_polars,
    map_customers,
    map_rows,
    polars_schema,
    require_spark_frame,
    session_of,
    to_polars,
    validate_with,
)

_FN = "crmkit.spark.kpi"


def _with_groups(table: Any, name: str, by_cols: list[str], customers: Any, customer: str) -> tuple[Any, str]:
    """The table with the ``by`` columns it lacks joined from ``customers`` (a Spark join)."""
    lacking = [b for b in by_cols if b not in table.columns]
    if not lacking:
        return table, ""
    if customers is None:
        return None, f"column(s) {lacking} are not in {name} and no customers table was given"
    absent = [b for b in lacking if b not in customers.columns]
    if absent:
        return None, f"column(s) {absent} are in neither {name} nor customers"
    return table.join(customers.select(customer, *lacking), on=customer, how="left"), ""


def kpi(
    sdf: Any,
    *,
    freq: str = "1mo",
    by: Union[None, str, Sequence[str]] = None,
    customers: Any = None,
    events: Any = None,
    surveys: Any = None,
    kpis: Union[None, str, Sequence[str]] = None,
    churn_days: Optional[int] = None,
    as_of: Any = None,
    customer: str = "customer_id",
    date: str = "order_date",
    amount: str = "amount",
    discount: str = "discount",
    event: str = "event",
    timestamp: str = "timestamp",
    purchase_event: str = "purchase",
    survey_date: str = "survey_date",
    nps_score: str = "nps_score",
    csat: str = "csat",
    n_buckets: Optional[int] = None,
) -> Any:
    """:func:`crmkit.kpi.compute` of Spark DataFrames (orders, and optionally customers,
    events and surveys): the same long KPI table, as a Spark DataFrame, equal to the
    single-machine result. Timestamps are read in the Spark session's time zone.

    Each customer bucket computes its per-(period, group) sums on a worker; the driver
    adds them up (periods x groups rows) and finishes the table. Three Spark jobs read
    the orders: the periods present (for the analysis date), the bucket sums, and —
    with ``churn_days`` — nothing more (the windows travel with the second job).

    >>> table = crmkit.spark.kpi(orders_sdf, freq="1mo", by="region", customers=customers_sdf)  # doctest: +SKIP
    """
    from crmkit.kpi import _compute as kc

    _pyspark()
    require_spark_frame(sdf, function=_FN, argument="sdf")
    for name, table in (("customers", customers), ("events", events), ("surveys", surveys)):
        if table is not None:
            require_spark_frame(table, function=_FN, argument=name)
    # The single-machine checks (columns, types, by columns, KPI names), on empty frames.
    validate_with(kc.compute, sdf, freq=freq, by=by,
                  customers=None if customers is None else empty_like(customers),
                  events=None if events is None else empty_like(events),
                  surveys=None if surveys is None else empty_like(surveys),
                  kpis=kpis, churn_days=churn_days, as_of=as_of, customer=customer, date=date, amount=amount,
                  discount=discount, event=event, timestamp=timestamp, purchase_event=purchase_event,
                  survey_date=survey_date, nps_score=nps_score, csat=csat)
    n, unit = kc.parse_freq(freq, _FN)
    by_cols = kc._as_list(by)
    as_of_ts = kc._as_of_date(as_of, _FN)
    spark = session_of(sdf)

    orders, why = _with_groups(sdf, "orders", by_cols, customers, customer)
    if orders is None:
        raise SchemaError(f"{_FN}: 'by' {by_cols}: {why}. Pass a customers table holding them (joined on '{customer}').")
    if customers is not None and any(b not in sdf.columns for b in by_cols):
        dup = customers.groupBy(customer).count().filter("count > 1").count()
        if dup:
            raise SchemaError(f"{_FN}: column '{customer}' in 'customers' must be unique to join 'by' columns; "
                              f"{dup} id(s) repeat")
    schema = polars_schema(orders)
    has_discount = discount in schema.names() and schema[discount].is_numeric()
    ev = sv = None
    available: dict[str, str] = {}
    if events is not None:
        ev, why = _with_groups(events, "events", by_cols, customers, customer)
    else:
        why = "no events given"
    if ev is None:
        available.update({k: why for k in kc.EVENT_KPIS})
    if surveys is not None:
        _check_survey_values(surveys, nps_score, csat)
        sv, why = _with_groups(surveys, "surveys", by_cols, customers, customer)
    else:
        why = "no surveys given"
    if sv is None:
        available.update({k: why for k in kc.SURVEY_KPIS})
    wanted = kc.wanted_kpis(kpis, available, has_discount=has_discount, discount=discount, by_cols=by_cols,
                            events_skipped=events is not None and ev is None,
                            surveys_skipped=surveys is not None and sv is None)
    want = set(wanted)

    # Job 1: the periods with orders (and the analysis date by default).
    periods = to_polars(map_rows(orders, _work.kpi_periods, {"period_start": pl.Date, "first": pl.Datetime("us"),
                                                              "last": pl.Datetime("us")},
                                 kwargs=dict(date=date, n=n, unit=unit)))
    if as_of_ts is None:
        last = cast(Optional[_dt.datetime], periods["last"].max()) if periods.height else None  # a Datetime column
        if last is None:
            raise CrmError(f"{_FN}: 'orders' has no rows with a date; there is nothing to measure")
        as_of_ts = _dt.datetime.combine(last.date() + _dt.timedelta(days=1), _dt.time())
    default_churn = churn_days is None
    retained = default_churn and bool(want & {"churn_rate", "retention_rate"})
    churn_windows = not default_churn and bool(want & {"churn_rate", "retention_rate"})
    ends = None
    if churn_windows:
        present = periods.filter(pl.col("first") < as_of_ts).select("period_start").unique()
        ends = kc.churn_ends(present.lazy(), n, unit).collect()["period_start"].sort().to_list()

    # Job 2: per customer bucket, the order sums (and windowed churn counts).
    keys = ["period_start", *by_cols]
    group_types = {b: schema[b] for b in by_cols}
    counts = ["orders", "active_customers", "new_customers", "__repeaters"] + (["__disc"] if has_discount else []) \
        + (["__retained"] if retained or churn_windows else []) + (["__prev_active"] if churn_windows else [])
    out_schema = {"__part": pl.String, "period_start": pl.Date, **group_types, "revenue": pl.Float64,
                  **{c: pl.Int64 for c in counts}}
    parts = to_polars(map_customers(
        orders, _work.kpi_orders_bucket, out_schema, customer=customer, n_buckets=n_buckets,
        kwargs=dict(customer=customer, date=date, amount=amount, discount=discount if has_discount else None,
                    by_cols=by_cols, n=n, unit=unit, as_of=as_of_ts, retained=retained,
                    churn_days=churn_days if churn_windows else None, ends=ends, out_schema=out_schema)))
    base_cols = ["revenue", "orders", "active_customers", "new_customers", "__repeaters"] \
        + (["__disc"] if has_discount else []) + (["__retained"] if retained else [])
    small: dict[str, pl.DataFrame] = {
        "base": _add_up(parts.filter(pl.col("__part") == "base"), keys, base_cols)}
    if churn_windows:
        small["churn"] = _add_up(parts.filter(pl.col("__part") == "churn"), keys, ["__prev_active", "__retained"])
    if ev is not None and want & set(kc.EVENT_KPIS):
        ev_types = {b: polars_schema(ev)[b] for b in by_cols}
        ev_schema = {"period_start": pl.Date, **ev_types, "visitors": pl.Int64, "__buyers": pl.Int64}
        small["events"] = _add_up(to_polars(map_customers(
            ev, _work.kpi_events_bucket, ev_schema, customer=customer, n_buckets=n_buckets,
            kwargs=dict(customer=customer, timestamp=timestamp, event=event, purchase_event=purchase_event,
                        by_cols=by_cols, n=n, unit=unit, as_of=as_of_ts, out_schema=ev_schema))),
            keys, ["visitors", "__buyers"])
    if sv is not None and want & set(kc.SURVEY_KPIS):
        sv_types = {b: polars_schema(sv)[b] for b in by_cols}
        sv_schema = {"period_start": pl.Date, **sv_types, "responses": pl.Int64, "__nps_n": pl.Int64,
                     "__nps_net": pl.Int64, "__csat_n": pl.Int64, "__csat_sum": pl.Float64}
        small["surveys"] = _add_up(to_polars(map_rows(
            sv, _work.kpi_surveys_part, sv_schema,
            kwargs=dict(survey_date=survey_date, nps_score=nps_score, csat=csat, by_cols=by_cols, n=n, unit=unit,
                        as_of=as_of_ts, out_schema=sv_schema))),
            keys, ["responses", "__nps_n", "__nps_net", "__csat_n", "__csat_sum"])
    table = kc.finish(small, by_cols=by_cols, wanted=wanted, has_discount=has_discount, n=n, unit=unit,
                      as_of_ts=as_of_ts)
    return from_polars(spark, table)


def _add_up(parts: pl.DataFrame, keys: list[str], values: list[str]) -> pl.DataFrame:
    """The buckets' tables summed per (period, group); null groups are a group."""
    return parts.group_by(keys).agg(pl.col(values).sum()).sort(keys, nulls_last=True)


def _check_survey_values(surveys: Any, nps_score: str, csat: str) -> None:
    """kpi.compute's range checks of survey scores, as one Spark aggregation."""
    from pyspark.sql import functions as F

    checks = []
    if nps_score in surveys.columns:
        s = F.col(nps_score)
        checks.append(F.sum(((s < 0) | (s > 10) | (F.round(s, 0) != s)).cast("int")).alias(nps_score))
    if csat in surveys.columns:
        s = F.col(csat)
        checks.append(F.sum(((s < 1) | (s > 5)).cast("int")).alias(csat))
    if not checks:
        return
    bad = surveys.agg(*checks).collect()[0].asDict()
    for col, k in bad.items():
        if k:
            rng = "whole numbers 0-10" if col == nps_score else "scores 1-5"
            raise CrmError(f"kpi.compute: column '{col}' in 'surveys' holds {k} value(s) outside {rng}; fix or drop "
                           "them first")
