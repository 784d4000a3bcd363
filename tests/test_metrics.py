"""crmkit.metrics against scikit-learn (the reference, used only here) and brute force."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from crmkit import metrics
from crmkit.errors import CrmError

sk = pytest.importorskip("sklearn.metrics")
from sklearn.calibration import calibration_curve  # noqa: E402


def cases():
    rng = np.random.default_rng(11)
    out = []
    for n, decimals in ((7, 1), (500, 2), (20_000, 3), (20_000, 12)):
        y = (rng.random(n) < 0.3).astype(int)
        y[:2] = [0, 1]
        p = np.round(np.clip(rng.beta(2, 3, n) + 0.2 * y, 0, 1), decimals)  # rounding makes ties
        w = rng.gamma(1.0, 1.0, n)
        out.append((y, p, w))
    return out


@pytest.mark.parametrize("case", range(4))
@pytest.mark.parametrize("weighted", [False, True])
def test_scores_equal_scikit_learn(case, weighted):
    y, p, w = cases()[case]
    sw = w if weighted else None
    for ours, theirs in (
        (metrics.roc_auc_score, sk.roc_auc_score),
        (metrics.average_precision_score, sk.average_precision_score),
        (metrics.log_loss, sk.log_loss),
        (metrics.brier_score_loss, sk.brier_score_loss),
    ):
        assert abs(ours(y, p, sample_weight=sw) - theirs(y, p, sample_weight=sw)) <= 1e-12, ours.__name__


def test_inputs_as_series_lists_and_booleans():
    y = [True, False, True, False, True]
    p = pl.Series([0.9, 0.1, 0.5, 0.5, 0.3])
    assert metrics.roc_auc_score(y, p) == sk.roc_auc_score(y, p.to_numpy())
    assert metrics.log_loss(y, p.to_list()) == pytest.approx(sk.log_loss(y, p.to_numpy()), abs=1e-12)


def test_log_loss_clips_certain_mistakes_like_scikit_learn():
    y, p = [1, 0, 1], [0.0, 1.0, 1.0]
    assert abs(metrics.log_loss(y, p) - sk.log_loss(y, p)) <= 1e-12
    assert abs(metrics.log_loss(y, p, normalize=False) - sk.log_loss(y, p, normalize=False)) <= 1e-9


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_calibration_table_equals_calibration_curve(strategy):
    y, p, _ = cases()[2]
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy=strategy)
    t = metrics.calibration_table(y, p, n_bins=10, strategy=strategy)
    np.testing.assert_allclose(t["observed_rate"].to_numpy(), prob_true, rtol=0, atol=1e-12)
    np.testing.assert_allclose(t["mean_predicted"].to_numpy(), prob_pred, rtol=0, atol=1e-12)
    assert t["customers"].sum() == len(y)


def test_expected_calibration_error_by_hand():
    y, p, w = cases()[1]
    # calibration_curve's bins: a probability on an inner edge goes to the lower bin
    ids = (p[:, None] > np.linspace(0, 1, 11)[None, 1:-1]).sum(axis=1)
    ece = sum(
        w[ids == b].sum() / w.sum() * abs(np.average(y[ids == b], weights=w[ids == b]) -
                                          np.average(p[ids == b], weights=w[ids == b]))
        for b in range(10) if (ids == b).any()
    )
    assert metrics.expected_calibration_error(y, p, sample_weight=w) == pytest.approx(ece, abs=1e-12)
    assert metrics.expected_calibration_error([0, 1], [0.0, 1.0]) == 0.0


def test_gains_table_by_brute_force():
    y, p, _ = cases()[1]
    t = metrics.gains_table(y, p, n_bins=10)
    order = np.argsort(-p, kind="stable")
    ys = y[order]
    n = len(y)
    bins = [ys[i * n // 10:(i + 1) * n // 10] for i in range(10)]
    assert t["customers"].to_list() == [len(b) for b in bins]
    assert t["churners"].to_list() == [int(b.sum()) for b in bins]
    np.testing.assert_allclose(t["lift"].to_numpy(), [b.mean() / y.mean() for b in bins], rtol=1e-12)
    np.testing.assert_allclose(t["cumulative_capture"].to_numpy(),
                               np.cumsum([b.sum() for b in bins]) / y.sum(), rtol=1e-12)
    assert t["cumulative_capture"][-1] == pytest.approx(1.0) and t["cumulative_lift"][-1] == pytest.approx(1.0)
    assert t["min_score"].to_list() == sorted(t["min_score"].to_list(), reverse=True)


def test_expected_profit_curve_by_brute_force():
    rng = np.random.default_rng(5)
    n = 300
    p = np.round(rng.random(n), 2)
    y = (rng.random(n) < p).astype(int)
    value = rng.gamma(2.0, 50.0, n)
    cc, ic, ar = 2.0, 15.0, 0.3
    curve = metrics.expected_profit_curve(y, p, value=value, contact_cost=cc, incentive_cost=ic, accept_rate=ar)
    for row in curve.sample(20, seed=1).iter_rows(named=True):
        sel = p >= row["threshold"]
        gain = np.where(y[sel] == 1, ar * (value[sel] - ic), -ic) - cc
        exp_gain = p[sel] * ar * (value[sel] - ic) - (1 - p[sel]) * ic - cc
        assert row["contacted"] == sel.sum()
        assert row["profit"] == pytest.approx(gain.sum(), abs=1e-9)
        assert row["expected_profit"] == pytest.approx(exp_gain.sum(), abs=1e-9)
    best = curve.filter("is_best")
    assert best.height == 1 and best["profit"][0] == curve["profit"].max()
    assert curve["profit"][0] == 0.0 and curve["contacted"][-1] == n
    # without outcomes the best threshold follows the expected profit
    blind = metrics.expected_profit_curve(None, p, value=100.0, contact_cost=cc, incentive_cost=ic, accept_rate=ar)
    assert blind["profit"].null_count() == blind.height
    assert blind.filter("is_best")["expected_profit"][0] == blind["expected_profit"].max()


def test_bad_input_is_named():
    with pytest.raises(CrmError, match="only one class"):
        metrics.roc_auc_score([1, 1], [0.2, 0.3])
    with pytest.raises(CrmError, match="binary labels"):
        metrics.roc_auc_score([0, 2], [0.2, 0.3])
    with pytest.raises(CrmError, match="differ in length"):
        metrics.log_loss([0, 1], [0.2])
    with pytest.raises(CrmError, match=r"probabilities in \[0, 1\]"):
        metrics.brier_score_loss([0, 1], [0.2, 1.5])
    with pytest.raises(CrmError, match="NaN"):
        metrics.average_precision_score([0, 1], [np.nan, 0.5])
    with pytest.raises(CrmError, match="accept_rate"):
        metrics.expected_profit_curve([0, 1], [0.1, 0.5], value=1.0, contact_cost=1, incentive_cost=1,
                                      accept_rate=2)
