"""Gradient-boosted trees and logistic regression in Rust, with scikit-learn's names.

:class:`GradientBoostingClassifier` and :class:`GradientBoostingRegressor` are
histogram gradient boosting as scikit-learn's ``HistGradientBoosting*`` and LightGBM
build it: features binned to at most 255 bins (one more bin for missing values),
per-leaf gradient/hessian histograms with the subtraction trick, leaf-wise
(best-first) growth, L2-regularised leaf values, shrinkage. Missing values (null or
NaN) are handled natively: every split learns which side they go to. Polars
``Categorical``/``Enum``/``String`` columns are native categorical features: a split
sends a *set* of categories left, found by ordering the categories by their
gradient/hessian ratio (as LightGBM and scikit-learn do). A category never seen in
training is treated as missing at prediction time.

``contributions(X)`` gives exact per-row TreeSHAP values (path-dependent, Lundberg et
al. Algorithm 2, as LightGBM's ``pred_contrib``): one column per feature plus
``bias``; each row sums to ``decision_function(X)``.

:class:`AutoClassifier` blends the two on the log-odds with a weight chosen by
cross-validation and calibrates the result: the model to reach for on a customer table.

:class:`LogisticRegression` is an L2-penalised logistic regression fitted by Newton's
method on internally standardised inputs (the penalty applies on that scale, which
makes ``C`` mean the same thing whatever the units of a feature); ``coef_`` and
``intercept_`` are reported on the original scale.

Everything fits inside Rust with the GIL released, uses all rayon threads, and gives
the same model for a ``random_state`` whatever the number of threads. Models are
saved as JSON (:meth:`save`, :func:`load`), never pickled.

``class_weight`` multiplies the sample weights: it helps ranking on rare classes but
it shifts predicted probabilities away from the observed rates (they are no longer
calibrated); leave it ``None`` when you need probabilities.

>>> import numpy as np, polars as pl
>>> from crmkit.ml import GradientBoostingClassifier
>>> rng = np.random.default_rng(0)
>>> X = pl.DataFrame({"recency": rng.exponential(60, 2000),
...                   "channel": rng.choice(["app", "web", "store"], 2000)})
>>> p = 1 / (1 + np.exp(-(X["recency"].to_numpy() / 60 - 1 + (X["channel"] == "web").to_numpy())))
>>> y = rng.random(2000) < p
>>> model = GradientBoostingClassifier(max_iter=50, random_state=0).fit(X, y)
>>> model.predict_proba(X).shape
(2000, 2)
>>> c = model.contributions(X.head(3))
>>> c.columns
['recency', 'channel', 'bias']
>>> bool(np.allclose(c.sum_horizontal().to_numpy(), model.decision_function(X.head(3))))
True
"""


from crmkit.ml._blend import AutoClassifier
from crmkit.ml._boosting import GradientBoostingClassifier, GradientBoostingRegressor
from crmkit.ml._files import load
from crmkit.ml._logistic import LogisticRegression

__all__ = [
    "AutoClassifier",
    "GradientBoostingClassifier",
    "GradientBoostingRegressor",
    "LogisticRegression",
    "load",
]
