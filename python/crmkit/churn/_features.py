"""Leakage-free churn features and labels at a cutoff, composed as polars queries.

Every feature is computed from rows strictly before ``cutoff``; the per-customer
order features are one pass in Rust over the rows grouped by customer (each
customer's rows in time order, ties in input order), so they are partitionable by
customer and the same whatever the thread count. The only cross-customer piece is the BG/NBD model whose
population parameters are fitted on the pre-cutoff histories (pass ``btyd_model`` to
reuse a fitted one, e.g. when scoring partitions separately).
"""

from __future__ import annotations

import datetime as _dt
import warnings
from typing import Any, Optional, Sequence, Union, cast

import numpy as np
import polars as pl

from crmkit import _core, _interrupt
from crmkit._validate import as_lazy, require_columns
from crmkit._history import naive_datetime as _cutoff
from crmkit.errors import ConvergenceError, CrmError, SchemaError

_DAY_US = 86_400_000_000
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _us(value: _dt.datetime) -> int:
    return (value - _dt.datetime(1970, 1, 1)) // _dt.timedelta(microseconds=1)


def _date_us(column: str, dtype: pl.DataType) -> pl.Expr:
    """Microseconds since the epoch, tz-naive (local wall time for tz-aware columns)."""
    e = pl.col(column)
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        e = e.dt.replace_time_zone(None)
    return e.cast(pl.Datetime("us")).dt.epoch("us")


def _check_windows(windows: Sequence[int], function: str) -> tuple[int, ...]:
    try:
        ws = tuple(int(w) for w in windows)
    except (TypeError, ValueError):
        raise CrmError(f"{function}: windows must be a sequence of whole numbers of days, found {windows!r}") from None
    if not ws or any(w <= 0 for w in ws) or list(ws) != sorted(set(ws)) or any(w != v for w, v in zip(ws, windows)):
        raise CrmError(f"{function}: windows must be increasing positive whole numbers of days, found {windows!r}")
    return ws


def _check_horizon(horizon: Any, function: str) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon <= 0:
        raise CrmError(f"{function}: horizon must be a positive whole number of days, found {horizon!r}")
    return int(horizon)


def _orders_base(orders: Any, customer: str, date: str, amount: str, function: str) -> tuple[pl.LazyFrame, pl.Schema]:
    lazy = as_lazy(orders, argument="orders")
    schema = require_columns(lazy, {customer: "id", date: "date", amount: "numeric"}, function=function,
                             argument="orders")
    return lazy, schema


def _null_check(frame: pl.DataFrame, columns: Sequence[str], function: str) -> None:
    for c in columns:
        k = frame[c].null_count()
        if k:
            raise SchemaError(f"{function}: column '{c}' in 'orders' holds {k} null value(s) before the cutoff; "
                              f"drop or fill them first (for example orders.drop_nulls('{c}'))")


_DENSE_ID_TYPES = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32)


def _contiguous(s: pl.Series, dtype: Any) -> np.ndarray:
    return np.ascontiguousarray(s.to_numpy(), dtype=dtype)


def _customer_codes(ids: pl.Series) -> tuple[np.ndarray, int, int]:
    """(keys, offset, n): ``keys - offset`` is each row's customer code in ``0..n``, in
    the order of the sorted ids. Integer ids in a range about as large as the row count
    are their own codes (no hashing, no sort); other ids take their dense rank."""
    if ids.dtype in _DENSE_ID_TYPES:
        # An integer column's min and max are ints (polars types them as any scalar).
        lo, hi = cast(int, ids.min()), cast(int, ids.max())
        if hi - lo + 1 <= 2 * len(ids) + 1024:
            return _contiguous(ids.cast(pl.Int64), np.int64), int(lo), int(hi - lo + 1)
    codes = ids.rank("dense").cast(pl.Int64)
    return _contiguous(codes, np.int64), 1, int(codes.max())


