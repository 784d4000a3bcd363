"""Turning order tables into forecastable series (statsforecast's long format)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional, Sequence, Union

import polars as pl

from crmkit._validate import as_lazy, require_columns, schema_of
from crmkit.errors import CrmError
from crmkit.forecast._frames import parse_freq

_VALUES = ("revenue", "orders", "customers", "new_customers")


def _as_bound(value: Any, name: str, dtype: pl.DataType) -> Optional[Any]:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise CrmError(f"series: argument '{name}' must be a date, a datetime or an ISO string, found {value!r}") from None
    if isinstance(value, dt.datetime):
        return value.date() if dtype == pl.Date else value
    if isinstance(value, dt.date):
        return value if dtype == pl.Date else dt.datetime(value.year, value.month, value.day)
    raise CrmError(f"series: argument '{name}' must be a date, a datetime or an ISO string, found {value!r}")


def series(
    orders: Any,
    *,
    freq: str = "1w",
    by: Union[None, str, Sequence[str]] = None,
    value: Union[str, pl.Expr] = "revenue",
    customer: str = "customer_id",
    date: str = "order_date",
    amount: str = "amount",
    start: Any = None,
    end: Any = None,
) -> pl.DataFrame:
    """Order rows aggregated into one regular series per group: ``unique_id, ds, y``.

    ``ds`` is the start of each period (``freq``: "1d", "1w" (weeks start on Monday),
    "1mo", "1q", "1y", or a pandas alias such as "MS"); periods with no orders are 0,
    not missing, from the first to the last period of the data (or of ``start``/``end``,
    which also drop the rows outside them). ``unique_id`` joins the ``by`` values with
    "/" ("total" without ``by``; a missing group value reads "(missing)"). ``value`` is
    "revenue" (sum of ``amount``), "orders" (rows), "customers" (distinct ``customer``),
    "new_customers" (customers whose first order ever falls in the period, counted in the
    group of that order) or a polars expression aggregated per group and period.

    >>> import datetime as dt, polars as pl
    >>> from crmkit.forecast import series
    >>> orders = pl.DataFrame({"customer_id": [1, 2, 1], "amount": [10.0, 5.0, 7.0],
    ...     "order_date": [dt.date(2024, 1, 1), dt.date(2024, 1, 3), dt.date(2024, 1, 17)]})
    >>> series(orders, freq="1w").rows()
    [('total', datetime.date(2024, 1, 1), 15.0), ('total', datetime.date(2024, 1, 8), 0.0), ('total', datetime.date(2024, 1, 15), 7.0)]
    >>> series(orders, freq="1w", value="new_customers")["y"].to_list()
    [2.0, 0.0, 0.0]
    """
    function = "series"
    fr = parse_freq(freq, function=function)
    if fr.is_int:
        raise CrmError("series: argument 'freq' must be a calendar duration such as '1w' or '1mo', found an int")
    lf = as_lazy(orders, argument="orders")
    need: dict[str, Any] = {date: "temporal"}
    if isinstance(value, str):
        if value not in _VALUES:
            raise CrmError(f"series: argument 'value' must be one of {list(_VALUES)} or a polars expression, found {value!r}")
        if value == "revenue":
            need[amount] = "numeric"
        if value in ("customers", "new_customers"):
            need[customer] = "id"
    elif not isinstance(value, pl.Expr):
        raise CrmError(f"series: argument 'value' must be one of {list(_VALUES)} or a polars expression, found {value!r}")
    by_cols = [by] if isinstance(by, str) else list(by or [])
    for c in by_cols:
        need[c] = "any"
    schema = require_columns(lf, need, function=function, argument="orders")
    dtype = schema[date]
    lo, hi = _as_bound(start, "start", dtype), _as_bound(end, "end", dtype)
    every = fr.text()
    if isinstance(value, str) and value == "new_customers":
        # A customer's first order ever, decided before start/end narrow the rows.
        lf = lf.with_columns((pl.col(date) == pl.col(date).min().over(customer)).alias("__first"))
    if lo is not None:
        lf = lf.filter(pl.col(date) >= lo)
    if hi is not None:
        lf = lf.filter(pl.col(date) <= hi)
    lf = lf.filter(pl.col(date).is_not_null())
    # The calendar spans every order in range, also for counts that keep only some rows.
    span = lf.select(pl.col(date).min().dt.truncate(fr.text()).alias("lo"), pl.col(date).max().dt.truncate(fr.text()).alias("hi")).collect()
    if isinstance(value, str) and value == "new_customers":
        lf = lf.filter(pl.col("__first") & pl.col(customer).is_not_null())
    if by_cols:
        uid = pl.concat_str([pl.col(c).cast(pl.String).fill_null("(missing)") for c in by_cols], separator="/")
    else:
        uid = pl.lit("total")
    if isinstance(value, pl.Expr):
        agg = value
    elif value == "revenue":
        # Summed in a canonical order: a float sum depends on the order of its terms in
        # the last bits (polars' group sums follow the row and thread order), and
        # AutoETS/auto choose between near-tied models, so the same orders shuffled could
        # pick another model. A running sum over the sorted amounts fixes the order (a
        # plain sort().sum() is optimised to sum()); it costs about 2.5x the group sum.
        agg = pl.col(amount).cast(pl.Float64).sort().cum_sum().last()
    elif value == "orders":
        agg = pl.len()
    else:
        agg = pl.col(customer).n_unique()
    grouped = (
        lf.with_columns(uid.alias("unique_id"), pl.col(date).dt.truncate(every).alias("ds"))
        .group_by("unique_id", "ds")
        .agg(agg.cast(pl.Float64).alias("y"))
        .collect()
    )
    if span["lo"][0] is None:
        raise CrmError("series: no orders left to aggregate (empty input or nothing between start and end)")
    first_p = span["lo"][0] if lo is None else pl.Series([lo], dtype=dtype).dt.truncate(every)[0]
    last_p = span["hi"][0] if hi is None else pl.Series([hi], dtype=dtype).dt.truncate(every)[0]
    if dtype == pl.Date:
        calendar = pl.date_range(first_p, last_p, interval=every, eager=True)
    else:
        calendar = pl.datetime_range(first_p, last_p, interval=every, eager=True, time_zone=getattr(dtype, "time_zone", None))
    ids = grouped.select(pl.col("unique_id").unique().sort())
    full = ids.join(pl.DataFrame({"ds": calendar.cast(grouped["ds"].dtype)}), how="cross")
    return (
        full.join(grouped, on=["unique_id", "ds"], how="left")
        .with_columns(pl.col("y").fill_null(0.0))
        .sort("unique_id", "ds")
    )
