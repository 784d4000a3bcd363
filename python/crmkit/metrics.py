"""Metrics for scores and probabilities: ranking, calibration and the contact decision.

``roc_auc_score``, ``average_precision_score``, ``log_loss`` and
``brier_score_loss`` carry scikit-learn's names and arguments and give its numbers
(ties and ``sample_weight`` included) without importing it. ``gains_table``,
``calibration_table`` and ``expected_calibration_error`` are the tables analysts
build by hand for a churn model, and ``expected_profit_curve`` answers the question
a retention team actually has: whom to contact, given what a customer is worth and
what the contact and the incentive cost.

Everything is vectorised (one sort, cumulative sums); inputs are numpy arrays,
lists or polars Series.

>>> from crmkit import metrics
>>> y = [0, 0, 1, 1]
>>> p = [0.1, 0.4, 0.35, 0.8]
>>> metrics.roc_auc_score(y, p)
0.75
>>> round(metrics.average_precision_score(y, p), 4)
0.8333
"""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np
import polars as pl

from crmkit.errors import CrmError

__all__ = [
    "roc_auc_score",
    "average_precision_score",
    "log_loss",
    "brier_score_loss",
    "gains_table",
    "calibration_table",
    "expected_calibration_error",
    "expected_profit_curve",
]

ArrayLike = Any


def _array(values: ArrayLike, name: str, function: str) -> np.ndarray:
    if isinstance(values, pl.Series):
        if values.null_count():
            raise CrmError(f"{function}: '{name}' holds {values.null_count()} null value(s)")
        values = values.to_numpy()
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise CrmError(f"{function}: '{name}' must be numeric, found {type(values).__name__} ({e})") from None
    if arr.ndim != 1:
        raise CrmError(f"{function}: '{name}' must be one-dimensional, found shape {arr.shape}")
    bad = int(np.count_nonzero(~np.isfinite(arr)))
    if bad:
        raise CrmError(f"{function}: '{name}' holds {bad} NaN or infinite value(s)")
    return arr


