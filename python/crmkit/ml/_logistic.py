"""L2 logistic regression fitted in Rust by Newton's method."""

from __future__ import annotations

import json
import os
import warnings
from typing import Any, Optional, Union

import numpy as np

from crmkit import _core
from crmkit.errors import CrmError

from crmkit.ml._boosting import GradientBoostingClassifier

from crmkit.ml._estimator import (_Estimator, _as_frame_or_array, _float_vector, _Features, _encode_fit, _encode,
                                  _n_rows, _class_weights, _binary_target, _write_json, _jsonable, _FORMAT,
                                  _FILE_VERSION, ArrayLike)


# --------------------------------------------------------------------------- logistic regression


class LogisticRegression(_Estimator):
    """Binary logistic regression with an L2 penalty, fitted in Rust by Newton's method.

    The inputs are standardised internally (mean 0, standard deviation 1) and the
    objective is scikit-learn's on that scale: ``0.5 * ||w||² + C * Σ sample_weight *
    log_loss`` (intercept not penalised), so the fit equals scikit-learn's
    ``LogisticRegression(C=C)`` on ``StandardScaler().fit_transform(X)``; ``coef_`` and
    ``intercept_`` are then mapped back to the original units. ``penalty=None`` fits
    without a penalty. Missing values are an error: impute them first (and add missing
    flags, which carry signal in churn data).

    >>> import numpy as np
    >>> rng = np.random.default_rng(3)
    >>> X = rng.normal(size=(5000, 2)) * [1.0, 100.0]
    >>> y = rng.random(5000) < 1 / (1 + np.exp(-(0.8 * X[:, 0] - 0.01 * X[:, 1])))
    >>> lr = LogisticRegression(penalty=None).fit(X, y)
    >>> np.round(lr.coef_, 1).tolist()
    [[0.8, -0.0]]
    >>> lr.predict_proba(X[:2]).shape
    (2, 2)
    """

    _estimator_type = "classifier"

    def __init__(
        self,
        C: float = 1.0,
        penalty: Optional[str] = "l2",
        fit_intercept: bool = True,
        max_iter: int = 100,
        tol: float = 1e-6,
        class_weight: Any = None,
    ) -> None:
        self.C = C
        self.penalty = penalty
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.class_weight = class_weight

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import ClassifierTags, Tags, TargetTags

        return Tags(
            estimator_type="classifier",
            target_tags=TargetTags(required=True),
            classifier_tags=ClassifierTags(multi_class=False),
        )

    def fit(self, X: Any, y: Any, sample_weight: Optional[ArrayLike] = None) -> "LogisticRegression":
        if self.penalty not in ("l2", None, "none"):
            raise CrmError(f"LogisticRegression: penalty must be 'l2' or None, found {self.penalty!r}")
        c = float("inf") if self.penalty in (None, "none") else float(self.C)
        if not c > 0:
            raise CrmError(f"LogisticRegression: C must be > 0, found {self.C!r}")
        X = _as_frame_or_array(X)
        feats, cols = _encode_fit(X, None, 255, allow_categorical=False)
        _check_finite(feats, cols)
        n = _n_rows(cols)
        classes, y_enc = _binary_target(y, n)
        w = None if sample_weight is None else _float_vector(sample_weight, "sample_weight", n)
        cw = _class_weights(self.class_weight, y_enc, classes, w)
        if cw is not None:
            w = cw if w is None else w * cw
        model = _core.logistic_fit(cols, y_enc, w, c, bool(self.fit_intercept), int(self.max_iter), float(self.tol))
        if not model.converged:
            warnings.warn(
                f"LogisticRegression did not converge in max_iter={self.max_iter} Newton steps; increase max_iter",
                stacklevel=2,
            )
        self._set_fitted(model, feats, classes)
        return self

    def _set_fitted(self, model: Any, feats: _Features, classes: np.ndarray) -> None:
        self._model = model
        self._features = feats
        self.classes_ = classes
        self.n_features_in_ = len(feats.names)
        self.feature_names_in_ = np.asarray(feats.names, dtype=object)
        self.coef_ = model.coef.reshape(1, -1)
        self.intercept_ = np.array([model.intercept])
        self.n_iter_ = np.array([model.n_iter])
        #: Coefficients on the standardised scale (comparable across features).
        self.coef_standardized_ = model.coef_standardized.reshape(1, -1)
        self.intercept_standardized_ = np.array([model.intercept_standardized])
        self.mean_ = model.mean
        self.scale_ = model.scale

    def _cols(self, X: Any) -> list[np.ndarray]:
        self._check_fitted()
        cols = _encode(self._features, X)
        _check_finite(self._features, cols)
        return cols

    def decision_function(self, X: Any) -> np.ndarray:
        cols = self._cols(X)
        return np.asarray(self._model.decision_function(cols), dtype=np.float64)

    def predict_proba(self, X: Any) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        raw = self.decision_function(X)
        return self.classes_[(raw > 0).astype(np.int64)]

    def score(self, X: Any, y: Any, sample_weight: Optional[ArrayLike] = None) -> float:
        return GradientBoostingClassifier.score(self, X, y, sample_weight)  # type: ignore[arg-type]

    def save(self, path: Union[str, os.PathLike[str]]) -> None:
        """Writes the fitted model as JSON (read it back with :func:`crmkit.ml.load`)."""
        self._check_fitted()
        doc = {
            "format": _FORMAT,
            "version": _FILE_VERSION,
            "estimator": type(self).__name__,
            "params": _jsonable(self.get_params()),
            "fitted": _jsonable({"features": self._features.to_dict(), "classes": self.classes_.tolist()}),
            "model": json.loads(self._model.to_json()),
        }
        _write_json(path, doc)

    def _restore(self, doc: dict[str, Any]) -> None:
        model = _core.LogisticModel.from_json(json.dumps(doc["model"], allow_nan=False))
        feats = _Features.from_dict(doc["fitted"]["features"])
        if len(model.coef) != len(feats.names):
            raise CrmError("model file: the model and its feature list disagree on the number of features")
        self._set_fitted(model, feats, np.asarray(doc["fitted"]["classes"]))


def _check_finite(feats: _Features, cols: list[np.ndarray]) -> None:
    for name, col in zip(feats.names, cols):
        bad = ~np.isfinite(col)
        if bad.any():
            raise CrmError(
                f"column {name!r}: {int(bad.sum())} missing or infinite value(s); LogisticRegression needs complete "
                "numbers: impute them (and add a missing flag) first"
            )
