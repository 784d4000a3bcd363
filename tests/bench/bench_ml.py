"""crmkit.ml benchmarks against scikit-learn's HistGradientBoostingClassifier and LightGBM.

Issue 11's setting: 1M rows x 30 features (5% NaN), 100 iterations, 31 leaves, 255 bins,
early stopping off. Peers run at 1 and at 2 threads (the bar is against the faster);
crmkit uses rayon's default (all cores). Timings in this process alternate crmkit and
the peer (harness); thread scaling, peak memory (RSS) and AUC come from one fresh
subprocess per (tool, threads), so allocations of one tool never count for another.

Run: `python tests/bench/run.py --only ml` (or `python tests/bench/bench_ml.py [--quick]`);
`CRMKIT_BENCH_ML=contributions` runs only the TreeSHAP cases.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
warnings.filterwarnings("ignore")

try:
    from _harness import Case
except ImportError:  # pragma: no cover
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


N_FULL, N_QUICK, D = 1_000_000, 100_000, 30
SETTINGS = dict(max_iter=100, learning_rate=0.1, max_leaf_nodes=31, max_bins=255, min_samples_leaf=20)


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """30 features, 5% NaN, a nonlinear logit with interactions; ~30% positives."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, D))
    logit = (
        0.8 * X[:, 0] - 0.6 * X[:, 1] ** 2 + 0.5 * X[:, 2] * X[:, 3] + 0.7 * np.sin(2 * X[:, 4])
        + 0.4 * (X[:, 5] > 0.5) - 0.3 * np.abs(X[:, 6]) + 0.2 * X[:, 7:12].sum(axis=1) - 0.5
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    X[rng.random((n, D)) < 0.05] = np.nan
    return X, y


def fit_crmkit(X, y):
    from crmkit import ml

    return ml.GradientBoostingClassifier(**SETTINGS, early_stopping=False, random_state=0).fit(X, y)


def fit_hgb(X, y, threads: int):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads):
        return HistGradientBoostingClassifier(**SETTINGS, early_stopping=False, random_state=0).fit(X, y)


def lgbm(threads: int):
    import lightgbm

    return lightgbm.LGBMClassifier(
        n_estimators=100, learning_rate=0.1, num_leaves=31, max_bin=255, min_child_samples=20,
        reg_lambda=0.0, subsample=1.0, colsample_bytree=1.0, n_jobs=threads, verbose=-1, random_state=0,
    )


def fit_lgbm(X, y, threads: int):
    return lgbm(threads).fit(X, y)


