"""crmkit.spark's churn and forecast twins against the single-machine functions.

churn_features: every column equal to churn.features on the same data (the BTYD
columns to 1e-6 relative: Spark fits the BG/NBD and Gamma-Gamma models on weighted
distinct rows, the same likelihood summed in another order); scoring a ChurnModel per
partition gives each customer the single-machine probability, band and reasons.
forecast: each series is fitted on its own, so forecasts equal exactly.
"""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import crmkit
from crmkit import churn
from crmkit import forecast as fc

pytestmark = pytest.mark.spark
cs = pytest.importorskip("crmkit.spark")

CUTOFF = "2025-01-01"
_BTYD = ("btyd_p_alive", "btyd_p_no_purchase", "btyd_expected_purchases", "btyd_expected_spend")


@pytest.fixture(scope="module")
def world():
    return crmkit.datasets.generate(n_customers=300, seed=21)


@pytest.fixture(scope="module")
def orders(world) -> pl.DataFrame:
    """The world's orders plus one customer with 2,000 orders in a channel nobody else
    uses (the skew case, and a channel_share column only one bucket sees)."""
    o = world.orders
    rng = np.random.default_rng(3)
    k = 2_000
    skew = pl.DataFrame({
        "order_id": np.arange(20_000_000, 20_000_000 + k),
        "customer_id": np.full(k, 888_888),
        "order_date": [dt.datetime(2023, 3, 1) + dt.timedelta(hours=int(h)) for h in rng.integers(0, 15_000, k)],
        "amount": np.round(rng.gamma(2.0, 25.0, k), 2),
        "channel": np.full(k, "kiosk"),
        "discount": np.where(rng.random(k) < 0.3, 3.0, 0.0),
    })
    skew = skew.select([pl.col(c).cast(o.schema[c]) if c != "channel" else pl.col(c).cast(pl.String)
                        for c in skew.columns])
    base = o.with_columns(pl.col("channel").cast(pl.String)) if "channel" in o.columns else o
    return pl.concat([base, skew], how="diagonal_relaxed")


def _compare(got: pl.DataFrame, want: pl.DataFrame, key: str = "customer_id", loose: tuple = ()) -> None:
    assert got.columns == want.columns
    got = got.cast({c: t for c, t in want.schema.items() if got.schema[c] != t}).sort(key)
    want = want.sort(key)
    floats = [c for c, t in want.schema.items() if t.is_float()]
    assert_frame_equal(got.drop(floats), want.drop(floats), check_exact=True)
    for c in floats:
        a, b = got[c], want[c]
        assert a.is_null().to_list() == b.is_null().to_list(), c
        rtol = 1e-6 if c in loose else 1e-12
        np.testing.assert_allclose(a.drop_nulls().to_numpy(), b.drop_nulls().to_numpy(), rtol=rtol, atol=1e-12,
                                   err_msg=c)


@pytest.mark.parametrize("n_buckets", [5, 1000])
def test_churn_features_equal_single_machine(spark, orders, n_buckets):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = churn.features(orders, cutoff=CUTOFF)
        got = cs.to_polars(cs.churn_features(cs.from_polars(spark, orders).repartition(3), cutoff=CUTOFF,
                                             n_buckets=n_buckets))
    assert "channel_share_kiosk" in local.columns
    assert got.height == local.height == orders.filter(pl.col("order_date") < dt.datetime(2025, 1, 1))[
        "customer_id"].n_unique()
    _compare(got, local, loose=_BTYD)


def test_churn_features_with_items_and_events(spark, world, orders):
    kw = dict(cutoff=CUTOFF, items=world.items, events=world.events, windows=(30, 120), horizon=90)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = churn.features(orders, **kw)
        got = cs.to_polars(cs.churn_features(
            cs.from_polars(spark, orders), cutoff=CUTOFF, items=cs.from_polars(spark, world.items),
            events=cs.from_polars(spark, world.events), windows=(30, 120), horizon=90, n_buckets=4))
    assert {"items_per_order", "cart_abandonment", "orders_trend_30_120d"} <= set(local.columns)
    _compare(got, local, loose=_BTYD)


