"""Churn benchmarks: features on 10M orders / 1M customers (bar: < 10 s), scoring 1M
customers with reasons (bar: < 5 s), and out-of-time accuracy on CDNOW against the
models users would otherwise fit (scikit-learn HistGradientBoosting, LightGBM when
installed, logistic regression, BG/NBD P(no purchase)).

The speed bars are absolute, so the peer of the features case is the vectorised pandas
script users write for the core RFM/window features (a subset of crmkit's); the CDNOW
case times the model fits and reports the AUCs in its note.

Run: `python tests/bench/run.py --only churn [--quick]` or `python tests/bench/bench_churn.py [--quick]`;
`CRMKIT_BENCH_CHURN=features` runs only the features case.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
warnings.filterwarnings("ignore")

try:
    from _harness import Case
except ImportError:  # pragma: no cover - standalone use
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


def pandas_features(orders, cutoff):
    """The vectorised pandas script users write: RFM, tenure, windows, intervals."""
    import pandas as pd

    o = orders[orders["order_date"] < cutoff]
    ago = (cutoff - o["order_date"]).dt.total_seconds() / 86400
    o = o.assign(ago=ago)
    g = o.groupby("customer_id")
    out = pd.DataFrame({"recency": g["ago"].min(), "tenure": g["ago"].max(), "frequency": g.size(),
                        "monetary_sum": g["amount"].sum(), "monetary_mean": g["amount"].mean(),
                        "monetary_max": g["amount"].max()})
    for w in (30, 90, 180, 365):
        inside = o[o["ago"] <= w].groupby("customer_id")
        out[f"orders_{w}d"] = inside.size().reindex(out.index, fill_value=0)
        out[f"spend_{w}d"] = inside["amount"].sum().reindex(out.index, fill_value=0.0)
    days = o.assign(day=o["order_date"].dt.floor("D"))[["customer_id", "day"]].drop_duplicates() \
        .sort_values(["customer_id", "day"])
    days["gap"] = days.groupby("customer_id")["day"].diff().dt.days
    out["interval_mean"] = days.groupby("customer_id")["gap"].mean()
    out["interval_std"] = days.groupby("customer_id")["gap"].std()
    return out


def cdnow() -> pl.DataFrame:
    spec = importlib.util.find_spec("lifetimes")
    path = os.path.join(os.path.dirname(spec.origin), "datasets", "CDNOW_master.txt")
    with open(path) as fh:
        raw = [line.split() for line in fh if line.strip() and line.split()[0].isdigit()]
    return pl.DataFrame({"customer_id": [int(r[0]) for r in raw],
                         "order_date": pl.Series([r[1] for r in raw]).str.to_date("%Y%m%d"),
                         "amount": [float(r[3]) for r in raw]})


def cdnow_report() -> tuple[str, dict]:
    """Out-of-time comparison on CDNOW: train at 1997-07-01, test at 1997-12-31, 182 days."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from crmkit import churn, metrics

    orders = cdnow()
    h = 182
    model = churn.ChurnModel(horizon=h).fit(orders, cutoffs=["1997-07-01"])
    ev = model.evaluate(orders, cutoff="1997-12-31")
    tr = churn.features(orders, cutoff="1997-07-01", horizon=h).join(
        churn.labels(orders, cutoff="1997-07-01", horizon=h), on="customer_id")
    te = churn.features(orders, cutoff="1997-12-31", horizon=h).join(
        churn.labels(orders, cutoff="1997-12-31", horizon=h), on="customer_id")
    names = model.feature_names_in_
    xtr = tr.select(names).fill_null(float("nan")).to_numpy()
    xte = te.select(names).fill_null(float("nan")).to_numpy()
    ytr, yte = tr["churned"].to_numpy(), te["churned"].to_numpy()
    out = {}
    hgb = HistGradientBoostingClassifier(random_state=0).fit(xtr, ytr)
    p = hgb.predict_proba(xte)[:, 1]
    out["sklearn HGB"] = (metrics.roc_auc_score(yte, p), metrics.expected_calibration_error(yte, p))
    try:
        import lightgbm

        lgb = lightgbm.LGBMClassifier(verbose=-1, random_state=0).fit(xtr, ytr)
        p = lgb.predict_proba(xte)[:, 1]
        out["LightGBM"] = (metrics.roc_auc_score(yte, p), metrics.expected_calibration_error(yte, p))
    except ImportError:
        pass

    def prep(x, med):
        miss = np.isnan(x)
        z = np.where(miss, med, x)
        z = np.sign(z) * np.log1p(np.abs(z))
        return np.hstack([z, miss[:, np.any(np.isnan(xtr), axis=0)]])

    med = np.nanmedian(xtr, axis=0)
    lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(prep(xtr, med), ytr)
    p = lr.predict_proba(prep(xte, med))[:, 1]
    out["sklearn LR"] = (metrics.roc_auc_score(yte, p), metrics.expected_calibration_error(yte, p))
    for r in ev.iter_rows(named=True):
        if r["task"] == "churn":
            out[r["model"]] = (r["roc_auc"], r["ece"])
        else:
            out[f"spend: {r['model']}"] = (r["mae"], r["r2"])
    text = "; ".join(f"{k} {v[0]:.3f}/{v[1]:.3f}" if v[1] is not None else f"{k} {v[0]:.3f}" for k, v in out.items())
    return "CDNOW out of time, AUC/ECE (spend: MAE/R2): " + text, out