def _inputs(y_true: ArrayLike, score: ArrayLike, sample_weight: ArrayLike, function: str,
            score_name: str = "y_score", *, probability: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = _array(y_true, "y_true", function)
    s = _array(score, score_name, function)
    if len(y) != len(s):
        raise CrmError(f"{function}: y_true and {score_name} differ in length ({len(y)} vs {len(s)})")
    if len(y) == 0:
        raise CrmError(f"{function}: no samples given (0 rows)")
    labels = np.unique(y)
    if not np.all(np.isin(labels, (0.0, 1.0))):
        raise CrmError(f"{function}: y_true must hold binary labels 0/1 (or booleans), found values "
                       f"{labels[:5].tolist()}")
    if probability and (s.min() < 0 or s.max() > 1):
        raise CrmError(f"{function}: {score_name} must be probabilities in [0, 1], found range "
                       f"[{s.min():g}, {s.max():g}]")
    if sample_weight is None:
        w = np.ones(len(y))
    else:
        w = _array(sample_weight, "sample_weight", function)
        if len(w) != len(y):
            raise CrmError(f"{function}: sample_weight has length {len(w)}, expected {len(y)}")
        if np.any(w < 0):
            raise CrmError(f"{function}: sample_weight must be non-negative")
    return y, s, w


def _curve(y: np.ndarray, s: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted false and true positives at each distinct score, highest first
    (scikit-learn's _binary_clf_curve): fps, tps, thresholds."""
    order = np.argsort(s, kind="mergesort")[::-1]
    s, y, w = s[order], y[order], w[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each run of equal scores
    tps = np.cumsum(y * w)[last]
    fps = np.cumsum((1.0 - y) * w)[last]
    return fps, tps, s[last]


def roc_auc_score(y_true: ArrayLike, y_score: ArrayLike, *, sample_weight: ArrayLike = None) -> float:
    """Area under the ROC curve (binary), as scikit-learn computes it: tied scores
    form one diagonal step (they count one half).

    >>> roc_auc_score([0, 1, 1, 0], [0.2, 0.9, 0.5, 0.5])
    0.875
    """
    fn = "metrics.roc_auc_score"
    y, s, w = _inputs(y_true, y_score, sample_weight, fn)
    fps, tps, _ = _curve(y, s, w)
    if tps[-1] <= 0 or fps[-1] <= 0:
        raise CrmError(f"{fn}: only one class present in y_true; ROC AUC is not defined")
    fpr = np.r_[0.0, fps] / fps[-1]
    tpr = np.r_[0.0, tps] / tps[-1]
    return float(np.trapezoid(tpr, fpr))


def average_precision_score(y_true: ArrayLike, y_score: ArrayLike, *, sample_weight: ArrayLike = None) -> float:
    """Average precision (the step-wise area under the precision-recall curve, no
    interpolation), as scikit-learn: sum over thresholds of (R_k - R_(k-1)) P_k.

    >>> average_precision_score([0, 1, 1, 0], [0.2, 0.9, 0.5, 0.5])
    0.8333333333333333
    """
    fn = "metrics.average_precision_score"
    y, s, w = _inputs(y_true, y_score, sample_weight, fn)
    fps, tps, _ = _curve(y, s, w)
    if tps[-1] <= 0:
        # scikit-learn warns and returns 0 here (recall is undefined without positives).
        raise CrmError(f"{fn}: y_true has no positive sample; average precision is not defined")
    precision = tps / np.maximum(tps + fps, np.finfo(np.float64).tiny)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def log_loss(y_true: ArrayLike, y_pred: ArrayLike, *, normalize: bool = True, sample_weight: ArrayLike = None) -> float:
    """Binary cross-entropy of probabilities ``y_pred`` of the positive class, with
    scikit-learn's clipping to [eps, 1 - eps] (eps of float64).

    >>> round(log_loss([0, 1, 1], [0.1, 0.8, 0.6]), 6)
    0.279777
    """
    fn = "metrics.log_loss"
    y, p, w = _inputs(y_true, y_pred, sample_weight, fn, "y_pred", probability=True)
    eps = np.finfo(np.float64).eps
    p = np.clip(p, eps, 1 - eps)
    loss = -(y * np.log(p) + (1.0 - y) * np.log1p(-p))
    total = float(np.sum(loss * w))
    return total / float(np.sum(w)) if normalize else total


def brier_score_loss(y_true: ArrayLike, y_proba: ArrayLike, *, sample_weight: ArrayLike = None) -> float:
    """Mean squared difference between the outcome (0/1) and its predicted probability.

    >>> round(brier_score_loss([0, 1, 1], [0.1, 0.8, 0.6]), 6)
    0.07
    """
    fn = "metrics.brier_score_loss"
    y, p, w = _inputs(y_true, y_proba, sample_weight, fn, "y_proba", probability=True)
    return float(np.average((y - p) ** 2, weights=w))


def gains_table(y_true: ArrayLike, y_score: ArrayLike, *, n_bins: int = 10) -> pl.DataFrame:
    """Customers ranked by score (highest first) and cut into ``n_bins`` equal groups
    (deciles by default): per group ``customers``, ``churners`` (positives), ``rate``,
    ``lift`` (rate over the overall rate), and cumulatively ``cumulative_customers``,
    ``cumulative_churners``, ``cumulative_capture`` (share of all churners reached)
    and ``cumulative_lift``; ``min_score``/``max_score`` bound each group. Ties are
    kept in input order (a stable sort), so the table is deterministic.

    >>> t = gains_table([1, 0, 1, 0, 0, 1, 0, 0, 0, 0], [.9, .8, .7, .6, .5, .4, .3, .2, .1, 0], n_bins=5)
    >>> t.select("bin", "customers", "churners", "lift", "cumulative_capture").rows()[:2]
    [(1, 2, 1, 1.6666666666666667, 0.3333333333333333), (2, 2, 1, 1.6666666666666667, 0.6666666666666666)]
    """
    fn = "metrics.gains_table"
    y, s, _ = _inputs(y_true, y_score, None, fn)
    n = len(y)
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or not 1 <= n_bins <= n:
        raise CrmError(f"{fn}: n_bins must be an integer from 1 to the number of samples ({n}), found {n_bins!r}")
    order = np.argsort(-s, kind="stable")
    groups = (np.arange(n) * n_bins // n) + 1
    frame = pl.DataFrame({"bin": groups, "y": y[order], "s": s[order]})
    overall = float(y.mean())
    total = float(y.sum())
    out = (
        frame.group_by("bin", maintain_order=True)
        .agg(pl.len().cast(pl.Int64).alias("customers"), pl.col("y").sum().cast(pl.Int64).alias("churners"),
             pl.col("s").min().alias("min_score"), pl.col("s").max().alias("max_score"))
        .with_columns(rate=pl.col("churners") / pl.col("customers"))
        .with_columns(
            lift=pl.col("rate") / overall if overall > 0 else pl.lit(None, pl.Float64),
            cumulative_customers=pl.col("customers").cum_sum(),
            cumulative_churners=pl.col("churners").cum_sum(),
        )
        .with_columns(
            cumulative_capture=pl.col("cumulative_churners") / total if total > 0 else pl.lit(None, pl.Float64),
            cumulative_lift=(pl.col("cumulative_churners") / pl.col("cumulative_customers") / overall)
            if overall > 0 else pl.lit(None, pl.Float64),
        )
    )
    return out.select("bin", "customers", "churners", "rate", "lift", "cumulative_customers", "cumulative_churners",
                      "cumulative_capture", "cumulative_lift", "min_score", "max_score")


def _bins(p: np.ndarray, n_bins: int, strategy: str, function: str) -> np.ndarray:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise CrmError(f"{function}: n_bins must be a positive integer, found {n_bins!r}")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.percentile(p, np.linspace(0, 100, n_bins + 1))
    else:
        raise CrmError(f"{function}: strategy must be 'uniform' or 'quantile', found {strategy!r}")
    # scikit-learn's calibration_curve: a probability on an inner edge goes to the lower bin.
    return np.searchsorted(edges[1:-1], p)


def calibration_table(y_true: ArrayLike, y_prob: ArrayLike, *, n_bins: int = 10, strategy: str = "uniform",
                      sample_weight: ArrayLike = None) -> pl.DataFrame:
    """Predicted against observed rates per probability bin (the numbers of a reliability
    diagram): ``bin``, ``customers`` (weight), ``mean_predicted``, ``observed_rate``, ``gap``.
    Bins as scikit-learn's ``calibration_curve`` (``uniform`` or ``quantile``; empty bins
    are left out), so without weights ``observed_rate`` and ``mean_predicted`` equal its
    ``prob_true`` and ``prob_pred``.

    >>> calibration_table([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], n_bins=2).select("bin", "observed_rate").rows()
    [(0, 0.0), (1, 1.0)]
    """
    fn = "metrics.calibration_table"
    y, p, w = _inputs(y_true, y_prob, sample_weight, fn, "y_prob", probability=True)
    ids = _bins(p, n_bins, strategy, fn)
    k = n_bins
    weight = np.bincount(ids, weights=w, minlength=k)
    pred = np.bincount(ids, weights=w * p, minlength=k)
    obs = np.bincount(ids, weights=w * y, minlength=k)
    keep = weight > 0
    mean_pred = pred[keep] / weight[keep]
    rate = obs[keep] / weight[keep]
    return pl.DataFrame({
        "bin": np.flatnonzero(keep).astype(np.int64),
        "customers": weight[keep],
        "mean_predicted": mean_pred,
        "observed_rate": rate,
        "gap": rate - mean_pred,
    })


def expected_calibration_error(y_true: ArrayLike, y_prob: ArrayLike, *, n_bins: int = 10,
                               strategy: str = "uniform", sample_weight: ArrayLike = None) -> float:
    """Expected calibration error: the bins' |observed rate - mean predicted|
    averaged with the bins' weights (``calibration_table``'s bins).

    >>> expected_calibration_error([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], n_bins=2)
    0.175
    """
    t = calibration_table(y_true, y_prob, n_bins=n_bins, strategy=strategy, sample_weight=sample_weight)
    w = t["customers"].to_numpy()
    return float(np.sum(w * np.abs(t["gap"].to_numpy())) / np.sum(w))


def expected_profit_curve(
    y_true: Optional[ArrayLike],
    y_prob: ArrayLike,
    *,
    value: Union[float, ArrayLike],
    contact_cost: float,
    incentive_cost: float,
    accept_rate: float,
) -> pl.DataFrame:
    """Profit of a retention campaign that contacts every customer whose churn
    probability is at least the threshold, for every threshold, and the best one.

    The economics (Verbraken et al.'s expected maximum profit framework): every
    contact costs ``contact_cost``; a would-be churner who is contacted accepts the
    offer with probability ``accept_rate`` and is kept, worth ``value`` (per customer,
    e.g. the CLV or expected future spend) minus ``incentive_cost``; a customer who was
    not going to leave takes the incentive anyway (a pure cost). So contacting customer
    i is worth ``y_i * accept_rate * (value_i - incentive_cost) - (1 - y_i) * incentive_cost
    - contact_cost``.

    Columns: ``threshold`` (contact if probability >= threshold; the first row,
    threshold +inf, contacts nobody), ``contacted``, ``share_contacted``,
    ``expected_profit`` (with y_i replaced by the probability: what the model expects,
    usable before outcomes are known), ``churners_contacted`` and ``profit`` (realised,
    from ``y_true``; null when ``y_true`` is None) and ``is_best`` marking the
    threshold of the highest profit (realised when ``y_true`` is given, else expected).

    >>> curve = expected_profit_curve([1, 0, 1, 0], [0.9, 0.6, 0.5, 0.1], value=100.0, contact_cost=1.0,
    ...                               incentive_cost=10.0, accept_rate=0.5)
    >>> curve.filter("is_best").select("threshold", "contacted", "profit").row(0)
    (0.5, 3, 77.0)
    """
    fn = "metrics.expected_profit_curve"
    p = _array(y_prob, "y_prob", fn)
    n = len(p)
    if n == 0:
        raise CrmError(f"{fn}: no samples given (0 rows)")
    if p.min() < 0 or p.max() > 1:
        raise CrmError(f"{fn}: y_prob must be probabilities in [0, 1]")
    if y_true is not None:
        y, _, _ = _inputs(y_true, p, None, fn, "y_prob")
    for name, v in (("contact_cost", contact_cost), ("incentive_cost", incentive_cost)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not np.isfinite(v) or v < 0:
            raise CrmError(f"{fn}: {name} must be a non-negative number, found {v!r}")
    if isinstance(accept_rate, bool) or not isinstance(accept_rate, (int, float, np.integer, np.floating)) \
            or not 0 <= accept_rate <= 1:
        raise CrmError(f"{fn}: accept_rate must be a probability in [0, 1], found {accept_rate!r}")
    if np.ndim(value) == 0:
        values = np.full(n, float(value))
    else:
        values = _array(value, "value", fn)
        if len(values) != n:
            raise CrmError(f"{fn}: value has length {len(values)}, expected {n} (one per customer) or a single number")
    keep_gain = accept_rate * (values - incentive_cost)
    lose = -incentive_cost
    order = np.argsort(-p, kind="stable")
    ps = p[order]
    last = np.r_[np.flatnonzero(np.diff(ps)), n - 1]  # contact whole groups of tied probabilities
    contacted = last + 1
    exp_gain = np.cumsum(ps * keep_gain[order] + (1 - ps) * lose - contact_cost)[last]
    cols: dict[str, Any] = {
        "threshold": np.r_[np.inf, ps[last]],
        "contacted": np.r_[0, contacted].astype(np.int64),
        "share_contacted": np.r_[0, contacted] / n,
        "expected_profit": np.r_[0.0, exp_gain],
    }
    if y_true is not None:
        ys = y[order]
        gain = np.cumsum(ys * keep_gain[order] + (1 - ys) * lose - contact_cost)[last]
        cols["churners_contacted"] = np.r_[0, np.cumsum(ys)[last]].astype(np.int64)
        cols["profit"] = np.r_[0.0, gain]
        best = int(np.argmax(cols["profit"]))
    else:
        cols["churners_contacted"] = pl.Series([None] * (len(last) + 1), dtype=pl.Int64)
        cols["profit"] = pl.Series([None] * (len(last) + 1), dtype=pl.Float64)
        best = int(np.argmax(cols["expected_profit"]))
    flags = np.zeros(len(last) + 1, dtype=bool)
    flags[best] = True
    cols["is_best"] = flags
    return pl.DataFrame(cols)
