"""Market-basket benchmarks: crmkit FP-growth on long data vs mlxtend on one-hot data.

`cases(quick)` feeds the shared harness (wall-clock medians). The bar in the
issue is about CPU time and peak memory, which a harness timing loop cannot
see, so `python tests/bench/bench_basket.py` also measures each side in its own
fresh subprocess with `resource.getrusage` (user+system CPU of all threads, and
peak RSS above the process's peak once the input exists).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
try:
    from _harness import Case  # the lead's harness (tests/bench/run.py)
except ImportError:  # standalone `python bench_basket.py` needs only main()
    Case = None  # type: ignore[assignment,misc]

N_ITEMS = 500
MIN_SUPPORT = 0.001


def make_baskets(n_baskets: int, n_items: int = N_ITEMS, density: float = 0.01, seed: int = 0) -> pl.DataFrame:
    """Long (order_id, product) rows: skewed popularity, ~density*n_items items per
    basket, and 10 planted 3-item bundles in 2% of baskets each."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / (np.arange(n_items) + 10.0) ** 0.8
    weights /= weights.sum()
    sizes = np.maximum(rng.poisson(density * n_items, n_baskets), 1)
    baskets = np.repeat(np.arange(n_baskets), sizes)
    items = rng.choice(n_items, sizes.sum(), p=weights)
    extra_b, extra_i = [], []
    for k in range(10):
        bundle = rng.choice(n_items, 3, replace=False)
        chosen = np.nonzero(rng.random(n_baskets) < 0.02)[0]
        extra_b.append(np.repeat(chosen, 3))
        extra_i.append(np.tile(bundle, len(chosen)))
    b = np.concatenate([baskets, *extra_b])
    i = np.concatenate([items, *extra_i])
    return pl.DataFrame({"order_id": b.astype(np.int64), "product": i.astype(np.int32)}).unique()


def one_hot(lines: pl.DataFrame, n_baskets: int):
    import pandas as pd

    dense = np.zeros((n_baskets, N_ITEMS), dtype=bool)
    dense[lines["order_id"].to_numpy(), lines["product"].to_numpy()] = True
    return pd.DataFrame(dense, columns=[f"p{k}" for k in range(N_ITEMS)])


def run_crmkit(lines: pl.DataFrame) -> int:
    from crmkit import basket

    sets = basket.frequent_itemsets(lines, min_support=MIN_SUPPORT)
    basket.association_rules(sets, metric="confidence", min_threshold=0.1)
    return sets.height


def run_mlxtend(lines: pl.DataFrame, n_baskets: int) -> int:
    from mlxtend.frequent_patterns import association_rules, fpgrowth

    sets = fpgrowth(one_hot(lines, n_baskets), min_support=MIN_SUPPORT, use_colnames=True)
    association_rules(sets, num_itemsets=n_baskets, metric="confidence", min_threshold=0.1)
    return len(sets)


def cases(quick: bool) -> list:
    n = 20_000 if quick else 100_000
    lines = make_baskets(n)
    out = [
        Case(
            name=f"fpgrowth+rules {n:,} baskets x {N_ITEMS} items, min_support {MIN_SUPPORT}",
            crmkit=lambda: run_crmkit(lines),
            peer=lambda: run_mlxtend(lines, n),
            peer_name="mlxtend 0.25 (one-hot + fpgrowth + association_rules)",
            target_ratio=20.0,
            repeat=1 if not quick else 2,
        )
    ]
    if not quick:
        big = make_baskets(1_000_000, seed=1)
        out.append(
            Case(
                name="fpgrowth+rules 1,000,000 baskets (crmkit alone)",
                crmkit=lambda: run_crmkit(big),
                peer=None,
                peer_name="",
                repeat=1,
            )
        )
    return out


def _measure(side: str, path: str) -> dict:
    import resource
    import time

    lines = pl.read_parquet(path)
    n = int(lines["order_id"].max()) + 1
    if side == "mlxtend":
        import mlxtend.frequent_patterns  # noqa: F401  (import cost is not the peer's work)
    else:
        import crmkit.basket  # noqa: F401
    # Warm-up on a small slice: thread pools and lazy imports are one-time costs.
    small = lines.filter(pl.col("order_id") < 2_000)
    run_crmkit(small) if side == "crmkit" else run_mlxtend(small, 2_000)
    rss_before = _reset_peak()
    before = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.perf_counter()
    found = run_crmkit(lines) if side == "crmkit" else run_mlxtend(lines, n)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_SELF)
    peak = _status_kb("VmHWM")
    return {
        "side": side,
        "baskets": n,
        "itemsets": found,
        "wall_s": round(wall, 3),
        "cpu_s": round((after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), 3),
        "peak_mb_above_input": round((peak - rss_before) / 1024, 1),
    }


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> int:
    """Resets the peak-RSS mark (Linux clear_refs 5) and returns the current RSS in kB,
    so the peak measured afterwards belongs to the work alone, not to loading the input."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS")


def main() -> None:
    import tempfile

    if len(sys.argv) == 4 and sys.argv[1] == "--measure":
        print(json.dumps(_measure(sys.argv[2], sys.argv[3])))
        return
    runs = [("crmkit", 100_000), ("mlxtend", 100_000), ("crmkit", 1_000_000)]
    results = {}
    tmp = tempfile.mkdtemp()
    for side, n in runs:
        # The input is written once and read by a fresh process, so the peak RSS
        # delta is the work's own memory, not the data generator's.
        path = f"{tmp}/baskets_{n}.parquet"
        if not Path(path).exists():
            make_baskets(n, seed=0 if n == 100_000 else 1).write_parquet(path)
        done = subprocess.run(
            [sys.executable, __file__, "--measure", side, path], capture_output=True, text=True, check=True
        )
        results[(side, n)] = json.loads(done.stdout.strip().splitlines()[-1])
        print(json.dumps(results[(side, n)]))
    ours, theirs = results[("crmkit", 100_000)], results[("mlxtend", 100_000)]
    print(
        f"100k baskets: CPU {theirs['cpu_s'] / max(ours['cpu_s'], 1e-3):.1f}x less than mlxtend, "
        f"peak memory {ours['peak_mb_above_input']:.0f} MB vs {theirs['peak_mb_above_input']:.0f} MB"
    )


if __name__ == "__main__":
    main()
