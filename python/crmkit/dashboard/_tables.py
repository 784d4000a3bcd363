"""The tables behind the KPI tiles and the sales trend."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Optional, Union

import polars as pl

from crmkit._history import naive_datetime
from crmkit._validate import as_frame
from crmkit.errors import SchemaError


def _periods(orders: pl.DataFrame, freq: str, date: str) -> pl.DataFrame:
    d = pl.col(date)
    if orders.schema[date] == pl.Date:
        d = d.cast(pl.Datetime("us"))
    return orders.with_columns(_period=d.dt.truncate(freq).cast(pl.Date))


#: The KPIs of the tiles, in their order.
TILE_KPIS = ("revenue", "orders", "active_customers", "aov")


def kpi_tiles(
    orders: Union[pl.DataFrame, pl.LazyFrame],
    *,
    freq: str = "1mo",
    customer: str = "customer_id",
    date: str = "order_date",
    amount: str = "amount",
    order: str = "order_id",
    spark: int = 24,
    as_of: Any = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Revenue, orders, active customers and average order value of the last *complete*
    period, from :func:`crmkit.kpi.compute`, with an alert from :func:`crmkit.kpi.alerts`.

    Returns (tiles, series). tiles: ``metric, period, value, previous, change_prev``
    (kpi.compute's ``change_pct``), ``year_ago, change_year`` (its ``yoy_pct``),
    ``alert`` (+1 / -1 when kpi.alerts flags the period up / down, else 0),
    ``severity``, ``kind`` and ``reason`` (null without an alert). series: ``metric,
    period, value`` for the last ``spark`` complete periods (the sparklines). When the
    orders repeat an ``order`` id (one row per order line), the lines are summed into
    one order first. ``as_of``: the analysis date (kpi.compute's; default the day after
    the last order).

    >>> import polars as pl, datetime as dt
    >>> from crmkit.dashboard import kpi_tiles
    >>> o = pl.DataFrame({"customer_id": [1, 2, 1, 3], "order_id": [1, 2, 3, 4], "amount": [10.0, 20.0, 30.0, 5.0],
    ...                   "order_date": [dt.date(2024, 1, 5), dt.date(2024, 1, 9), dt.date(2024, 2, 3), dt.date(2024, 3, 1)]})
    >>> tiles, _ = kpi_tiles(o)
    >>> tiles.select("metric", "period", "value", "previous", "change_prev").rows()[:2]
    [('revenue', datetime.date(2024, 2, 1), 30.0, 30.0, 0.0), ('orders', datetime.date(2024, 2, 1), 1.0, 2.0, -0.5)]
    """
    from crmkit.kpi import compute

    df = as_frame(orders, argument="orders")
    for c in (customer, date, amount):
        if c not in df.columns:
            raise SchemaError(f"crmkit.dashboard.kpi_tiles: column '{c}' not found in orders; it has {df.columns}")
    if order in df.columns and df.height and df[order].n_unique() < df.height:
        df = df.group_by(order, maintain_order=True).agg(pl.col(customer).first(), pl.col(date).min(),
                                                         pl.col(amount).sum())
    values = compute(df, freq=freq, kpis=list(TILE_KPIS), customer=customer, date=date, amount=amount, as_of=as_of)
    return tiles_from(values, freq=freq, spark=spark)


def _latest_complete(values: pl.DataFrame) -> Any:
    done = values.filter(pl.col("is_complete")) if "is_complete" in values.columns else values
    if done.height == 0:  # no complete period yet: the running one
        done = values
    return done["period_start"].max()


