"""What every crmkit.ml estimator shares: scikit-learn's parameter protocol, the
checks and encoding of X and y (polars or numpy, native categoricals), JSON helpers."""

from __future__ import annotations

import inspect
import json
import os
import warnings
from typing import Any, Optional, Union

import numpy as np
import polars as pl

from crmkit import _core, _interrupt
from crmkit.errors import CrmError, SchemaError

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
        X = X.pipe(_interrupt.collect)
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
        return np.asarray(codes.fill_null(np.nan).to_numpy(), dtype=np.float64)
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
    # A sort of every label (seconds at 10M rows, with the GIL released): on a worker, so
    # that Ctrl-C is felt.
    classes = _interrupt.run(np.unique, arr)
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


def _write_json(path: Union[str, os.PathLike[str]], doc: dict[str, Any]) -> None:
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
