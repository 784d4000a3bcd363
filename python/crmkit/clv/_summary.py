"""Per-customer (frequency, recency, T) statistics from a transaction log."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Optional, Union

import polars as pl

from crmkit import _core, _interrupt
from crmkit._validate import as_lazy, require_columns
from crmkit._history import naive_datetime as _to_datetime
from crmkit.errors import CrmError, SchemaError

# Period units: length in microseconds and the shift that aligns periods. "W"
# periods start on Monday, as pandas' "W" (= "W-SUN") periods do (1970-01-01, the
# epoch, was a Thursday: three days after a Monday).
_DAY_US = 86_400_000_000
_UNITS = {
    "D": (_DAY_US, 0),
    "W": (7 * _DAY_US, 3 * _DAY_US),
    "h": (3_600_000_000, 0),
    "H": (3_600_000_000, 0),
    "min": (60_000_000, 0),
    "T": (60_000_000, 0),
    "s": (1_000_000, 0),
    "S": (1_000_000, 0),
}


# ---------------------------------------------------------------------------
# summary statistics from transactions
# ---------------------------------------------------------------------------


def _unit(freq: str, function: str) -> tuple[int, int]:
    if freq not in _UNITS:
        raise CrmError(
            f"{function}: argument 'freq' must be one of {sorted(_UNITS)}, found {freq!r} "
            "(months and years have no fixed length, so recency and T cannot be measured in them)"
        )
    return _UNITS[freq]


def _period_of(value: _dt.datetime, unit: tuple[int, int]) -> int:
    """Index of the period holding `value` (periods of unit[0] microseconds, shifted by unit[1])."""
    us = (value - _dt.datetime(1970, 1, 1)) // _dt.timedelta(microseconds=1)
    return (us + unit[1]) // unit[0]


def _period_expr(unit: tuple[int, int]) -> pl.Expr:
    return ((pl.col("__date").dt.epoch("us") + unit[1]) // unit[0]).alias("__period")


def _as_datetime_expr(column: str, dtype: pl.DataType) -> pl.Expr:
    e = pl.col(column)
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        e = e.dt.replace_time_zone(None)
    return e.cast(pl.Datetime("us"))


def summary(
    transactions: Union[pl.DataFrame, pl.LazyFrame],
    customer: str = "customer_id",
    date: str = "order_date",
    amount: Optional[str] = None,
    freq: str = "D",
    observation_end: Any = None,
    calibration_end: Any = None,
    freq_multiplier: float = 1,
    include_first_transaction: bool = False,
) -> pl.DataFrame:
    """Per-customer frequency, recency, T (and monetary_value) from a transaction log.

    Same semantics as lifetimes' ``summary_data_from_transaction_data``: dates are
    floored to periods of ``freq`` ("D", "W", "h", "min", "s"); ``frequency`` counts
    the periods with a purchase after the first; ``recency`` is the time from the
    first to the last purchase period and ``T`` from the first purchase period to
    ``observation_end`` (default: the last date), in periods divided by
    ``freq_multiplier``; ``monetary_value`` is the mean spend per repeat period (0
    without repeats). Transactions after ``observation_end`` are left out.

    With ``calibration_end`` it follows ``calibration_and_holdout_data`` instead:
    frequency/recency/T (lifetimes' ``*_cal`` columns) describe the calibration
    period up to ``calibration_end``, and ``frequency_holdout`` (purchase periods in
    the holdout), ``monetary_value_holdout`` (mean transaction amount in the
    holdout, with ``amount``) and ``duration_holdout`` are added. Customers first
    seen in the holdout are not in the result, as in lifetimes.

    Output: one row per customer, sorted by customer; ``frequency`` is Int64, the
    rest Float64.

    >>> import polars as pl
    >>> from crmkit import clv
    >>> orders = pl.DataFrame({"customer_id": [1, 1, 2, 1],
    ...     "order_date": pl.Series(["2024-01-01", "2024-01-08", "2024-01-02", "2024-02-01"]).str.to_date()})
    >>> clv.summary(orders, calibration_end="2024-01-15").select("customer_id", "frequency", "frequency_holdout", "duration_holdout").rows()
    [(1, 1, 1, 17.0), (2, 0, 0, 17.0)]
    """
    fn = "clv.summary"
    lazy = as_lazy(transactions, argument="transactions")
    kinds: dict[str, Any] = {customer: "id", date: "date"}
    if amount is not None:
        kinds[amount] = "numeric"
    schema = require_columns(lazy, kinds, function=fn, argument="transactions")
    unit = _unit(freq, fn)
    if not (isinstance(freq_multiplier, (int, float)) and freq_multiplier > 0):
        raise CrmError(f"{fn}: argument 'freq_multiplier' must be a positive number, found {freq_multiplier!r}")
    cols = [pl.col(customer), _as_datetime_expr(date, schema[date]).alias("__date")]
    if amount is not None:
        cols.append(pl.col(amount).cast(pl.Float64).alias("__amount"))
    base = lazy.select(cols)

    # One pass for the contract checks: rows, nulls, NaN, and the last date.
    checks = [pl.len().alias("rows"), pl.col(customer).null_count().alias("c"), pl.col("__date").null_count().alias("d"),
              pl.col("__date").max().alias("max")]
    if amount is not None:
        checks.append((pl.col("__amount").is_null() | pl.col("__amount").is_nan()).sum().alias("a"))
    stats = base.select(checks).pipe(_interrupt.collect).row(0, named=True)
    if stats["rows"] == 0:
        raise CrmError(f"{fn}: 'transactions' is empty (0 rows); there is nothing to summarise")
    for key, col in (("c", customer), ("d", date), ("a", amount)):
        if col is not None and stats.get(key):
            raise SchemaError(
                f"{fn}: column '{col}' in 'transactions' holds {stats[key]} null/NaN value(s) of {stats['rows']}; "
                f"drop or fill them first (for example transactions.drop_nulls('{col}'))"
            )
    id_dtype = schema[customer]
    with_amount = amount is not None

    if calibration_end is None:
        end = _to_datetime(observation_end, "observation_end", fn) if observation_end is not None else stats["max"]
        end_p = _period_of(end, unit)
        rows = base.with_columns(_period_expr(unit)).filter(pl.col("__period") <= end_p)
        per = _per_customer(rows, customer, id_dtype, with_amount)
        return _finish(per, customer, with_amount, end_p, freq_multiplier, include_first_transaction)

    cal_end = _to_datetime(calibration_end, "calibration_end", fn)
    obs_end = _to_datetime(observation_end, "observation_end", fn) if observation_end is not None else stats["max"]
    if cal_end >= obs_end:
        raise CrmError(f"{fn}: calibration_end ({cal_end}) must be before the observation end ({obs_end})")
    cal_p = _period_of(cal_end, unit)
    cal_rows = base.filter(pl.col("__date") <= cal_end).with_columns(_period_expr(unit))
    cal = _finish(_per_customer(cal_rows, customer, id_dtype, with_amount), customer, with_amount, cal_p,
                  freq_multiplier, include_first_transaction)
    hold_rows = base.filter((pl.col("__date") > cal_end) & (pl.col("__date") <= obs_end)).with_columns(
        _period_expr(unit))
    hold = _per_customer(hold_rows, customer, id_dtype, with_amount)
    if hold.height == 0:
        raise CrmError(
            f"{fn}: no transactions fall in the holdout period ({cal_end}, {obs_end}]; check calibration_end and observation_end"
        )
    hold_cols = [pl.col(customer), pl.col("periods").cast(pl.Int64).alias("frequency_holdout")]
    if with_amount:
        hold_cols.append((pl.col("total") / pl.col("rows")).alias("monetary_value_holdout"))
    duration = (_period_of(obs_end, unit) - cal_p) / freq_multiplier
    fill = [pl.col("frequency_holdout").fill_null(0)]
    if with_amount:
        fill.append(pl.col("monetary_value_holdout").fill_null(0.0))
    return (
        cal.join(hold.select(hold_cols), on=customer, how="left")
        .with_columns(*fill, pl.lit(float(duration)).alias("duration_holdout"))
        .sort(customer)
    )


def _per_customer(rows: pl.LazyFrame, customer: str, id_dtype: pl.DataType, with_amount: bool) -> pl.DataFrame:
    """customer, first, last (period indices), periods, first_sum, rest_sum, rows, total."""
    amount = pl.col("__amount") if with_amount else pl.lit(0.0)
    if id_dtype.is_integer():
        frame = rows.select(pl.col(customer).cast(pl.Int64, strict=False).alias("c"), pl.col("__period").alias("p"),
                            amount.alias("a")).pipe(_interrupt.collect)
        if frame["c"].null_count() == 0:
            got = _core.clv_period_summary(frame["c"].to_numpy(), frame["p"].to_numpy(),
                                           frame["a"].cast(pl.Float64).to_numpy())
            if got is not None:
                out = pl.DataFrame(got)
                return out.with_columns(pl.col("customer").cast(id_dtype)).rename({"customer": customer})
    # General ids: polars group-bys (first per customer and period, then per customer).
    # The amount as a column first: polars before 1.29 cannot aggregate a literal (no amount).
    per_period = (rows.with_columns(amount.cast(pl.Float64).alias("__amt")).group_by(customer, "__period")
                  .agg(pl.col("__amt").sum().alias("__a"), pl.len().alias("__n")))
    return (
        per_period.group_by(customer)
        .agg(
            pl.col("__period").min().alias("first"),
            pl.col("__period").max().alias("last"),
            pl.len().cast(pl.Int64).alias("periods"),
            pl.col("__a").filter(pl.col("__period") == pl.col("__period").min()).sum().alias("first_sum"),
            pl.col("__a").filter(pl.col("__period") != pl.col("__period").min()).sum().alias("rest_sum"),
            pl.col("__n").sum().cast(pl.Int64).alias("rows"),
            pl.col("__a").sum().alias("total"),
        )
        .sort(customer)
        .pipe(_interrupt.collect)
    )


def _finish(per: pl.DataFrame, customer: str, with_amount: bool, end_p: int, multiplier: float,
            include_first: bool) -> pl.DataFrame:
    out = [
        pl.col(customer),
        (pl.col("periods") - (0 if include_first else 1)).cast(pl.Int64).alias("frequency"),
        ((pl.col("last") - pl.col("first")).cast(pl.Float64) / multiplier).alias("recency"),
        ((end_p - pl.col("first")).cast(pl.Float64) / multiplier).alias("T"),
    ]
    if with_amount:
        if include_first:
            mv = (pl.col("first_sum") + pl.col("rest_sum")) / pl.col("periods")
        else:
            mv = pl.when(pl.col("periods") > 1).then(pl.col("rest_sum") / (pl.col("periods") - 1)).otherwise(0.0)
        out.append(mv.cast(pl.Float64).alias("monetary_value"))
    return per.select(out)  # already sorted by customer


# ---------------------------------------------------------------------------


def _with_parsed_dates(transactions: Any, column: str, datetime_format: Optional[str], function: str) -> Any:
    """Text dates parsed as lifetimes' pandas.to_datetime would (with ``datetime_format``
    when given); other dtypes pass through to summary's own checks."""
    lazy = as_lazy(transactions, argument="transactions")
    schema = lazy.collect_schema()
    if column not in schema or schema[column] != pl.String:
        return lazy if not isinstance(transactions, pl.DataFrame) else transactions
    parsed = lazy.with_columns(pl.col(column).str.to_datetime(format=datetime_format, strict=True, time_unit="us"))
    try:
        return parsed.pipe(_interrupt.collect) if isinstance(transactions, pl.DataFrame) else parsed.pipe(_interrupt.collect).lazy()
    except pl.exceptions.PolarsError as e:
        raise CrmError(f"{function}: column '{column}' holds text that does not parse as a date"
                       f"{' with format ' + repr(datetime_format) if datetime_format else ''}: {e}") from None