def tiles_from(values: pl.DataFrame, *, freq: str = "1mo", spark: int = 24,
               alerts: Optional[pl.DataFrame] = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The tiles and sparkline series of :func:`kpi_tiles` from a :func:`crmkit.kpi.compute`
    table without groups (other KPIs in it are ignored). ``alerts``: flagged rows of that
    table (:func:`crmkit.kpi.alerts`), computed here when not given."""
    tile_schema = {"metric": pl.String, "period": pl.Date, "value": pl.Float64, "previous": pl.Float64,
                   "change_prev": pl.Float64, "year_ago": pl.Float64, "change_year": pl.Float64, "alert": pl.Int8,
                   "severity": pl.String, "kind": pl.String, "reason": pl.String}
    v = values.filter(pl.col("kpi").is_in(list(TILE_KPIS)))
    if v.height == 0:
        return pl.DataFrame(schema=tile_schema), pl.DataFrame(schema={"metric": pl.String, "period": pl.Date,
                                                                      "value": pl.Float64})
    latest = _latest_complete(v)
    if alerts is None:
        from crmkit.kpi import alerts as find_alerts

        judged = v.select("period_start", *(["period_end"] if "period_end" in v.columns else []),
                          *(["is_complete"] if "is_complete" in v.columns else []), "kpi", "value",
                          *[c for c in ("numerator", "denominator") if c in v.columns])
        alerts = find_alerts(judged, freq=freq)
    flagged = (
        alerts.filter((pl.col("period_start") == latest) & pl.col("kpi").is_in(list(TILE_KPIS)))
        .group_by("kpi", maintain_order=True).first()
        .select(pl.col("kpi").alias("metric"),
                pl.when(pl.col("direction") == "up").then(1).otherwise(-1).cast(pl.Int8).alias("alert"),
                pl.col("severity").cast(pl.String), pl.col("kind").cast(pl.String), pl.col("reason").cast(pl.String))
    )
    order = pl.DataFrame({"metric": list(TILE_KPIS), "_o": list(range(len(TILE_KPIS)))})
    tiles = (
        v.filter(pl.col("period_start") == latest)
        .select(pl.col("kpi").alias("metric"), pl.col("period_start").alias("period"), "value", "previous",
                pl.col("change_pct").alias("change_prev"), "year_ago", pl.col("yoy_pct").alias("change_year"))
        .join(flagged, on="metric", how="left")
        .join(order, on="metric")
        .sort("_o").drop("_o")
        .with_columns(pl.col("alert").fill_null(0))
        .cast(tile_schema)  # type: ignore[arg-type]  # polars types cast()'s mapping keys as str | selector | dtype; a dict[str, ...] is refused only because Mapping keys are invariant
        .select(list(tile_schema))
    )
    series = (
        v.filter(pl.col("period_start") <= latest)
        .select(pl.col("kpi").alias("metric"), pl.col("period_start").alias("period"), pl.col("value").cast(pl.Float64))
        .sort("metric", "period")
        .group_by("metric", maintain_order=True).tail(spark)
    )
    return tiles, series


def sales_trend(
    orders: Union[pl.DataFrame, pl.LazyFrame],
    *,
    freq: str = "1mo",
    by: Optional[str] = "channel",
    date: str = "order_date",
    amount: str = "amount",
) -> pl.DataFrame:
    """Revenue and orders per period and ``by`` group (all orders when ``by`` is None
    or absent): period, group, revenue, orders.

    >>> import polars as pl, datetime as dt
    >>> from crmkit.dashboard import sales_trend
    >>> o = pl.DataFrame({"order_date": [dt.date(2024, 1, 5), dt.date(2024, 1, 9), dt.date(2024, 2, 3)],
    ...                   "amount": [10.0, 20.0, 30.0], "channel": ["web", "app", "web"]})
    >>> sales_trend(o).rows()
    [(datetime.date(2024, 1, 1), 'app', 20.0, 1), (datetime.date(2024, 1, 1), 'web', 10.0, 1), (datetime.date(2024, 2, 1), 'web', 30.0, 1)]
    """
    df = as_frame(orders, argument="orders")
    group = pl.col(by).cast(pl.String).fill_null("?") if by and by in df.columns else pl.lit("all")
    return (
        _periods(df, freq, date)
        .group_by("_period", group.alias("group"))
        .agg(revenue=pl.col(amount).sum().cast(pl.Float64), orders=pl.len().cast(pl.Int64))
        .rename({"_period": "period"})
        .sort("period", "group")
    )


#: Season length per period unit (a season is used once two full ones are in the data).
_SEASON = {"d": 7, "w": 52, "mo": 12, "q": 4, "y": 1}


def sales_forecast(
    orders: Union[pl.DataFrame, pl.LazyFrame],
    *,
    freq: str = "1mo",
    by: Optional[str] = "channel",
    h: int = 3,
    level: int = 80,
    date: str = "order_date",
    amount: str = "amount",
    customer: str = "customer_id",
    as_of: Any = None,
) -> pl.DataFrame:
    """Revenue per complete period and ``by`` group (all orders when ``by`` is None or
    absent) and its :class:`crmkit.forecast.AutoETS` forecast ``h`` periods ahead with a
    ``level``% interval: ``group, period, part`` ("actual" / "forecast"), ``revenue``,
    ``lower``, ``upper`` (null on actual rows). A period still running at ``as_of``
    (default: the day after the last order) is left out, so a partial month does not read
    as a collapse; the forecast's first row repeats the last actual value so the lines
    join. A yearly season is used once two full years are in the data.

    >>> import polars as pl, datetime as dt
    >>> from crmkit.dashboard import sales_forecast
    >>> days = pl.date_range(dt.date(2023, 1, 1), dt.date(2024, 12, 20), eager=True)
    >>> o = pl.DataFrame({"customer_id": 1, "order_date": days, "amount": 10.0})
    >>> f = sales_forecast(o, h=2)
    >>> f.filter(pl.col("part") == "actual")["revenue"].tail(2).to_list()  # October, November
    [310.0, 300.0]
    >>> f.filter(pl.col("part") == "forecast")["period"].to_list()  # December is still running
    [datetime.date(2024, 11, 1), datetime.date(2024, 12, 1), datetime.date(2025, 1, 1)]
    """
    from crmkit.forecast import AutoETS, forecast, series
    from crmkit.kpi._compute import parse_freq

    fn = "crmkit.dashboard.sales_forecast"
    df = as_frame(orders, argument="orders")
    for c in (date, amount):
        if c not in df.columns:
            raise SchemaError(f"{fn}: column '{c}' not found in orders; it has {df.columns}")
    if not isinstance(h, int) or h < 1:
        raise SchemaError(f"{fn}: h must be a positive number of periods, found {h!r}")
    n, unit = parse_freq(freq, fn)
    group = by if by and by in df.columns else None
    stamp = pl.col(date)
    date_dtype = df.schema[date]
    if isinstance(date_dtype, pl.Datetime) and date_dtype.time_zone is not None:
        stamp = stamp.dt.replace_time_zone(None)  # the wall clock of the data's own zone
    if as_of is not None:  # never read past the analysis date
        cut = naive_datetime(as_of, "as_of", fn)
        df = df.filter(stamp.cast(pl.Datetime("us")) < cut)
        end = cut.date()
    else:
        last = df.select(stamp.max().cast(pl.Date)).item()
        if last is None:
            raise SchemaError(f"{fn}: 'orders' has no dated rows")
        end = last + _dt.timedelta(days=1)
    s = series(df, freq=freq, by=group, value="revenue", date=date, amount=amount, customer=customer)
    # The last period counts only when the data (or as_of) reaches its end.
    s = s.filter(pl.col("ds").cast(pl.Date).cast(pl.Datetime("us")).dt.offset_by(freq).cast(pl.Date) <= end)
    actual = s.select(pl.col("unique_id").alias("group"), pl.col("ds").cast(pl.Date).alias("period"),
                      pl.lit("actual").alias("part"), pl.col("y").alias("revenue"),
                      pl.lit(None, pl.Float64).alias("lower"), pl.lit(None, pl.Float64).alias("upper"))
    periods = s["ds"].n_unique()
    if periods < 4:
        return actual
    season = _SEASON.get(unit, 1) if n == 1 else 1
    if periods < 2 * season + 2:
        season = 1
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a series that falls back to Naive still has its band
        fc = forecast(s, models=[AutoETS(season_length=season)], h=h, freq=freq, level=[level])
    ahead = fc.select(pl.col("unique_id").alias("group"), pl.col("ds").cast(pl.Date).alias("period"),
                      pl.lit("forecast").alias("part"), pl.col("AutoETS").clip(lower_bound=0).alias("revenue"),
                      pl.col(f"AutoETS-lo-{level}").clip(lower_bound=0).alias("lower"),
                      pl.col(f"AutoETS-hi-{level}").clip(lower_bound=0).alias("upper"))
    # The forecast line starts at the last actual point (a band of zero width there).
    joint = actual.group_by("group").agg(pl.all().sort_by("period").last()).with_columns(
        pl.lit("forecast").alias("part"), pl.col("revenue").alias("lower"), pl.col("revenue").alias("upper"))
    table: pl.DataFrame = pl.concat([actual, joint.select(actual.columns), ahead], how="vertical_relaxed")
    return table.sort("group", "part", "period")
