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

from __future__ import annotations

import inspect
import json
import os
import warnings
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence, Union

import numpy as np
import polars as pl

from crmkit import _core
from crmkit.errors import CrmError, SchemaError

if TYPE_CHECKING:
    from crmkit._blend import AutoClassifier

__all__ = [
    "AutoClassifier",
    "GradientBoostingClassifier",
    "GradientBoostingRegressor",
    "LogisticRegression",
    "load",
]

_FORMAT = "crmkit.ml"
_FILE_VERSION = 1

ArrayLike = Any


# --------------------------------------------------------------------------- helpers


class _Estimator:
    """get_params/set_params/repr from the constructor signature (scikit-learn's protocol),
    so ``sklearn.base.clone`` and the model-selection utilities work."""

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> "_Estimator":
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise CrmError(
                    f"{type(self).__name__}.set_params: unknown parameter {key!r}; valid parameters are {sorted(valid)}"
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values() if p.name != "self"
        }
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if not _same(v, defaults.get(k))]
        return f"{type(self).__name__}({', '.join(changed)})"

    def _check_fitted(self) -> None:
        if getattr(self, "_model", None) is None:
            raise CrmError(f"this {type(self).__name__} is not fitted yet: call fit(X, y) first")


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:
        return a is b


def _is_categorical_dtype(dtype: pl.DataType) -> bool:
    return dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))


def _as_frame_or_array(X: Any, argument: str = "X") -> Union[pl.DataFrame, np.ndarray]:
    if isinstance(X, pl.LazyFrame):
        X = X.collect()
    if isinstance(X, pl.DataFrame):
        return X
    if type(X).__module__.startswith("pandas"):
        return pl.from_pandas(X)
    try:
        arr = np.asarray(X)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise CrmError(f"argument {argument!r}: expected a polars DataFrame or a 2-D array, found {type(X).__name__}") from exc
    if arr.ndim != 2:
        raise CrmError(
            f"argument {argument!r}: expected a 2-D array (rows x features), found an array with {arr.ndim} dimension(s)"
        )
    return arr


def _as_vector(v: Any, argument: str) -> np.ndarray:
    if isinstance(v, (pl.DataFrame, pl.LazyFrame)):
        raise CrmError(f"argument {argument!r}: expected a Series, list or 1-D array, found a DataFrame")
    if isinstance(v, pl.Series):
        if v.null_count() > 0:
            raise CrmError(f"argument {argument!r}: holds {v.null_count()} null value(s); remove or fill them first")
        return v.to_numpy()
    arr = np.asarray(v)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise CrmError(f"argument {argument!r}: expected a 1-D array, found shape {arr.shape}")
    return arr


def _float_vector(v: Any, argument: str, n: int) -> np.ndarray:
    arr = _as_vector(v, argument)
    if arr.shape[0] != n:
        raise CrmError(f"argument {argument!r}: has {arr.shape[0]} values but X has {n} rows")
    try:
        out = np.ascontiguousarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CrmError(f"argument {argument!r}: expected numbers, found dtype {arr.dtype}") from exc
    return out