def feature_table(windows: Sequence[int] = (30, 90, 180, 365), horizon: int = 180) -> pl.DataFrame:
    """The feature names, their group and definition for the given windows (``FEATURES``
    holds the defaults). Channel shares are named ``channel_share_<value>`` per channel.

    >>> from crmkit import churn
    >>> churn.feature_table(windows=(30, 90))["feature"].to_list()[11:15]
    ['orders_30d', 'spend_30d', 'orders_90d', 'spend_90d']
    """
    ws = tuple(windows)
    rows: list[tuple[str, str, str]] = [
        ("recency", "rfm", "days from the last order to the cutoff"),
        ("frequency", "rfm", "number of orders before the cutoff"),
        ("monetary_sum", "rfm", "total spend before the cutoff"),
        ("monetary_mean", "rfm", "mean spend per order"),
        ("monetary_max", "rfm", "largest order"),
        ("tenure", "rfm", "days from the first order to the cutoff"),
        ("purchase_days", "rfm", "number of distinct days with an order"),
        ("interval_mean", "rhythm", "mean days between purchase days (null with one purchase day)"),
        ("interval_std", "rhythm", "standard deviation of the days between purchase days (null with fewer than 3)"),
        ("interval_last", "rhythm", "days between the last two purchase days (null with one purchase day)"),
        ("overdue_ratio", "rhythm", "recency / interval_mean: how late the next order is against the customer's "
                                    "own rhythm (null with one purchase day)"),
    ]
    for w in ws:
        rows.append((f"orders_{w}d", "window", f"orders in the {w} days before the cutoff"))
        rows.append((f"spend_{w}d", "window", f"spend in the {w} days before the cutoff"))
    for a, b in zip(ws, ws[1:]):
        rows.append((f"orders_trend_{a}_{b}d", "window",
                     f"orders per day in the last {a} days over orders per day in the last {b} days (1 steady, "
                     f"0 stopped, above 1 speeding up; null without an order in {b} days)"))
        rows.append((f"spend_trend_{a}_{b}d", "window", f"the same ratio for spend ({a} vs {b} days)"))
    rows += [
        ("discount_share", "discount", "share of orders with a discount (needs a discount column)"),
        ("discount_mean", "discount", "mean discount of the orders"),
        ("n_channels", "channel", "distinct channels ordered through (needs a channel column)"),
        ("channel_share_<value>", "channel", "share of orders through each channel"),
        ("weekend_share", "timing", "share of orders on Saturday or Sunday"),
        ("weekday_concentration", "timing", "share of orders on the customer's most frequent weekday"),
        ("evening_share", "timing", "share of orders from 18:00 (datetime order dates only)"),
        ("hour_mean", "timing", "mean hour of day of the orders (datetime order dates only)"),
        ("category_breadth", "items", "distinct categories bought (needs items)"),
        ("favourite_category_share", "items", "share of item quantity in the customer's top category"),
        ("products_distinct", "items", "distinct products bought"),
        ("items_per_order", "items", "item quantity per order"),
        ("events_30d", "events", "events in the 30 days before the cutoff (needs events)"),
        ("sessions_30d", "events", "sessions in the 30 days before the cutoff"),
        ("sessions_90d", "events", "sessions in the 90 days before the cutoff"),
        ("days_since_last_event", "events", "days from the last event to the cutoff (last seen; null if never)"),
        ("cart_sessions_90d", "events", "sessions with a cart event in the 90 days before the cutoff"),
        ("cart_abandonment", "events", "share of those cart sessions without a purchase event"),
        ("btyd_p_alive", "btyd", "BG/NBD P(alive) (fitted on the pre-cutoff histories, days)"),
        ("btyd_p_no_purchase", "btyd", f"BG/NBD P(no purchase in the next {horizon} days) = "
                                       "(1 - P(alive)) + P(alive) P(no purchase | alive)"),
        ("btyd_expected_purchases", "btyd", f"BG/NBD expected purchase days in the next {horizon} days"),
        ("btyd_expected_spend", "btyd", f"btyd_expected_purchases times the Gamma-Gamma expected spend per "
                                        "purchase day (fitted on the repeat buyers before the cutoff)"),
    ]
    return pl.DataFrame(rows, schema={"feature": pl.String, "group": pl.String, "definition": pl.String}, orient="row")


def _fit_btyd(x: np.ndarray, tx: np.ndarray, t: np.ndarray, function: str) -> Any:
    from crmkit.clv import BetaGeoFitter

    last: Optional[Exception] = None
    for penalty in (0.0, 0.001, 0.01):
        try:
            return BetaGeoFitter(penalizer_coef=penalty).fit(x, tx, t)
        except (CrmError, ConvergenceError) as e:
            last = e
    warnings.warn(f"{function}: the BG/NBD model could not be fitted on the pre-cutoff histories ({last}); "
                  "the btyd_* features are null", stacklevel=3)
    return None