def _parse_end(value: Any, datetime_format: Optional[str], name: str, function: str) -> Any:
    """lifetimes reads the period ends with the same ``datetime_format`` as the dates."""
    if datetime_format is None or not isinstance(value, str):
        return value
    try:
        return _dt.datetime.strptime(value, datetime_format)
    except ValueError:
        raise CrmError(f"{function}: {name} {value!r} does not match datetime_format {datetime_format!r}") from None


def summary_data_from_transaction_data(
    transactions: Any,
    customer_id_col: str,
    datetime_col: str,
    monetary_value_col: Optional[str] = None,
    datetime_format: Optional[str] = None,
    observation_period_end: Any = None,
    freq: str = "D",
    freq_multiplier: float = 1,
    include_first_transaction: bool = False,
) -> pl.DataFrame:
    """lifetimes' ``summary_data_from_transaction_data``, same arguments and columns
    (a polars frame with the customer as a column instead of a pandas index);
    ``transactions`` may be a polars or pandas frame, dates may be text.

    >>> import polars as pl
    >>> from crmkit.clv import summary_data_from_transaction_data
    >>> tx = pl.DataFrame({"id": [1, 1, 2], "date": ["2024-01-01", "2024-01-08", "2024-01-02"]})
    >>> summary_data_from_transaction_data(tx, "id", "date", observation_period_end="2024-01-15").rows()
    [(1, 1, 7.0, 14.0), (2, 0, 0.0, 13.0)]
    """
    fn = "clv.summary_data_from_transaction_data"
    tx = _with_parsed_dates(transactions, datetime_col, datetime_format, fn)
    end = _parse_end(observation_period_end, datetime_format, "observation_period_end", fn)
    return summary(tx, customer=customer_id_col, date=datetime_col, amount=monetary_value_col, freq=freq,
                   observation_end=end, freq_multiplier=freq_multiplier,
                   include_first_transaction=include_first_transaction)


