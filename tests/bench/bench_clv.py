"""CLV benchmarks against lifetimes: BG/NBD at 1M customers, Pareto/NBD at 100k,
summary statistics from 10M transactions. Data have no duplicate rows (continuous
times), so crmkit gains nothing from compressing identical histories.

Run through the harness (`make bench`) or directly: `python tests/bench/bench_clv.py [--quick]`.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
warnings.filterwarnings("ignore")

try:
    from _harness import Case  # the lead's harness
except ImportError:  # pragma: no cover - harness not present: same interface, standalone
    from dataclasses import dataclass
    from typing import Callable

    @dataclass
    class Case:  # type: ignore[no-redef]
        name: str
        crmkit: Callable[[], object]
        peer: Callable[[], object] | None = None
        peer_name: str = ""
        repeat: int = 1
        note: str = ""
        target_ratio: float | None = None


def bgnbd_histories(n: int, seed: int = 0, r=0.25, alpha=4.0, a=0.8, b=2.5) -> pl.DataFrame:
    """(frequency, recency, T) simulated from a BG/NBD process in continuous time (weeks)."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(1.0, 78.0, n)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    k = rng.geometric(p)  # repeat purchases before dropping out
    arrivals = rng.poisson(lam * T)
    x = np.minimum(k, arrivals)
    tx = np.where(x > 0, T * rng.beta(np.maximum(x, 1), np.maximum(arrivals - x, 0) + 1), 0.0)
    return pl.DataFrame({"frequency": x.astype(np.int64), "recency": tx, "T": T})


def transactions(n_rows: int, n_customers: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2022-01-01T00:00:00", "s")
    secs = rng.integers(0, 2 * 365 * 86400, n_rows).astype("timedelta64[s]")
    return pl.DataFrame({
        "customer_id": rng.integers(0, n_customers, n_rows),
        "order_date": pl.Series((start + secs).astype("datetime64[us]")),
        "amount": rng.gamma(2.0, 25.0, n_rows).round(2),
    })


def cases(quick: bool) -> list:
    from crmkit import clv

    out = []
    n_bg = 100_000 if quick else 1_000_000
    bg = bgnbd_histories(n_bg, seed=1)
    bg_pd = bg.to_pandas()

    def lt_bg():
        import lifetimes
        return lifetimes.BetaGeoFitter().fit(bg_pd["frequency"], bg_pd["recency"], bg_pd["T"])

    out.append(Case(f"clv BG/NBD fit {n_bg:,} customers", crmkit=lambda: clv.BetaGeoFitter().fit(bg),
                    peer=lt_bg, peer_name="lifetimes", repeat=1 if not quick else 3,
                    note="BG/NBD histories in continuous time, no duplicate rows", target_ratio=20.0))

    n_p = 10_000 if quick else 100_000
    pn = bgnbd_histories(n_p, seed=2)
    pn_pd = pn.to_pandas()

    def lt_pareto():
        import lifetimes
        return lifetimes.ParetoNBDFitter().fit(pn_pd["frequency"], pn_pd["recency"], pn_pd["T"])

    out.append(Case(f"clv Pareto/NBD fit {n_p:,} customers", crmkit=lambda: clv.ParetoNBDFitter().fit(pn),
                    peer=lt_pareto, peer_name="lifetimes", repeat=1,
                    note="BG/NBD histories in continuous time, no duplicate rows", target_ratio=50.0))

    n_tx = 1_000_000 if quick else 10_000_000
    tx = transactions(n_tx, n_tx // 10, seed=3)
    tx_pd = tx.to_pandas()

    def lt_summary():
        from lifetimes.utils import summary_data_from_transaction_data
        return summary_data_from_transaction_data(tx_pd, "customer_id", "order_date", monetary_value_col="amount")

    out.append(Case(f"clv summary {n_tx:,} transactions",
                    crmkit=lambda: clv.summary(tx, amount="amount"), peer=lt_summary, peer_name="lifetimes",
                    repeat=1, note=f"{n_tx // 10:,} customers, daily periods, with amounts", target_ratio=20.0))
    return out


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    skip_peer = "--no-peer" in sys.argv
    for case in cases(quick):
        t0 = time.perf_counter()
        case.crmkit()
        ours = time.perf_counter() - t0
        line = f"{case.name}: crmkit {ours:.3f}s"
        if case.peer is not None and not skip_peer:
            t0 = time.perf_counter()
            case.peer()
            theirs = time.perf_counter() - t0
            line += f", {case.peer_name} {theirs:.3f}s, ratio {theirs / ours:.1f}x"
        print(line, flush=True)