def _spend_per_purchase(x: np.ndarray, value: np.ndarray, model: Any, function: str) -> np.ndarray:
    """Gamma-Gamma E[spend per purchase day | x, mean repeat spend] (the population mean
    for one-time buyers); NaN when the model cannot be fitted."""
    from crmkit.clv import GammaGammaFitter

    value = np.nan_to_num(np.asarray(value, dtype=np.float64), nan=0.0)
    if model is None:
        repeat = (x > 0) & (value > 0)
        try:
            model = GammaGammaFitter().fit(x[repeat], value[repeat])
        except (CrmError, ConvergenceError) as e:
            warnings.warn(f"{function}: the Gamma-Gamma spend model could not be fitted ({e}); "
                          "btyd_expected_spend is null", stacklevel=3)
            return np.full(len(x), np.nan)
    return np.asarray(model.conditional_expected_average_profit(x, np.maximum(value, 0.0)), dtype=np.float64)


def features(
    orders: Union[pl.DataFrame, pl.LazyFrame],
    *,
    cutoff: Any,
    customer: str = "customer_id",
    date: str = "order_date",
    amount: str = "amount",
    events: Union[pl.DataFrame, pl.LazyFrame, None] = None,
    items: Union[pl.DataFrame, pl.LazyFrame, None] = None,
    windows: Sequence[int] = (30, 90, 180, 365),
    horizon: int = 180,
    discount: Optional[str] = "discount",
    channel: Optional[str] = "channel",
    order_id: str = "order_id",
    event_customer: Optional[str] = None,
    event_time: str = "timestamp",
    event_name: str = "event",
    session: str = "session_id",
    cart_event: str = "cart",
    purchase_event: str = "purchase",
    category: str = "category",
    product: str = "product",
    quantity: Optional[str] = "quantity",
    btyd: bool = True,
    btyd_model: Any = None,
    spend_model: Any = None,
) -> pl.DataFrame:
    """One row per customer with at least one order strictly before ``cutoff``, and the
    churn features computed only from those rows (``crmkit.churn.FEATURES`` lists and
    defines them; the per-window names follow ``windows``).

    ``discount`` and ``channel`` columns are used when ``orders`` has them (pass None to
    leave them out). ``items`` (order lines: ``order_id``, ``category``, ``product``,
    ``quantity``) add category breadth and favourite-category share; ``events``
    (``customer_id``, ``session_id``, ``event``, ``timestamp``) add activity, last-seen
    and cart abandonment. The BTYD features come from a BG/NBD model fitted on the
    pre-cutoff histories in days (or ``btyd_model``, an already fitted
    ``crmkit.clv.BetaGeoFitter`` with days as its unit; ``spend_model`` likewise a fitted
    ``GammaGammaFitter``); ``btyd=False`` leaves them out.

    >>> from crmkit import churn, datasets
    >>> world = datasets.generate(n_customers=500, seed=1)
    >>> f = churn.features(world.orders, cutoff="2025-01-01", items=world.items, events=world.events)
    >>> f.select("recency", "frequency", "overdue_ratio", "btyd_p_no_purchase").columns
    ['recency', 'frequency', 'overdue_ratio', 'btyd_p_no_purchase']
    >>> bool(f["recency"].min() > 0)  # orders on or after the cutoff are never seen
    True
    """
    fn = "churn.features"
    ws = _check_windows(windows, fn)
    h = _check_horizon(horizon, fn)
    cut = _cutoff(cutoff, "cutoff", fn)
    c_us = _us(cut)
    lazy, schema = _orders_base(orders, customer, date, amount, fn)
    has_discount = discount is not None and discount in schema
    has_channel = channel is not None and channel in schema
    # The optional column names as plain strings (only read where they are present).
    discount_col, channel_col = discount or "", channel or ""
    if has_discount:
        require_columns(lazy, {discount_col: "numeric"}, function=fn, argument="orders")
    if has_channel:
        require_columns(lazy, {channel_col: "id"}, function=fn, argument="orders")
    with_time = isinstance(schema[date], pl.Datetime)

    cols = [pl.col(customer), _date_us(date, schema[date]).alias("__us"), pl.col(amount).cast(pl.Float64).alias("__a")]
    if has_discount:
        cols.append(pl.col(discount_col).cast(pl.Float64).alias("__disc"))
    if has_channel:
        if isinstance(schema[channel_col], pl.Enum):
            cols.append(pl.col(channel_col).to_physical().cast(pl.Int32).alias("__ch"))
        else:
            cols.append(pl.col(channel_col).cast(pl.String).alias("__ch"))
    if items is not None:
        if order_id not in schema:
            raise SchemaError(f"{fn}: 'items' needs the orders' '{order_id}' column to link order lines to customers")
        cols.append(pl.col(order_id))
    pre = lazy.select(cols).filter(pl.col("__us") < c_us).pipe(_interrupt.collect)
    if pre.height == 0:
        raise CrmError(f"{fn}: no order falls before the cutoff {cut}; there is no customer to describe")
    _null_check(pre.rename({"__us": date, "__a": amount}), [customer, date, amount], fn)

    # The per-customer order features are one pass in Rust over the rows grouped by a
    # dense customer code (a counting sort, no comparison sort of the orders), each
    # customer's rows read in time order: about forty aggregations and the gaps between
    # purchase days at once. Codes instead of text keep the channels cheap too.
    channels: list[str] = []
    ch_codes = ch_map = None
    if has_channel:
        dtype = schema[channel_col]
        # Enum categories are fixed by the dtype; other channels are those seen before the
        # cutoff (never after: a channel first used later must not add a column).
        seen = dtype.categories.to_list() if isinstance(dtype, pl.Enum) else pre["__ch"].unique().to_list()
        channels = sorted(v for v in seen if v is not None)
        if len(channels) > 50 and not isinstance(dtype, pl.Enum):
            warnings.warn(f"{fn}: column '{channel}' has {len(channels)} values; only the 50 most frequent get a "
                          "channel_share column", stacklevel=2)
            top = set(pre["__ch"].value_counts(sort=True).head(50)["__ch"].to_list())
            channels = [c for c in channels if c in top]
        if isinstance(dtype, pl.Enum):
            # physical codes as they are; the map sends each to its share column
            cats = dtype.categories.to_list()
            ch_map = np.full(max(len(cats), 1), -1, dtype=np.int32)
            for i, c in enumerate(channels):
                ch_map[cats.index(c)] = i
            ch_col = pre["__ch"]
        else:
            ch_map = np.arange(len(channels), dtype=np.int32)
            ch_col = pre["__ch"].replace_strict(channels, list(range(len(channels))), default=None,
                                                return_dtype=pl.Int32)
        ch_codes = _contiguous(ch_col.fill_null(-1), np.int32)
    disc_values = disc_valid = None
    if has_discount:
        disc_values = _contiguous(pre["__disc"].fill_null(0.0), np.float64)
        disc_valid = _contiguous(pre["__disc"].is_not_null(), np.bool_)
    key, key_offset, n_codes = _customer_codes(pre[customer])
    out = _core.churn_order_features(
        key, key_offset, n_codes, _contiguous(pre["__us"], np.int64), _contiguous(pre["__a"], np.float64),
        disc_values, disc_valid, ch_codes, ch_map, len(channels), c_us, list(ws), with_time)
    out = out.with_columns(pre[customer].gather(out["__first_row"]).alias(customer)).drop("__first_row")
    finish = [((pl.col("monetary_sum") - pl.col("__a_first")) / (pl.col("purchase_days") - 1)).alias("__repeat_value")]
    if has_channel:
        finish += [pl.col(f"__ch{i}").alias(f"channel_share_{v}") for i, v in enumerate(channels)]
    out = out.with_columns(finish).drop("__a_first", *[f"__ch{i}" for i in range(len(channels))])
    trends = [pl.when(pl.col("interval_mean") > 0).then(pl.col("recency") / pl.col("interval_mean"))
              .otherwise(None).alias("overdue_ratio")]
    for a, b in zip(ws, ws[1:]):
        for kind in ("orders", "spend"):
            num, den = pl.col(f"{kind}_{a}d") / a, pl.col(f"{kind}_{b}d") / b
            trends.append(pl.when(pl.col(f"{kind}_{b}d") != 0).then(num / den).otherwise(None)
                          .cast(pl.Float64).alias(f"{kind}_trend_{a}_{b}d"))
    out = out.with_columns(trends)

    # BTYD in days: x = repeat purchase days, t_x = first to last purchase day, T = first
    # purchase day to the last day observed before the cutoff (lifetimes' summary with
    # freq="D" and observation_period_end = that day, as clv.summary computes it).
    cut_day = (c_us - 1) // _DAY_US
    if btyd:
        x = (out["purchase_days"] - 1).cast(pl.Float64).to_numpy()
        tx = (out["__last_day"] - out["__first_day"]).cast(pl.Float64).to_numpy()
        t_big = (cut_day - out["__first_day"]).cast(pl.Float64).to_numpy()
        model = btyd_model if btyd_model is not None else _fit_btyd(x, tx, t_big, fn)
        spend = _spend_per_purchase(x, out["__repeat_value"].to_numpy(), spend_model, fn)
        if model is not None:
            p_alive = np.asarray(model.conditional_probability_alive(x, tx, t_big), dtype=np.float64)
            p_none = np.asarray(model.conditional_probability_no_purchases_up_to_time(float(h), x, tx, t_big),
                                dtype=np.float64)
            expected = np.asarray(model.conditional_expected_number_of_purchases_up_to_time(float(h), x, tx, t_big),
                                  dtype=np.float64)
        else:
            p_alive = p_none = expected = np.full(out.height, np.nan)
        out = out.with_columns(
            pl.Series("btyd_p_alive", p_alive).fill_nan(None),
            pl.Series("btyd_p_no_purchase", p_none).fill_nan(None),
            pl.Series("btyd_expected_purchases", expected).fill_nan(None),
            pl.Series("btyd_expected_spend", expected * spend).fill_nan(None),
        )
    out = out.drop("__first_day", "__last_day", "__repeat_value")

    if items is not None:
        out = out.join(_item_features(pre, items, customer, order_id, category, product, quantity, fn).pipe(_interrupt.collect),
                       on=customer, how="left")
    if events is not None:
        out = out.join(_event_features(events, c_us, customer if event_customer is None else event_customer,
                                       customer, event_time, event_name, session, cart_event, purchase_event, fn).pipe(_interrupt.collect),
                       on=customer, how="left")
        fill = [pl.col(c).fill_null(0) for c in ("events_30d", "sessions_30d", "sessions_90d", "cart_sessions_90d")]
        out = out.with_columns(fill)
    order = [c for c in feature_table(ws, h)["feature"].to_list() if c in out.columns]
    shares = [f"channel_share_{v}" for v in channels]
    at = order.index("n_channels") + 1 if "n_channels" in order else len(order)
    order = order[:at] + shares + order[at:]
    return out.select([customer] + order)


