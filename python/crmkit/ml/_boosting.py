"""Histogram gradient-boosted trees (the Rust kernels in src/ml/): classifier and regressor."""

from __future__ import annotations

import json
import os
from typing import Any, Iterator, Optional, Union

import numpy as np
import polars as pl

from crmkit import _core
from crmkit.errors import CrmError

from crmkit.ml._estimator import (_Estimator, _as_frame_or_array, _as_vector, _float_vector, _Features, _encode_fit,
                                  _encode, _n_rows, _class_weights, _binary_target, _seed, _write_json, _jsonable,
                                  _FORMAT, _FILE_VERSION, ArrayLike)


# --------------------------------------------------------------------------- boosting


class _BaseGradientBoosting(_Estimator):
    _loss_default = "log_loss"
    # Parameters, set by the subclasses' constructors (scikit-learn's convention).
    learning_rate: float
    max_iter: int
    max_leaf_nodes: Optional[int]
    max_depth: Optional[int]
    min_samples_leaf: int
    l2_regularization: float
    max_bins: int
    early_stopping: Any
    scoring: Any
    validation_fraction: Optional[float]
    n_iter_no_change: int
    tol: float
    random_state: Any
    verbose: int

    def _fit(self, X: Any, y_float: np.ndarray, sample_weight: Optional[np.ndarray], loss: str, power: float,
             feats: _Features, cols: list[np.ndarray]) -> None:
        n = _n_rows(cols)
        early = self.early_stopping
        if early == "auto":
            early = n > 10_000
        elif not isinstance(early, (bool, np.bool_)):
            raise CrmError(f"early_stopping must be 'auto', True or False, found {early!r}")
        if self.scoring not in ("loss", None):
            raise CrmError(f"scoring must be 'loss' (or None), found {self.scoring!r}")
        max_depth = None if self.max_depth is None else int(self.max_depth)
        max_leaf_nodes = 2**31 - 1 if self.max_leaf_nodes is None else int(self.max_leaf_nodes)
        vf = self.validation_fraction
        if vf is not None and isinstance(vf, (int, np.integer)) and vf >= 1:
            vf = float(vf) / n
        model = _core.gbdt_fit(
            cols,
            y_float,
            sample_weight,
            feats.categorical,
            loss,
            float(power),
            float(self.learning_rate),
            int(self.max_iter),
            max_leaf_nodes,
            max_depth,
            int(self.min_samples_leaf),
            float(self.l2_regularization),
            int(self.max_bins),
            bool(early),
            None if vf is None else float(vf),
            int(self.n_iter_no_change),
            float(self.tol if self.tol is not None else 0.0),
            _seed(self.random_state),
        )
        self._model = model
        self._features = feats
        self.n_features_in_ = len(feats.names)
        self.feature_names_in_ = np.asarray(feats.names, dtype=object)
        self.n_iter_ = model.n_iter
        self.do_early_stopping_ = bool(early)
        if early:
            self.train_score_ = model.train_score
            self.validation_score_ = model.validation_score
        if self.verbose:
            print(f"{type(self).__name__}: {model.n_iter} iterations, loss {loss}")

    @property
    def feature_importances_(self) -> np.ndarray:
        """Total split gain per feature, normalised to sum to 1."""
        self._check_fitted()
        return self._model.feature_importances

    def _cols(self, X: Any) -> list[np.ndarray]:
        self._check_fitted()
        return _encode(self._features, X)

    def _raw(self, X: Any) -> np.ndarray:
        cols = self._cols(X)
        return self._model.predict_raw(cols)

    def _staged_raw(self, X: Any) -> Iterator[np.ndarray]:
        cols = self._cols(X)
        raw = None
        for i in range(self._model.n_iter):
            # Trees 0..i: the first call adds the baseline, later ones one tree each.
            step = self._model.predict_raw(cols, i, i + 1)
            raw = step if raw is None else raw + step
            yield raw

    def contributions(self, X: Any) -> Union[pl.DataFrame, np.ndarray]:
        """Exact TreeSHAP contributions on the raw score, one per feature plus ``bias``.

        Path-dependent TreeSHAP (Lundberg et al. 2018, Algorithm 2; LightGBM's
        ``pred_contrib``); for large batches each tree's leaves are tabulated once over
        the subsets of their path features, so a row costs a pass over the leaves (the
        same values to rounding, several times faster). The bias is the expected raw
        score over the training data and every row sums to :meth:`decision_function`
        (to about 1e-12). A polars DataFrame
        in gives a DataFrame out (feature columns, then ``bias``), numpy gives an
        ``(n, n_features + 1)`` array. For the classifier the raw score is the log-odds;
        for Poisson/Tweedie regressors it is the log of the prediction.
        """
        X = _as_frame_or_array(X)
        cols = self._cols(X)
        out = self._model.contributions(cols)
        if isinstance(X, pl.DataFrame):
            names = self._features.names
            return pl.DataFrame({name: out[:, j] for j, name in enumerate(names + ["bias"])})
        return out

    # -- persistence
    def _to_doc(self) -> dict[str, Any]:
        self._check_fitted()
        fitted: dict[str, Any] = {"features": self._features.to_dict(), "do_early_stopping": self.do_early_stopping_}
        if hasattr(self, "classes_"):
            fitted["classes"] = self.classes_.tolist()
        return {
            "format": _FORMAT,
            "version": _FILE_VERSION,
            "estimator": type(self).__name__,
            "params": _jsonable(self.get_params()),
            "fitted": _jsonable(fitted),
            "model": json.loads(self._model.to_json()),
        }

    def save(self, path: Union[str, os.PathLike[str]]) -> None:
        """Writes the fitted model as JSON (read it back with :func:`crmkit.ml.load`)."""
        _write_json(path, self._to_doc())

    def _restore(self, doc: dict[str, Any]) -> None:
        model = _core.GbdtModel.from_json(json.dumps(doc["model"], allow_nan=False))
        feats = _Features.from_dict(doc["fitted"]["features"])
        if model.n_features != len(feats.names):
            raise CrmError("model file: the model and its feature list disagree on the number of features")
        self._model = model
        self._features = feats
        self.n_features_in_ = len(feats.names)
        self.feature_names_in_ = np.asarray(feats.names, dtype=object)
        self.n_iter_ = model.n_iter
        self.do_early_stopping_ = bool(doc["fitted"].get("do_early_stopping", False))
        if self.do_early_stopping_:
            self.train_score_ = model.train_score
            self.validation_score_ = model.validation_score
        if "classes" in doc["fitted"]:
            self.classes_ = np.asarray(doc["fitted"]["classes"])