class _Features:
    """What fit learned about X's columns: names, which are categorical and their levels."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.from_frame = False
        self.categorical: list[bool] = []
        self.categories: list[Optional[list[Any]]] = []

    def to_dict(self) -> dict[str, Any]:
        return {
            "names": self.names,
            "from_frame": self.from_frame,
            "categorical": self.categorical,
            "categories": self.categories,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "_Features":
        f = cls()
        f.names = list(d["names"])
        f.from_frame = bool(d["from_frame"])
        f.categorical = [bool(c) for c in d["categorical"]]
        f.categories = [None if c is None else list(c) for c in d["categories"]]
        if not (len(f.names) == len(f.categorical) == len(f.categories)):
            raise CrmError("model file: feature lists have different lengths")
        return f


def _categorical_mask(spec: Any, names: list[str], frame: Optional[pl.DataFrame]) -> list[bool]:
    d = len(names)
    if isinstance(spec, str) and spec in ("auto", "from_dtype"):
        if frame is None:
            return [False] * d
        return [_is_categorical_dtype(frame.schema[n]) for n in names]
    if spec is None:
        return [False] * d
    items = list(np.asarray(spec).tolist()) if not isinstance(spec, (list, tuple)) else list(spec)
    if items and all(isinstance(v, (bool, np.bool_)) for v in items):
        if len(items) != d:
            raise CrmError(f"categorical_features: a boolean mask needs {d} entries, found {len(items)}")
        return [bool(v) for v in items]
    mask = [False] * d
    for v in items:
        if isinstance(v, str):
            if v not in names:
                raise SchemaError(f"categorical_features: column {v!r} is not in X (columns: {names})")
            mask[names.index(v)] = True
        elif isinstance(v, (int, np.integer)) and 0 <= int(v) < d:
            mask[int(v)] = True
        else:
            raise CrmError(f"categorical_features: expected column names, indices or a boolean mask, found {v!r}")
    return mask


def _encode_fit(X: Union[pl.DataFrame, np.ndarray], spec: Any, max_bins: int, allow_categorical: bool = True
                ) -> tuple[_Features, list[np.ndarray]]:
    feats = _Features()
    if isinstance(X, pl.DataFrame):
        feats.from_frame = True
        feats.names = list(X.columns)
        mask = _categorical_mask(spec, feats.names, X)
    else:
        feats.names = [f"x{j}" for j in range(X.shape[1])]
        mask = _categorical_mask(spec, feats.names, None)
    if not allow_categorical and any(mask):
        col = feats.names[mask.index(True)]
        raise SchemaError(
            f"column {col!r}: expected a numeric or boolean column, found a categorical one; "
            "one-hot encode it first (LogisticRegression takes numbers only)"
        )
    feats.categorical = mask
    n = X.height if isinstance(X, pl.DataFrame) else X.shape[0]
    if n == 0 or len(feats.names) == 0:
        raise CrmError(f"X is empty ({n} rows x {len(feats.names)} columns): fit needs at least one row and one column")
    cols: list[np.ndarray] = []
    for j, name in enumerate(feats.names):
        if mask[j]:
            levels, codes = _fit_categories(X, j, name, max_bins)
            feats.categories.append(levels)
            cols.append(codes)
        else:
            feats.categories.append(None)
            cols.append(_numeric_column(X, j, name))
    return feats, cols


def _fit_categories(X: Union[pl.DataFrame, np.ndarray], j: int, name: str, max_bins: int) -> tuple[list[Any], np.ndarray]:
    if isinstance(X, pl.DataFrame):
        s = X.get_column(name)
        if not (_is_categorical_dtype(s.dtype) or s.dtype.is_integer() or s.dtype == pl.Boolean):
            raise SchemaError(
                f"column {name!r}: a categorical feature must be a String, Categorical, Enum, integer or boolean column, "
                f"found {s.dtype}"
            )
        s = s.cast(pl.String)
        counts = s.drop_nulls().value_counts(sort=False)
        vc = counts.sort([counts.columns[1], counts.columns[0]], descending=[True, False])
        levels = vc.get_column(counts.columns[0]).to_list()
    else:
        col = np.asarray(X[:, j], dtype=np.float64)
        vals, cnt = np.unique(col[~np.isnan(col)], return_counts=True)
        order = np.lexsort((vals, -cnt))
        levels = [float(v) for v in vals[order]]
    if len(levels) > max_bins:
        warnings.warn(
            f"column {name!r}: {len(levels)} categories but max_bins={max_bins}; the {len(levels) - max_bins} rarest "
            "are treated as missing values",
            stacklevel=4,
        )
        levels = levels[:max_bins]
    return levels, _category_codes(X, j, name, levels)


def _category_codes(X: Union[pl.DataFrame, np.ndarray], j: int, name: str, levels: list[Any]) -> np.ndarray:
    """Codes 0..k-1 in `levels` order; null, NaN and unseen categories become NaN."""
    if isinstance(X, pl.DataFrame):
        s = X.get_column(name)
        if not (_is_categorical_dtype(s.dtype) or s.dtype.is_integer() or s.dtype == pl.Boolean):
            raise SchemaError(f"column {name!r}: expected a categorical (string) column as in fit, found {s.dtype}")
        if not levels:
            return np.full(s.len(), np.nan)
        codes = s.cast(pl.String).replace_strict(
            levels, list(range(len(levels))), default=None, return_dtype=pl.Float64
        )
        return codes.fill_null(np.nan).to_numpy()
    col = np.asarray(X[:, j], dtype=np.float64)
    lv = np.asarray(levels, dtype=np.float64)
    if lv.size == 0:
        return np.full(col.shape, np.nan)
    order = np.argsort(lv)
    sorted_lv = lv[order]
    pos = np.clip(np.searchsorted(sorted_lv, col), 0, lv.size - 1)
    found = sorted_lv[pos] == col
    return np.where(found, order[pos].astype(np.float64), np.nan)


def _numeric_column(X: Union[pl.DataFrame, np.ndarray], j: int, name: str) -> np.ndarray:
    if isinstance(X, pl.DataFrame):
        s = X.get_column(name)
        if not (s.dtype.is_numeric() or s.dtype == pl.Boolean):
            hint = " (set categorical_features to treat it as categorical)" if _is_categorical_dtype(s.dtype) else ""
            raise SchemaError(f"column {name!r}: expected a numeric or boolean column, found {s.dtype}{hint}")
        if s.dtype != pl.Float64:
            s = s.cast(pl.Float64)
        return s.to_numpy()
    col = X[:, j]
    if col.dtype != np.float64:
        try:
            col = col.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise SchemaError(f"column {j} of X: expected numbers, found dtype {X.dtype}") from exc
    return col


def _encode(feats: _Features, X: Any) -> list[np.ndarray]:
    X = _as_frame_or_array(X)
    if isinstance(X, pl.DataFrame):
        missing = [n for n in feats.names if n not in X.columns]
        if missing:
            if not feats.from_frame and X.width == len(feats.names):
                X = X.to_numpy()
            else:
                raise SchemaError(f"X is missing column(s) {missing} the model was fitted on")
    if isinstance(X, np.ndarray):
        if X.shape[1] != len(feats.names):
            raise CrmError(f"X has {X.shape[1]} features but the model was fitted on {len(feats.names)}")
    cols = []
    for j, name in enumerate(feats.names):
        if feats.categorical[j]:
            cols.append(_category_codes(X, j, name, feats.categories[j] or []))
        else:
            cols.append(_numeric_column(X, j, name))
    return cols


def _n_rows(cols: list[np.ndarray]) -> int:
    return int(cols[0].shape[0]) if cols else 0


def _class_weights(class_weight: Any, y_enc: np.ndarray, classes: np.ndarray,
                   sample_weight: Optional[np.ndarray] = None) -> Optional[np.ndarray]:
    """Per-row class weights; "balanced" is scikit-learn's n / (2 * count), with counts
    weighted by sample_weight when given (as scikit-learn's compute_class_weight)."""
    if class_weight is None:
        return None
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise CrmError(f"class_weight must be None, 'balanced' or a dict, found {class_weight!r}")
        sw = np.ones_like(y_enc) if sample_weight is None else sample_weight
        n = float(sw.sum())
        n1 = float(sw[y_enc == 1].sum())
        w = np.array([n / (2.0 * (n - n1)), n / (2.0 * n1)])
    elif isinstance(class_weight, dict):
        keys = {k.item() if isinstance(k, np.generic) else k for k in class_weight}
        unknown = keys - {c.item() if isinstance(c, np.generic) else c for c in classes}
        if unknown:
            raise CrmError(f"class_weight names classes {sorted(map(str, unknown))} not in y (classes: {classes.tolist()})")
        w = np.array([float(class_weight.get(c.item() if isinstance(c, np.generic) else c, 1.0)) for c in classes])
    else:
        raise CrmError(f"class_weight must be None, 'balanced' or a dict, found {type(class_weight).__name__}")
    return w[y_enc.astype(np.int64)]


def _binary_target(y: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    arr = _as_vector(y, "y")
    if arr.shape[0] != n:
        raise CrmError(f"argument 'y': has {arr.shape[0]} values but X has {n} rows")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise CrmError("argument 'y': holds NaN or infinite values; a class label is needed for every row")
    classes = np.unique(arr)
    if classes.shape[0] != 2:
        found = classes.tolist()[:10]
        raise CrmError(
            f"argument 'y': binary classification needs exactly 2 classes, found {classes.shape[0]} ({found}); "
            "multiclass targets are not supported"
        )
    return classes, (arr == classes[1]).astype(np.float64)


def _seed(random_state: Any) -> int:
    if random_state is None:
        return int(np.random.randint(0, 2**31 - 1))
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return int(random_state) & 0xFFFF_FFFF_FFFF_FFFF
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    raise CrmError(f"random_state must be None or an int, found {random_state!r}")


def _write_json(path: Union[str, os.PathLike], doc: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, allow_nan=False)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


# --------------------------------------------------------------------------- boosting


class _BaseGradientBoosting(_Estimator):
    _loss_default = "log_loss"

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

    def save(self, path: Union[str, os.PathLike]) -> None:
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
        return self._model.decision_function(cols)

    def predict_proba(self, X: Any) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        raw = self.decision_function(X)
        return self.classes_[(raw > 0).astype(np.int64)]

    def score(self, X: Any, y: Any, sample_weight: Optional[ArrayLike] = None) -> float:
        return GradientBoostingClassifier.score(self, X, y, sample_weight)  # type: ignore[arg-type]

    def save(self, path: Union[str, os.PathLike]) -> None:
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


_ESTIMATORS = {
    "GradientBoostingClassifier": GradientBoostingClassifier,
    "GradientBoostingRegressor": GradientBoostingRegressor,
    "LogisticRegression": LogisticRegression,
}


def _estimators() -> dict[str, Any]:
    from crmkit._blend import AutoClassifier

    return {**_ESTIMATORS, "AutoClassifier": AutoClassifier}


def __getattr__(name: str) -> Any:
    # AutoClassifier is built from this module's estimators (crmkit/_blend.py imports
    # them), so it is looked up on first use rather than imported here.
    if name == "AutoClassifier":
        from crmkit._blend import AutoClassifier

        return AutoClassifier
    raise AttributeError(f"module 'crmkit.ml' has no attribute {name!r}")


def load(path: Union[str, os.PathLike]) -> Any:
    """Reads a model written by ``save`` (format and version are checked).

    >>> import numpy as np, tempfile, os
    >>> X = np.arange(200, dtype=float).reshape(100, 2)
    >>> lr = LogisticRegression().fit(X, np.arange(100) % 3 == 0)
    >>> path = os.path.join(tempfile.mkdtemp(), "lr.json")
    >>> lr.save(path)
    >>> bool(np.array_equal(load(path).predict_proba(X), lr.predict_proba(X)))
    True
    """
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        raise CrmError(f"cannot read a crmkit model from {str(path)!r}: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
        raise CrmError(f"{str(path)!r} is not a crmkit.ml model file (format {doc.get('format') if isinstance(doc, dict) else None!r})")
    if doc.get("version") != _FILE_VERSION:
        raise CrmError(
            f"{str(path)!r}: model file version {doc.get('version')!r} is not supported by this crmkit (expects {_FILE_VERSION})"
        )
    name = doc.get("estimator")
    cls = _estimators().get(name) if isinstance(name, str) else None
    if cls is None:
        raise CrmError(f"{str(path)!r}: unknown estimator {name!r}")
    if not isinstance(doc.get("params"), dict) or not isinstance(doc.get("fitted"), dict):
        raise CrmError(f"{str(path)!r}: the model file is incomplete or damaged ('params' and 'fitted' must be objects)")
    classes = doc["fitted"].get("classes")
    if classes is not None and not (isinstance(classes, list) and len(classes) >= 2
                                    and all(isinstance(c, (int, float, str)) for c in classes)):
        raise CrmError(f"{str(path)!r}: the model file is damaged ('classes' must list the class labels)")
    try:
        est = cls(**doc["params"])
        est._restore(doc)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
        if isinstance(exc, CrmError):
            raise
        raise CrmError(f"{str(path)!r}: the model file is incomplete or damaged ({type(exc).__name__}: {exc})") from exc
    return est