def cases(quick: bool) -> list[Case]:
    import crmkit
    from crmkit import churn

    n = 20_000 if quick else 1_000_000
    world = crmkit.datasets.generate(n_customers=n, seed=1, event_days=0, bundle_rate=0.0)
    orders = world.orders
    del world
    cutoff = dt.datetime(2025, 7, 1)
    pdf = orders.to_pandas()
    feats = churn.features(orders, cutoff=cutoff)
    out = [
        Case(f"churn.features {orders.height / 1e6:.1f}M orders / {n / 1e6:.2f}M customers",
             lambda: churn.features(orders, cutoff=cutoff),
             lambda: pandas_features(pdf, cutoff), "pandas (RFM/window/interval subset)", repeat=3,
             note=f"{feats.width - 1} features incl. BG/NBD fit; bar: < 10 s absolute"),
    ]
    if os.environ.get("CRMKIT_BENCH_CHURN") == "features":
        return out
    try:
        from crmkit import ml  # noqa: F401
        from crmkit.churn._model import EXACT_REASON_ROWS
    except ImportError:
        return out
    train = churn.training_set(orders, cutoffs=[dt.datetime(2024, 7, 1)], horizon=180)
    sample = train.sample(min(train.height, 200_000), seed=0)
    model = churn.ChurnModel(horizon=180).fit(orders.filter(pl.col("customer_id").is_in(sample["customer_id"].implode())),
                                              cutoffs=["2024-07-01"])
    out.append(Case(f"ChurnModel.score_features {feats.height / 1e6:.2f}M customers with reasons",
                    lambda: model.score_features(feats), repeat=3,
                    note=f"bar: < 5 s absolute; reasons from exact TreeSHAP up to {EXACT_REASON_ROWS:,} customers, "
                         "from the regression's linear contributions above"))
    part = feats.head(min(feats.height, 100_000))
    out.append(Case(f"ChurnModel.score_features {part.height:,} customers, exact TreeSHAP reasons",
                    lambda: model.score_features(part, exact_reasons=True), repeat=3,
                    note="trees explained exactly for every customer"))
    out.append(Case(f"ChurnModel.score {feats.height / 1e6:.2f}M customers (features + scoring + reasons)",
                    lambda: model.score(orders, as_of=cutoff), repeat=1,
                    note="end to end from the orders table"))
    if importlib.util.find_spec("lifetimes") is not None and importlib.util.find_spec("sklearn") is not None:
        note, _ = cdnow_report()
        out.append(Case("CDNOW ChurnModel fit + evaluate", lambda: cdnow_report(), repeat=1, note=note))
    return out


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    for case in cases(quick):
        import time

        t = time.perf_counter()
        case.crmkit()
        print(f"{case.name}: {time.perf_counter() - t:.2f} s  {case.note}")