def calibration_and_holdout_data(
    transactions: Any,
    customer_id_col: str,
    datetime_col: str,
    calibration_period_end: Any,
    observation_period_end: Any = None,
    freq: str = "D",
    freq_multiplier: float = 1,
    datetime_format: Optional[str] = None,
    monetary_value_col: Optional[str] = None,
    include_first_transaction: bool = False,
) -> pl.DataFrame:
    """lifetimes' ``calibration_and_holdout_data``, same arguments and columns:
    ``frequency_cal``, ``recency_cal``, ``T_cal`` (``monetary_value_cal``),
    ``frequency_holdout`` (``monetary_value_holdout``), ``duration_holdout``.

    >>> import polars as pl
    >>> from crmkit.clv import calibration_and_holdout_data
    >>> tx = pl.DataFrame({"id": [1, 1, 2, 1], "date": ["2024-01-01", "2024-01-08", "2024-01-02", "2024-02-01"]})
    >>> calibration_and_holdout_data(tx, "id", "date", "2024-01-15").columns
    ['id', 'frequency_cal', 'recency_cal', 'T_cal', 'frequency_holdout', 'duration_holdout']
    """
    fn = "clv.calibration_and_holdout_data"
    tx = _with_parsed_dates(transactions, datetime_col, datetime_format, fn)
    out = summary(tx, customer=customer_id_col, date=datetime_col, amount=monetary_value_col, freq=freq,
                  observation_end=_parse_end(observation_period_end, datetime_format, "observation_period_end", fn),
                  calibration_end=_parse_end(calibration_period_end, datetime_format, "calibration_period_end", fn),
                  freq_multiplier=freq_multiplier, include_first_transaction=include_first_transaction)
    return out.rename({c: f"{c}_cal" for c in ("frequency", "recency", "T", "monetary_value") if c in out.columns})
