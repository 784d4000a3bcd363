import pytest

import crmkit


@pytest.fixture(scope="session")
def world():
    """A small generated world shared by the tests that only read it."""
    return crmkit.datasets.generate(n_customers=3_000, seed=2024)


@pytest.fixture(scope="session")
def spark():
    """A local[2] Spark session for the `spark`-marked tests (small shuffles, no UI).
    Skipped where pyspark is not installed (the Makefile installs it into both venvs)."""
    import os
    import sys

    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    # Workers run the same interpreter, which sees crmkit (and any PYTHONPATH).
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("crmkit-tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def pytest_collection_modifyitems(config, items):
    """Spark Connect tests stop the shared classic session (Connect runs its own
    server), so they run after every other test, whichever module holds them."""
    connect = [item for item in items if "spark_connect" in item.name]
    items[:] = [item for item in items if "spark_connect" not in item.name] + connect
