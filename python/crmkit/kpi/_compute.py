"""KPIs over time: one polars query from orders (and events, surveys) to a long table.

Every KPI is a sum of counts per (period, group): ratio KPIs carry their summed
numerator and denominator and are recomputed from them, never averaged. The query is
lazy end to end, so a parquet scan of 100M orders runs through the streaming engine.
With integer customer ids the per-customer step is a Rust sort of 16 bytes per order
(100M orders by month and region from parquet: 54 s and 4.8 GB peak on 2 loaded
cores); otherwise the only per-customer state is one row per (customer, period,
group) that bought, held one hashed customer bucket at a time above 25M orders.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from typing import Any, Callable, Literal, Optional, Sequence, Union, cast, overload

import numpy as np
import polars as pl

from crmkit import _core
from crmkit._validate import as_lazy, require_columns, schema_of
from crmkit.errors import CrmError, SchemaError

ORDER_KPIS = (
    "revenue",
    "orders",
    "aov",
    "active_customers",
    "new_customers",
    "returning_customers",
    "repeat_rate",
    "churn_rate",
    "retention_rate",
    "revenue_per_customer",
    "discount_rate",
)
EVENT_KPIS = ("visitors", "conversion_rate")
SURVEY_KPIS = ("nps", "csat", "responses")
ALL_KPIS = ORDER_KPIS + EVENT_KPIS + SURVEY_KPIS
#: KPIs that are shares of a count (numerator <= denominator): judged with binomial noise.
RATE_KPIS = frozenset({"repeat_rate", "churn_rate", "retention_rate", "discount_rate", "conversion_rate"})
#: KPIs that count people or orders: their noise is at least Poisson.
COUNT_KPIS = frozenset({"orders", "active_customers", "new_customers", "returning_customers", "visitors", "responses"})
STANDARD_COLUMNS = (
    "period_start",
    "period_end",
    "is_complete",
    "kpi",
    "value",
    "numerator",
    "denominator",
    "previous",
    "change",
    "change_pct",
    "year_ago",
    "yoy_pct",
)

_FREQ = re.compile(r"^(\d+)(d|w|mo|q|y)$")
_FN = "kpi.compute"


def parse_freq(freq: Any, function: str = _FN) -> tuple[int, str]:
    """'1mo' -> (1, 'mo'). Periods are whole days or longer (d, w, mo, q, y)."""
    m = _FREQ.match(freq) if isinstance(freq, str) else None
    if m is None or int(m.group(1)) < 1:
        raise CrmError(
            f"{function}: argument 'freq' must be a polars duration of whole days or longer "
            f"('1d', '7d', '1w', '1mo', '3mo', '1q', '1y'), found {freq!r}"
        )
    return int(m.group(1)), m.group(2)


def _as_list(by: Union[None, str, Sequence[str]]) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    out = list(by)
    if not all(isinstance(b, str) for b in out):
        raise CrmError(f"{_FN}: argument 'by' must be a column name or a list of names, found {by!r}")
    return out


def local_date(name: str, dtype: pl.DataType) -> pl.Expr:
    """The calendar day of a date/datetime in its own time zone (a zone-aware timestamp's
    wall clock, not UTC)."""
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            col = col.dt.replace_time_zone(None)
        return col.dt.date()
    return col


def _as_of_date(as_of: Any, function: str) -> Optional[dt.datetime]:
    """as_of as a naive wall-clock datetime (the data's own zone)."""
    if as_of is None:
        return None
    if isinstance(as_of, str):
        try:
            as_of = dt.datetime.fromisoformat(as_of)
        except ValueError:
            raise CrmError(f"{function}: argument 'as_of' must be a date, datetime or ISO string, found {as_of!r}") from None
    if isinstance(as_of, dt.datetime):
        return as_of.replace(tzinfo=None)
    if isinstance(as_of, dt.date):
        return dt.datetime.combine(as_of, dt.time())
    raise CrmError(f"{function}: argument 'as_of' must be a date, datetime or ISO string, found {as_of!r}")


def _local_ts(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            col = col.dt.replace_time_zone(None)
        return col.cast(pl.Datetime("us"))
    return col.cast(pl.Datetime("us"))


def _shift(expr: pl.Expr, n: int, unit: str, sign: int = 1) -> pl.Expr:
    """Moves a period start by n units (calendar-aware for months, quarters, years)."""
    if unit == "q":
        n, unit = 3 * n, "mo"
    return expr.dt.offset_by(f"{'-' if sign < 0 else ''}{n}{unit}")


def _check_kpis(kpis: Any, available: dict[str, str]) -> Optional[list[str]]:
    if kpis is None:
        return None
    names = [kpis] if isinstance(kpis, str) else list(kpis)
    unknown = [k for k in names if k not in ALL_KPIS]
    if unknown:
        raise CrmError(f"{_FN}: unknown KPI(s) {unknown}; known: {list(ALL_KPIS)}")
    missing = [f"{k} ({available[k]})" for k in names if k in available]
    if missing:
        raise CrmError(f"{_FN}: KPI(s) requested but their input is absent: {', '.join(missing)}")
    return names


def wanted_kpis(kpis: Any, available: dict[str, str], *, has_discount: bool, discount: str, by_cols: list[str],
                events_skipped: bool, surveys_skipped: bool) -> list[str]:
    """The KPIs to compute: those asked for (an error names any whose input is absent),
    or every one whose input is present. ``available`` maps KPIs that cannot be
    computed to the reason (it gains the discount rate's)."""
    if not has_discount:
        available["discount_rate"] = f"no numeric '{discount}' column in orders"
    wanted = _check_kpis(kpis, available)
    if wanted is None:
        wanted = [k for k in ALL_KPIS if k not in available]
        if by_cols and events_skipped:
            warnings.warn(f"{_FN}: event KPIs skipped: {available['visitors']}", stacklevel=3)
        if by_cols and surveys_skipped:
            warnings.warn(f"{_FN}: survey KPIs skipped: {available['nps']}", stacklevel=3)
    return wanted


def _group_source(
    by: list[str],
    table: Optional[pl.LazyFrame],
    table_name: str,
    customers: Optional[pl.LazyFrame],
    customer: str,
) -> tuple[Optional[pl.LazyFrame], str]:
    """Adds the `by` columns a table lacks from `customers`; returns (table, why-not),
    why-not being "" when the table is returned."""
    if table is None:
        return None, f"no {table_name} given"
    names = schema_of(table).names()
    lacking = [b for b in by if b not in names]
    if not lacking:
        return table, ""
    if customers is None:
        return None, f"column(s) {lacking} are not in {table_name} and no customers table was given"
    cnames = schema_of(customers).names()
    absent = [b for b in lacking if b not in cnames]
    if absent:
        return None, f"column(s) {absent} are in neither {table_name} nor customers"
    return table.join(customers.select(customer, *lacking), on=customer, how="left"), ""


@overload
def compute(
    orders: Any,
    *,
    freq: str = ...,
    by: Union[None, str, Sequence[str]] = ...,
    customers: Any = ...,
    events: Any = ...,
    surveys: Any = ...,
    kpis: Union[None, str, Sequence[str]] = ...,
    churn_days: Optional[int] = ...,
    as_of: Any = ...,
    customer: str = ...,
    date: str = ...,
    amount: str = ...,
    discount: str = ...,
    event: str = ...,
    timestamp: str = ...,
    purchase_event: str = ...,
    survey_date: str = ...,
    nps_score: str = ...,
    csat: str = ...,
    lazy: Literal[False] = ...,
) -> pl.DataFrame: ...


@overload
def compute(
    orders: Any,
    *,
    freq: str = ...,
    by: Union[None, str, Sequence[str]] = ...,
    customers: Any = ...,
    events: Any = ...,
    surveys: Any = ...,
    kpis: Union[None, str, Sequence[str]] = ...,
    churn_days: Optional[int] = ...,
    as_of: Any = ...,
    customer: str = ...,
    date: str = ...,
    amount: str = ...,
    discount: str = ...,
    event: str = ...,
    timestamp: str = ...,
    purchase_event: str = ...,
    survey_date: str = ...,
    nps_score: str = ...,
    csat: str = ...,
    lazy: Literal[True],
) -> pl.LazyFrame: ...


@overload
def compute(
    orders: Any,
    *,
    freq: str = ...,
    by: Union[None, str, Sequence[str]] = ...,
    customers: Any = ...,
    events: Any = ...,
    surveys: Any = ...,
    kpis: Union[None, str, Sequence[str]] = ...,
    churn_days: Optional[int] = ...,
    as_of: Any = ...,
    customer: str = ...,
    date: str = ...,
    amount: str = ...,
    discount: str = ...,
    event: str = ...,
    timestamp: str = ...,
    purchase_event: str = ...,
    survey_date: str = ...,
    nps_score: str = ...,
    csat: str = ...,
    lazy: bool = ...,
) -> Union[pl.DataFrame, pl.LazyFrame]: ...


def compute(
    orders: Any,
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
    lazy: bool = False,
) -> Union[pl.DataFrame, pl.LazyFrame]:
    """KPIs per period (and group), long format, exact.

    One row per (period, group, KPI): ``period_start, period_end, is_complete,
    <by...>, kpi, value, numerator, denominator, previous, change, change_pct,
    year_ago, yoy_pct``. ``period_end`` is exclusive. Ratio KPIs are recomputed from
    their summed ``numerator`` and ``denominator``; a ratio over an empty denominator
    is null while count KPIs of a period with no activity are 0: every period between
    the first and the last one is present for every group.

    Definitions (per period and group):

    - ``revenue`` sum of ``amount``; ``orders`` rows; ``aov`` revenue / orders;
    - ``active_customers`` customers with an order; ``new_customers`` those of them
      whose first order ever (in all the data, any group) falls in the period;
      ``returning_customers`` active − new; ``repeat_rate`` share of active
      customers with at least 2 orders; ``revenue_per_customer`` revenue / active;
    - ``churn_rate``: of the customers active in the previous window, the share not
      active in this one. By default the windows are the previous period and this
      one; with ``churn_days=c`` they are ``[end - 2c, end - c)`` and
      ``[end - c, end)`` days before the period's end. ``retention_rate`` = 1 − churn;
    - ``discount_rate`` share of orders with ``discount > 0`` (when the column exists);
    - with ``events``: ``visitors`` distinct customers with any event,
      ``conversion_rate`` share of visitors with a ``purchase_event``;
    - with ``surveys``: ``responses``, ``nps`` = 100 × (promoters 9–10 − detractors
      0–6) / responses, ``csat`` mean score.

    Event and survey KPIs start at the first period of their table (null before it:
    a log that starts later than the orders does not read as a jump from zero).

    ``freq`` is a polars duration of whole days or more (``"1d"``, ``"1w"`` — weeks
    start on Monday —, ``"1mo"``, ``"1q"``, ``"1y"``). Periods follow the timestamps'
    own time zone (a zone-aware 2024-01-01 02:00 Asia/Shanghai is in January).
    ``as_of`` is the instant the analysis is made (default: the day after the last
    order): rows at or after it are not used and a period still running at ``as_of``
    has ``is_complete = False``. ``previous`` is the previous period's value,
    ``year_ago`` the value 364 days earlier for daily periods (same weekday) and one
    calendar year earlier otherwise. ``by`` columns come from ``orders`` (or
    ``events``/``surveys``) or are joined from ``customers`` on ``customer``.

    Accepts DataFrames or LazyFrames; ``lazy=True`` returns the LazyFrame (collect it
    with ``engine="streaming"`` for data larger than memory).

    >>> import polars as pl, datetime as dt
    >>> orders = pl.DataFrame({
    ...     "customer_id": [1, 1, 2, 3],
    ...     "order_date": [dt.datetime(2024, 1, 5), dt.datetime(2024, 1, 20),
    ...                    dt.datetime(2024, 1, 9), dt.datetime(2024, 3, 2)],
    ...     "amount": [10.0, 30.0, 20.0, 5.0]})
    >>> k = compute(orders, freq="1mo", kpis=["revenue", "aov", "active_customers"])
    >>> k.filter(pl.col("kpi") == "revenue").select("period_start", "value", "previous").rows()
    [(datetime.date(2024, 1, 1), 60.0, None), (datetime.date(2024, 2, 1), 0.0, 60.0), (datetime.date(2024, 3, 1), 5.0, 0.0)]
    >>> k.filter(pl.col("kpi") == "aov")["value"].to_list()
    [20.0, None, 5.0]
    """
    n, unit = parse_freq(freq)
    by_cols = _as_list(by)
    if churn_days is not None and (isinstance(churn_days, bool) or not isinstance(churn_days, int) or churn_days < 1):
        raise CrmError(f"{_FN}: argument 'churn_days' must be a positive integer number of days, found {churn_days!r}")
    lf = as_lazy(orders, argument="orders")
    schema = require_columns(lf, {customer: "id", date: "temporal", amount: "numeric"}, function=_FN, argument="orders")
    cust_lf = None
    if customers is not None:
        cust_lf = as_lazy(customers, argument="customers")
        require_columns(cust_lf, {customer: "id"}, function=_FN, argument="customers")
    for b in by_cols:
        if b in (customer, date, amount):
            raise CrmError(f"{_FN}: 'by' column {b!r} is also the customer, date or amount column")
    grouped, why = _group_source(by_cols, lf, "orders", cust_lf, customer)
    if grouped is None:
        raise SchemaError(f"{_FN}: 'by' {by_cols}: {why}. Pass a customers table holding them (joined on '{customer}').")
    lf = grouped
    if cust_lf is not None and by_cols and any(b not in schema.names() for b in by_cols):
        dup = cust_lf.group_by(customer).len().filter(pl.col("len") > 1).select(pl.len()).collect().item()
        if dup:
            raise SchemaError(f"{_FN}: column '{customer}' in 'customers' must be unique to join 'by' columns; {dup} id(s) repeat")
    has_discount = discount in schema.names() and schema[discount].is_numeric()

    ev_lf = sv_lf = None
    available: dict[str, str] = {}
    if events is not None:
        ev_lf = as_lazy(events, argument="events")
        require_columns(ev_lf, {customer: "id", event: "any", timestamp: "temporal"}, function=_FN, argument="events")
        ev_lf, why = _group_source(by_cols, ev_lf, "events", cust_lf, customer)
    else:
        why = "no events given"
    if ev_lf is None:
        available.update({k: why for k in EVENT_KPIS})
    if surveys is not None:
        sv_lf = as_lazy(surveys, argument="surveys")
        require_columns(sv_lf, {customer: "id", survey_date: "temporal"}, function=_FN, argument="surveys")
        _check_surveys(sv_lf, nps_score, csat)
        sv_lf, why = _group_source(by_cols, sv_lf, "surveys", cust_lf, customer)
    else:
        why = "no surveys given"
    if sv_lf is None:
        available.update({k: why for k in SURVEY_KPIS})
    wanted = wanted_kpis(kpis, available, has_discount=has_discount, discount=discount, by_cols=by_cols,
                         events_skipped=events is not None and ev_lf is None,
                         surveys_skipped=surveys is not None and sv_lf is None)
    want = set(wanted)

    # --- the time axis: local calendar days, truncated to periods ---
    as_of_ts = _as_of_date(as_of, _FN)
    # Before polars 1.32, categoricals of two frames (or passes) only compare under one
    # string cache: group by their text there, and give the categories back at the end.
    recat = [] if _GLOBAL_CATEGORIES else [b for b in by_cols if b in schema.names()
                                           and isinstance(schema[b], pl.Categorical)]
    if recat:
        as_text = [pl.col(b).cast(pl.String) for b in recat]
        lf = lf.with_columns(as_text)
        ev_lf = ev_lf.with_columns(c for c in as_text if c.meta.output_name() in schema_of(ev_lf).names()) \
            if ev_lf is not None else None
        sv_lf = sv_lf.with_columns(c for c in as_text if c.meta.output_name() in schema_of(sv_lf).names()) \
            if sv_lf is not None else None
        schema = schema_of(lf)
    ts = _local_ts(date, schema[date])
    orders_lf = lf.with_columns(ts.alias("__ts"))
    # Integer customer ids and categorical/integer groups: one packed integer key per
    # (customer, group, period) makes the per-customer step a single-key aggregation.
    packable = schema[customer].is_integer() and all(
        isinstance(schema[b], pl.Enum) or schema[b].is_integer() or schema[b] == pl.Boolean
        or (_GLOBAL_CATEGORIES and (isinstance(schema[b], pl.Categorical) or schema[b] == pl.String))
        for b in by_cols if b in schema.names()
    ) and all(b in schema.names() for b in by_cols)
    stats = None
    if packable:
        codes = [_group_code(b, schema[b]) for b in by_cols]
        stats = orders_lf.select(
            pl.len().alias("__rows"), pl.col("__ts").min().alias("__ts_min"), pl.col("__ts").max().alias("__ts_max"),
            pl.col(customer).min().cast(pl.Int64).alias("__c_min"), pl.col(customer).max().cast(pl.Int64).alias("__c_max"),
            (pl.col(customer).null_count() + sum((pl.col(b).null_count() for b in by_cols), pl.lit(0, pl.UInt32))).alias("__nulls"),
            *[cd.min().cast(pl.Int64).alias(f"__g{i}_min") for i, cd in enumerate(codes)],
            *[cd.max().cast(pl.Int64).alias(f"__g{i}_max") for i, cd in enumerate(codes)],
        ).collect().row(0, named=True)
        last = stats["__ts_max"]
    elif as_of_ts is None:
        last = orders_lf.select(pl.col("__ts").max()).collect().item()
    if as_of_ts is None:
        if last is None:
            raise CrmError(f"{_FN}: 'orders' has no rows with a date; there is nothing to measure")
        as_of_ts = dt.datetime.combine(last.date() + dt.timedelta(days=1), dt.time())
    as_of_lit = pl.lit(as_of_ts, dtype=pl.Datetime("us"))

    def period(expr: pl.Expr) -> pl.Expr:
        return _period_start(expr, n, unit)

    orders_lf = orders_lf.filter(pl.col("__ts") < as_of_lit).with_columns(period(pl.col("__ts")).alias("period_start"))
    keys = ["period_start", *by_cols]
    default_churn = churn_days is None
    packed = _packing(stats, by_cols, n, unit, period) if stats is not None else None
    retained = default_churn and bool(want & {"churn_rate", "retention_rate"})
    rows = stats["__rows"] if stats is not None else 0
    if rows > _BUCKET_ROWS and packed is None:
        # Every count here is per customer: split the customers into hashed buckets and
        # add the buckets' small tables up (exact), so that the per-(customer, period,
        # group) state of one bucket at a time is held (memory bounded for 100M orders).
        # Packed keys need no buckets: their sums take one sort of 16 bytes per order.
        n_buckets = -(-rows // _BUCKET_ROWS)
        parts = []
        for bucket in range(n_buckets):
            part = orders_lf.filter(pl.col(customer).hash() % n_buckets == bucket)
            parts.append(_order_base(part, schema, by_cols, customer, amount, discount if has_discount else None,
                                     n, unit, retained, packed).collect(engine=_ENGINE))
        summed = [c for c in parts[0].columns if c not in keys]
        base = (pl.concat(parts).group_by(keys).agg(pl.col(summed).sum())).lazy()
    else:
        base = _order_base(orders_lf, schema, by_cols, customer, amount, discount if has_discount else None,
                           n, unit, retained, packed)
    frames: dict[str, pl.LazyFrame] = {"base": base}
    if not default_churn and want & {"churn_rate", "retention_rate"}:
        frames["churn"] = _churn(orders_lf, None, keys, by_cols, customer, n, unit, churn_days, period)
    if ev_lf is not None and want & set(EVENT_KPIS):
        ets = _local_ts(timestamp, schema_of(ev_lf)[timestamp])
        ev = ev_lf.with_columns(ets.alias("__ts")).filter(pl.col("__ts") < as_of_lit)
        frames["events"] = _event_frame(ev.with_columns(period(pl.col("__ts")).alias("period_start")), keys, customer,
                                        event, purchase_event)
    if sv_lf is not None and want & set(SURVEY_KPIS):
        sts = _local_ts(survey_date, schema_of(sv_lf)[survey_date])
        sv = sv_lf.with_columns(sts.alias("__ts")).filter(pl.col("__ts") < as_of_lit)
        frames["surveys"] = _survey_frame(sv.with_columns(period(pl.col("__ts")).alias("period_start")), keys,
                                          nps_score, csat)

    # Every per-period frame is small (periods x groups): collect them together, once
    # (the orders are read once; the streaming engine does not share subplans between
    # separate collects), then finish eagerly.
    names_ = list(frames)
    small = dict(zip(names_, pl.collect_all([frames[k] for k in names_], engine=_ENGINE)))
    return finish(small, by_cols=by_cols, wanted=wanted, has_discount=has_discount, n=n, unit=unit,
                  as_of_ts=as_of_ts, recat=recat, lazy=lazy)


def _period_start(expr: pl.Expr, n: int, unit: str) -> pl.Expr:
    """The start (a Date) of the period of a naive timestamp."""
    day = expr.dt.date()
    if unit == "q":
        return day.dt.truncate(f"{3 * n}mo")
    return day.dt.truncate(f"{n}{unit}")


def _event_frame(ev: pl.LazyFrame, keys: list[str], customer: str, event: str, purchase_event: str) -> pl.LazyFrame:
    """Visitors and buyers per (period, group); additive over disjoint sets of customers."""
    is_purchase = pl.col(event).cast(pl.String) == purchase_event
    per = ev.group_by(customer, *keys).agg(is_purchase.any().alias("__bought"))
    return per.group_by(keys).agg(pl.len().alias("visitors"), pl.col("__bought").sum().alias("__buyers"))


def _survey_frame(sv: pl.LazyFrame, keys: list[str], nps_score: str, csat: str) -> pl.LazyFrame:
    """Responses, NPS and CSAT sums per (period, group); additive over any split of the rows."""
    names = schema_of(sv).names()
    sagg = [pl.len().alias("responses")]
    if nps_score in names:
        s = pl.col(nps_score)
        sagg += [s.is_not_null().sum().alias("__nps_n"),
                 ((s >= 9).sum().cast(pl.Int64) - (s <= 6).sum().cast(pl.Int64)).alias("__nps_net")]
    else:
        sagg += [pl.lit(0, pl.UInt32).alias("__nps_n"), pl.lit(0, pl.Int64).alias("__nps_net")]
    if csat in names:
        sagg += [pl.col(csat).is_not_null().sum().alias("__csat_n"),
                 pl.col(csat).cast(pl.Float64).sum().alias("__csat_sum")]
    else:
        sagg += [pl.lit(0, pl.UInt32).alias("__csat_n"), pl.lit(0.0).alias("__csat_sum")]
    return sv.group_by(keys).agg(sagg)


def finish(small: dict[str, pl.DataFrame], *, by_cols: list[str], wanted: list[str], has_discount: bool, n: int,
           unit: str, as_of_ts: dt.datetime, recat: Sequence[str] = (), lazy: bool = False
           ) -> Union[pl.DataFrame, pl.LazyFrame]:
    """The KPI table from the small per-(period, group) frames: ``base`` (order sums),
    optionally ``churn`` (windowed churn), ``events`` and ``surveys``. Each is a sum over
    customers, so frames computed on disjoint sets of customers (buckets, Spark
    partitions) add up to the frame of all of them."""
    keys = ["period_start", *by_cols]
    as_of_lit = pl.lit(as_of_ts, dtype=pl.Datetime("us"))
    frames = small
    # --- the frame of every period x every group seen ---
    spans = [f["period_start"] for name, f in small.items() if name != "churn"]
    # period_start is a Date column
    lo = min((d for sp in spans if sp.len() and (d := cast(Optional[dt.date], sp.min())) is not None), default=None)
    hi = max((d for sp in spans if sp.len() and (d := cast(Optional[dt.date], sp.max())) is not None), default=None)
    if lo is None or hi is None:
        raise CrmError(f"{_FN}: no orders before as_of={as_of_ts}; the period range is empty")
    step = f"{3 * n}mo" if unit == "q" else f"{n}{unit}"
    periods = pl.DataFrame({"period_start": pl.date_range(lo, hi, interval=step, eager=True)})
    if by_cols:
        groups = pl.concat([f.select(by_cols) for f in small.values()], how="vertical_relaxed").unique()
        grid = periods.join(groups, how="cross")
    else:
        grid = periods
    wide = grid
    for f in small.values():
        wide = wide.join(f, on=keys, how="left", nulls_equal=True) if by_cols else wide.join(f, on=keys, how="left")
    fill0 = [c for c in wide.columns if c not in keys]
    wide = wide.with_columns(pl.col(c).fill_null(0) for c in fill0)
    if "__retained" in wide.columns and "churn" not in small:
        # customers active in the previous period of the group (the grid is complete,
        # so the previous row of a group is the previous period; the first has none)
        prev = pl.col("active_customers").shift(1)
        wide = wide.sort([*by_cols, "period_start"], nulls_last=True).with_columns(
            (prev.over(by_cols) if by_cols else prev).fill_null(0).alias("__prev_active")
        )
    wide_lf = wide.lazy()

    def ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
        return pl.when(den > 0).then(num.cast(pl.Float64) / den.cast(pl.Float64)).otherwise(None)

    f64 = pl.Float64
    spec: dict[str, tuple[pl.Expr, pl.Expr, pl.Expr]] = {
        "revenue": (pl.col("revenue"), pl.col("revenue"), pl.lit(None, f64)),
        "orders": (pl.col("orders"), pl.col("orders"), pl.lit(None, f64)),
        "aov": (ratio(pl.col("revenue"), pl.col("orders")), pl.col("revenue"), pl.col("orders")),
        "active_customers": (pl.col("active_customers"), pl.col("active_customers"), pl.lit(None, f64)),
        "new_customers": (pl.col("new_customers"), pl.col("new_customers"), pl.lit(None, f64)),
        "returning_customers": (
            pl.col("active_customers") - pl.col("new_customers"),
            pl.col("active_customers") - pl.col("new_customers"),
            pl.lit(None, f64),
        ),
        "repeat_rate": (
            ratio(pl.col("__repeaters"), pl.col("active_customers")),
            pl.col("__repeaters"),
            pl.col("active_customers"),
        ),
        "revenue_per_customer": (
            ratio(pl.col("revenue"), pl.col("active_customers")),
            pl.col("revenue"),
            pl.col("active_customers"),
        ),
    }
    if has_discount:
        spec["discount_rate"] = (ratio(pl.col("__disc"), pl.col("orders")), pl.col("__disc"), pl.col("orders"))
    if "__retained" in wide_lf.collect_schema().names() or "churn" in frames:
        lost = pl.col("__prev_active") - pl.col("__retained")
        spec["churn_rate"] = (ratio(lost, pl.col("__prev_active")), lost, pl.col("__prev_active"))
        spec["retention_rate"] = (
            ratio(pl.col("__retained"), pl.col("__prev_active")),
            pl.col("__retained"),
            pl.col("__prev_active"),
        )
    if "events" in frames:
        spec["visitors"] = (pl.col("visitors"), pl.col("visitors"), pl.lit(None, f64))
        spec["conversion_rate"] = (ratio(pl.col("__buyers"), pl.col("visitors")), pl.col("__buyers"), pl.col("visitors"))
    if "surveys" in frames:
        spec["responses"] = (pl.col("responses"), pl.col("responses"), pl.lit(None, f64))
        spec["nps"] = (ratio(pl.col("__nps_net"), pl.col("__nps_n")) * 100.0, pl.col("__nps_net"), pl.col("__nps_n"))
        spec["csat"] = (ratio(pl.col("__csat_sum"), pl.col("__csat_n")), pl.col("__csat_sum"), pl.col("__csat_n"))

    # An event log or survey table covers the periods from its first record on: before
    # that its KPIs are unknown (null), not zero, or the day a log starts would read as a
    # jump in visitors and be alerted on.
    for source, kpi_names in (("events", EVENT_KPIS), ("surveys", SURVEY_KPIS)):
        if source in frames:
            first = small[source]["period_start"].min()
            covered = pl.col("period_start") >= pl.lit(first) if first is not None else pl.lit(False)
            for k in kpi_names:
                if k in spec:
                    value, num, den = spec[k]
                    spec[k] = (pl.when(covered).then(value), pl.when(covered).then(num), pl.when(covered).then(den))

    kpi_parts = []
    for name in wanted:
        value, num, den = spec[name]
        kpi_parts.append(
            wide_lf.select(
                *keys,
                pl.lit(name).alias("kpi"),
                value.cast(f64).alias("value"),
                num.cast(f64).alias("numerator"),
                den.cast(f64).alias("denominator"),
            )
        )
    long = pl.concat(kpi_parts)
    period_end = _shift(pl.col("period_start"), n, unit)
    long = long.with_columns(period_end.alias("period_end"))
    long = long.with_columns(
        (pl.col("period_end").cast(pl.Datetime("us")) <= as_of_lit).alias("is_complete"),
    )
    # previous and year-ago values by joining the table on shifted period starts
    gkeys = [*by_cols, "kpi"]
    previous = long.select(
        _shift(pl.col("period_start"), n, unit).alias("period_start"), *gkeys, pl.col("value").alias("previous")
    )
    if unit == "d":
        ago = pl.col("period_start").dt.offset_by("364d")
    else:
        ago = pl.col("period_start").dt.offset_by("1y")
    year = long.select(ago.alias("period_start"), *gkeys, pl.col("value").alias("year_ago"))
    jkw: dict[str, Any] = {"how": "left"}
    if by_cols:
        jkw["nulls_equal"] = True
    long = long.join(previous, on=["period_start", *gkeys], **jkw).join(year, on=["period_start", *gkeys], **jkw)
    long = long.with_columns(
        (pl.col("value") - pl.col("previous")).alias("change"),
        pl.when(pl.col("previous") != 0).then(pl.col("value") / pl.col("previous") - 1.0).alias("change_pct"),
        pl.when(pl.col("year_ago") != 0).then(pl.col("value") / pl.col("year_ago") - 1.0).alias("yoy_pct"),
    )
    order = {k: i for i, k in enumerate(wanted)}
    long = long.with_columns(pl.col("kpi").replace_strict(order, return_dtype=pl.UInt32).alias("__k")).sort(
        [*by_cols, "__k", "period_start"], nulls_last=True
    )
    out = long.select(
        "period_start", "period_end", "is_complete", *by_cols, "kpi", "value", "numerator", "denominator",
        "previous", "change", "change_pct", "year_ago", "yoy_pct",
    )
    if recat:
        out = out.with_columns(pl.col(b).cast(pl.Categorical) for b in recat)
    return out if lazy else out.collect(engine=_ENGINE)



def _period_index(unit: str, n: int) -> pl.Expr:
    """Consecutive integers for consecutive period starts (of a Date column on the grid)."""
    ps = pl.col("period_start")
    if unit in ("d", "w"):
        return ps.cast(pl.Int32).cast(pl.Int64) // (n * (7 if unit == "w" else 1))
    months = {"mo": n, "q": 3 * n, "y": 12 * n}[unit]
    return (ps.dt.year().cast(pl.Int64) * 12 + ps.dt.month().cast(pl.Int64) - 1) // months


#: Above this many orders, the per-customer step runs over hashed customer buckets.
_BUCKET_ROWS = 25_000_000


def _polars_at_least(major: int, minor: int) -> bool:
    parts = pl.__version__.split(".")
    try:
        return (int(parts[0]), int(parts[1])) >= (major, minor)
    except (IndexError, ValueError):
        return True


#: From polars 1.32 a categorical's codes are global, the same in every query; before,
#: each query (without a global StringCache) numbers them itself, so codes taken in two
#: passes (or two buckets) would disagree: text and categorical groups then take the
#: general path there.
_GLOBAL_CATEGORIES = _polars_at_least(1, 32)
#: The KPI query runs on the streaming engine (bounded memory for 100M orders); polars
#: before 1.32 gave wrong or run-to-run different tables there (found by the pandas
#: comparisons in tests/test_kpi.py on polars 1.28), so those versions run it in memory.
_ENGINE: Literal["streaming", "in-memory"] = "streaming" if _polars_at_least(1, 32) else "in-memory"


def _group_code(name: str, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.String:
        return pl.col(name).cast(pl.Categorical).to_physical().cast(pl.Int64)
    if isinstance(dtype, (pl.Categorical, pl.Enum)):
        return pl.col(name).to_physical().cast(pl.Int64)
    return pl.col(name).cast(pl.Int64)


def _packing(stats: dict[str, Any], by_cols: list[str], n: int, unit: str,
             period: Callable[[pl.Expr], pl.Expr]) -> Optional[dict[str, Any]]:
    """Radixes of the packed (customer, group, period) key, or None when it would not fit."""
    if stats["__ts_min"] is None or stats["__nulls"]:
        return None
    ends = pl.DataFrame({"__ts": [stats["__ts_min"], stats["__ts_max"]]}, schema={"__ts": pl.Datetime("us")})
    p_lo, p_hi = ends.select(period(pl.col("__ts")).alias("period_start")).select(_period_index(unit, n))["period_start"]
    radix = [stats[f"__g{i}_max"] - stats[f"__g{i}_min"] + 1 for i in range(len(by_cols))]
    n_p = p_hi - p_lo + 1
    total = (stats["__c_max"] - stats["__c_min"] + 1) * n_p
    for r in radix:
        total *= r
    if total >= 2**62:
        return None
    start = ends.select(period(pl.col("__ts")).alias("period_start"))["period_start"][0]
    return {"p_lo": p_lo, "start": start, "n_p": n_p, "c_min": stats["__c_min"], "radix": radix,
            "g_min": [stats[f"__g{i}_min"] for i in range(len(by_cols))]}


def _order_base(orders_lf: pl.LazyFrame, schema: pl.Schema, by_cols: list[str], customer: str, amount: str,
                discount: Optional[str], n: int, unit: str, retained: bool,
                packed: Optional[dict[str, Any]] = None) -> pl.LazyFrame:
    """Per (period, group): revenue, orders, active, new and repeat customers, discounted
    orders and (``retained``) customers also active in the group's previous period.

    The only per-customer state is one row per (customer, period, group) that bought;
    "new" is its period being the customer's first, "retained" the customer having a row
    for the same group one period earlier (a semi join on the period index)."""
    if packed is not None:
        return _order_base_packed(orders_lf, schema, by_cols, customer, amount, discount, n, unit, retained, packed)
    keys = ["period_start", *by_cols]
    agg = [pl.len().alias("__n"), pl.col(amount).cast(pl.Float64).sum().alias("__rev")]
    if discount is not None:
        agg.append((pl.col(discount) > 0).sum().alias("__disc"))
    cp = orders_lf.group_by(customer, *keys).agg(agg).with_columns(_period_index(unit, n).alias("__pi"))
    flags = [(pl.col("__pi") == pl.col("__pi").min().over(customer)).alias("__new")]
    cp = cp.with_columns(flags)
    if retained:
        before = cp.select(customer, *by_cols, (pl.col("__pi") + 1).alias("__pi"), pl.lit(True).alias("__ret"))
        cp = cp.join(before, on=[customer, *by_cols, "__pi"], how="left", nulls_equal=True)
    return cp.group_by(keys).agg(_period_sums(discount is not None, retained))


def _period_sums(discount: bool, retained: bool) -> list[pl.Expr]:
    """The per-(period, group) sums of the per-(customer, period, group) rows that every
    order KPI is computed from."""
    sums = [
        pl.col("__rev").sum().alias("revenue"),
        pl.col("__n").sum().alias("orders"),
        pl.len().alias("active_customers"),
        pl.col("__new").sum().alias("new_customers"),
        (pl.col("__n") >= 2).sum().alias("__repeaters"),
    ]
    if discount:
        sums.append(pl.col("__disc").sum().alias("__disc"))
    if retained:
        sums.append(pl.col("__ret").fill_null(False).sum().alias("__retained"))
    return sums


def _order_base_packed(orders_lf: pl.LazyFrame, schema: pl.Schema, by_cols: list[str], customer: str,
                       amount: str, discount: Optional[str], n: int, unit: str, retained: bool,
                       packed: dict[str, Any]) -> pl.LazyFrame:
    """_order_base with (customer, group, period) packed into one Int64 key
    ``((customer - min) * G + group) * P + period``, summed per (group, period) cell in
    Rust (``kpi_cell_sums``: one sort of the keys and one scan). Only the key, the
    amount and the discount flag of each order are collected (streaming), 17 bytes per
    order; a hash aggregation of the nearly unique per-(customer, period) keys of 100M
    orders is what this replaces."""
    n_p, radix = packed["n_p"], packed["radix"]
    n_g = 1
    for r in radix:
        n_g *= r
    g = pl.lit(0, pl.Int64)
    for b, r, lo in zip(by_cols, radix, packed["g_min"]):
        g = g * r + (_group_code(b, schema[b]) - lo)
    pi = _period_index(unit, n) - packed["p_lo"]
    key = ((pl.col(customer).cast(pl.Int64) - packed["c_min"]) * n_g + g) * n_p + pi
    flag = (pl.col(discount) > 0).fill_null(False) if discount is not None else pl.lit(False)
    keyed = orders_lf.select(
        key.alias("__k"), pl.col(amount).cast(pl.Float64).fill_null(0.0).alias("__a"), flag.alias("__d"),
    ).collect(engine=_ENGINE)
    sums = _core.kpi_cell_sums(
        keyed["__k"].to_numpy(), keyed["__a"].to_numpy(), keyed["__d"].to_numpy(), int(n_g), int(n_p))
    del keyed
    names = [e.meta.output_name() for e in _period_sums(discount is not None, retained)]
    small = pl.DataFrame([
        pl.Series("__g", np.repeat(np.arange(n_g, dtype=np.int64), n_p)),
        pl.Series("__pi", np.tile(np.arange(n_p, dtype=np.int64), n_g)),
        *(pl.Series(c, sums[c], dtype=pl.Float64 if c == "revenue" else pl.UInt32) for c in names),
    ]).filter(pl.col("active_customers") > 0).lazy()  # as a group_by: only cells somebody bought in
    # back from codes to period starts and group values (on the small table)
    start = packed["start"]
    if unit in ("d", "w"):
        step = n * (7 if unit == "w" else 1)
        ps = pl.lit(start) + pl.duration(days=pl.col("__pi") * step)
    else:
        months = {"mo": n, "q": 3 * n, "y": 12 * n}[unit]
        m = pl.col("__pi") * months + (start.year * 12 + start.month - 1)
        ps = pl.date(m // 12, m % 12 + 1, 1)
    small = small.with_columns(ps.cast(pl.Date).alias("period_start"))
    rest = pl.col("__g")
    decoded = []
    for b, r, lo in reversed(list(zip(by_cols, radix, packed["g_min"]))):
        decoded.append(((rest % r) + lo).alias(f"__code_{b}"))
        rest = rest // r
    small = small.with_columns(decoded)
    for b in by_cols:
        dtype = schema[b]
        if isinstance(dtype, (pl.Categorical, pl.Enum)) or dtype == pl.String:
            values = orders_lf.select(pl.col(b).unique()).with_columns(_group_code(b, dtype).alias(f"__code_{b}"))
            small = small.join(values, on=f"__code_{b}", how="left")
        else:
            small = small.with_columns(pl.col(f"__code_{b}").cast(dtype).alias(b))
    return small.select("period_start", *by_cols, *names)


def _churn(orders_lf: pl.LazyFrame, cp: Optional[pl.LazyFrame], keys: list[str], by_cols: list[str], customer: str,
           n: int, unit: str, churn_days: Optional[int], period: Optional[Callable[[pl.Expr], pl.Expr]],
           ends: Optional[Sequence[dt.date]] = None) -> pl.LazyFrame:
    """Customers active in the previous window and how many of them are active again.

    ``ends``: the period starts whose windows are judged (default: those of the orders
    given); a part of the customers must be given the periods of all of them."""
    if churn_days is None:
        if cp is None:
            cp = orders_lf.group_by(customer, *keys).agg(pl.len().alias("__n"))
        # Windows = previous period and this one: count each (customer, group)'s period
        # whose previous period also had them.
        prev_key = cp.select(customer, *by_cols, _shift(pl.col("period_start"), n, unit, -1).alias("period_start"))
        retained = cp.select(customer, *keys).join(prev_key, on=[customer, *keys], how="semi", nulls_equal=True)
        # retained counted at the *earlier* period; move to the later one
        ret = retained.group_by(keys).agg(pl.len().alias("__retained")).with_columns(
            _shift(pl.col("period_start"), n, unit)
        )
        act = cp.group_by(keys).agg(pl.len().alias("__prev_active")).with_columns(_shift(pl.col("period_start"), n, unit))
        return act.join(ret, on=keys, how="left", nulls_equal=True).with_columns(pl.col("__retained").fill_null(0))
    c = churn_days
    days = orders_lf.select(customer, *by_cols, pl.col("__ts").dt.date().alias("__day"), "period_start").unique()
    per = days.select(customer, *by_cols, "__day").unique().with_columns(
        (pl.col("__day") + pl.duration(days=2 * c)).alias("__day_hi")
    )
    if ends is not None:
        end_lf = pl.LazyFrame({"period_start": ends}, schema={"period_start": pl.Date}).with_columns(
            _shift(pl.col("period_start"), n, unit).alias("__end"))
    else:
        end_lf = churn_ends(days.select("period_start"), n, unit)
    pairs = per.join_where(
        end_lf,
        pl.col("__end") > pl.col("__day"),
        pl.col("__end") <= pl.col("__day_hi"),
    ).with_columns(
        ((pl.col("__end") - pl.col("__day")).dt.total_days() > c).alias("__in_prev"),
    )
    status = pairs.group_by(customer, *keys).agg(
        pl.col("__in_prev").any().alias("__p"), (~pl.col("__in_prev")).any().alias("__c")
    )
    return status.filter(pl.col("__p")).group_by(keys).agg(
        pl.len().alias("__prev_active"), pl.col("__c").sum().alias("__retained")
    )


def churn_ends(periods: pl.LazyFrame, n: int, unit: str) -> pl.LazyFrame:
    """The windows ``churn_days`` judges: every period start with orders, and the period
    right after the last one (its previous window may hold activity), with their ends."""
    ends = periods.unique().with_columns(_shift(pl.col("period_start"), n, unit).alias("__end"))
    lo_hi = ends.select(pl.col("period_start").min(), pl.col("__end").max())
    extra = lo_hi.select(pl.col("__end").alias("period_start")).with_columns(
        _shift(pl.col("period_start"), n, unit).alias("__end"))
    return pl.concat([ends, extra]).unique()


def _check_surveys(sv: pl.LazyFrame, nps_score: str, csat: str) -> None:
    names = schema_of(sv).names()
    if nps_score not in names and csat not in names:
        raise SchemaError(f"{_FN}: 'surveys' needs a '{nps_score}' (0-10) or '{csat}' (1-5) column; it has {names}")
    checks = []
    if nps_score in names:
        require_columns(sv, {nps_score: "numeric"}, function=_FN, argument="surveys")
        s = pl.col(nps_score)
        checks.append(((s < 0) | (s > 10) | (s.round(0) != s)).sum().alias(nps_score))
    if csat in names:
        require_columns(sv, {csat: "numeric"}, function=_FN, argument="surveys")
        s = pl.col(csat)
        checks.append(((s < 1) | (s > 5)).sum().alias(csat))
    bad = sv.select(checks).collect().row(0, named=True)
    for col, k in bad.items():
        if k:
            rng = "whole numbers 0-10" if col == nps_score else "scores 1-5"
            raise CrmError(f"{_FN}: column '{col}' in 'surveys' holds {k} value(s) outside {rng}; fix or drop them first")