def _status_mb(field: str) -> float:
    """VmRSS / VmHWM of this process in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker(tool: str, threads: int, n: int) -> dict:
    """One fit in a fresh process: fit seconds, peak RSS during the fit (MB, data
    included), RSS of the data alone, held-out AUC."""
    import gc

    from sklearn.metrics import roc_auc_score

    X, y = make_data(n)
    Xt, yt = make_data(100_000, seed=1)
    gc.collect()
    base = _status_mb("VmRSS")
    try:
        # Reset the peak RSS so the data generation's temporaries do not count.
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:  # pragma: no cover - not Linux
        pass
    t = time.perf_counter()
    if tool == "crmkit":
        m = fit_crmkit(X, y)
    elif tool == "hgb":
        m = fit_hgb(X, y, threads)
    else:
        m = fit_lgbm(X, y, threads)
    fit_s = time.perf_counter() - t
    peak = _status_mb("VmHWM")
    if peak != peak:  # pragma: no cover
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    auc = roc_auc_score(yt, m.predict_proba(Xt)[:, 1])
    return {"tool": tool, "threads": threads, "fit_s": fit_s, "peak_mb": peak, "data_mb": base, "auc": auc,
            "load": os.getloadavg()[0]}


def run_worker(tool: str, threads: int, n: int) -> dict:
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    out = subprocess.run(
        [sys.executable, __file__, "--worker", tool, str(threads), str(n)],
        env=env, capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def subprocess_summary(n: int) -> str:
    rows = []
    for tool in ("crmkit", "hgb", "lightgbm"):
        for threads in (1, 2):
            try:
                rows.append(run_worker(tool, threads, n))
            except (subprocess.CalledProcessError, json.JSONDecodeError) as e:  # pragma: no cover
                print(f"bench_ml worker {tool}/{threads} failed: {e}", file=sys.stderr)
    lines = ["    subprocess runs (fresh process each; peak RSS includes the data):"]
    for r in rows:
        lines.append(
            f"      {r['tool']:<9} {r['threads']} thread(s): fit {r['fit_s']:7.2f} s  peak RSS {r['peak_mb']:7.0f} MB "
            f"(data alone {r['data_mb']:5.0f} MB)  AUC {r['auc']:.4f}  load {r.get('load', float('nan')):.1f}"
        )
    by = {(r["tool"], r["threads"]): r for r in rows}
    if ("crmkit", 2) in by and ("hgb", 1) in by:
        best = lambda tool: min((by[(tool, t)] for t in (1, 2) if (tool, t) in by), key=lambda r: r["fit_s"])  # noqa: E731
        ck, hg = best("crmkit"), best("hgb")
        lines.append(
            f"      fit ratio vs faster HGB {hg['fit_s'] / ck['fit_s']:.2f}x (bar 1.5x); crmkit 2 vs 1 thread "
            f"{by[('crmkit', 1)]['fit_s'] / by[('crmkit', 2)]['fit_s']:.2f}x speed-up; AUC crmkit - HGB "
            f"{ck['auc'] - hg['auc']:+.4f} (bar +-0.002); peak RSS crmkit/HGB "
            f"{by[('crmkit', 2)]['peak_mb'] / hg['peak_mb']:.2f} (bar <= 1.2; above the data: crmkit "
            f"{by[('crmkit', 2)]['peak_mb'] - by[('crmkit', 2)]['data_mb']:.0f} MB, HGB "
            f"{hg['peak_mb'] - hg['data_mb']:.0f} MB)"
        )
        if ("lightgbm", 1) in by:
            lg = best("lightgbm")
            lines.append(f"      fit ratio vs faster LightGBM {lg['fit_s'] / ck['fit_s']:.2f}x (bar 1.2x)")
    return "\n".join(lines)


def contribution_cases(X, y, quick: bool) -> list:
    """Exact contributions of 100k rows (10k quick) of the bench model against LightGBM's
    ``pred_contrib`` at 1 and at 2 threads (crmkit at rayon's default)."""
    nc = 10_000 if quick else 100_000
    ours = fit_crmkit(X, y)
    theirs = fit_lgbm(X, y, 2)
    Xc = np.ascontiguousarray(X[:nc])
    out = []
    for threads in (1, 2):
        # Bar: crmkit <= 0.5x LightGBM's time, i.e. a peer/crmkit ratio >= 2.
        out.append(Case(f"ml contributions {nc:,} rows (TreeSHAP) vs LightGBM {threads} thread(s)",
                        crmkit=lambda: ours.contributions(Xc),
                        peer=lambda t=threads: theirs.booster_.predict(Xc, pred_contrib=True, num_threads=t),
                        peer_name=f"lightgbm pred_contrib ({threads} thr)", repeat=3, target_ratio=2.0,
                        note="exact path-dependent TreeSHAP, 100 trees x 31 leaves"))
    return out


def cases(quick: bool) -> list:
    from crmkit import ml  # noqa: F401  (fail early when the extension is missing)

    n = N_QUICK if quick else N_FULL
    X, y = make_data(n)
    if os.environ.get("CRMKIT_BENCH_ML") == "contributions":
        # Only the contributions cases (they still fit both models on the full data).
        return contribution_cases(X, y, quick)
    out = [
        Case(f"ml GBDT fit {n:,} x {D} vs HGB 1 thread", crmkit=lambda: fit_crmkit(X, y),
             peer=lambda: fit_hgb(X, y, 1), peer_name="sklearn HGB (1 thr)", repeat=3,
             note="100 iterations, 31 leaves, 255 bins, 5% NaN, early stopping off", target_ratio=1.5),
        Case(f"ml GBDT fit {n:,} x {D} vs HGB 2 threads", crmkit=lambda: fit_crmkit(X, y),
             peer=lambda: fit_hgb(X, y, 2), peer_name="sklearn HGB (2 thr)", repeat=3, target_ratio=1.5),
    ]
    try:
        import lightgbm  # noqa: F401

        out += [
            Case(f"ml GBDT fit {n:,} x {D} vs LightGBM 1 thread", crmkit=lambda: fit_crmkit(X, y),
                 peer=lambda: fit_lgbm(X, y, 1), peer_name="lightgbm (1 thr)", repeat=3, target_ratio=1.2),
            Case(f"ml GBDT fit {n:,} x {D} vs LightGBM 2 threads", crmkit=lambda: fit_crmkit(X, y),
                 peer=lambda: fit_lgbm(X, y, 2), peer_name="lightgbm (2 thr)", repeat=3, target_ratio=1.2),
        ]
        out += contribution_cases(X, y, quick)
    except ImportError:
        print("bench_ml: lightgbm not installed, LightGBM cases skipped", file=sys.stderr)
    out[0].note += "\n" + subprocess_summary(n)
    return out


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        print(json.dumps(worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
    else:
        from _harness import format_table, run_case

        print(format_table([run_case(c) for c in cases("--quick" in sys.argv)]))
