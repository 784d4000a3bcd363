"""crmkit.spark.kpi against kpi.compute on the same data: every KPI, with groups from
the orders and from a customers table, events and surveys, windowed churn, an analysis
date, and bucket counts from 1 to more buckets than customers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

import crmkit
from crmkit import kpi
from crmkit.errors import CrmError, SchemaError

pytestmark = pytest.mark.spark
cs = pytest.importorskip("crmkit.spark")


@pytest.fixture(scope="module")
def world():
    return crmkit.datasets.generate(n_customers=400, seed=31)


@pytest.fixture(scope="module")
def tables(world):
    orders = world.orders.with_columns(pl.col("channel").cast(pl.String))
    rng = np.random.default_rng(4)
    ids = orders["customer_id"].unique().sort()
    customers = pl.DataFrame({"customer_id": ids, "region": rng.choice(["north", "south", "east"], ids.len())})
    events = world.events.with_columns(pl.col("event").cast(pl.String)).drop("session_id", strict=False)
    return orders, customers, events, world.surveys


def _same(got, want: pl.DataFrame) -> None:
    got = cs.to_polars(got) if not isinstance(got, pl.DataFrame) else got
    assert got.columns == want.columns
    keys = [c for c in want.columns if c in ("period_start", "kpi") or want.schema[c] == pl.String]
    got = got.cast({c: t for c, t in want.schema.items() if got.schema[c] != t}).sort(keys, nulls_last=True)
    want = want.sort(keys, nulls_last=True)
    for c in want.columns:
        a, b = got[c], want[c]
        assert a.is_null().to_list() == b.is_null().to_list(), c
        if b.dtype.is_float():
            np.testing.assert_allclose(a.drop_nulls().to_numpy(), b.drop_nulls().to_numpy(), rtol=1e-9, atol=1e-9,
                                       err_msg=c)
        else:
            assert a.to_list() == b.to_list(), c


@pytest.mark.parametrize("n_buckets", [1, 7, 1000])
def test_monthly_by_channel_equals_one_machine(spark, tables, n_buckets):
    orders, *_ = tables
    want = kpi.compute(orders, freq="1mo", by="channel")
    _same(cs.kpi(cs.from_polars(spark, orders), freq="1mo", by="channel", n_buckets=n_buckets), want)


def test_groups_from_customers_events_surveys_and_as_of(spark, tables):
    orders, customers, events, surveys = tables
    kw = dict(freq="1w", by="region", as_of=dt.date(2025, 3, 1))
    want = kpi.compute(orders, customers=customers, events=events, surveys=surveys, **kw)
    sdf = {name: cs.from_polars(spark, t) for name, t in
           (("orders", orders), ("customers", customers), ("events", events), ("surveys", surveys))}
    got = cs.kpi(sdf["orders"], customers=sdf["customers"], events=sdf["events"], surveys=sdf["surveys"], **kw)
    _same(got, want)
    assert {"visitors", "conversion_rate", "nps", "csat"} <= set(want["kpi"].unique().to_list())


def test_windowed_churn_and_daily_periods(spark, tables):
    orders, *_ = tables
    want = kpi.compute(orders, freq="1mo", kpis=["churn_rate", "retention_rate", "revenue"], churn_days=60)
    got = cs.kpi(cs.from_polars(spark, orders), freq="1mo",
                 kpis=["churn_rate", "retention_rate", "revenue"], churn_days=60, n_buckets=5)
    _same(got, want)
    recent = orders.filter(pl.col("order_date") >= dt.datetime(2025, 1, 1))
    _same(cs.kpi(cs.from_polars(spark, recent), freq="1d", n_buckets=3), kpi.compute(recent, freq="1d"))


def test_errors_on_the_driver(spark, tables):
    orders, customers, *_ = tables
    sdf = cs.from_polars(spark, orders)
    with pytest.raises(SchemaError, match="amount"):
        cs.kpi(sdf.drop("amount"))
    with pytest.raises(SchemaError, match="region"):
        cs.kpi(sdf, by="region")
    with pytest.raises(CrmError, match="unknown KPI"):
        cs.kpi(sdf, kpis=["revenue", "happiness"])
    dup = cs.from_polars(spark, pl.concat([customers, customers.head(3)]))
    with pytest.raises(SchemaError, match="repeat"):
        cs.kpi(sdf, by="region", customers=dup)
    bad = cs.from_polars(spark, pl.DataFrame({"customer_id": [1, 2], "survey_date": [dt.date(2024, 1, 1)] * 2,
                                              "nps_score": [5, 11]}))
    with pytest.raises(CrmError, match="outside"):
        cs.kpi(sdf, surveys=bad)
