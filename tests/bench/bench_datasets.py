"""The generator against the obvious pandas/numpy way of simulating the same world.

The peer is a vectorised numpy simulation of the BG/NBD purchase process and the
Gamma-Gamma spend, assembled into a pandas orders frame: what an analyst writes to
get test data. It makes orders only (no dirty records, items or events), so the
ratio understates crmkit's lead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import crmkit
from _harness import Case


def _numpy_orders(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = 1461
    lam = rng.gamma(0.9, 1 / 30.0, n)
    p = rng.beta(0.8, 6.0, n)
    nu = rng.gamma(4.0, 1 / 150.0, n)
    first = rng.uniform(0, days - 1, n)
    t = first.copy()
    alive = np.ones(n, bool)
    cust, times = [np.arange(n)], [first]
    while alive.any():
        idx = np.flatnonzero(alive)
        t[idx] += rng.exponential(1 / lam[idx])
        ok = t[idx] < days
        idx = idx[ok]
        cust.append(idx)
        times.append(t[idx])
        drop = rng.random(idx.size) < p[idx]
        alive[:] = False
        alive[idx[~drop]] = True
    c = np.concatenate(cust)
    amount = rng.gamma(6.0, 1 / nu[c])
    start = np.datetime64("2022-01-01")
    dates = start + (np.concatenate(times) * 86_400e6).astype("timedelta64[us]")
    df = pd.DataFrame({"customer_id": c + 1, "order_date": dates, "amount": amount.round(2)})
    return df.sort_values("order_date", ignore_index=True)


def cases(quick: bool) -> list[Case]:
    n = 20_000 if quick else 1_000_000
    return [
        Case(
            name=f"generate {n:,} customers (all tables)",
            crmkit=lambda: crmkit.datasets.generate(n_customers=n, seed=1),
            peer=lambda: _numpy_orders(n),
            peer_name="numpy+pandas (orders only)",
            repeat=3,
            note="crmkit builds customers, orders, items, events and truth; the peer only orders",
        ),
    ]
