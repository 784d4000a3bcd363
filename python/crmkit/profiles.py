"""Customer profiles (one row per customer) and rule-based tags.

Both are lazy polars queries: ``profile`` accepts LazyFrames and runs the
aggregation on the streaming engine where polars can.

>>> import polars as pl, crmkit
>>> from datetime import datetime
>>> orders = pl.DataFrame({
...     "order_id": [1, 2, 3, 4],
...     "customer_id": [7, 7, 7, 8],
...     "order_date": [datetime(2024, 1, 1), datetime(2024, 1, 11), datetime(2024, 1, 31), datetime(2024, 1, 6)],
...     "amount": [10.0, 20.0, 30.0, 5.0],
... })
>>> p = crmkit.profile(orders)
>>> p.select("customer_id", "orders", "revenue", "mean_interpurchase_days", "interpurchase_trend_days").rows()
[(7, 3, 60.0, 15.0, 10.0), (8, 1, 5.0, None, None)]
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Union, cast

import polars as pl

if TYPE_CHECKING:
    from polars.expr.whenthen import ChainedThen, Then

from crmkit._validate import Frame, as_lazy, require_columns, schema_of
from crmkit.errors import CrmError, SchemaError
from crmkit._history import as_of_literal, vanished_customers

__all__ = ["profile", "tags", "DEFAULT_TAG_RULES", "default_tag_rules"]

_FUNC = "crmkit.profile"
_DAY_US = 86_400_000_000
_EPOCH_US = 946_684_800_000_000  # 2000-01-01T00:00:00Z


class _Default(str):
    """A column name that was not chosen by the caller: skipped when absent."""


def _optional(lf_schema: pl.Schema, name: Optional[str], kind_ok: Callable[[pl.DataType], bool], what: str) -> Optional[str]:
    if name is None:
        return None
    if name not in lf_schema:
        if isinstance(name, _Default):
            return None
        raise SchemaError(f"{_FUNC}: column '{name}' ({what}) not found in 'orders'; columns are {list(lf_schema.names())}")
    if not kind_ok(lf_schema[name]):
        raise SchemaError(f"{_FUNC}: column '{name}' ({what}) has dtype {lf_schema[name]}, which cannot be used")
    return str(name)


def _to_us(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Microseconds since the epoch, for any Date/Datetime column."""
    if dtype == pl.Date:
        return col.cast(pl.Datetime("us")).dt.epoch("us")
    return col.dt.epoch("us")