def test_churn_features_given_models_and_no_btyd(spark, orders):
    pre = orders.filter(pl.col("order_date") < dt.datetime(2024, 6, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bgf = crmkit.clv.BetaGeoFitter(penalizer_coef=0.001).fit(
            *crmkit.clv.summary(pre, freq="D").select("frequency", "recency", "T").to_numpy().T)
        local = churn.features(orders, cutoff=CUTOFF, btyd_model=bgf)
        got = cs.to_polars(cs.churn_features(cs.from_polars(spark, orders), cutoff=CUTOFF, btyd_model=bgf, n_buckets=3))
        # With a given BG/NBD model every column equals exactly (the spend model is still fitted).
        _compare(got, local, loose=("btyd_expected_spend",))
        plain = churn.features(orders, cutoff=CUTOFF, btyd=False, channel=None)
        got_plain = cs.to_polars(cs.churn_features(cs.from_polars(spark, orders), cutoff=CUTOFF, btyd=False,
                                                   channel=None, n_buckets=2))
    assert not any(c.startswith("btyd_") or c.startswith("channel_share") for c in plain.columns)
    _compare(got_plain, plain)


def test_churn_features_errors_on_the_driver(spark, orders):
    sdf = cs.from_polars(spark, orders)
    with pytest.raises(crmkit.CrmError, match="amount"):
        cs.churn_features(sdf.drop("amount"), cutoff=CUTOFF)
    with pytest.raises(crmkit.CrmError, match="no order falls before the cutoff"):
        cs.churn_features(sdf, cutoff="1990-01-01")
    with pytest.raises(crmkit.CrmError, match="windows"):
        cs.churn_features(sdf, cutoff=CUTOFF, windows=(90, 30))
    nulls = orders.with_columns(pl.when(pl.col("order_id") % 50 == 0).then(None).otherwise(pl.col("amount"))
                                .alias("amount"))
    with pytest.raises(crmkit.CrmError, match="'amount'.*null"):
        cs.churn_features(cs.from_polars(spark, nulls), cutoff=CUTOFF)


def test_churn_model_scores_per_partition_as_on_one_machine(spark, world):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = churn.ChurnModel(horizon=120, n_cutoffs=2).fit(world.orders)
        f = churn.features(world.orders, cutoff="2025-06-01", horizon=120, btyd_model=None)
        local = model.score_features(f)
        sdf = cs.from_polars(spark, f).repartition(4)
        got = cs.to_polars(cs.score(sdf, model))
        fast = cs.to_polars(cs.score(sdf, model, exact_reasons=False))
    local_fast = model.score_features(f, exact_reasons=False)
    for g, w in ((got, local), (fast, local_fast)):
        g = g.with_columns(pl.col("risk_band").cast(pl.String))
        w = w.with_columns(pl.col("risk_band").cast(pl.String))
        _compare(g.select(w.columns), w)


def test_churn_reasons_do_not_depend_on_the_batch(world):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = churn.ChurnModel(horizon=120, n_cutoffs=2).fit(world.orders)
        f = churn.features(world.orders, cutoff="2025-06-01", horizon=120)
    whole = model.score_features(f).sort("customer_id")
    half = pl.concat([model.score_features(f[: f.height // 3]), model.score_features(f[f.height // 3:])])
    assert_frame_equal(half.sort("customer_id"), whole)


@pytest.fixture(scope="module")
def series(world) -> pl.DataFrame:
    s = fc.series(world.orders, freq="1w", by="channel")
    # A short series and an intermittent one beside the channel series.
    short = s.filter(pl.col("unique_id") == s["unique_id"][0]).head(6).with_columns(pl.lit("short").alias("unique_id"))
    sparse = s.filter(pl.col("unique_id") == s["unique_id"][0]).with_columns(
        pl.lit("sparse").alias("unique_id"),
        pl.when(pl.int_range(pl.len()) % 3 == 0).then(pl.col("y")).otherwise(0.0).alias("y"))
    return pl.concat([s, short, sparse])


@pytest.mark.parametrize("n_buckets", [1, 100])
def test_forecast_models_equal_single_machine(spark, series, n_buckets):
    models = [fc.AutoETS(season_length=4), fc.SeasonalNaive(season_length=4), fc.CrostonSBA()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = fc.forecast(series, models=models, h=6, level=[80, 95])
        got = cs.to_polars(cs.forecast(cs.from_polars(spark, series), models=models, h=6, level=[80, 95],
                                       n_buckets=n_buckets))
    assert got.columns == local.columns
    assert_frame_equal(got.sort("unique_id", "ds"), local.sort("unique_id", "ds"))


def test_forecast_auto_equals_single_machine(spark, series):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = fc.auto(series, h=4, level=[90])
        got = cs.to_polars(cs.forecast(cs.from_polars(spark, series), h=4, level=[90], n_buckets=3))
    # The sparse series makes the data >5% zeros: the intermittent candidate joins on the
    # driver's global count as it does on one machine.
    assert "mase_CrostonSBA" in fc.auto(series, h=4, details=True)[1].columns
    assert got.columns == local.columns
    assert_frame_equal(got.sort("unique_id", "ds"), local.sort("unique_id", "ds"))


def test_forecast_errors(spark, series):
    sdf = cs.from_polars(spark, series)
    with pytest.raises(crmkit.CrmError, match="'h'"):
        cs.forecast(sdf, h=0)
    with pytest.raises(crmkit.CrmError, match="'y'"):
        cs.forecast(sdf.drop("y"), h=3)
    with pytest.raises(crmkit.CrmError, match="empty"):
        cs.forecast(sdf.limit(0), h=3)