def _item_features(pre: pl.DataFrame, items: Any, customer: str, order_id: str, category: str, product: str,
                   quantity: Optional[str], function: str) -> pl.LazyFrame:
    keyed = pre.lazy().select(customer, order_id).unique(order_id)
    n_orders = pre.lazy().group_by(customer).agg(pl.len().alias("__n"))
    return (
        _item_stats(keyed, items, customer, order_id, category, product, quantity, function)
        .join(n_orders, on=customer, how="left")
        .with_columns((pl.col("__qty") / pl.col("__n")).alias("items_per_order"))
        .select(customer, "category_breadth", "favourite_category_share", "products_distinct", "items_per_order")
    )


def _item_stats(keyed: pl.LazyFrame, items: Any, customer: str, order_id: str, category: str, product: str,
                quantity: Optional[str], function: str) -> pl.LazyFrame:
    """Per-customer item figures from the order lines of ``keyed`` (one row per
    pre-cutoff order: customer, order_id), with ``__qty`` the customer's total quantity
    (``items_per_order`` divides it by the pre-cutoff order count; crmkit.spark does that
    division after a join, the figures here being partitionable by customer)."""
    lines = as_lazy(items, argument="items")
    need = {order_id: "any", category: "any", product: "any"}
    if quantity is not None:
        need[quantity] = "numeric"
    require_columns(lines, need, function=function, argument="items")  # type: ignore[arg-type]
    q = pl.col(quantity).cast(pl.Float64) if quantity is not None else pl.lit(1.0)
    # Only lines of orders placed before the cutoff (an inner join with those orders).
    joined = lines.select(pl.col(order_id), pl.col(category), pl.col(product), q.alias("__q")) \
        .join(keyed, on=order_id, how="inner")
    per_cat = joined.group_by(customer, category).agg(pl.col("__q").sum().alias("__cq"))
    cats = per_cat.group_by(customer).agg(
        pl.len().cast(pl.Int64).alias("category_breadth"),
        (pl.col("__cq").max() / pl.col("__cq").sum()).alias("favourite_category_share"),
    )
    prods = joined.group_by(customer).agg(pl.col(product).n_unique().cast(pl.Int64).alias("products_distinct"),
                                          pl.col("__q").sum().alias("__qty"))
    return cats.join(prods, on=customer, how="full", coalesce=True)


