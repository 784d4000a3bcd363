"""Time-travel helpers shared by the per-customer domains (rfm, profile, ...).

`as_of` means "the analysis is made at this instant" (DESIGN.md §5). These helpers
turn a user's `as_of` into a literal of the date column's own dtype — its time unit
and time zone — and count whole days the way pandas' ``Timedelta.days`` does, so
every domain measures recency and tenure alike. Kept apart from the domain modules
so that none of them has to import another for them.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import polars as pl

from crmkit.errors import CrmError


def as_of_literal(as_of: Any, dtype: pl.DataType, *, function: str) -> pl.Expr:
    """`as_of` (a date, datetime or ISO string) as a literal of the date column's dtype.

    A zone-aware datetime is converted into the column's zone; a naive one (or a
    date) is read as wall-clock time in that zone.

    >>> import datetime as dt, polars as pl
    >>> pl.select(as_of_literal("2024-03-05", pl.Date, function="f")).item()
    datetime.date(2024, 3, 5)
    >>> as_of_literal(5, pl.Date, function="crmkit.rfm")
    Traceback (most recent call last):
    crmkit.CrmError: crmkit.rfm: as_of must be a date, datetime or ISO string, found int
    """
    if isinstance(as_of, str):
        try:
            as_of = _dt.datetime.fromisoformat(as_of)
        except ValueError as e:
            raise CrmError(f"{function}: as_of {as_of!r} is not an ISO date or datetime") from e
    if isinstance(as_of, _dt.datetime):
        lit = pl.lit(as_of)
    elif isinstance(as_of, _dt.date):
        lit = pl.lit(as_of).cast(pl.Datetime("us")) if dtype != pl.Date else pl.lit(as_of)
    else:
        raise CrmError(f"{function}: as_of must be a date, datetime or ISO string, found {type(as_of).__name__}")
    if dtype == pl.Date:
        return lit.cast(pl.Date)
    tz = getattr(dtype, "time_zone", None)
    if tz is not None and isinstance(as_of, _dt.datetime) and as_of.tzinfo is not None:
        return lit.dt.convert_time_zone(tz).cast(dtype)
    if tz is not None:
        return lit.cast(pl.Datetime(getattr(dtype, "time_unit", "us"))).dt.replace_time_zone(tz).cast(dtype)
    return lit.cast(dtype)


def naive_datetime(value: Any, name: str, function: str) -> _dt.datetime:
    """A cutoff or period end given as a date, datetime, ISO string or pandas/numpy
    timestamp, as a tz-naive datetime (a date is its midnight).

    >>> naive_datetime("2024-03-05", "cutoff", "f")
    datetime.datetime(2024, 3, 5, 0, 0)
    """
    if isinstance(value, _dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, _dt.date):
        return _dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return _dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    if type(value).__module__.startswith(("pandas", "numpy")):
        try:
            converted: _dt.datetime = pl.Series([value]).cast(pl.Datetime("us")).item()
            return converted
        except Exception:  # noqa: BLE001 - fall through to the error below
            pass
    raise CrmError(f"{function}: argument '{name}' must be a date, datetime or ISO date string, found {value!r}")


def days_between(later: pl.Expr, earlier: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Whole days from `earlier` to `later` (floor, like pandas Timedelta.days)."""
    diff = later - earlier
    if dtype == pl.Date:
        return diff.dt.total_days().cast(pl.Int64)
    us = diff.dt.total_microseconds()
    return us.floordiv(86_400_000_000).cast(pl.Int64)


def vanished_customers(dropped_customers: pl.DataFrame, result: pl.DataFrame, customer: str) -> int:
    """How many customers of dropped rows have no row in the result."""
    return dropped_customers.join(result.select(customer), on=customer, how="anti").height