def _naive_utc(e: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A Date/Datetime expression as a naive UTC Datetime("us")."""
    if dtype == pl.Date:
        return e.cast(pl.Datetime("us"))
    if getattr(dtype, "time_zone", None) is not None:
        e = e.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return e.cast(pl.Datetime("us"))


def _from_naive_utc(e: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A naive UTC Datetime("us") expression back in `dtype`."""
    if dtype == pl.Date:
        return e.cast(pl.Date)
    tz = getattr(dtype, "time_zone", None)
    if tz is not None:
        e = e.dt.replace_time_zone("UTC").dt.convert_time_zone(tz)
    return e.cast(dtype)


def profile(
    orders: Frame,
    customers: Optional[Frame] = None,
    items: Optional[Frame] = None,
    events: Optional[Frame] = None,
    as_of: Any = None,
    *,
    customer: str = "customer_id",
    date: str = "order_date",
    amount: str = "amount",
    order: Optional[str] = _Default("order_id"),
    channel: Optional[str] = _Default("channel"),
    discount: Optional[str] = _Default("discount"),
    category: str = "category",
    event_time: str = "timestamp",
    session: str = "session_id",
    returns: str = "net",
) -> pl.DataFrame:
    """One row per customer describing their purchase behaviour.

    Columns: ``first_order``, ``last_order``, ``tenure_days`` and ``recency_days``
    (whole days from the first / last order to ``as_of``, default the day after the
    last order), ``orders`` (rows: ``orders`` holds one row per order), ``revenue`` (sum of amounts,
    net of returns), ``avg_order_value`` (revenue / orders),
    ``mean_interpurchase_days`` (mean gap between consecutive orders, null with one
    order) and ``interpurchase_trend_days`` (least-squares slope of the gaps against
    their sequence number, in days per order: positive means slowing down; null with
    fewer than two gaps), ``favourite_channel`` (most orders; ties: alphabetical),
    ``discount_share`` (share of orders with ``discount`` > 0), ``weekend_share``
    (share of orders on Saturday or Sunday) and ``last_activity`` (latest order or
    event).

    With ``items`` (order_id, category, quantity, price): ``favourite_category`` (most
    spend, quantity x price; ties: alphabetical) and ``favourite_category_share`` (its
    share of the customer's item spend). With ``events`` (customer_id, session_id,
    timestamp): ``sessions``, ``events``, ``last_event``. With ``customers``: every
    customer in it gets a row (``orders`` 0 when they never ordered) and its columns
    are kept. ``channel``, ``discount`` and ``order`` (the key joining ``items``) default
    to the standard names and are skipped when ``orders`` lacks them; pass None to skip
    them explicitly. Orders after ``as_of`` are ignored. A null customer id raises
    SchemaError; rows with a null date are dropped with a warning that counts them (as
    in :func:`crmkit.rfm`); null amounts count as orders but add nothing to revenue.

    Rows with ``amount < 0`` are returns, treated by ``returns`` as in :func:`crmkit.rfm`:

    - ``"net"`` (default): they reduce ``revenue`` but are not orders (every other
      column comes from purchases); ``returns`` (their number) and ``returned_amount``
      (their total, positive) are added. Customers with returns only are left out with
      a warning, unless ``customers`` lists them (then ``orders`` is 0 and ``revenue``
      minus what they returned);
    - ``"exclude"``: they are dropped (a warning gives their number);
    - ``"keep"``: they are ordinary orders.

    >>> import polars as pl, crmkit
    >>> from datetime import date
    >>> orders = pl.DataFrame({"customer_id": [1, 1], "order_date": [date(2024, 3, 2), date(2024, 3, 9)],
    ...                        "amount": [40.0, 60.0], "channel": ["web", "web"], "discount": [0.0, 5.0]})
    >>> crmkit.profile(orders).select("orders", "avg_order_value", "favourite_channel", "discount_share", "weekend_share").row(0)
    (2, 50.0, 'web', 0.5, 1.0)
    """
    lf = as_lazy(orders, argument="orders")
    schema = require_columns(lf, {customer: "id", date: "date", amount: "numeric"}, function=_FUNC, argument="orders")
    dtype = schema[date]
    order = _optional(schema, order, lambda t: t.is_integer() or t == pl.String or isinstance(t, (pl.Categorical, pl.Enum)), "order id")
    channel = _optional(schema, channel, lambda t: True, "channel")
    discount = _optional(schema, discount, lambda t: t.is_numeric(), "discount")

    if returns not in ("net", "exclude", "keep"):
        raise CrmError(f"{_FUNC}: returns must be 'net', 'exclude' or 'keep', found {returns!r}")
    eager = orders if isinstance(orders, pl.DataFrame) else None
    d, a = pl.col(date), pl.col(amount)
    as_of_lit = as_of_literal(as_of, dtype, function=_FUNC) if as_of is not None else None
    # One pass for the checks: nulls in keys, return rows (within as_of).
    null_cols = [customer]
    is_return = (a < 0) if as_of_lit is None else (a < 0) & (d <= as_of_lit)
    stats_exprs = [pl.col(c).null_count().alias(f"null:{c}") for c in [customer, date]]
    stats_exprs.append(is_return.sum().alias("returns"))
    stats = (eager.select(stats_exprs) if eager is not None
             else lf.select(stats_exprs).collect(engine="streaming")).row(0, named=True)
    for c in null_cols:
        n_null = stats[f"null:{c}"]
        if n_null:
            raise SchemaError(
                f"{_FUNC}: column '{c}' in 'orders' holds {n_null} null value(s); drop or fill them first "
                f"(orders.drop_nulls('{c}'))"
            )
    n_ret = int(stats["returns"] or 0)
    n_null_date = stats[f"null:{date}"]
    dropped_customers = None
    if n_null_date:
        dropped_customers = lf.filter(d.is_null()).select(customer).unique().collect(
            engine="streaming" if eager is None else "auto")
        lf = lf.filter(d.is_not_null())

    if as_of_lit is not None:
        lf = lf.filter(d <= as_of_lit)
    net = returns == "net"
    ret_table: Optional[pl.DataFrame] = None
    ret_last: Optional[int] = None
    if returns == "exclude" and n_ret:
        warnings.warn(f"{_FUNC}: dropped {n_ret} return row(s) ('{amount}' < 0) as returns='exclude'",
                      UserWarning, stacklevel=2)
        lf = lf.filter(~(a < 0).fill_null(False))
    elif net:
        if n_ret:
            ret_table = (
                lf.filter(a < 0)
                .group_by(customer)
                .agg(pl.len().cast(pl.Int64).alias("returns"), (-a).sum().cast(pl.Float64).alias("returned_amount"),
                     _to_us(d, dtype).max().alias("_ret_last"))
                .collect(engine="streaming" if eager is None else "auto")
            )
            # as_of defaults to the day after the last row, returns included (as in rfm).
            ret_last = cast(Optional[int], ret_table["_ret_last"].max())  # microseconds
            ret_table = ret_table.drop("_ret_last")
            lf = lf.filter(~(a < 0).fill_null(False))
        else:
            ret_table = pl.DataFrame(schema={customer: schema[customer], "returns": pl.Int64, "returned_amount": pl.Float64})
    t_us = _to_us(d, dtype)
    if getattr(dtype, "time_zone", None) is None:
        # 1970-01-01 was a Thursday: Saturday/Sunday are days 2 and 3 mod 7 (integer maths
        # instead of a calendar conversion).
        weekend = (pl.col("_t").floordiv(_DAY_US) % 7).is_in([2, 3])
    else:
        weekend = d.dt.weekday() >= 6  # weekends in local time
    base = lf.with_columns(t_us.alias("_t"))
    extra = [weekend.alias("_weekend")]
    if discount is not None:
        extra.append((pl.col(discount).fill_null(0) > 0).alias("_disc"))

    # Inter-purchase gaps need no sort: with a customer's order times t_0 <= ... <= t_m
    # (m gaps g_k = t_(k+1) - t_k), the mean gap is (t_m - t_0) / m and the least-squares
    # slope of g_k against k needs only sum(k * g_k) = m * t_m - (sum(t) - t_0), so
    # both come from plain group sums. Times are days since 2000-01-01 for precision.
    extra.append(((pl.col("_t") - _EPOCH_US) / _DAY_US).alias("_d"))

    # Favourite channel: with few channels, per-channel counts in the same group-by
    # (one pass); otherwise a second group-by on (customer, channel).
    channel_values: Optional[list[str]] = None
    if channel is not None:
        cdt = schema[channel]
        if isinstance(cdt, pl.Enum):
            channel_values = sorted(str(v) for v in cdt.categories.to_list())
        elif cdt == pl.String or isinstance(cdt, pl.Categorical):
            uniq = lf.select(pl.col(channel).cast(pl.String).unique().head(33)).collect()
            vals = uniq.to_series().drop_nulls().to_list()
            if len(vals) <= 32:
                channel_values = sorted(vals)
        if channel_values is not None and len(channel_values) > 32:
            channel_values = None
    base = base.with_columns(extra)
    aggs = [
        pl.col("_t").min().alias("_first"),
        pl.col("_t").max().alias("_last"),
        pl.len().cast(pl.Int64).alias("orders"),
        pl.col(amount).cast(pl.Float64).sum().alias("revenue"),
        pl.col("_d").sum().alias("_sum_d"),
        pl.col("_weekend").mean().alias("weekend_share"),
    ]
    if discount is not None:
        aggs.append(pl.col("_disc").mean().alias("discount_share"))
    if channel_values is not None:
        assert channel is not None  # channel_values are read from it
        ch = pl.col(channel).cast(pl.String) if not isinstance(schema[channel], pl.Enum) else pl.col(channel)
        aggs += [(ch == v).sum().alias(f"_ch{i}") for i, v in enumerate(channel_values)]
    m = (pl.col("orders") - 1).cast(pl.Float64)
    min_d = (pl.col("_first") - _EPOCH_US) / _DAY_US
    max_d = (pl.col("_last") - _EPOCH_US) / _DAY_US
    sx = m * (m - 1) / 2
    sxx = (m - 1) * m * (2 * m - 1) / 6
    sg = max_d - min_d
    sxg = m * max_d - (pl.col("_sum_d") - min_d)
    per = (
        base.group_by(customer)
        .agg(aggs)
        .with_columns(
            pl.when(m >= 1).then((pl.col("_last") - pl.col("_first")) / _DAY_US / m).alias("mean_interpurchase_days"),
            pl.when(m >= 2).then((sxg - sx * sg / m) / (sxx - sx * sx / m)).alias("interpurchase_trend_days"),
        )
    )

    if channel_values is not None:
        counts = [pl.col(f"_ch{i}") for i in range(len(channel_values))]
        top = pl.max_horizontal(counts)
        fav_expr: Union[Then, ChainedThen] = pl.when(counts[0] == top).then(pl.lit(channel_values[0]))
        for count_i, value_i in zip(counts[1:], channel_values[1:]):
            fav_expr = fav_expr.when(count_i == top).then(pl.lit(value_i))
        # Ties go to the alphabetically first channel; a customer without any channel
        # value gets null.
        per = per.with_columns(pl.when(top > 0).then(fav_expr).alias("favourite_channel"))
    elif channel is not None:
        fav = (
            base.group_by(customer, channel)
            .agg(pl.len().alias("_n"))
            .with_columns(pl.col(channel).cast(pl.String).alias("_ch"))
            .drop_nulls("_ch")
            .group_by(customer)
            .agg(pl.col("_ch").sort_by(["_n", "_ch"], descending=[True, False]).first().alias("favourite_channel"))
        )
        per = per.join(fav, on=customer, how="left")

    if items is not None:
        it = as_lazy(items, argument="items")
        order_key = order or "order_id"
        require_columns(it, {order_key: "id", category: "any", "quantity": "numeric", "price": "numeric"},
                        function=_FUNC, argument="items")
        if order is None:
            raise SchemaError(f"{_FUNC}: items need an order id column in 'orders' to join on; pass order=...")
        spend = (
            it.join(base.select(order, customer), on=order, how="inner")
            .group_by(customer, pl.col(category).cast(pl.String).alias("_cat"))
            .agg((pl.col("quantity") * pl.col("price")).sum().alias("_s"))
            .with_columns((pl.col("_s") / pl.col("_s").sum().over(customer)).alias("_share"))
            .sort([customer, "_s", "_cat"], descending=[False, True, False])
            .group_by(customer, maintain_order=True)
            .agg(pl.col("_cat").first().alias("favourite_category"), pl.col("_share").first().alias("favourite_category_share"))
        )
        per = per.join(spend, on=customer, how="left")
    if events is not None:
        ev = as_lazy(events, argument="events")
        es = require_columns(ev, {customer: "id", event_time: "date"}, function=_FUNC, argument="events")
        ev_dtype = es[event_time] if es[event_time] != pl.Date else pl.Datetime("us")
        ev_aggs = [pl.len().cast(pl.Int64).alias("events"), _to_us(pl.col(event_time), es[event_time]).max().alias("_last_event")]
        if session in es:
            ev_aggs.append(pl.col(session).n_unique().cast(pl.Int64).alias("sessions"))
        ev_table = ev.group_by(customer).agg(ev_aggs).collect(engine="streaming")

    out = per.collect(engine="streaming" if eager is None else "auto")
    if dropped_customers is not None:
        lost = vanished_customers(dropped_customers, out, customer)
        warnings.warn(
            f"{_FUNC}: dropped {n_null_date} row(s) with a null '{date}'"
            + (f"; {lost} customer(s) had no other order and are not in the result" if lost else ""),
            UserWarning, stacklevel=2,
        )
    if ret_table is not None:
        out = out.join(ret_table, on=customer, how="left").with_columns(
            pl.col("returns").fill_null(0),
            pl.col("returned_amount").fill_null(0.0),
        ).with_columns(pl.col("revenue") - pl.col("returned_amount"))

    # Dates back in the input's dtype, day counts against as_of (all in UTC microseconds).
    to_dt = pl.Datetime("us")
    first = pl.col("_first").cast(to_dt)
    last = pl.col("_last").cast(to_dt)
    if as_of is None:
        end = last.max() if ret_last is None else pl.max_horizontal(last.max(), pl.lit(ret_last, pl.Int64).cast(to_dt))
        if getattr(dtype, "time_zone", None) is None:
            as_of_dt = end.dt.truncate("1d") + pl.duration(days=1)
        else:  # the next midnight where the orders happened, not in UTC
            as_of_dt = _naive_utc(_from_naive_utc(end, dtype).dt.truncate("1d") + pl.duration(days=1), dtype)
    else:
        as_of_dt = _naive_utc(as_of_literal(as_of, dtype, function=_FUNC), dtype)
    def back(e: pl.Expr) -> pl.Expr:
        return _from_naive_utc(e, dtype)

    def days(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
        return ((later - earlier).dt.total_microseconds() // _DAY_US).cast(pl.Int64)

    cols: list[Union[str, pl.Expr]] = [
        customer,
        back(first).alias("first_order"),
        back(last).alias("last_order"),
        days(as_of_dt, first).alias("tenure_days"),
        days(as_of_dt, last).alias("recency_days"),
        "orders",
        "revenue",
        *(["returns", "returned_amount"] if ret_table is not None else []),
        (pl.col("revenue") / pl.col("orders")).alias("avg_order_value"),
        "mean_interpurchase_days",
        "interpurchase_trend_days",
    ]
    if channel is not None:
        cols.append("favourite_channel")
    if discount is not None:
        cols.append("discount_share")
    cols.append("weekend_share")
    if items is not None:
        cols += ["favourite_category", "favourite_category_share"]
    cols.append(back(last).alias("last_activity"))
    out = out.lazy().select(cols).sort(customer).collect()

    if customers is not None:
        cu = as_lazy(customers, argument="customers")
        require_columns(cu, {customer: "id"}, function=_FUNC, argument="customers")
        extra_cols = [c for c in schema_of(cu).names() if c != customer and c not in out.columns]
        cdf = cu.select([customer] + extra_cols).collect()
        out = (
            cdf.join(out, on=customer, how="left")
            .with_columns(pl.col("orders").fill_null(0), pl.col("revenue").fill_null(0.0))
            .sort(customer)
        )
        if ret_table is not None and ret_table.height:
            # Listed customers who only returned: their returns and negative revenue.
            only = ret_table.rename({"returns": "_rn", "returned_amount": "_ra"})
            out = (
                out.join(only, on=customer, how="left")
                .with_columns(
                    pl.when(pl.col("orders") == 0).then(pl.col("_rn").fill_null(0)).otherwise(pl.col("returns")).alias("returns"),
                    pl.when(pl.col("orders") == 0).then(pl.col("_ra").fill_null(0.0)).otherwise(pl.col("returned_amount")).alias("returned_amount"),
                )
                .with_columns(
                    pl.when(pl.col("orders") == 0).then(-pl.col("returned_amount")).otherwise(pl.col("revenue")).alias("revenue")
                )
                .drop("_rn", "_ra")
            )
        elif ret_table is not None:
            out = out.with_columns(pl.col("returns").fill_null(0), pl.col("returned_amount").fill_null(0.0))
    if ret_table is not None and ret_table.height:
        left_out = ret_table.join(out.select(customer), on=customer, how="anti").height
        if left_out:
                warnings.warn(
                f"{_FUNC}: left out {left_out} customer(s) with returns only (no purchase with '{amount}' >= 0)",
                UserWarning,
                stacklevel=2,
            )
    if events is not None:
        # Customers come from orders (or the customers table); events add to them.
        out = out.join(ev_table, on=customer, how="left")
        last_evt = pl.col("_last_event").cast(to_dt)
        act_dtype = dtype if dtype != pl.Date else ev_dtype
        ev_cols = (["sessions"] if "sessions" in ev_table.columns else []) + ["events"]
        out = out.with_columns(
            pl.col("events").fill_null(0),
            *[pl.col("sessions").fill_null(0)] * ("sessions" in ev_cols),
            _from_naive_utc(last_evt, ev_dtype).alias("last_event"),
            _from_naive_utc(
                pl.max_horizontal(_naive_utc(pl.col("last_activity"), dtype), last_evt), act_dtype
            ).alias("last_activity"),
        ).select(pl.exclude("_last_event", "last_activity", *ev_cols, "last_event"), *ev_cols, "last_event", "last_activity")
    return out


# --------------------------------------------------------------------------------------
# Tags
# --------------------------------------------------------------------------------------


def default_tag_rules() -> dict[str, pl.Expr]:
    """The default tag rules, as a dict you can extend: ``{**default_tag_rules(), "vip": expr}``.

    - ``high_value``: revenue in the top 20% of customers (and > 0);
    - ``frequent``: orders in the top 20% and at least 3;
    - ``new``: first order within the last 30 days (tenure_days <= 30);
    - ``dormant_90d``: no order for more than 90 days;
    - ``churn_risk``: at least 2 orders and no order for more than twice the customer's
      mean inter-purchase time;
    - ``discount_seeker``: at least 2 orders and half or more of them discounted;
    - ``weekend_shopper``: at least 3 orders and 60% or more at weekends (2/7 ~ 29% at random);
    - ``loves:<category>``: half or more of item spend in the favourite category.

    A rule whose columns the profile lacks is skipped.

    >>> import polars as pl, crmkit
    >>> rules = {**crmkit.default_tag_rules(), "big_spender": pl.col("revenue") > 500}
    >>> list(rules)[:3], "big_spender" in rules
    (['high_value', 'frequent', 'new'], True)
    """
    return {
        "high_value": (pl.col("revenue") >= pl.col("revenue").quantile(0.8, "linear")) & (pl.col("revenue") > 0),
        "frequent": (pl.col("orders") >= pl.col("orders").quantile(0.8, "linear")) & (pl.col("orders") >= 3),
        "new": pl.col("tenure_days") <= 30,
        "dormant_90d": pl.col("recency_days") > 90,
        "churn_risk": (pl.col("orders") >= 2) & (pl.col("recency_days") > 2 * pl.col("mean_interpurchase_days")),
        "discount_seeker": (pl.col("orders") >= 2) & (pl.col("discount_share") >= 0.5),
        "weekend_shopper": (pl.col("orders") >= 3) & (pl.col("weekend_share") >= 0.6),
        "loves": pl.when(pl.col("favourite_category_share") >= 0.5).then(pl.lit("loves:") + pl.col("favourite_category")),
    }


DEFAULT_TAG_RULES = default_tag_rules()


def tags(profile: Frame, rules: Optional[Mapping[str, pl.Expr]] = None, *, column: str = "tags") -> pl.DataFrame:
    """Adds a list column of tags to a profile.

    ``rules`` maps a tag to a polars expression evaluated on the profile: a boolean
    expression gives the tag where true, a string expression gives its own value as
    the tag where not null (how ``loves:<category>`` works). Default:
    :func:`default_tag_rules`; user rules skip nothing — a missing column is an error.
    Tags keep the rules' order.

    >>> import polars as pl, crmkit
    >>> p = pl.DataFrame({"customer_id": [1, 2], "recency_days": [5, 200], "orders": [9, 1]})
    >>> crmkit.tags(p, {"active": pl.col("recency_days") <= 30, "one_off": pl.col("orders") == 1})["tags"].to_list()
    [['active'], ['one_off']]
    """
    lf = as_lazy(profile, argument="profile")
    names = set(schema_of(lf).names())
    user = rules is not None
    rules = dict(rules) if rules is not None else default_tag_rules()
    if not rules:
        raise CrmError("crmkit.tags: rules is empty; give at least one tag rule")
    parts: list[Union[pl.Expr, Then]] = []
    for name, expr in rules.items():
        if not isinstance(expr, pl.Expr):
            raise CrmError(f"crmkit.tags: rule '{name}' must be a polars expression, found {type(expr).__name__}")
        needed = set(expr.meta.root_names())
        missing = needed - names
        if missing:
            if user:
                raise SchemaError(
                    f"crmkit.tags: rule '{name}' uses column(s) {sorted(missing)} that the profile lacks; "
                    f"profile columns are {sorted(names)}"
                )
            continue
        dt = lf.select(expr.alias("_r")).collect_schema()["_r"]
        if dt == pl.Boolean:
            parts.append(pl.when(expr).then(pl.lit(str(name))))
        elif dt == pl.String or isinstance(dt, (pl.Categorical, pl.Enum)):
            parts.append(expr.cast(pl.String))
        else:
            raise CrmError(f"crmkit.tags: rule '{name}' must give a boolean or a string, found {dt}")
    if not parts:
        out = lf.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias(column))
    else:
        out = lf.with_columns(pl.concat_list(parts).list.drop_nulls().alias(column))
    return out.collect()
