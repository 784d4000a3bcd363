"""KPI and alert benchmarks.

`cases(quick)` feeds the project's harness (tests/bench/run.py):

- ``kpi.compute`` on 10M orders in memory (monthly, by region, every order KPI:
  revenue, orders, AOV, active/new/returning customers, repeat, churn and retention
  rates, revenue per customer, discount rate) vs the equivalent vectorised pandas code
  (groupby per customer-period-region, merges for first periods and churn). Bar: 3x.

Run this file directly for the rest:

- ``python tests/bench/bench_kpi.py --huge DIR [--orders N]`` writes N orders (default
  100M) as parquet parts under DIR once, then times every order KPI by month and region
  through the streaming engine in a child process and reports its peak memory
  (bar: < 60 s and < 8 GB at 100M);
- ``python tests/bench/bench_kpi.py --alerts`` measures alert quality (precision,
  recall, false alarms per series-year) of crmkit's ``method="auto"`` and of the plain
  trailing z-score (``method="zscore"``) in the same run, on simulated sets of the
  kind issue 13 describes: 200 daily order series (weekly season, trend,
  over-dispersed counts, Spring Festival dip, Double-11 ramp, ±40-60% one-day
  anomalies), weekly and monthly series with anomalies and level shifts, daily rates
  with varying denominators, short histories, and no-change conversion rates.
  Bars: precision >= 0.85, recall >= 0.70, <= 0.5 false alarms per series-year.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from _harness import Case  # noqa: E402

import crmkit  # noqa: E402
from crmkit import kpi  # noqa: E402

REGIONS = ["east", "north", "south", "west", "central", "northeast", "northwest", "southwest"]
ORDER_KPIS = ["revenue", "orders", "aov", "active_customers", "new_customers", "returning_customers", "repeat_rate",
              "churn_rate", "retention_rate", "revenue_per_customer", "discount_rate"]


def synthetic_orders(n: int, seed: int = 0, n_customers: int | None = None) -> pl.DataFrame:
    """n orders over 4 years: skewed customer activity, a region per customer."""
    rng = np.random.default_rng(seed)
    n_customers = n_customers or max(n // 10, 1)
    weights = rng.gamma(0.6, 1.0, n_customers)
    customer = rng.choice(n_customers, size=n, p=weights / weights.sum()).astype(np.int64) + 1
    start = np.datetime64("2022-01-01T00:00:00", "us")
    offsets = (rng.random(n) * 4 * 365 * 86_400e6).astype(np.int64)
    region_of = rng.integers(0, len(REGIONS), n_customers)
    return pl.DataFrame({
        "customer_id": customer,
        "order_date": start + offsets.astype("timedelta64[us]"),
        "amount": np.round(rng.gamma(2.0, 60.0, n), 2),
        "region": pl.Series(np.asarray(REGIONS)[region_of[customer - 1]]).cast(pl.Categorical),
        "discount": rng.choice([0.0, 0.0, 0.0, 0.1, 0.2], size=n),
    })


def pandas_monthly(df: pd.DataFrame) -> pd.DataFrame:
    """The same KPIs by month and region, written as a good pandas script would."""
    df = df.assign(p=df["order_date"].dt.to_period("M"), disc=(df["discount"] > 0).astype(np.int64))
    cp = df.groupby(["customer_id", "p", "region"], observed=True, sort=False).agg(
        n=("amount", "size"), rev=("amount", "sum"), disc=("disc", "sum")).reset_index()
    first = cp.groupby("customer_id")["p"].transform("min")
    cp["new"] = (cp["p"] == first).astype(np.int64)
    cp["rep"] = (cp["n"] >= 2).astype(np.int64)
    base = cp.groupby(["p", "region"], observed=True).agg(
        revenue=("rev", "sum"), orders=("n", "sum"), active=("n", "size"), new=("new", "sum"),
        rep=("rep", "sum"), disc=("disc", "sum")).reset_index()
    nxt = cp[["customer_id", "p", "region"]].copy()
    nxt["p"] = nxt["p"] - 1
    retained = cp[["customer_id", "p", "region"]].merge(nxt, on=["customer_id", "p", "region"])
    ret = retained.groupby(["p", "region"], observed=True).size().rename("retained").reset_index()
    ret["p"] = ret["p"] + 1
    prev = base[["p", "region", "active"]].rename(columns={"active": "prev"}).copy()
    prev["p"] = prev["p"] + 1
    base = base.merge(prev, on=["p", "region"], how="left").merge(ret, on=["p", "region"], how="left")
    base = base.fillna({"prev": 0, "retained": 0})
    out = pd.DataFrame({
        "p": base["p"], "region": base["region"], "revenue": base["revenue"], "orders": base["orders"],
        "aov": base["revenue"] / base["orders"], "active_customers": base["active"], "new_customers": base["new"],
        "returning_customers": base["active"] - base["new"], "repeat_rate": base["rep"] / base["active"],
        "churn_rate": (base["prev"] - base["retained"]) / base["prev"].where(base["prev"] > 0),
        "retention_rate": base["retained"] / base["prev"].where(base["prev"] > 0),
        "revenue_per_customer": base["revenue"] / base["active"], "discount_rate": base["disc"] / base["orders"],
    })
    return out.melt(id_vars=["p", "region"], var_name="kpi", value_name="value")


_DATA: dict = {}


def cases(quick: bool) -> list[Case]:
    n = 200_000 if quick else 10_000_000

    def setup() -> None:
        if "pl" not in _DATA:
            _DATA["pl"] = synthetic_orders(n, seed=1)
            _DATA["pd"] = _DATA["pl"].to_pandas()

    return [
        Case(
            name=f"kpi.compute {n // 1_000_000 or n / 1e6}M orders month x region",
            crmkit=lambda: kpi.compute(_DATA["pl"], freq="1mo", by="region", kpis=ORDER_KPIS),
            peer=lambda: pandas_monthly(_DATA["pd"]),
            peer_name="pandas (vectorised)",
            setup=setup,
            repeat=3,
            target_ratio=3.0,
            note="11 order KPIs by month and 8 regions; same definitions (tests/test_kpi.py checks equality)",
        )
    ]


# ------------------------------------------------------------------ 100M streaming


def write_huge(directory: Path, n: int, part: int = 10_000_000) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    n_customers = max(n // 10, 1)
    for i in range(0, n, part):
        path = directory / f"orders-{n}-{i // part:03d}.parquet"
        if not path.exists():
            df = synthetic_orders(min(part, n - i), seed=100 + i // part, n_customers=n_customers)
            df.with_columns(pl.col("region").cast(pl.String)).write_parquet(path)
        paths.append(path)
    return paths


def _child(pattern: str) -> None:
    started = time.perf_counter()
    out = kpi.compute(pl.scan_parquet(pattern), freq="1mo", by="region", kpis=ORDER_KPIS, as_of="2026-01-01")
    seconds = time.perf_counter() - started
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"{seconds:.1f} s, peak RSS {peak_gb:.2f} GB, {out.height} KPI rows")


def huge(directory: Path, n: int) -> None:
    write_huge(directory, n)
    pattern = str(directory / f"orders-{n}-*.parquet")
    print(f"{n:,} orders (parquet, streaming), every order KPI by month and region:")
    subprocess.run([sys.executable, __file__, "--child", pattern], check=True)


# ------------------------------------------------------------------ alert quality


def _sf_days(years):
    from crmkit.kpi import calendars

    return {y: calendars.spring_festival(y) for y in years}


def simulate_daily(n_series: int, days: int, seed: int, anomalies: bool = True, start=dt.date(2022, 1, 3)):
    rng = np.random.default_rng(seed)
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    doy = np.array([d.timetuple().tm_yday for d in dates])
    dow = np.array([d.weekday() for d in dates])
    sf = _sf_days(range(start.year - 1, dates[-1].year + 2))
    frames, truth = [], set()
    for s in range(n_series):
        level = np.exp(rng.uniform(np.log(100), np.log(3000)))
        week = np.exp(rng.normal(0, 0.15, 7))
        trend = np.exp(rng.normal(0, 0.3) * np.arange(days) / 365)
        mu = level * week[dow] * trend * (1 + 0.1 * np.cos(2 * np.pi * (doy - 340) / 365))
        for i, d in enumerate(dates):
            near = min((abs((d - sf[y]).days), (d - sf[y]).days) for y in (d.year - 1, d.year, d.year + 1))[1]
            if -7 <= near <= 6:
                mu[i] *= 0.45
            if dt.date(d.year, 10, 21) <= d <= dt.date(d.year, 11, 10):
                mu[i] *= 1.0 + 0.05 * (d - dt.date(d.year, 10, 21)).days
            if d == dt.date(d.year, 11, 11):
                mu[i] *= 3.0
        shape = rng.uniform(80, 300)  # day-level over-dispersion: sd 6-11% beyond Poisson
        y = rng.poisson(mu * rng.gamma(shape, 1 / shape, days)).astype(float)
        if anomalies:
            k = rng.poisson(days / 120) + 1
            for i in rng.choice(np.arange(30, days), size=min(k, days - 30), replace=False):
                y[i] = np.round(y[i] * (1 + rng.choice([-1, 1]) * rng.uniform(0.4, 0.6)))
                truth.add((s, dates[i]))
        frames.append(pl.DataFrame({"series": s, "period_start": dates, "kpi": "orders", "value": y}))
    return pl.concat(frames), truth


def simulate_aggregated(n_series: int, periods: int, freq: str, seed: int):
    """Weekly or monthly revenue with a yearly season, trend and noise; one-period
    anomalies (±40-60%) and, in a third of the series, a lasting level shift."""
    rng = np.random.default_rng(seed)
    step = 7 if freq == "1w" else None
    start = dt.date(2019, 1, 7) if freq == "1w" else dt.date(2015, 1, 1)
    if freq == "1w":
        dates = [start + dt.timedelta(days=7 * i) for i in range(periods)]
        season = 52
    else:
        dates = [dt.date(start.year + (start.month - 1 + i) // 12, (start.month - 1 + i) % 12 + 1, 1) for i in range(periods)]
        season = 12
    del step
    frames, truth = [], set()
    for s in range(n_series):
        level = rng.uniform(1e4, 1e6)
        amp = rng.uniform(0, 0.25)
        phase = rng.uniform(0, 2 * np.pi)
        t = np.arange(periods)
        mu = level * np.exp(rng.normal(0, 0.2) * t / season) * (1 + amp * np.sin(2 * np.pi * t / season + phase))
        noise = rng.uniform(0.03, 0.08)
        y = mu * np.exp(rng.normal(0, noise, periods))
        if s % 3 == 0:
            at = int(rng.integers(season + 5, periods - 6))
            y[at:] *= 1 + rng.choice([-1, 1]) * rng.uniform(0.3, 0.5)
            truth.add((s, dates[at]))
        for i in rng.choice(np.arange(season + 2, periods), size=max(1, periods // (2 * season)), replace=False):
            if (s, dates[i]) in truth or any((s, dates[j]) in truth for j in range(max(0, i - 3), min(periods, i + 4))):
                continue
            y[i] *= 1 + rng.choice([-1, 1]) * rng.uniform(0.4, 0.6)
            truth.add((s, dates[i]))
        frames.append(pl.DataFrame({"series": s, "period_start": dates, "kpi": "revenue", "value": y}))
    return pl.concat(frames), truth


def simulate_rates(n_series: int, days: int, seed: int, anomalies: bool = True):
    """Daily conversion rates: traffic varying 20-20,000 visitors a day (weekly season),
    rate 2-8%; anomalies move the rate by ±40-60% for one day."""
    rng = np.random.default_rng(seed)
    dates = [dt.date(2022, 1, 3) + dt.timedelta(days=i) for i in range(days)]
    dow = np.array([d.weekday() for d in dates])
    frames, truth = [], set()
    for s in range(n_series):
        traffic = np.exp(rng.uniform(np.log(20), np.log(20_000)))
        week = np.exp(rng.normal(0, 0.2, 7))
        visitors = rng.poisson(traffic * week[dow] * np.exp(rng.normal(0, 0.2, days))).astype(float) + 1
        p = rng.uniform(0.02, 0.08) * np.exp(rng.normal(0, 0.05, days))
        if anomalies:
            # anomalies only where a ±40% move is detectable at all (>= 2,000 visitors)
            cand = np.flatnonzero((np.arange(days) >= 30) & (visitors >= 2000))
            k = min(len(cand), rng.poisson(days / 120) + 1) if len(cand) else 0
            for i in rng.choice(cand, size=k, replace=False) if k else []:
                p[i] *= 1 + rng.choice([-1, 1]) * rng.uniform(0.4, 0.6)
                truth.add((s, dates[i]))
        buyers = rng.binomial(visitors.astype(np.int64), np.clip(p, 0, 1)).astype(float)
        frames.append(pl.DataFrame({"series": s, "period_start": dates, "kpi": "conversion_rate",
                                    "value": buyers / visitors, "numerator": buyers, "denominator": visitors}))
    return pl.concat(frames), truth


def score(alerts: pl.DataFrame, truth: set, series_years: float) -> tuple[float, float, float]:
    found = set(zip(alerts["series"].to_list(), alerts["period_start"].to_list()))
    tp = len(found & truth)
    fp = len(found - truth)
    return tp / max(len(found), 1), tp / max(len(truth), 1), fp / series_years


def alert_quality(quick: bool = False, sensitivity: float = 3.5) -> None:
    n = 40 if quick else 200
    sets = [
        ("200 daily order series, 3 years", *simulate_daily(n, 3 * 365, seed=1), n * 3.0),
        ("daily, short history (120 days)", *simulate_daily(n, 120, seed=2), n * 120 / 365.25),
        ("weekly revenue, 5 years", *simulate_aggregated(n // 2, 260, "1w", seed=3), n // 2 * 5.0),
        ("monthly revenue, 10 years", *simulate_aggregated(n // 2, 120, "1mo", seed=4), n // 2 * 10.0),
        ("daily conversion rates, 20-20k visitors", *simulate_rates(n // 2, 2 * 365, seed=5), n // 2 * 2.0),
    ]
    no_change, _ = simulate_rates(n // 2, 2 * 365, seed=6, anomalies=False)
    print(f"{'set':<44} {'method':<8} {'precision':>9} {'recall':>7} {'FA/series-yr':>12} {'seconds':>8}")
    for name, table, truth, years in sets:
        for method in ("auto", "zscore"):
            started = time.perf_counter()
            a = kpi.alerts(table, method=method, sensitivity=sensitivity if method == "auto" else 3.0)
            secs = time.perf_counter() - started
            p, r, fa = score(a, truth, years)
            print(f"{name:<44} {method:<8} {p:>9.2f} {r:>7.2f} {fa:>12.2f} {secs:>8.2f}")
    for method in ("auto", "zscore"):
        a = kpi.alerts(no_change, method=method, sensitivity=sensitivity if method == "auto" else 3.0)
        per_year = a.height / (n // 2 * 2.0)
        worst = a.group_by("series").len()["len"].max() if a.height else 0
        print(f"{'no-change conversion rates (false alarms)':<44} {method:<8} {'':>9} {'':>7} {per_year:>12.2f} "
              f"(worst series {worst or 0} in 2 years)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--huge", type=Path)
    parser.add_argument("--orders", type=int, default=100_000_000)
    parser.add_argument("--alerts", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        _child(args.child)
    elif args.huge:
        huge(args.huge, args.orders)
    elif args.alerts:
        alert_quality(args.quick)
    else:
        from _harness import format_table, run_case

        print(format_table([run_case(c) for c in cases(args.quick)]))