def _event_features(events: Any, c_us: int, event_customer: str, customer: str, event_time: str, event_name: str,
                    session: str, cart_event: str, purchase_event: str, function: str) -> pl.LazyFrame:
    log = as_lazy(events, argument="events")
    schema = require_columns(log, {event_customer: "id", event_time: "date", event_name: "string", session: "any"},
                             function=function, argument="events")
    e = log.select(
        pl.col(event_customer).alias(customer),
        _date_us(event_time, schema[event_time]).alias("__us"),
        pl.col(event_name).cast(pl.String).alias("__e"),
        pl.col(session).alias("__s"),
    ).filter((pl.col("__us") < c_us) & pl.col(customer).is_not_null())
    e = e.with_columns(__ago=(c_us - pl.col("__us")) / _DAY_US)
    activity = e.group_by(customer).agg(
        (pl.col("__ago") <= 30).sum().cast(pl.Int64).alias("events_30d"),
        pl.col("__s").filter(pl.col("__ago") <= 30).n_unique().cast(pl.Int64).alias("sessions_30d"),
        pl.col("__s").filter(pl.col("__ago") <= 90).n_unique().cast(pl.Int64).alias("sessions_90d"),
        pl.col("__ago").min().alias("days_since_last_event"),
    )
    sessions = (
        e.filter(pl.col("__ago") <= 90)
        .group_by(customer, "__s")
        .agg((pl.col("__e") == cart_event).any().alias("__cart"), (pl.col("__e") == purchase_event).any().alias("__buy"))
        .filter(pl.col("__cart"))
        .group_by(customer)
        .agg(pl.len().cast(pl.Int64).alias("cart_sessions_90d"), (~pl.col("__buy")).mean().alias("cart_abandonment"))
    )
    return activity.join(sessions, on=customer, how="left")