class GradientBoostingClassifier(_BaseGradientBoosting):
    """Histogram gradient-boosted trees for binary classification (log loss).

    Parameters and fitted attributes follow scikit-learn's
    ``HistGradientBoostingClassifier``; ``early_stopping="auto"`` turns early stopping on
    for more than 10,000 rows. ``class_weight`` ("balanced" or a dict) multiplies the
    sample weights and so distorts predicted probabilities (see the module docstring).

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(1000, 3))
    >>> y = (X[:, 0] + 0.5 * rng.normal(size=1000) > 0).astype(int)
    >>> clf = GradientBoostingClassifier(max_iter=30, random_state=0).fit(X, y)
    >>> clf.classes_.tolist(), clf.n_iter_
    ([0, 1], 30)
    >>> float((clf.predict(X) == y).mean()) > 0.85
    True
    >>> int(np.argmax(clf.feature_importances_))
    0
    """

    def __init__(
        self,
        loss: str = "log_loss",
        learning_rate: float = 0.1,
        max_iter: int = 100,
        max_leaf_nodes: Optional[int] = 31,
        max_depth: Optional[int] = None,
        min_samples_leaf: int = 20,
        l2_regularization: float = 0.0,
        max_bins: int = 255,
        categorical_features: Any = "auto",
        early_stopping: Union[str, bool] = "auto",
        scoring: Optional[str] = "loss",
        validation_fraction: Optional[float] = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-7,
        class_weight: Any = None,
        random_state: Optional[int] = None,
        verbose: int = 0,
    ) -> None:
        self.loss = loss
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.max_bins = max_bins
        self.categorical_features = categorical_features
        self.early_stopping = early_stopping
        self.scoring = scoring
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.class_weight = class_weight
        self.random_state = random_state
        self.verbose = verbose

    _estimator_type = "classifier"

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(
            estimator_type="classifier",
            target_tags=TargetTags(required=True),
            classifier_tags=ClassifierTags(multi_class=False),
            input_tags=InputTags(allow_nan=True),
        )

    def fit(self, X: Any, y: Any, sample_weight: Optional[ArrayLike] = None) -> "GradientBoostingClassifier":
        """Fits the model; X is a polars DataFrame (or LazyFrame, pandas) or a 2-D array."""
        if self.loss != "log_loss":
            raise CrmError(f"GradientBoostingClassifier: loss must be 'log_loss', found {self.loss!r}")
        X = _as_frame_or_array(X)
        feats, cols = _encode_fit(X, self.categorical_features, int(self.max_bins))
        n = _n_rows(cols)
        classes, y_enc = _binary_target(y, n)
        w = None if sample_weight is None else _float_vector(sample_weight, "sample_weight", n)
        cw = _class_weights(self.class_weight, y_enc, classes, w)
        if cw is not None:
            w = cw if w is None else w * cw
        self.classes_ = classes
        self.n_classes_ = 2
        self._fit(X, y_enc, w, "log_loss", 0.0, feats, cols)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Raw score (log-odds of the second class in ``classes_``)."""
        return self._raw(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n, 2), columns in ``classes_`` order."""
        p = 1.0 / (1.0 + np.exp(-self._raw(X)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        raw = self._raw(X)
        return self.classes_[(raw > 0).astype(np.int64)]

    def staged_predict_proba(self, X: Any) -> Iterator[np.ndarray]:
        """Probabilities after each iteration (a generator, as scikit-learn's)."""
        for raw in self._staged_raw(X):
            p = 1.0 / (1.0 + np.exp(-raw))
            yield np.column_stack([1.0 - p, p])

    def staged_decision_function(self, X: Any) -> Iterator[np.ndarray]:
        yield from self._staged_raw(X)

    def staged_predict(self, X: Any) -> Iterator[np.ndarray]:
        for raw in self._staged_raw(X):
            yield self.classes_[(raw > 0).astype(np.int64)]

    def score(self, X: Any, y: Any, sample_weight: Optional[ArrayLike] = None) -> float:
        """Accuracy, as scikit-learn's classifiers."""
        pred = self.predict(X)
        truth = _as_vector(y, "y")
        hit = (pred == truth).astype(np.float64)
        if sample_weight is None:
            return float(hit.mean())
        w = _float_vector(sample_weight, "sample_weight", hit.shape[0])
        return float((hit * w).sum() / w.sum())


class GradientBoostingRegressor(_BaseGradientBoosting):
    """Histogram gradient-boosted trees for regression.

    ``loss="squared_error"`` (identity link), ``"poisson"`` or ``"tweedie"`` (log link,
    targets >= 0; Tweedie with ``tweedie_power`` in (1, 2), the usual choice for spend
    with many zeros). Parameters follow scikit-learn's ``HistGradientBoostingRegressor``.

    >>> import numpy as np
    >>> rng = np.random.default_rng(2)
    >>> X = rng.uniform(size=(2000, 2))
    >>> y = rng.poisson(np.exp(1 + 2 * X[:, 0]))
    >>> reg = GradientBoostingRegressor(loss="poisson", max_iter=50, random_state=0).fit(X, y)
    >>> bool(abs(reg.predict(X).mean() - y.mean()) < 0.05 * y.mean())
    True
    """

    def __init__(
        self,
        loss: str = "squared_error",
        learning_rate: float = 0.1,
        max_iter: int = 100,
        max_leaf_nodes: Optional[int] = 31,
        max_depth: Optional[int] = None,
        min_samples_leaf: int = 20,
        l2_regularization: float = 0.0,
        max_bins: int = 255,
        categorical_features: Any = "auto",
        early_stopping: Union[str, bool] = "auto",
        scoring: Optional[str] = "loss",
        validation_fraction: Optional[float] = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-7,
        tweedie_power: float = 1.5,
        random_state: Optional[int] = None,
        verbose: int = 0,
        power: Optional[float] = None,
    ) -> None:
        self.loss = loss
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.max_bins = max_bins
        self.categorical_features = categorical_features
        self.early_stopping = early_stopping
        self.scoring = scoring
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.tweedie_power = tweedie_power
        self.random_state = random_state
        self.verbose = verbose
        self.power = power

    _estimator_type = "regressor"

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import InputTags, RegressorTags, Tags, TargetTags

        return Tags(
            estimator_type="regressor",
            target_tags=TargetTags(required=True),
            regressor_tags=RegressorTags(),
            input_tags=InputTags(allow_nan=True),
        )

    def fit(self, X: Any, y: Any, sample_weight: Optional[ArrayLike] = None) -> "GradientBoostingRegressor":
        """Fits the model; X is a polars DataFrame (or LazyFrame, pandas) or a 2-D array."""
        if self.loss not in ("squared_error", "poisson", "tweedie"):
            raise CrmError(
                f"GradientBoostingRegressor: loss must be 'squared_error', 'poisson' or 'tweedie', found {self.loss!r}"
            )
        X = _as_frame_or_array(X)
        feats, cols = _encode_fit(X, self.categorical_features, int(self.max_bins))
        n = _n_rows(cols)
        yv = _float_vector(y, "y", n)
        w = None if sample_weight is None else _float_vector(sample_weight, "sample_weight", n)
        power = self.tweedie_power if self.power is None else self.power
        self._fit(X, yv, w, self.loss, float(power), feats, cols)
        return self

    def _link_inverse(self, raw: np.ndarray) -> np.ndarray:
        return raw if self._model.loss == "squared_error" else np.exp(raw)

    def decision_function(self, X: Any) -> np.ndarray:
        """Raw score (the prediction itself for squared error, its log for Poisson/Tweedie)."""
        return self._raw(X)

    def predict(self, X: Any) -> np.ndarray:
        return self._link_inverse(self._raw(X))

    def staged_predict(self, X: Any) -> Iterator[np.ndarray]:
        for raw in self._staged_raw(X):
            yield self._link_inverse(raw)

    def score(self, X: Any, y: Any, sample_weight: Optional[ArrayLike] = None) -> float:
        """R², as scikit-learn's regressors."""
        pred = self.predict(X)
        truth = _float_vector(y, "y", pred.shape[0])
        w = np.ones_like(truth) if sample_weight is None else _float_vector(sample_weight, "sample_weight", pred.shape[0])
        mean = (w * truth).sum() / w.sum()
        ss_res = (w * (truth - pred) ** 2).sum()
        ss_tot = (w * (truth - mean) ** 2).sum()
        return float(1.0 - ss_res / ss_tot) if ss_tot > 0 else 0.0
