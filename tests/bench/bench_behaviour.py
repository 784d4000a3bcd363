"""Behaviour benchmarks: the funnel on 10M events, and vs a pandas per-user recipe.

`python tests/bench/bench_behaviour.py` prints wall and CPU time of
`crmkit.funnel` on 10M events (1M users) in a fresh subprocess.
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
except ImportError:  # standalone runs need only main()
    Case = None  # type: ignore[assignment,misc]

EVENTS = ["view", "search", "cart", "checkout", "purchase"]
STEPS = ["view", "cart", "checkout", "purchase"]


def make_events(n_events: int, seed: int = 0) -> pl.DataFrame:
    """~10 events per user over 30 days, unsorted, with second-resolution ties."""
    rng = np.random.default_rng(seed)
    n_users = max(n_events // 10, 1)
    users = rng.integers(0, n_users, n_events)
    ev = rng.choice(len(EVENTS), n_events, p=[0.45, 0.2, 0.18, 0.1, 0.07])
    seconds = rng.integers(0, 30 * 86_400, n_events)
    return pl.DataFrame(
        {
            "customer_id": users.astype(np.int64),
            "event": pl.Series(np.array(EVENTS)[ev]).cast(pl.Enum(EVENTS)),
            "timestamp": pl.from_epoch(pl.Series(seconds + 1_700_000_000), time_unit="s").cast(pl.Datetime("us")),
        }
    )


def run_crmkit(events: pl.DataFrame) -> pl.DataFrame:
    import crmkit

    return crmkit.funnel(events, STEPS, window="7d")


def run_pandas(events: pl.DataFrame):
    """The common pandas recipe: sort, then a per-user Python scan (ordered mode)."""
    pdf = events.with_columns(pl.col("event").cast(pl.String)).to_pandas()
    pdf = pdf[pdf["event"].isin(STEPS)]
    pdf["step"] = pdf["event"].map({s: i for i, s in enumerate(STEPS)})
    pdf = pdf.sort_values(["customer_id", "timestamp", "step"])
    window = np.timedelta64(7, "D")

    def level(g):
        start = [None] * len(STEPS)
        best = 0
        for t, s in zip(g["timestamp"].to_numpy(), g["step"].to_numpy()):
            if s == 0:
                start[0] = t
                best = max(best, 1)
            elif start[s - 1] is not None and t - start[s - 1] <= window:
                start[s] = start[s - 1]
                best = max(best, s + 1)
        return best

    levels = pdf.groupby("customer_id")[["timestamp", "step"]].apply(level)
    return [(levels > j).sum() for j in range(len(STEPS))]


def cases(quick: bool) -> list:
    small = make_events(100_000)
    out = [
        Case(
            name="funnel 100k events (4 steps, 7d window)",
            crmkit=lambda: run_crmkit(small),
            peer=lambda: run_pandas(small),
            peer_name="pandas groupby-apply per-user scan",
            repeat=3,
        )
    ]
    if not quick:
        big = make_events(10_000_000)
        out.append(Case(name="funnel 10M events (crmkit alone)", crmkit=lambda: run_crmkit(big), peer=None, peer_name="", repeat=1))
    return out


def _measure(n: int) -> dict:
    import resource
    import time

    events = make_events(n)
    import crmkit  # noqa: F401

    from bench_basket import _reset_peak, _status_kb

    rss_before = _reset_peak()
    before = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.perf_counter()
    table = run_crmkit(events)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "events": n,
        "users_at_step1": int(table["users"][0]),
        "wall_s": round(wall, 3),
        "cpu_s": round((after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), 3),
        "peak_mb_above_input": round((_status_kb("VmHWM") - rss_before) / 1024, 1),
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        print(json.dumps(_measure(int(sys.argv[2]))))
        return
    done = subprocess.run([sys.executable, __file__, "--measure", "10000000"], capture_output=True, text=True, check=True)
    print(done.stdout.strip())


if __name__ == "__main__":
    main()