def labels(
    orders: Union[pl.DataFrame, pl.LazyFrame],
    *,
    cutoff: Any,
    horizon: int = 180,
    customer: str = "customer_id",
    date: str = "order_date",
    amount: str = "amount",
    data_end: Any = None,
) -> pl.DataFrame:
    """The outcome after ``cutoff`` for every customer of ``features`` (an order before
    the cutoff): ``churned`` (no order in [cutoff, cutoff + horizon days)),
    ``future_orders`` and ``future_spend`` in that window.

    A label needs the whole window observed: when ``data_end`` (default: the last order
    date) falls before cutoff + horizon, a CrmError says so instead of calling customers
    churned who simply were not observed long enough.

    >>> import polars as pl
    >>> from crmkit import churn
    >>> orders = pl.DataFrame({"customer_id": [1, 1, 2, 3], "amount": [5.0, 7.0, 3.0, 1.0],
    ...     "order_date": pl.Series(["2024-01-05", "2024-03-01", "2024-01-20", "2024-06-30"]).str.to_date()})
    >>> churn.labels(orders, cutoff="2024-02-01", horizon=60).rows()
    [(1, False, 1, 7.0), (2, True, 0, 0.0)]
    """
    fn = "churn.labels"
    h = _check_horizon(horizon, fn)
    cut = _cutoff(cutoff, "cutoff", fn)
    c_us = _us(cut)
    end_us = c_us + h * _DAY_US
    lazy, schema = _orders_base(orders, customer, date, amount, fn)
    base = lazy.select(pl.col(customer), _date_us(date, schema[date]).alias("__us"),
                       pl.col(amount).cast(pl.Float64).alias("__a"))
    if data_end is None:
        last = base.select(pl.col("__us").max()).pipe(_interrupt.collect).item()
        # the last order's instant is observed; with dates, its whole day
        observed_to = None if last is None else last + (_DAY_US if schema[date] == pl.Date else 1)
    else:
        observed_to = _us(_cutoff(data_end, "data_end", fn))
    if observed_to is None or observed_to < end_us:
        seen = "no orders" if observed_to is None else f"orders up to {_dt.datetime(1970, 1, 1) + _dt.timedelta(microseconds=observed_to)}"
        raise CrmError(f"{fn}: the data ({seen}) do not cover the whole horizon [{cut}, "
                       f"{cut + _dt.timedelta(days=h)}); pick an earlier cutoff, a shorter horizon, or pass data_end")
    customers = base.filter(pl.col("__us") < c_us).select(customer).unique()
    future = (
        base.filter((pl.col("__us") >= c_us) & (pl.col("__us") < end_us))
        .group_by(customer)
        .agg(pl.len().cast(pl.Int64).alias("future_orders"), pl.col("__a").sum().alias("future_spend"))
    )
    return (
        customers.join(future, on=customer, how="left")
        .with_columns(pl.col("future_orders").fill_null(0), pl.col("future_spend").fill_null(0.0))
        .with_columns((pl.col("future_orders") == 0).alias("churned"))
        .select(customer, "churned", "future_orders", "future_spend")
        .sort(customer)
        .pipe(_interrupt.collect)
    )


