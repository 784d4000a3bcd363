"""The Spark plumbing every `crmkit.spark` function shares.

- ``_pyspark()``: imports pyspark or raises CrmError naming the missing piece;
- schema mapping between polars and Spark (``spark_schema`` / ``polars_schema``);
- ``map_customers``: a polars function over all rows of each customer, one Python call
  per hashed customer bucket (Spark >= 4: ``groupBy(bucket).applyInArrow``; 3.3-3.5:
  ``repartition(n, customer).mapInArrow``);
- ``map_rows``: a polars function over each partition's rows (row-local, no shuffle);
- ``to_polars`` / ``from_polars`` for small results on the driver.

The functions Spark ships to the workers are closures built here that reference no
crmkit code by name: crmkit is imported inside them, so a worker without crmkit
raises an error that says how to install it, instead of a bare unpickling failure.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Optional, Union

import polars as pl

if TYPE_CHECKING:
    from types import ModuleType

    from polars._typing import PolarsDataType

from crmkit.errors import CrmError, SchemaError

__all__ = ["map_customers", "map_rows", "spark_schema", "polars_schema", "to_polars", "from_polars"]

#: The message a worker without crmkit raises (kept here so the driver and the tests
#: can name it too).
NO_CRMKIT_ON_WORKERS = (
    "crmkit is not installed on the Spark workers (their Python could not import it). "
    "Install the same crmkit wheel there: as a cluster library (Databricks, EMR, Dataproc), "
    "with spark-submit --py-files crmkit-<version>.whl or spark.sparkContext.addPyFile(...), "
    "or on Spark Connect with spark.addArtifacts('crmkit-<version>.whl', pyfile=True); "
    "locally, set PYSPARK_PYTHON to the interpreter that has crmkit."
)


_BUCKET = "__crmkit_bucket"


def _pyspark() -> "ModuleType":
    """The pyspark module, or a CrmError naming what is missing."""
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import types as T  # noqa: F401
    except ImportError as e:
        raise CrmError(
            "crmkit.spark needs pyspark: install it with pip install 'crmkit[spark]' "
            f"(pyspark 3.5 or 4.x; Spark needs a Java 17 runtime, e.g. apt-get install openjdk-17-jre-headless). "
            f"Import failed with: {e}"
        ) from None
    return pyspark


def _is_spark_frame(obj: Any) -> bool:
    mod = type(obj).__module__
    return mod.startswith("pyspark.sql") and hasattr(obj, "mapInArrow") and hasattr(obj, "schema")


def require_spark_frame(obj: Any, *, function: str, argument: str) -> None:
    if not _is_spark_frame(obj):
        raise CrmError(
            f"{function}: '{argument}' must be a Spark DataFrame (pyspark.sql.DataFrame), "
            f"found {type(obj).__name__}; the single-machine function of the same name takes polars frames"
        )


def session_of(sdf: Any) -> Any:
    return sdf.sparkSession


def is_connect(sdf: Any) -> bool:
    return ".connect." in type(sdf).__module__


def spark_major(sdf: Any) -> int:
    try:
        return int(str(session_of(sdf).version).split(".")[0])
    except (ValueError, AttributeError):  # pragma: no cover - an odd version string
        import pyspark

        return int(pyspark.__version__.split(".")[0])


def _conf(sdf: Any, key: str, default: str) -> str:
    try:
        value = session_of(sdf).conf.get(key)
    except Exception:  # noqa: BLE001 - an unset key raises on some versions
        return default
    return default if value is None else str(value)


def session_time_zone(sdf: Any) -> str:
    return _conf(sdf, "spark.sql.session.timeZone", "UTC")


def default_buckets(sdf: Any) -> int:
    try:
        return max(1, int(_conf(sdf, "spark.sql.shuffle.partitions", "200")))
    except ValueError:
        return 200


# --------------------------------------------------------------------------------------
# schemas
# --------------------------------------------------------------------------------------


def spark_type(dtype: PolarsDataType, *, function: str = "crmkit.spark", column: str = "?") -> Any:
    """The Spark type a polars dtype travels as (after ``spark_ready`` casts)."""
    _pyspark()
    from pyspark.sql import types as T

    if dtype == pl.Boolean:
        return T.BooleanType()
    if dtype == pl.Int8:
        return T.ByteType()
    if dtype in (pl.Int16, pl.UInt8):
        return T.ShortType()
    if dtype in (pl.Int32, pl.UInt16):
        return T.IntegerType()
    if dtype in (pl.Int64, pl.UInt32, pl.UInt64):
        return T.LongType()
    if dtype == pl.Float32:
        return T.FloatType()
    if dtype == pl.Float64:
        return T.DoubleType()
    if dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum)) or dtype == pl.Null:
        return T.StringType()
    if dtype == pl.Binary:
        return T.BinaryType()
    if dtype == pl.Date:
        return T.DateType()
    if isinstance(dtype, pl.Datetime):
        return T.TimestampType() if dtype.time_zone is not None else T.TimestampNTZType()
    if isinstance(dtype, pl.Duration):
        return T.DayTimeIntervalType()
    if isinstance(dtype, pl.Decimal):
        return T.DecimalType(dtype.precision or 38, dtype.scale or 0)
    if isinstance(dtype, (pl.List, pl.Array)):
        return T.ArrayType(spark_type(dtype.inner, function=function, column=column))
    if isinstance(dtype, pl.Struct):
        return T.StructType([T.StructField(f.name, spark_type(f.dtype, function=function, column=column)) for f in dtype.fields])
    raise SchemaError(f"{function}: column '{column}' has polars dtype {dtype}, which has no Spark type")


def spark_schema(schema: Union[Mapping[str, PolarsDataType], pl.Schema], *, function: str = "crmkit.spark") -> Any:
    """A Spark ``StructType`` for a polars schema (unsigned integers widen to the next
    signed type, categoricals become strings, naive datetimes ``TimestampNTZType``,
    time-zone-aware ones ``TimestampType``).

    >>> import polars as pl
    >>> from crmkit.spark import spark_schema
    >>> spark_schema({"customer_id": pl.Int64, "monetary": pl.Float64}).simpleString()  # doctest: +SKIP
    'struct<customer_id:bigint,monetary:double>'
    """
    _pyspark()
    from pyspark.sql import types as T

    return T.StructType([T.StructField(name, spark_type(dt, function=function, column=name)) for name, dt in dict(schema).items()])


def _ready_dtype(dtype: PolarsDataType) -> PolarsDataType:
    """The polars dtype whose Arrow form Spark reads as ``spark_type(dtype)``."""
    if dtype == pl.UInt8:
        return pl.Int16
    if dtype == pl.UInt16:
        return pl.Int32
    if dtype in (pl.UInt32, pl.UInt64):
        return pl.Int64
    if isinstance(dtype, (pl.Categorical, pl.Enum)) or dtype == pl.Null:
        return pl.String
    if isinstance(dtype, pl.Datetime):
        return pl.Datetime("us", dtype.time_zone)
    if isinstance(dtype, pl.Duration):
        return pl.Duration("us")
    if isinstance(dtype, pl.Array):
        return pl.List(_ready_dtype(dtype.inner))
    if isinstance(dtype, pl.List):
        return pl.List(_ready_dtype(dtype.inner))
    if isinstance(dtype, pl.Struct):
        return pl.Struct({f.name: _ready_dtype(f.dtype) for f in dtype.fields})
    return dtype


def ready_schema(schema: Mapping[str, PolarsDataType]) -> dict[str, PolarsDataType]:
    return {k: _ready_dtype(v) for k, v in dict(schema).items()}


def polars_dtype(st: Any, tz: str) -> PolarsDataType:
    """The polars dtype a Spark type arrives as on the workers."""
    from pyspark.sql import types as T

    if isinstance(st, T.BooleanType):
        return pl.Boolean
    if isinstance(st, T.ByteType):
        return pl.Int8
    if isinstance(st, T.ShortType):
        return pl.Int16
    if isinstance(st, T.IntegerType):
        return pl.Int32
    if isinstance(st, T.LongType):
        return pl.Int64
    if isinstance(st, T.FloatType):
        return pl.Float32
    if isinstance(st, T.DoubleType):
        return pl.Float64
    if isinstance(st, (T.StringType, T.CharType, T.VarcharType)):
        return pl.String
    if isinstance(st, T.BinaryType):
        return pl.Binary
    if isinstance(st, T.DateType):
        return pl.Date
    if isinstance(st, T.TimestampNTZType):
        return pl.Datetime("us")
    if isinstance(st, T.TimestampType):
        return pl.Datetime("us", tz)
    if isinstance(st, T.DayTimeIntervalType):
        return pl.Duration("us")
    if isinstance(st, T.DecimalType):
        return pl.Decimal(st.precision, st.scale)
    if isinstance(st, T.ArrayType):
        return pl.List(polars_dtype(st.elementType, tz))
    if isinstance(st, T.StructType):
        return pl.Struct({f.name: polars_dtype(f.dataType, tz) for f in st.fields})
    if isinstance(st, T.NullType):
        return pl.Null
    return pl.Object  # maps, variants, ...: no polars twin; only a problem if used


def polars_schema(sdf: Any) -> pl.Schema:
    """The polars schema of a Spark DataFrame as the workers see it (timestamps in the
    session time zone)."""
    tz = session_time_zone(sdf)
    return pl.Schema({f.name: polars_dtype(f.dataType, tz) for f in sdf.schema.fields})


def empty_like(sdf: Any) -> pl.DataFrame:
    """An empty polars frame with the Spark frame's schema: single-machine functions
    run on it to raise their own errors for missing columns and wrong types, on the
    driver, before any Spark job."""
    return pl.DataFrame(schema=polars_schema(sdf))


def validate_with(function: Callable[..., Any], sdf: Any, *args: Any, **kwargs: Any) -> None:
    """Runs a single-machine crmkit function on an empty frame of the same schema and
    lets its CrmError/SchemaError through; other outcomes (it may refuse an empty
    frame) are ignored: only the schema checks matter here."""
    frame = empty_like(sdf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            function(frame, *args, **kwargs)
        except SchemaError:
            raise
        except CrmError as e:
            if "empty" in str(e) or "0 rows" in str(e) or "nothing" in str(e):
                return
            raise
        except Exception:  # noqa: BLE001 - polars may refuse an empty frame; schemas were fine
            return


# --------------------------------------------------------------------------------------
# worker closures
# --------------------------------------------------------------------------------------


def _payload(fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> bytes:
    from pyspark import cloudpickle

    data: bytes = cloudpickle.dumps((fn, dict(kwargs)))
    return data


def _arrow_schema(out_type: Any) -> Any:
    """The Arrow schema Spark expects back for a Spark schema (plain ``string`` and
    ``list``, not their large or view variants, which applyInArrow refuses)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(out_type)


