"""crmkit on PySpark: the same Rust kernels and the same answers, on a cluster.

Every function takes and returns Spark DataFrames, with the keyword arguments and
output columns of the single-machine function of the same name:

- :func:`map_customers`: the building block, a polars function over all rows of each
  customer, one Python call per hashed customer bucket (Spark >= 4.0
  ``groupBy(bucket).applyInArrow``; 3.3-3.5 ``repartition(n, customer).mapInArrow``);
  :func:`map_rows` does the same per partition for row-local work;
- per-customer analyses: :func:`rfm`, :func:`profile`, :func:`clv_summary`,
  :func:`cohorts`, :func:`funnel`, :func:`churn_features`;
- models: :func:`fit` (on the driver, from compressed weighted summaries),
  :func:`predict` and :func:`score` (per partition: CLV, k-means, churn);
- row-local cleaning: :func:`clean`;
- record linkage: :func:`dedupe` (blocking as Spark equi-joins, comparisons and
  Fellegi-Sunter weights in Rust per pair batch, connected components);
- KPIs: :func:`kpi`, kpi.compute's table from per-bucket sums added up on the driver;
- forecasts: :func:`forecast`, every series of a long frame by crmkit's Rust models
  (a grouped Arrow UDF over buckets of whole series).

pyspark is not a dependency of crmkit: ``pip install 'crmkit[spark]'``. Workers need
crmkit installed too (see the README section "crmkit on Spark").

>>> import crmkit.spark
>>> sorted(n for n in crmkit.spark.__all__ if not n.startswith("_"))[:4]
['NO_CRMKIT_ON_WORKERS', 'churn_features', 'clean', 'clv_summary']
"""

from crmkit.spark._base import (
    NO_CRMKIT_ON_WORKERS,
    from_polars,
    map_customers,
    map_rows,
    polars_schema,
    spark_schema,
    to_polars,
)
from crmkit.spark._customers import clv_summary, cohorts, funnel, profile, rfm
from crmkit.spark._models import clean, fit, predict, score
from crmkit.spark._dedupe import dedupe
from crmkit.spark._churn import churn_features
from crmkit.spark._forecast import forecast
from crmkit.spark._kpi import kpi

__all__ = [
    "NO_CRMKIT_ON_WORKERS",
    "map_customers",
    "map_rows",
    "spark_schema",
    "polars_schema",
    "to_polars",
    "from_polars",
    "rfm",
    "profile",
    "clv_summary",
    "cohorts",
    "funnel",
    "churn_features",
    "forecast",
    "kpi",
    "fit",
    "predict",
    "score",
    "clean",
    "dedupe",
]
