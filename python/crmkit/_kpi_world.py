"""The monitoring layer of the generated world: seasonality, planted KPI anomalies,
surveys and a sales pipeline (see :func:`crmkit.datasets.generate`).

The base world is generated in *operational time*: its purchase process is BG/NBD with
a constant rate. Seasonality is a monotone time warp from operational to calendar
time whose local speed follows a daily weight (weekday × time of year × Chinese
retail events): a day with weight 1.3 receives 30% more of every customer's purchase
intensity. Every timestamp of the world (orders, events, first purchases, dropouts,
sign-ups) moves through the same warp, so counts, customers, each customer's order
sequence and all truth stay consistent; only *when* things happen changes.

Planted anomalies then change a few labels from their own random stream: orders
moved from one channel to another (a lasting level shift; a one-month churn surge)
and window-shopping sessions reassigned to other customers (a conversion drop after a
site change); a spike day is a weight of 3 in the warp.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

import numpy as np
import polars as pl

_DAY_US = 86_400_000_000
_EPOCH = dt.date(1970, 1, 1)
#: Monday..Sunday purchase weights.
WEEKDAY_WEIGHTS = (0.90, 0.92, 0.95, 1.00, 1.05, 1.15, 1.03)
#: Amplitude of the smooth yearly cycle (peak in early December, trough in early June).
YEARLY_AMPLITUDE = 0.12
_STREAM = 0x4B5049  # "KPI"


def _date(day: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=int(day))


def day_weights(start_day: int, end_day: int, *, seasonality: bool, spike_day: Optional[int]) -> np.ndarray:
    """Purchase-intensity weight of each day of the window (mean 1)."""
    from crmkit.kpi import calendars

    days = np.arange(start_day, end_day)
    w = np.ones(days.size)
    if seasonality:
        weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
        w *= np.asarray(WEEKDAY_WEIGHTS)[weekday]
        dates = [_date(int(d)) for d in (days[0], days[-1])]
        doy = np.array([(_date(d) - dt.date(_date(d).year, 1, 1)).days for d in days.tolist()])
        w *= 1.0 + YEARLY_AMPLITUDE * np.cos(2 * np.pi * (doy - 340) / 365.25)
        for year in range(dates[0].year, dates[1].year + 1):
            sf = (calendars.spring_festival(year) - _EPOCH).days
            spans = [
                (sf - 14, sf - 8, 0.8), (sf - 7, sf + 6, 0.45), (sf + 7, sf + 14, 0.8),
                (_days(year, 6, 1), _days(year, 6, 17), 1.2), (_days(year, 6, 18), _days(year, 6, 18), 2.0),
                (_days(year, 10, 1), _days(year, 10, 7), 0.85),
                (_days(year, 10, 21), _days(year, 11, 10), 1.25), (_days(year, 11, 11), _days(year, 11, 11), 3.0),
                (_days(year, 12, 12), _days(year, 12, 12), 1.6),
            ]
            for a, b, f in spans:
                w[(days >= a) & (days <= b)] *= f
    if spike_day is not None:
        w[days == spike_day] *= 3.0
    weights: np.ndarray = w / w.mean()
    return weights


def _days(y: int, m: int, d: int) -> int:
    return (dt.date(y, m, d) - _EPOCH).days


def _warp(us: np.ndarray, start_day: int, weights: np.ndarray) -> np.ndarray:
    """Operational -> calendar time (µs since epoch), piecewise linear per day."""
    start_us = start_day * _DAY_US
    cum = np.concatenate([[0.0], np.cumsum(weights)]) * _DAY_US
    grid = np.arange(weights.size + 1, dtype=np.float64) * _DAY_US
    rel = us.astype(np.float64) - start_us
    return (np.round(np.interp(rel, cum, grid)) + start_us).astype(np.int64)


def _warp_col(df: pl.DataFrame, name: str, start_day: int, weights: np.ndarray) -> pl.DataFrame:
    col = df[name]
    dtype = col.dtype
    if dtype == pl.Date:
        us = col.cast(pl.Int32).cast(pl.Int64).to_numpy() * _DAY_US
        mask = col.is_null().to_numpy()
        out = _warp(np.where(mask, start_day * _DAY_US, us), start_day, weights) // _DAY_US
        s = pl.Series(name, out.astype(np.int32)).cast(pl.Date)
    else:
        mask = col.is_null().to_numpy()
        us = col.dt.cast_time_unit("us").cast(pl.Int64).fill_null(start_day * _DAY_US).to_numpy()
        s = pl.Series(name, _warp(us, start_day, weights)).cast(pl.Datetime("us"))
    if mask.any():
        s = pl.select(pl.when(pl.Series(mask)).then(None).otherwise(s)).to_series().alias(name)
    return df.with_columns(s)


def _clear_of_events(day: int, cal: pl.DataFrame, margin: int = 3) -> int:
    """The first day on or after `day` at least `margin` days away from every event window."""
    windows = [((s - _EPOCH).days - margin, (e - _EPOCH).days + margin) for s, e in cal.select("start", "end").rows()]
    while any(a <= day <= b for a, b in windows):
        day += 1
    return day


def _clear_monday(day: int, cal: pl.DataFrame, backwards: bool = False) -> int:
    """The Monday nearest `day` (searching one way) whose week touches no event window."""
    windows = [((s - _EPOCH).days, (e - _EPOCH).days) for s, e in cal.select("start", "end").rows()]
    day -= (day + 3) % 7  # 1970-01-01 was a Thursday: (day + 3) % 7 == 0 on Mondays
    while any(a <= day + 6 and day <= b for a, b in windows):
        day += -7 if backwards else 7
    return day


def _month_start(day: int, avoid: tuple[int, ...] = (1, 2, 11, 12)) -> int:
    d = _date(day)
    d = dt.date(d.year, d.month, 1)
    while d.month in avoid or (d.month - 1 or 12) in avoid:
        d = dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return (d - _EPOCH).days


def plant(
    orders: pl.DataFrame,
    events: pl.DataFrame,
    truth_customers: pl.DataFrame,
    customers: pl.DataFrame,
    *,
    seed: int,
    start_day: int,
    end_day: int,
    event_days: int,
    seasonality: bool,
    anomalies: bool,
) -> dict[str, Any]:
    """Applies the warp and the planted anomalies; returns the new tables and the truth."""
    from crmkit.kpi import calendars

    n_days = end_day - start_day
    cal = calendars.cn(max(_date(start_day).year - 1, 1930), min(_date(end_day).year + 1, 2200))
    plans: list[tuple[Any, ...]] = []
    spike = None
    if anomalies and n_days >= 120:
        spike = _clear_of_events(start_day + int(0.5 * n_days), cal)
        if spike >= end_day - 7:
            spike = None
    weights = day_weights(start_day, end_day, seasonality=seasonality, spike_day=spike)
    warped = seasonality or spike is not None
    if warped:
        orders = _warp_col(orders, "order_date", start_day, weights)
        events = _warp_col(events, "timestamp", start_day, weights)
        truth_customers = _warp_col(_warp_col(truth_customers, "first_purchase", start_day, weights),
                                    "dropout_date", start_day, weights)
        customers = _warp_col(customers, "signup_date", start_day, weights)
    if spike is not None:
        plans += [(spike, None, "orders", "spike", 2.0, "1d"), (spike, None, "revenue", "spike", 2.0, "1d")]
    if anomalies:
        rng = np.random.default_rng([seed % 2**63, _STREAM])
        u_orders = rng.random(orders.height)
        days = (orders["order_date"].cast(pl.Int64).to_numpy() // _DAY_US)
        channel = orders["channel"].cast(pl.String).to_numpy().astype(object)
        dtype = orders.schema["channel"]
        # a lasting step: half of the store's orders move to the app from a Monday on
        shift = _clear_monday(start_day + int(0.6 * n_days), cal)
        if shift - start_day >= 400 and shift < end_day - 120:
            moved = (channel == "store") & (days >= shift) & (u_orders < 0.5)
            channel[moved] = "app"
            plans += [(shift, "channel=store", "orders", "level_shift", -0.5, "1w"),
                      (shift, "channel=store", "revenue", "level_shift", -0.5, "1w")]
        # a churn surge: for one month most WeChat buyers cannot order there (outage)
        surge = _month_start(start_day + int(0.85 * n_days))
        nxt = _date(surge)
        surge_end = (dt.date(nxt.year + (nxt.month == 12), nxt.month % 12 + 1, 1) - _EPOCH).days
        if surge - start_day >= 400 and surge_end <= end_day - 31:
            moved = (channel == "wechat") & (days >= surge) & (days < surge_end) & (u_orders < 0.85)
            channel[moved] = "app"
            plans.append((surge, "channel=wechat", "churn_rate", "churn_surge", 0.85, "1mo"))
        orders = orders.with_columns(pl.Series("channel", channel.tolist(), dtype=pl.String).cast(dtype))
        # a site change: from day D the sessions that do not buy come from new visitors
        # (judged weekly, which needs most of a year of events: planted when event_days >= 300)
        drop_day = _clear_monday(end_day - 35, cal, backwards=True)
        if event_days >= 300 and events.height:
            events, size = _conversion_drop(events, drop_day, truth_customers.height, rng)
            if size is not None:
                plans.append((drop_day, None, "conversion_rate", "level_shift", size, "1w"))
    kpi_anomalies = pl.DataFrame(
        [(_date(p[0]), *p[1:]) for p in plans],
        schema={"period_start": pl.Date, "by": pl.String, "kpi": pl.String, "kind": pl.String,
                "size": pl.Float64, "freq": pl.String},
        orient="row",
    )
    season = pl.DataFrame({"day": [_date(d) for d in range(start_day, end_day)], "weight": weights})
    return {"orders": orders, "events": events, "truth_customers": truth_customers, "customers": customers,
            "kpi_anomalies": kpi_anomalies, "day_weights": season}


def _conversion_drop(events: pl.DataFrame, drop_day: int, n_customers: int, rng: np.random.Generator) -> tuple[pl.DataFrame, Optional[float]]:
    """Reassigns the non-buying sessions from `drop_day` on to random customers (new
    visitors who do not buy; each session's own funnel is unchanged); returns the
    events and the realised relative change of the weekly conversion rate after it."""
    sess = events.group_by("session_id").agg(
        pl.col("timestamp").min().alias("__start"),
        (pl.col("event").cast(pl.String) == "purchase").any().alias("__buys"),
    ).sort("session_id")
    u = rng.random(sess.height)
    new_owner = rng.integers(1, n_customers + 1, sess.height)
    after = (sess["__start"].cast(pl.Int64).to_numpy() // _DAY_US) >= drop_day
    move = after & ~sess["__buys"].to_numpy() & (u < 1.0)
    if not move.any():
        return events, None
    owners = pl.DataFrame({"session_id": sess["session_id"].filter(pl.Series(move)),
                           "__owner": new_owner[move].astype(np.int64)})
    planted = events.join(owners, on="session_id", how="left", maintain_order="left").with_columns(
        pl.coalesce("__owner", "customer_id").alias("customer_id")
    ).drop("__owner")

    def conv(ev: pl.DataFrame) -> float:
        e = ev.filter(pl.col("timestamp").cast(pl.Int64) // _DAY_US >= drop_day).with_columns(
            ((pl.col("timestamp").cast(pl.Int64) // _DAY_US - drop_day) // 7).alias("__d"))
        per = e.group_by("__d", "customer_id").agg((pl.col("event").cast(pl.String) == "purchase").any().alias("b"))
        return float(per["b"].sum()) / max(per.height, 1)

    return planted, conv(planted) / conv(events) - 1.0