def training_set(
    orders: Union[pl.DataFrame, pl.LazyFrame],
    *,
    cutoffs: Sequence[Any],
    horizon: int = 180,
    customer: str = "customer_id",
    date: str = "order_date",
    amount: str = "amount",
    data_end: Any = None,
    **feature_options: Any,
) -> pl.DataFrame:
    """Features and labels at several cutoffs stacked into one frame (a ``cutoff``
    column first), to train on more history than one snapshot. Options such as
    ``events``, ``items`` and ``windows`` go to ``features``.

    >>> from crmkit import churn, datasets
    >>> world = datasets.generate(n_customers=300, seed=2)
    >>> ts = churn.training_set(world.orders, cutoffs=["2024-06-01", "2024-12-01"], horizon=180)
    >>> ts["cutoff"].n_unique(), "churned" in ts.columns
    (2, True)
    """
    fn = "churn.training_set"
    if isinstance(cutoffs, (str, _dt.date)) or not hasattr(cutoffs, "__iter__"):
        raise CrmError(f"{fn}: cutoffs must be a list of dates, found {cutoffs!r}")
    cuts = sorted({_cutoff(c, "cutoffs", fn) for c in cutoffs})
    if not cuts:
        raise CrmError(f"{fn}: cutoffs is empty")
    lazy = as_lazy(orders, argument="orders")
    if isinstance(orders, pl.LazyFrame):
        lazy = orders.pipe(_interrupt.collect).lazy()  # read once, not once per cutoff
    parts = []
    for cut in cuts:
        f = features(lazy, cutoff=cut, customer=customer, date=date, amount=amount, horizon=horizon, **feature_options)
        y = labels(lazy, cutoff=cut, horizon=horizon, customer=customer, date=date, amount=amount, data_end=data_end)
        parts.append(f.lazy().join(y.lazy(), on=customer, how="left", maintain_order="left")
                     .with_columns(pl.lit(cut).cast(pl.Datetime("us")).alias("cutoff"))
                     .select("cutoff", pl.all().exclude("cutoff")))
    # One lazy join-and-stack, collected off the main thread: an eager join there took
    # half a second on 500k customers, and a Ctrl-C inside it raised KeyboardInterrupt
    # twice (polars' own and Python's).
    out = pl.concat(parts, how="diagonal_relaxed")
    shares = [c for c in out.collect_schema().names() if c.startswith("channel_share_")]
    return out.with_columns([pl.col(c).fill_null(0.0) for c in shares]).pipe(_interrupt.collect)


#: The features' names, groups and definitions for the default windows and horizon.
FEATURES = feature_table()
