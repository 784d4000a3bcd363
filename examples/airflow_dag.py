"""A daily customer-analytics DAG with crmkit, in two flavours.

- ``crmkit_daily_spark``: every step is an ``@task.pyspark`` task on a Spark Connect
  cluster (an Airflow connection ``spark_connect`` whose host is
  ``sc://spark-cluster:15002``): clean -> dedupe -> rfm -> CLV, reading and writing
  tables (Delta, Iceberg, Hive or parquet paths). Workers need crmkit installed
  (README, "crmkit on Spark"); on Spark Connect the task can ship the wheel with
  ``spark.addArtifacts(wheel, pyfile=True)`` (see ``CRMKIT_WHEEL``).
- ``crmkit_daily_local``: the same steps with plain ``@task`` on one machine, for
  tables that fit in memory (polars reads the parquet files directly).

KPIs and alerts are the last step of the daily loop; crmkit's KPI module is not in this
release yet, so that step is left out here (it will be one more task calling
``crmkit.spark.kpi`` / ``crmkit.kpi`` once they exist).

The steps are plain functions (``SPARK_STEPS`` / ``LOCAL_STEPS``), so they run and are
tested without Airflow (tests/test_spark.py runs both on generated data and compares
the outputs); the DAGs are only declared when Airflow is installed.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import polars as pl

import crmkit
from crmkit import clv

#: Where the daily tables live; a warehouse would use catalog tables instead.
LAKE = os.environ.get("CRMKIT_LAKE", "/data/crm")
#: A crmkit wheel to ship to Spark Connect workers that lack crmkit (optional).
CRMKIT_WHEEL = os.environ.get("CRMKIT_WHEEL")

CLEAN_COLUMNS = {"name": "name", "phone": "phone", "email": "email", "birth_date": "date", "address": "text"}


# --- the steps on Spark (one task each; tables in between) -----------------------------------


def _ship_crmkit(spark: Any) -> None:
    if CRMKIT_WHEEL and hasattr(spark, "addArtifacts"):
        spark.addArtifacts(CRMKIT_WHEEL, pyfile=True)


def spark_clean(spark: Any, lake: str = LAKE) -> None:
    import crmkit.spark as cs

    _ship_crmkit(spark)
    customers = spark.read.parquet(f"{lake}/customers.parquet")
    cs.clean(customers, CLEAN_COLUMNS).write.mode("overwrite").parquet(f"{lake}/customers_clean.parquet")


def spark_dedupe(spark: Any, lake: str = LAKE) -> None:
    import crmkit.spark as cs

    _ship_crmkit(spark)
    cleaned = spark.read.parquet(f"{lake}/customers_clean.parquet")
    cs.dedupe(cleaned, id="record_id").write.mode("overwrite").parquet(f"{lake}/entities.parquet")


def spark_rfm(spark: Any, lake: str = LAKE) -> None:
    import crmkit.spark as cs

    _ship_crmkit(spark)
    orders = spark.read.parquet(f"{lake}/orders.parquet")
    cs.rfm(orders).write.mode("overwrite").parquet(f"{lake}/rfm.parquet")


def spark_clv(spark: Any, lake: str = LAKE) -> dict:
    """CLV: summaries in Spark, fits on the driver from compressed rows, scores per partition."""
    import crmkit.spark as cs

    _ship_crmkit(spark)
    orders = spark.read.parquet(f"{lake}/orders.parquet")
    summary = cs.clv_summary(orders, amount="amount", freq="W")
    bgf = cs.fit(clv.BetaGeoFitter(penalizer_coef=0.001), summary)
    ggf = cs.fit(clv.GammaGammaFitter(), summary)
    cs.predict(summary, bgf, ggf, horizon=12, freq="W").write.mode("overwrite").parquet(f"{lake}/clv.parquet")
    return {"bg_nbd": bgf.params_, "gamma_gamma": ggf.params_}


SPARK_STEPS = [spark_clean, spark_dedupe, spark_rfm, spark_clv]


# --- the same steps on one machine --------------------------------------------------------


def local_clean(lake: str = LAKE) -> None:
    customers = pl.read_parquet(f"{lake}/customers.parquet")
    crmkit.clean.customers(customers, CLEAN_COLUMNS).data.write_parquet(f"{lake}/customers_clean.parquet")


def local_dedupe(lake: str = LAKE) -> None:
    cleaned = pl.read_parquet(f"{lake}/customers_clean.parquet")
    crmkit.dedupe(cleaned, id="record_id").write_parquet(f"{lake}/entities.parquet")


def local_rfm(lake: str = LAKE) -> None:
    crmkit.rfm(pl.read_parquet(f"{lake}/orders.parquet")).write_parquet(f"{lake}/rfm.parquet")


def local_clv(lake: str = LAKE) -> dict:
    orders = pl.read_parquet(f"{lake}/orders.parquet")
    summary = clv.summary(orders, amount="amount", freq="W")
    bgf = clv.BetaGeoFitter(penalizer_coef=0.001).fit(summary)
    ggf = clv.GammaGammaFitter().fit(summary.filter(pl.col("frequency") > 0))
    clv.predict(summary, bgf, ggf, horizon=12, freq="W").write_parquet(f"{lake}/clv.parquet")
    return {"bg_nbd": bgf.params_, "gamma_gamma": ggf.params_}


LOCAL_STEPS = [local_clean, local_dedupe, local_rfm, local_clv]


# --- the DAGs (only where Airflow is installed) -------------------------------------------

try:
    from airflow.decorators import dag, task
except ImportError:  # the steps above still run without Airflow
    dag = task = None

if dag is not None:

    @dag(dag_id="crmkit_daily_spark", schedule="@daily", start_date=datetime(2026, 1, 1), catchup=False,
         tags=["crmkit", "spark"])
    def crmkit_daily_spark():
        # Spark Connect: the connection's host is sc://<cluster>:15002.
        @task.pyspark(conn_id="spark_connect")
        def clean(spark=None, sc=None) -> None:
            spark_clean(spark)

        @task.pyspark(conn_id="spark_connect")
        def dedupe(spark=None, sc=None) -> None:
            spark_dedupe(spark)

        @task.pyspark(conn_id="spark_connect")
        def rfm(spark=None, sc=None) -> None:
            spark_rfm(spark)

        @task.pyspark(conn_id="spark_connect")
        def lifetime_value(spark=None, sc=None) -> dict:
            return spark_clv(spark)

        clean() >> dedupe() >> rfm() >> lifetime_value()

    @dag(dag_id="crmkit_daily_local", schedule="@daily", start_date=datetime(2026, 1, 1), catchup=False,
         tags=["crmkit"])
    def crmkit_daily_local():
        @task
        def clean() -> None:
            local_clean()

        @task
        def dedupe() -> None:
            local_dedupe()

        @task
        def rfm() -> None:
            local_rfm()

        @task
        def lifetime_value() -> dict:
            return local_clv()

        clean() >> dedupe() >> rfm() >> lifetime_value()

    crmkit_daily_spark()
    crmkit_daily_local()