def _make_worker(payload: bytes, schema: Mapping[str, PolarsDataType], message: str, per: str,
                 arrow_schema: Any = None, split: Optional[str] = None) -> Callable[[Any], Any]:
    """A closure Spark ships to the workers. It refers to no crmkit code by name (its
    module is not imported to unpickle it); crmkit is imported inside.

    ``per``: "table" (applyInArrow: one Arrow table in, one out) or "partition"
    (mapInArrow: an iterator of batches in, batches out; one call per partition)."""

    def load() -> tuple[Any, Callable[..., Any], dict[str, Any]]:
        try:
            from pyspark import cloudpickle as _cp

            import polars as _pl
            import crmkit  # noqa: F401
        except ImportError as e:  # crmkit (or polars) missing on this worker
            raise RuntimeError(f"{message} [{type(e).__name__}: {e}; worker Python: {__import__('sys').executable}]") from None
        try:
            fn, kwargs = _cp.loads(payload)
        except ImportError as e:
            raise RuntimeError(f"{message} [{type(e).__name__}: {e}]") from None
        return _pl, fn, kwargs

    def finish(_pl: Any, out: Any) -> Any:
        if isinstance(out, _pl.LazyFrame):
            out = out.collect()
        if not isinstance(out, _pl.DataFrame):
            raise TypeError(f"crmkit.spark: the function must return a polars DataFrame, found {type(out).__name__}")
        missing = [c for c in schema if c not in out.columns]
        if missing:
            raise ValueError(
                f"crmkit.spark: the function's result lacks column(s) {missing} of the declared schema; it has {out.columns}"
            )
        return out.select([_pl.col(c).cast(t) for c, t in schema.items()])

    if per == "table":

        def run_table(table: Any) -> Any:
            _pl, fn, kwargs = load()
            df = _pl.from_arrow(table)
            if not isinstance(df, _pl.DataFrame):  # a single column arrives as a Series
                df = df.to_frame()
            out = finish(_pl, fn(df, **kwargs))
            table = out.to_arrow()
            return table.cast(arrow_schema) if arrow_schema is not None else table

        return run_table

    def run_partition(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as _pa

        _pl, fn, kwargs = load()
        got = [b for b in batches if b.num_rows]
        if not got:
            return
        df = _pl.from_arrow(_pa.Table.from_batches(got))
        if not isinstance(df, _pl.DataFrame):
            df = df.to_frame()
        if split is not None and split in df.columns:
            # One call per customer bucket held by this partition.
            parts = df.partition_by(split, include_key=False, maintain_order=True)
            out = _pl.concat([finish(_pl, fn(part, **kwargs)) for part in parts])
        else:
            out = finish(_pl, fn(df, **kwargs))
        if out.height:
            table = out.to_arrow()
            if arrow_schema is not None:
                table = table.cast(arrow_schema)
            yield from table.to_batches()

    return run_partition


def _as_polars_schema(schema: Any, *, function: str) -> dict[str, PolarsDataType]:
    if isinstance(schema, (pl.Schema, Mapping)):
        out = dict(schema)
    else:
        raise CrmError(f"{function}: 'schema' must be a polars schema (a mapping column -> polars dtype), found {type(schema).__name__}")
    for name, dt in out.items():
        if not (isinstance(dt, pl.DataType) or (isinstance(dt, type) and issubclass(dt, pl.DataType))):
            raise CrmError(f"{function}: schema entry '{name}' must be a polars dtype, found {dt!r}")
    return out


def map_customers(
    sdf: Any,
    fn: Callable[..., pl.DataFrame],
    schema: Any,
    *,
    customer: str = "customer_id",
    n_buckets: Optional[int] = None,
    kwargs: Optional[Mapping[str, Any]] = None,
    method: str = "auto",
) -> Any:
    """Runs a polars function on all rows of each customer, on the Spark workers.

    Rows are hashed by ``customer`` into ``n_buckets`` buckets (default
    ``spark.sql.shuffle.partitions``) and ``fn(frame, **kwargs)`` is called once per
    bucket with every row of the bucket's customers as one polars DataFrame (so a
    per-customer polars query gives the same answer as on one machine). It must
    return a polars DataFrame (or LazyFrame) with the columns of ``schema``, a polars
    schema (mapping column -> dtype), mapped to Spark types as :func:`spark_schema`
    does. On Spark >= 4.0 this is ``groupBy(bucket).applyInArrow``; on 3.3-3.5
    ``repartition(n, customer).mapInArrow`` (``method="group"`` / ``"partition"``
    chooses one). One call per bucket, never one per customer: Python's per-call cost
    stays negligible however many customers there are.

    >>> import polars as pl, crmkit.spark
    >>> def spend(df):
    ...     return df.group_by("customer_id").agg(pl.col("amount").sum().alias("spend"))
    >>> out = crmkit.spark.map_customers(orders_sdf, spend, {"customer_id": pl.Int64, "spend": pl.Float64})  # doctest: +SKIP
    """
    function = "crmkit.spark.map_customers"
    _pyspark()
    require_spark_frame(sdf, function=function, argument="sdf")
    if not callable(fn):
        raise CrmError(f"{function}: 'fn' must be a function polars DataFrame -> polars DataFrame, found {type(fn).__name__}")
    if customer not in sdf.columns:
        raise SchemaError(f"{function}: column '{customer}' not found in 'sdf'; it has columns {sdf.columns}")
    pschema = _as_polars_schema(schema, function=function)
    if n_buckets is None:
        n_buckets = default_buckets(sdf)
    if isinstance(n_buckets, bool) or not isinstance(n_buckets, int) or n_buckets < 1:
        raise CrmError(f"{function}: 'n_buckets' must be an integer >= 1, found {n_buckets!r}")
    if method not in ("auto", "group", "partition"):
        raise CrmError(f"{function}: 'method' must be 'auto', 'group' or 'partition', found {method!r}")
    ready = ready_schema(pschema)
    out_type = spark_schema(ready, function=function)
    payload = _payload(fn, kwargs or {})
    grouped_ok = hasattr(type(sdf.groupBy(customer)), "applyInArrow") and spark_major(sdf) >= 4
    if method == "auto":
        method = "group" if grouped_ok else "partition"
    if method == "group" and not grouped_ok:
        raise CrmError(f"{function}: method='group' needs Spark >= 4.0 (groupBy().applyInArrow); this is Spark {session_of(sdf).version}")
    from pyspark.sql import functions as F

    if method == "group":
        bucket = F.pmod(F.hash(F.col(customer)), F.lit(n_buckets))
        worker = _make_worker(payload, ready, NO_CRMKIT_ON_WORKERS, "table", _arrow_schema(out_type))
        return sdf.groupBy(bucket.alias(_BUCKET)).applyInArrow(worker, out_type)
    # Spark 3.x: the buckets are spread over at most spark.sql.shuffle.partitions
    # partitions (tasks), and each partition calls fn once per bucket it holds.
    worker = _make_worker(payload, ready, NO_CRMKIT_ON_WORKERS, "partition", _arrow_schema(out_type), split=_BUCKET)
    bucketed = sdf.withColumn(_BUCKET, F.pmod(F.hash(F.col(customer)), F.lit(n_buckets)))
    return bucketed.repartition(min(n_buckets, default_buckets(sdf)), F.col(_BUCKET)).mapInArrow(worker, out_type)


def map_rows(sdf: Any, fn: Callable[..., pl.DataFrame], schema: Any, *, kwargs: Optional[Mapping[str, Any]] = None) -> Any:
    """Runs a polars function over each partition's rows (``mapInArrow``, no shuffle):
    for row-local work such as cleaning or scoring with a fitted model.

    >>> import polars as pl, crmkit.spark
    >>> out = crmkit.spark.map_rows(sdf, lambda df: df.with_columns(pl.col("x") * 2), {"x": pl.Int64})  # doctest: +SKIP
    """
    function = "crmkit.spark.map_rows"
    _pyspark()
    require_spark_frame(sdf, function=function, argument="sdf")
    ready = ready_schema(_as_polars_schema(schema, function=function))
    out_type = spark_schema(ready, function=function)
    worker = _make_worker(_payload(fn, kwargs or {}), ready, NO_CRMKIT_ON_WORKERS, "partition", _arrow_schema(out_type))
    return sdf.mapInArrow(worker, out_type)


# --------------------------------------------------------------------------------------
# driver-side conversions (small frames only)
# --------------------------------------------------------------------------------------


def to_polars(sdf: Any) -> pl.DataFrame:
    """Collects a (small) Spark DataFrame to the driver as a polars DataFrame, through
    Arrow (timestamps keep the session time zone).

    >>> df = crmkit.spark.to_polars(sdf.limit(10))  # doctest: +SKIP
    """
    _pyspark()
    require_spark_frame(sdf, function="crmkit.spark.to_polars", argument="sdf")
    target = ready_schema(polars_schema(sdf))
    if hasattr(sdf, "toArrow"):
        table = sdf.toArrow()
    elif hasattr(sdf, "_collect_as_arrow"):
        import pyarrow as pa

        batches = sdf._collect_as_arrow()
        table = pa.Table.from_batches(batches) if batches else None
        if table is None:
            return pl.DataFrame(schema=target)
    else:  # pragma: no cover - old Connect clients
        return pl.from_pandas(sdf.toPandas())
    out = pl.from_arrow(table)
    if not isinstance(out, pl.DataFrame):
        out = out.to_frame()
    return out.cast({c: t for c, t in target.items() if c in out.columns and t != pl.Object}, strict=False) if out.height == 0 else out


def from_polars(spark: Any, df: Union[pl.DataFrame, pl.LazyFrame]) -> Any:
    """A Spark DataFrame from a polars frame (built on the driver, so for small
    frames: results, test data, lookup tables), with :func:`spark_schema` types.

    >>> sdf = crmkit.spark.from_polars(spark, orders)  # doctest: +SKIP
    """
    _pyspark()
    if isinstance(df, pl.LazyFrame):
        df = df.collect()
    if not isinstance(df, pl.DataFrame):
        raise CrmError(f"crmkit.spark.from_polars: expected a polars DataFrame, found {type(df).__name__}")
    ready = ready_schema(df.schema)
    df = df.cast(ready)  # type: ignore[arg-type]  # polars types cast()'s mapping keys as str | selector | dtype; a dict[str, ...] is refused only because Mapping keys are invariant
    st = spark_schema(ready, function="crmkit.spark.from_polars")
    table = df.to_arrow()
    major = int(str(spark.version).split(".")[0])
    if major >= 4:
        return spark.createDataFrame(table, schema=st)
    # Spark 3.5 takes pandas (Arrow-backed when spark.sql.execution.arrow.pyspark.enabled).
    pdf = table.to_pandas(timestamp_as_object=False, date_as_object=True)
    return spark.createDataFrame(pdf, schema=st)


def python_env_hint() -> str:
    """A one-line hint for local runs: the workers use PYSPARK_PYTHON."""
    return f"PYSPARK_PYTHON={os.environ.get('PYSPARK_PYTHON', '(unset)')}, driver Python {sys.executable}"


Iter = Iterator
