"""crmkit.spark.churn_features: churn.features on Spark, the same columns and values.

The per-customer features are one group-by per customer, so they run per hashed
customer bucket (:func:`crmkit.spark.map_customers`) through ``churn.features`` itself.
What needs every customer is fixed on the driver first, as on one machine:

- the channels seen before the cutoff (they name the ``channel_share_*`` columns), from
  one pass over the partitions;
- the BG/NBD model (and the Gamma-Gamma spend model) behind the ``btyd_*`` features,
  fitted by :func:`crmkit.spark.fit` on the distinct (frequency, recency, T) rows of
  every customer with their counts as weights — the fit of every customer without
  collecting one order; the penalties tried are those of ``churn.features``.

Order lines (``items``) are joined to their pre-cutoff orders in Spark so each line
carries its customer; web events are bucketed on their own customer column; both are
aggregated per bucket by churn's own functions and joined to the order features.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional, Sequence

import polars as pl

from crmkit.errors import ConvergenceError, CrmError, SchemaError
from crmkit.spark import _work
from crmkit.spark._base import _pyspark, map_customers, map_rows, polars_schema, require_spark_frame, to_polars

__all__ = ["churn_features"]

_FN = "crmkit.spark.churn_features"


def _fit_models(inputs: Any, btyd_model: Any, spend_model: Any) -> tuple[Any, Any, bool]:
    """The BG/NBD and Gamma-Gamma models of churn.features, fitted on every customer's
    inputs with weights (or the given ones); (model, spend model, btyd columns null)."""
    from pyspark.sql import functions as F

    from crmkit.clv import BetaGeoFitter, GammaGammaFitter
    from crmkit.spark._models import fit

    model = btyd_model
    if model is None:
        last: Optional[Exception] = None
        for penalty in (0.0, 0.001, 0.01):
            try:
                model = fit(BetaGeoFitter(penalizer_coef=penalty), inputs)
                break
            except (CrmError, ConvergenceError) as e:
                last = e
        if model is None:
            warnings.warn(f"{_FN}: the BG/NBD model could not be fitted on the pre-cutoff histories ({last}); "
                          "the btyd_* features are null", UserWarning, stacklevel=3)
            return None, None, True
    spend = spend_model
    if spend is None:
        try:
            spend = fit(GammaGammaFitter(), inputs.filter(F.col("monetary_value") > 0))
        except (CrmError, ConvergenceError) as e:
            warnings.warn(f"{_FN}: the Gamma-Gamma spend model could not be fitted ({e}); btyd_expected_spend is null",
                          UserWarning, stacklevel=3)
            spend = _work.NoSpendModel()
    return model, spend, False


def churn_features(
    sdf: Any,
    *,
    cutoff: Any,
    customer: str = "customer_id",
    date: str = "order_date",
    amount: str = "amount",
    events: Any = None,
    items: Any = None,
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
    n_buckets: Optional[int] = None,
) -> Any:
    """:func:`crmkit.churn.features` on a Spark DataFrame of orders (``events`` and
    ``items`` Spark DataFrames too): the same arguments, columns and values, one row per
    customer with an order before ``cutoff`` (Spark rows have no order).

    The ``btyd_*`` features come from a BG/NBD model fitted on every customer's
    pre-cutoff history through :func:`crmkit.spark.fit` (weighted distinct rows), so
    they equal the single-machine values to the optimiser's tolerance (about 1e-8
    relative); every other column is computed by the same polars code per customer
    bucket. Pass ``btyd_model``/``spend_model`` (fitted with days as the unit) to reuse
    models, e.g. the training cutoff's when scoring a later one.

    >>> f = crmkit.spark.churn_features(orders_sdf, cutoff="2025-06-01")  # doctest: +SKIP
    >>> scored = crmkit.spark.score(f, churn_model)  # doctest: +SKIP
    """
    from crmkit import churn
    from crmkit._history import naive_datetime as _cutoff
    from crmkit.churn._features import _check_horizon, _check_windows, _us
    from crmkit.spark._customers import _partition_stats, _with_row_order

    _pyspark()
    require_spark_frame(sdf, function=_FN, argument="sdf")
    for name, frame in (("events", events), ("items", items)):
        if frame is not None:
            require_spark_frame(frame, function=_FN, argument=name)
    windows = _check_windows(windows, _FN)
    horizon = _check_horizon(horizon, _FN)
    cut = _cutoff(cutoff, "cutoff", _FN)
    c_us = _us(cut)
    schema = polars_schema(sdf)
    options: dict[str, Any] = dict(
        cutoff=cut, customer=customer, date=date, amount=amount, windows=windows, horizon=horizon, discount=discount,
        channel=channel, order_id=order_id, btyd=btyd,
    )
    # The single-machine checks of columns and types, on empty frames of the same
    # schemas, before any Spark job (an empty frame has no order before the cutoff:
    # that one refusal is expected).
    empty: dict[str, Any] = {"events": None if events is None else pl.DataFrame(schema=polars_schema(events)),
             "items": None if items is None else pl.DataFrame(schema=polars_schema(items))}
    ev_opts: dict[str, Any] = dict(event_customer=event_customer, event_time=event_time, event_name=event_name, session=session,
                   cart_event=cart_event, purchase_event=purchase_event)
    it_opts: dict[str, Any] = dict(category=category, product=product, quantity=quantity)
    try:
        churn.features(pl.DataFrame(schema=schema), **options, **ev_opts, **it_opts, **empty)
    except CrmError as e:
        if "no order falls before the cutoff" not in str(e):
            raise
    if items is not None and order_id not in schema:
        raise SchemaError(f"churn.features: 'items' needs the orders' '{order_id}' column to link order lines to customers")
    has_channel = channel is not None and channel in schema
    enum_channel = channel is not None and channel in schema and isinstance(schema[channel], pl.Enum)

    stats = _partition_stats(sdf, _work.churn_stats, {"kind": pl.String, "key": pl.String, "n": pl.Int64},
                             customer=customer, date=date, amount=amount,
                             channel=channel if has_channel and not enum_channel else None, c_us=c_us)
    totals = stats.group_by("kind", "key").agg(pl.col("n").sum())

    def total(kind: str, key: str = "") -> int:
        hit = totals.filter((pl.col("kind") == kind) & (pl.col("key") == key))
        return int(hit["n"][0]) if hit.height else 0

    if total("rows") == 0:
        raise CrmError(f"churn.features: no order falls before the cutoff {cut}; there is no customer to describe")
    for c in (customer, amount):
        k = total("null", c)
        if k:
            raise SchemaError(f"churn.features: column '{c}' in 'orders' holds {k} null value(s) before the cutoff; "
                              f"drop or fill them first (for example orders.drop_nulls('{c}'))")
    channels: Optional[list[str]] = None
    if has_channel and not enum_channel:
        counts = totals.filter(pl.col("kind") == "channel")
        channels = sorted(counts["key"].to_list())
        if len(channels) > 50:
            warnings.warn(f"churn.features: column '{channel}' has {len(channels)} values; only the 50 most frequent get a "
                          "channel_share column", UserWarning, stacklevel=2)
            top = set(counts.sort("n", "key", descending=[True, False]).head(50)["key"].to_list())
            channels = [c for c in channels if c in top]

    ordered = _with_row_order(sdf)
    null_btyd = False
    if btyd:
        inputs = map_customers(
            ordered, _work.churn_btyd_inputs,
            {customer: schema[customer], "frequency": pl.Float64, "recency": pl.Float64, "T": pl.Float64,
             "monetary_value": pl.Float64},
            customer=customer, n_buckets=n_buckets, kwargs=dict(customer=customer, date=date, amount=amount, c_us=c_us),
        ).persist()
        try:
            btyd_model, spend_model, null_btyd = _fit_models(inputs, btyd_model, spend_model)
        finally:
            inputs.unpersist()
        if null_btyd:
            options["btyd"] = False
        else:
            options.update(btyd_model=btyd_model, spend_model=spend_model)

    # The output schema: churn.features on one real pre-cutoff order (one small job).
    sample = to_polars(map_rows(sdf, _first_pre_row, schema, kwargs=dict(date=date, c_us=c_us)).limit(1))
    template = _work.churn_features_of(sample, channel=channel if has_channel else None, channels=channels,
                                       options=options, null_btyd=null_btyd)
    out_schema = dict(template.schema)
    features = map_customers(
        ordered, _work.churn_bucket, out_schema, customer=customer, n_buckets=n_buckets,
        kwargs=dict(c_us=c_us, date=date, channel=channel if has_channel else None, channels=channels,
                    options=options, null_btyd=null_btyd, out_schema=out_schema),
    )
    columns = list(out_schema)
    if items is not None:
        features = _join_items(features, sdf, items, schema, customer=customer, date=date, order_id=order_id,
                               c_us=c_us, n_buckets=n_buckets, **it_opts)
        columns += ["category_breadth", "favourite_category_share", "products_distinct", "items_per_order"]
    if events is not None:
        features = _join_events(features, events, customer=customer, c_us=c_us, n_buckets=n_buckets, **ev_opts)
        columns += ["events_30d", "sessions_30d", "sessions_90d", "days_since_last_event", "cart_sessions_90d",
                    "cart_abandonment"]
    order = [c for c in churn.feature_table(windows, horizon)["feature"].to_list() if c in columns]
    shares = [c for c in columns if c.startswith("channel_share_")]
    at = order.index("n_channels") + 1 if "n_channels" in order else len(order)
    order = order[:at] + shares + order[at:]
    return features.select(customer, *order)


def _first_pre_row(df: pl.DataFrame, *, date: str, c_us: int) -> pl.DataFrame:
    from crmkit.churn._features import _date_us

    return df.filter(_date_us(date, df.schema[date]) < c_us).head(1)


def _join_items(features: Any, orders: Any, items: Any, schema: pl.Schema, *, customer: str, date: str, order_id: str,
                c_us: int, n_buckets: Optional[int], category: str, product: str, quantity: Optional[str]) -> Any:
    from pyspark.sql import functions as F

    from crmkit.churn._features import _item_stats

    item_schema = polars_schema(items)
    # One row per pre-cutoff order (the first customer of a duplicated order id, as
    # unique() keeps on one machine), then its lines.
    pre_orders = map_rows(orders, _pre_keys, {customer: schema[customer], order_id: schema[order_id]},
                          kwargs=dict(customer=customer, order_id=order_id, date=date, c_us=c_us))
    keyed = pre_orders.dropDuplicates([order_id])
    cols = [order_id, category, product] + ([quantity] if quantity is not None else [])
    lines = items.select(*cols).join(keyed, on=order_id, how="inner")
    template = _item_stats(pl.DataFrame(schema={customer: schema[customer], order_id: schema[order_id]}).lazy(),
                           pl.DataFrame(schema={c: item_schema[c] for c in cols}), customer, order_id, category,
                           product, quantity, _FN).collect()
    stats = map_customers(lines, _work.churn_item_bucket, template.schema, customer=customer, n_buckets=n_buckets,
                          kwargs=dict(customer=customer, order_id=order_id, category=category, product=product,
                                      quantity=quantity))
    joined = features.join(stats, on=customer, how="left")
    return joined.withColumn("items_per_order", F.col("__qty") / F.col("frequency")).drop("__qty")


def _pre_keys(df: pl.DataFrame, *, customer: str, order_id: str, date: str, c_us: int) -> pl.DataFrame:
    from crmkit.churn._features import _date_us

    return df.filter(_date_us(date, df.schema[date]) < c_us).select(customer, order_id)


def _join_events(features: Any, events: Any, *, customer: str, c_us: int, n_buckets: Optional[int],
                 event_customer: Optional[str], event_time: str, event_name: str, session: str, cart_event: str,
                 purchase_event: str) -> Any:
    from crmkit.churn._features import _event_features

    ev_customer = customer if event_customer is None else event_customer
    ev_schema = polars_schema(events)
    template = _event_features(pl.DataFrame(schema=ev_schema), c_us, ev_customer, customer, event_time, event_name,
                               session, cart_event, purchase_event, _FN).collect()
    per = map_customers(events, _work.churn_event_bucket, template.schema, customer=ev_customer, n_buckets=n_buckets,
                        kwargs=dict(c_us=c_us, event_customer=ev_customer, customer=customer, event_time=event_time,
                                    event_name=event_name, session=session, cart_event=cart_event,
                                    purchase_event=purchase_event))
    joined = features.join(per, on=customer, how="left")
    return joined.fillna(0, subset=["events_30d", "sessions_30d", "sessions_90d", "cart_sessions_90d"])
