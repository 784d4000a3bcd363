"""Time-zone-aware timestamps count in their own zone: a shop in Shanghai that sells
at 02:00 on 1 January sold in January, on a Monday, whatever UTC says. Every
day- or month-bucketing function must give the same answer on zone-aware
timestamps as on the same wall-clock times without a zone."""

from __future__ import annotations

import datetime as dt
import warnings

import polars as pl
import pytest

import crmkit
from crmkit import clv


def _orders() -> pl.DataFrame:
    # Times near midnight, where the UTC day (and month, and weekday) differs.
    times = [dt.datetime(2024, 1, 1, 2), dt.datetime(2024, 2, 1, 21), dt.datetime(2024, 1, 6, 2),
             dt.datetime(2024, 1, 31, 23, 30), dt.datetime(2024, 3, 1, 0, 30), dt.datetime(2024, 3, 9, 12),
             dt.datetime(2024, 4, 1, 1)]
    return pl.DataFrame({
        "customer_id": [1, 1, 2, 3, 3, 3, 2],
        "order_id": [10, 11, 12, 13, 14, 15, 16],
        "order_date": times,
        "amount": [10.0, 20.0, 5.0, 7.5, 8.0, 100.0, 3.0],
        "channel": ["web", "app", "web", "store", "web", "app", "web"],
        "discount": [0.0, 0.1, 0.0, 0.0, 0.2, 0.0, 0.0],
    })


CALLS = {
    "rfm": lambda d: crmkit.rfm(d, order="order_id"),
    "profile": lambda d: crmkit.profile(d),
    "clv.summary": lambda d: clv.summary(d, amount="amount"),
    "cohorts": lambda d: crmkit.cohorts(d, customer="customer_id", date="order_date", value="amount"),
    "cohorts weekly": lambda d: crmkit.cohorts(d, customer="customer_id", date="order_date", period="1w"),
    "cohort_matrix": lambda d: crmkit.cohort_matrix(d, customer="customer_id", date="order_date"),
    "kpi.compute monthly by channel": lambda d: crmkit.kpi.compute(d, freq="1mo", by="channel"),
    "kpi.compute weekly": lambda d: crmkit.kpi.compute(d, freq="1w"),
    "kpi.compute daily churn_days": lambda d: crmkit.kpi.compute(d, freq="1d", churn_days=3),
    "kpi.compute as_of": lambda d: crmkit.kpi.compute(d, freq="1mo", as_of="2024-03-09"),
}


# Zones without daylight saving (east and west of UTC): across a DST change a day count
# is whole elapsed 24-hour periods (pandas' Timedelta.days), which may differ by one
# from the wall-clock difference.
@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Etc/GMT+5"])
@pytest.mark.parametrize("call", list(CALLS))
def test_zone_aware_timestamps_count_in_their_own_zone(call, zone):
    naive = _orders()
    aware = naive.with_columns(pl.col("order_date").dt.replace_time_zone(zone))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want, got = CALLS[call](naive), CALLS[call](aware)
    assert want.columns == got.columns and want.height == got.height
    for c in want.columns:
        a, b = want[c], got[c]
        if a.dtype.base_type() == pl.Datetime:  # same wall-clock times, now with their zone
            b = b.dt.replace_time_zone(None)
        if a.dtype.is_float():  # a regression slope may round differently
            assert a.is_null().equals(b.is_null()), c
            assert a.drop_nulls().to_list() == pytest.approx(b.drop_nulls().to_list(), rel=1e-9, nan_ok=True), c
        else:
            assert a.equals(b), c
