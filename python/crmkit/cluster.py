"""k-means clustering with scikit-learn's interface, feature scaling and choice of k.

The fitting runs in Rust (rayon threads, GIL released); a fit is identical for a
``random_state`` whatever the number of threads.

>>> import numpy as np, crmkit
>>> X = np.array([[0.0, 0.0], [0.1, 0.0], [10.0, 10.0], [10.1, 10.0]])
>>> km = crmkit.KMeans(n_clusters=2, random_state=0).fit(X)
>>> sorted(km.cluster_centers_.round(2).tolist())
[[0.05, 0.0], [10.05, 10.0]]
>>> bool(km.labels_[0] == km.labels_[1] != km.labels_[2])
True
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence, Union, cast

import numpy as np
import polars as pl

from crmkit import _core
from crmkit._validate import as_frame, require_choice, require_columns
from crmkit.errors import CrmError, SchemaError

__all__ = ["KMeans", "Scaler", "scale", "choose_k", "KChoice", "silhouette_score"]


def _as_matrix(X: Any, *, function: str, columns: Optional[Sequence[str]] = None) -> tuple[np.ndarray, Optional[list[str]]]:
    """A C-contiguous float64 (n, d) array from numpy or a polars/pandas frame."""
    names: Optional[list[str]] = None
    if isinstance(X, (pl.DataFrame, pl.LazyFrame)) or type(X).__module__.startswith("pandas"):
        df = as_frame(X, argument="X")
        if columns is not None:
            df = df.select(list(columns))
        require_columns(df, {c: "numeric" for c in df.columns}, function=function, argument="X")
        for c in df.columns:
            n_null = df[c].null_count()
            if n_null:
                raise SchemaError(
                    f"{function}: column '{c}' in 'X' holds {n_null} null value(s); k-means needs "
                    f"complete numeric features. Drop or impute them first."
                )
        names = list(df.columns)
        X = df.to_numpy()
    arr = np.asarray(X)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise CrmError(f"{function}: X must be numeric, found dtype {arr.dtype}")
    if arr.ndim == 1:
        raise CrmError(
            f"{function}: X must be 2-D (n_samples, n_features), found a 1-D array of length "
            f"{arr.shape[0]}; use X.reshape(-1, 1) for a single feature"
        )
    if arr.ndim != 2:
        raise CrmError(f"{function}: X must be 2-D (n_samples, n_features), found shape {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if arr.shape[0] and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise CrmError(
            f"{function}: X holds a NaN or infinite value (first at row {bad[0]}, column {bad[1]}); "
            f"drop or impute it first"
        )
    return arr, names


def _seed(random_state: Any) -> int:
    if random_state is None:
        return int(np.random.randint(0, 2**31 - 1))
    if isinstance(random_state, (np.random.RandomState,)):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**31 - 1))
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool) and random_state >= 0:
        return int(random_state)
    raise CrmError(f"random_state must be None, an int >= 0 or a numpy random generator, found {random_state!r}")


class KMeans:
    """k-means clustering, scikit-learn's estimator with a Rust core.

    Parameters and fitted attributes carry scikit-learn's names and meaning:
    ``init`` ("k-means++" — greedy, ``2 + ln k`` local trials —, "random" or an
    (n_clusters, n_features) array), ``n_init`` ("auto": 1 run for k-means++ and an
    array, 10 for "random"; the run with the lowest inertia is kept), ``max_iter``,
    ``tol`` (relative to the mean feature variance), ``random_state``, ``algorithm``
    ("lloyd": Lloyd's iterations, skipping distance computations that Hamerly's
    triangle-inequality bounds prove useless — the same iterates; "full": every
    distance at every iteration). Empty clusters move to the points farthest from
    their centres. When X has fewer distinct points than ``n_clusters``, some centres
    coincide and a warning says how many distinct clusters were found (as
    scikit-learn does).

    After ``fit``: ``cluster_centers_``, ``labels_`` (int32), ``inertia_`` (sum of squared
    distances to the closest centre, weighted), ``n_iter_``, ``n_features_in_`` and, for
    a DataFrame input, ``feature_names_in_``. X is a numpy array or a polars/pandas frame
    of numeric columns without nulls. ``to_json``/``from_json`` save and load the model.

    >>> import numpy as np, crmkit
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (100, 2)), rng.normal(8, 1, (100, 2))])
    >>> km = crmkit.KMeans(n_clusters=2, n_init=3, random_state=1)
    >>> labels = km.fit_predict(X)
    >>> int((labels[:100] == labels[0]).sum()), int((labels[100:] != labels[0]).sum())
    (100, 100)
    >>> bool(km.predict(np.array([[8.0, 8.0]]))[0] == labels[150])
    True
    """

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        init: Union[str, np.ndarray] = "k-means++",
        n_init: Union[str, int] = "auto",
        max_iter: int = 300,
        tol: float = 1e-4,
        random_state: Any = None,
        algorithm: str = "lloyd",
    ) -> None:
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.algorithm = algorithm

    # scikit-learn's estimator protocol (clone, grid search, pipelines).
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {
            "n_clusters": self.n_clusters,
            "init": self.init,
            "n_init": self.n_init,
            "max_iter": self.max_iter,
            "tol": self.tol,
            "random_state": self.random_state,
            "algorithm": self.algorithm,
        }

    def set_params(self, **params: Any) -> "KMeans":
        for k, v in params.items():
            if k not in self.get_params():
                raise CrmError(f"KMeans: unknown parameter '{k}'")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        return f"KMeans(n_clusters={self.n_clusters}, n_init={self.n_init!r}, random_state={self.random_state!r})"

    def _check(self) -> tuple[str, int, Optional[np.ndarray]]:
        k = self.n_clusters
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise CrmError(f"KMeans: n_clusters must be an integer >= 1, found {k!r}")
        if isinstance(self.max_iter, bool) or not isinstance(self.max_iter, (int, np.integer)) or self.max_iter < 1:
            raise CrmError(f"KMeans: max_iter must be an integer >= 1, found {self.max_iter!r}")
        if not isinstance(self.tol, (int, float)) or not math.isfinite(self.tol) or self.tol < 0:
            raise CrmError(f"KMeans: tol must be a finite number >= 0, found {self.tol!r}")
        require_choice(self.algorithm, "algorithm", ["lloyd", "full"], function="KMeans")
        centers = None
        if isinstance(self.init, str):
            require_choice(self.init, "init", ["k-means++", "random"], function="KMeans")
            init = self.init
        else:
            centers = np.ascontiguousarray(np.asarray(self.init, dtype=np.float64))
            init = "array"
        if self.n_init == "auto":
            n_init = 10 if init == "random" else 1
        elif isinstance(self.n_init, (int, np.integer)) and not isinstance(self.n_init, bool) and self.n_init >= 1:
            n_init = int(self.n_init)
        else:
            raise CrmError(f"KMeans: n_init must be 'auto' or an integer >= 1, found {self.n_init!r}")
        if centers is not None and n_init != 1:
            warnings.warn("KMeans: an explicit init array makes a single run; n_init is ignored", UserWarning, stacklevel=3)
            n_init = 1
        return init, n_init, centers

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> "KMeans":
        """Computes k-means clustering of X (y is ignored)."""
        init, n_init, centers = self._check()
        arr, names = _as_matrix(X, function="KMeans.fit")
        n = arr.shape[0]
        if n == 0:
            raise CrmError("KMeans.fit: X has no rows")
        if self.n_clusters > n:
            raise CrmError(
                f"KMeans.fit: n_clusters={self.n_clusters} is larger than the number of samples "
                f"({n}); choose n_clusters <= {n}"
            )
        if centers is not None and centers.shape != (self.n_clusters, arr.shape[1]):
            raise CrmError(
                f"KMeans: init array has shape {centers.shape}, expected (n_clusters, n_features) = "
                f"({self.n_clusters}, {arr.shape[1]})"
            )
        w = None
        if sample_weight is not None:
            w = np.ascontiguousarray(np.asarray(sample_weight, dtype=np.float64).reshape(-1))
            if w.shape[0] != n:
                raise CrmError(f"KMeans.fit: sample_weight has {w.shape[0]} values, expected {n}")
        c, labels, inertia, n_iter = _core.kmeans_fit(
            arr, int(self.n_clusters), init, n_init, int(self.max_iter), float(self.tol),
            _seed(self.random_state), centers, w, self.algorithm == "lloyd",
        )
        self.cluster_centers_ = c
        self.labels_ = labels
        n_distinct = len(np.unique(labels))
        if n_distinct < self.n_clusters:
            warnings.warn(
                f"KMeans.fit: only {n_distinct} distinct cluster(s) found for n_clusters={self.n_clusters}: "
                f"X has fewer distinct points than clusters (duplicated points); some centres coincide",
                UserWarning,
                stacklevel=2,
            )
        self.inertia_ = float(inertia)
        self.n_iter_ = int(n_iter)
        self.n_features_in_ = arr.shape[1]
        if names is not None:
            self.feature_names_in_ = np.array(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return self

    def _fitted(self, function: str) -> None:
        if not hasattr(self, "cluster_centers_"):
            raise CrmError(f"KMeans.{function}: this KMeans is not fitted yet; call fit(X) first")

    def _matrix_for(self, X: Any, function: str) -> np.ndarray:
        self._fitted(function)
        cols = None
        if isinstance(X, (pl.DataFrame, pl.LazyFrame)) and hasattr(self, "feature_names_in_"):
            cols = list(self.feature_names_in_)
            missing = [c for c in cols if c not in (X.collect_schema().names() if isinstance(X, pl.LazyFrame) else X.columns)]
            if missing:
                raise SchemaError(f"KMeans.{function}: X lacks the fitted feature column(s) {missing}")
        arr, _ = _as_matrix(X, function=f"KMeans.{function}", columns=cols)
        if arr.shape[1] != self.n_features_in_:
            raise CrmError(
                f"KMeans.{function}: X has {arr.shape[1]} feature(s), the model was fitted on {self.n_features_in_}"
            )
        return arr

    def predict(self, X: Any) -> np.ndarray:
        """Index of the closest centre for each row of X."""
        arr = self._matrix_for(X, "predict")
        labels, _ = _core.kmeans_predict(arr, self.cluster_centers_)
        return labels

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None) -> np.ndarray:
        """fit(X) then labels_."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def transform(self, X: Any) -> np.ndarray:
        """Euclidean distance from each row of X to each centre, shape (n, n_clusters)."""
        arr = self._matrix_for(X, "transform")
        c = self.cluster_centers_
        d2 = (arr * arr).sum(1)[:, None] - 2.0 * arr @ c.T + (c * c).sum(1)[None, :]
        dist: np.ndarray = np.sqrt(np.maximum(d2, 0.0))
        return dist

    def fit_transform(self, X: Any, y: Any = None, sample_weight: Any = None) -> np.ndarray:
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def score(self, X: Any, y: Any = None) -> float:
        """Opposite of the inertia of X on the fitted centres (scikit-learn's convention)."""
        arr = self._matrix_for(X, "score")
        _, d2 = _core.kmeans_predict(arr, self.cluster_centers_)
        return -float(d2.sum())

    def to_json(self) -> str:
        """The fitted model as JSON (parameters and centres)."""
        self._fitted("to_json")
        params = self.get_params()
        if not isinstance(params["init"], str):
            params["init"] = np.asarray(params["init"]).tolist()
        if not isinstance(params["random_state"], (int, type(None))):
            params["random_state"] = None
        return json.dumps(
            {
                "model": "crmkit.KMeans",
                "params": params,
                "cluster_centers_": self.cluster_centers_.tolist(),
                "inertia_": self.inertia_,
                "n_iter_": self.n_iter_,
                "feature_names_in_": list(self.feature_names_in_) if hasattr(self, "feature_names_in_") else None,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> "KMeans":
        """Loads a model saved with to_json (labels_ are not stored)."""
        from crmkit._modelfile import ModelDoc, check_keys, matrix, read_json

        fn = "KMeans.from_json"
        data = read_json(text, fn, "crmkit.KMeans")
        d = ModelDoc(data, fn, "the JSON")
        centers = matrix(data.get("cluster_centers_"), None, None, "'cluster_centers_'", fn)
        params = dict(check_keys(data.get("params"), ("n_clusters", "init", "n_init", "max_iter", "tol",
                                                       "random_state", "algorithm"), fn, "the JSON"))
        if isinstance(params.get("init"), list):
            params["init"] = np.asarray(matrix(params["init"], None, len(centers[0]), "'params.init'", fn),
                                        dtype=np.float64)
        try:
            km = cls(**params)
        except TypeError as e:
            raise CrmError(f"{fn}: bad parameters in the JSON ({e})") from None
        if not isinstance(km.n_clusters, int) or isinstance(km.n_clusters, bool) or km.n_clusters != len(centers):
            raise CrmError(f"{fn}: 'params.n_clusters' must equal the number of cluster centres ({len(centers)})")
        km.cluster_centers_ = np.asarray(centers, dtype=np.float64)
        km.inertia_ = d.number("inertia_", lo=0.0)
        km.n_iter_ = int(d.number("n_iter_", lo=0, integer=True))
        km.n_features_in_ = km.cluster_centers_.shape[1]
        names = d.strings("feature_names_in_", optional=True)
        if names is not None:
            if len(names) != km.n_features_in_:
                raise CrmError(f"{fn}: 'feature_names_in_' must name the {km.n_features_in_} feature columns")
            km.feature_names_in_ = np.array(names, dtype=object)
        return km


# --------------------------------------------------------------------------------------
# Scaling
# --------------------------------------------------------------------------------------

_METHODS = ("standard", "minmax", "robust", "log1p")


@dataclass
class Scaler:
    """A fitted column scaler: ``transform`` applies it, ``inverse_transform`` undoes it.

    For "standard", "minmax" and "robust", a column becomes ``(x - center) / scale``
    (center/scale: mean/population std, min/range, median/interquartile range; a
    constant column gets scale 1, as scikit-learn does). "log1p" is ``log(1 + x)``.

    >>> import polars as pl, crmkit
    >>> scaler = crmkit.Scaler("standard", ["x"], center=[10.0], scale=[2.0])
    >>> scaler.transform(pl.DataFrame({"x": [8.0, 14.0]}))["x"].to_list()
    [-1.0, 2.0]
    >>> scaler.inverse_transform(pl.DataFrame({"x": [-1.0, 2.0]}))["x"].to_list()
    [8.0, 14.0]
    """

    method: str
    columns: list[str]
    center: list[float]
    scale: list[float]

    def _exprs(self, inverse: bool) -> list[pl.Expr]:
        out = []
        for c, m, s in zip(self.columns, self.center, self.scale):
            x = pl.col(c).cast(pl.Float64)
            if self.method == "log1p":
                e = (x.exp() - 1.0) if inverse else x.log1p()
            else:
                e = (x * s + m) if inverse else ((x - m) / s)
            out.append(e.alias(c))
        return out

    def _check(self, df: pl.DataFrame, function: str) -> None:
        require_columns(df, {c: "numeric" for c in self.columns}, function=f"Scaler.{function}", argument="df")
        if self.method == "log1p" and not inverse_ok(df, self.columns):
            raise CrmError(
                f"Scaler.{function}: method 'log1p' needs values >= -1 (it is log(1 + x)); "
                f"a column in {self.columns} holds smaller values"
            )

    def transform(self, df: Any) -> pl.DataFrame:
        """Scales the fitted columns of ``df``; other columns pass through."""
        frame = as_frame(df, argument="df")
        self._check(frame, "transform")
        return frame.with_columns(self._exprs(inverse=False))

    def inverse_transform(self, data: Any) -> pl.DataFrame:
        """Undoes the scaling: a frame with the fitted columns, or an array of shape
        (n, len(columns)) such as ``KMeans.cluster_centers_`` (returned as a frame)."""
        if isinstance(data, np.ndarray):
            if data.ndim != 2 or data.shape[1] != len(self.columns):
                raise CrmError(
                    f"Scaler.inverse_transform: expected an array of shape (n, {len(self.columns)}), found {data.shape}"
                )
            data = pl.DataFrame(data, schema=self.columns, orient="row")
        df = as_frame(data, argument="data")
        require_columns(df, {c: "numeric" for c in self.columns}, function="Scaler.inverse_transform", argument="data")
        return df.with_columns(self._exprs(inverse=True))

    def to_json(self) -> str:
        return json.dumps({"model": "crmkit.Scaler", "method": self.method, "columns": self.columns,
                           "center": self.center, "scale": self.scale})

    @classmethod
    def from_json(cls, text: str) -> "Scaler":
        from crmkit._modelfile import ModelDoc, read_json

        fn = "Scaler.from_json"
        data = read_json(text, fn, "crmkit.Scaler")
        d = ModelDoc(data, fn, "the JSON")
        method = data.get("method")
        if method not in _METHODS:
            raise d.fail("method", f"one of {list(_METHODS)}")
        columns = d.strings("columns", non_empty=True)
        n = len(columns)
        return cls(method, columns, d.numbers("center", length=n), d.numbers("scale", length=n))


def inverse_ok(df: pl.DataFrame, columns: list[str]) -> bool:
    lows = [cast(Optional[float], df[c].min()) for c in columns]  # numeric columns
    return all(lo is None or lo >= -1 for lo in lows)


def scale(df: Any, columns: Optional[Sequence[str]] = None, method: str = "standard") -> tuple[pl.DataFrame, Scaler]:
    """Scales numeric columns; returns the scaled frame and a :class:`Scaler` that inverts it.

    ``columns`` defaults to every numeric column. Nulls stay null and are ignored when
    fitting; the other columns pass through unchanged.

    >>> import polars as pl, crmkit
    >>> df = pl.DataFrame({"id": [1, 2, 3], "spend": [10.0, 20.0, 30.0]})
    >>> scaled, scaler = crmkit.scale(df, ["spend"], method="minmax")
    >>> scaled["spend"].to_list()
    [0.0, 0.5, 1.0]
    >>> scaler.inverse_transform(scaled)["spend"].to_list()
    [10.0, 20.0, 30.0]
    """
    require_choice(method, "method", list(_METHODS), function="crmkit.scale")
    df = as_frame(df, argument="df")
    if columns is None:
        columns = [c for c, t in df.schema.items() if t.is_numeric()]
        if not columns:
            raise SchemaError(f"crmkit.scale: 'df' has no numeric column; columns are {df.columns}")
    columns = list(columns)
    require_columns(df, {c: "numeric" for c in columns}, function="crmkit.scale", argument="df")
    if df.height == 0:
        raise CrmError("crmkit.scale: 'df' is empty (0 rows); there is nothing to fit a scaler on")
    for c in columns:
        if df.schema[c].is_float() and df[c].is_nan().any():
            raise CrmError(f"crmkit.scale: column '{c}' holds NaN; drop or impute it first")
    x = [pl.col(c).cast(pl.Float64) for c in columns]
    if method == "standard":
        stats = df.select([e.mean().alias(f"c{i}") for i, e in enumerate(x)] + [e.std(ddof=0).alias(f"s{i}") for i, e in enumerate(x)]).row(0)
    elif method == "minmax":
        stats = df.select([e.min().alias(f"c{i}") for i, e in enumerate(x)] + [(e.max() - e.min()).alias(f"s{i}") for i, e in enumerate(x)]).row(0)
    elif method == "robust":
        stats = df.select(
            [e.median().alias(f"c{i}") for i, e in enumerate(x)]
            + [(e.quantile(0.75, "linear") - e.quantile(0.25, "linear")).alias(f"s{i}") for i, e in enumerate(x)]
        ).row(0)
    else:
        stats = [0.0] * len(columns) + [1.0] * len(columns)
    k = len(columns)
    center = [float(v) if v is not None else 0.0 for v in stats[:k]]
    scl = [float(v) if v is not None and v > 0 and math.isfinite(v) else 1.0 for v in stats[k:]]
    scaler = Scaler(method, columns, center, scl)
    return scaler.transform(df), scaler


# --------------------------------------------------------------------------------------
# Choosing k
# --------------------------------------------------------------------------------------


def silhouette_score(X: Any, labels: Any, *, sample_size: Optional[int] = None, random_state: Any = 0) -> float:
    """Mean silhouette coefficient (Euclidean), computed in Rust.

    Exact on all rows, or on ``sample_size`` rows drawn without replacement, like
    scikit-learn's ``silhouette_score``. A row alone in its cluster scores 0.

    >>> import numpy as np, crmkit
    >>> round(crmkit.silhouette_score(np.array([[0.0], [1.0], [5.0]]), [0, 0, 1]), 4)
    0.5167
    """
    arr, _ = _as_matrix(X, function="crmkit.silhouette_score")
    lab = np.asarray(labels)
    if lab.shape != (arr.shape[0],):
        raise CrmError(f"crmkit.silhouette_score: expected {arr.shape[0]} labels, found shape {lab.shape}")
    _, lab = np.unique(lab, return_inverse=True)
    lab = np.ascontiguousarray(lab.astype(np.int64))
    if sample_size is not None and sample_size < arr.shape[0]:
        rng = np.random.default_rng(_seed(random_state))
        idx = np.sort(rng.choice(arr.shape[0], size=int(sample_size), replace=False))
        arr, lab = np.ascontiguousarray(arr[idx]), np.ascontiguousarray(lab[idx])
    s = _core.silhouette_samples(arr, lab)
    return float(s.mean())


@dataclass
class KChoice:
    """The result of :func:`choose_k`: the chosen ``k`` and the score of every k tried.

    >>> import numpy as np, crmkit
    >>> X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
    >>> choice = crmkit.choose_k(X, k=[2, 3])
    >>> isinstance(choice, crmkit.KChoice), choice.k, int(choice)
    (True, 2, 2)
    """

    k: int
    metric: str
    scores: pl.DataFrame

    def __int__(self) -> int:
        return self.k


def _elbow(ks: list[int], inertia: list[float]) -> int:
    """Kneedle on log inertia: the k farthest below the chord from the first to the
    last point (on the log scale, so one dominant drop does not hide a later elbow)."""
    if len(ks) < 3:
        return ks[0]
    x = np.asarray(ks, dtype=float)
    raw = np.asarray(inertia, dtype=float)
    floor = raw[raw > 0].min() * 1e-3 if (raw > 0).any() else 1.0
    y = np.log(np.maximum(raw, floor))
    xn = (x - x[0]) / (x[-1] - x[0])
    span = y[0] - y[-1]
    yn = (y - y[-1]) / span if span > 0 else np.zeros_like(y)
    gap = (1.0 - xn) - yn  # chord from (0, 1) to (1, 0), minus the curve
    return int(ks[int(np.argmax(gap))])


def choose_k(
    X: Any,
    k: Iterable[int] = range(2, 11),
    metric: str = "silhouette",
    *,
    sample_size: int = 10_000,
    random_state: Any = 0,
    n_init: Union[str, int] = "auto",
    max_iter: int = 300,
) -> KChoice:
    """Fits k-means for each k and picks one: highest silhouette, or the inertia elbow.

    Each fit uses all rows. The silhouette is exact on up to ``sample_size`` rows (a
    uniform sample beyond that, since it costs O(n^2)). ``metric="inertia"`` picks the
    elbow: the k farthest below the straight line joining the first and last points of
    the normalised log-inertia curve (kneedle).
    Ties go to the smaller k. Values of k outside 2..n-1 (silhouette) or 1..n (inertia)
    are skipped with a warning.

    >>> import numpy as np, crmkit
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(c, 0.3, (50, 2)) for c in (0, 5, 10)])
    >>> choice = crmkit.choose_k(X, k=range(2, 7))
    >>> choice.k
    3
    >>> choice.scores.columns
    ['k', 'inertia', 'silhouette']
    """
    require_choice(metric, "metric", ["silhouette", "inertia"], function="crmkit.choose_k")
    arr, _ = _as_matrix(X, function="crmkit.choose_k")
    n = arr.shape[0]
    ks = sorted({int(v) for v in k})
    lo, hi = (2, n - 1) if metric == "silhouette" else (1, n)
    valid = [v for v in ks if lo <= v <= hi]
    if len(valid) < len(ks):
        skipped = [v for v in ks if v not in valid]
        if not valid:
            raise CrmError(
                f"crmkit.choose_k: no k to try among {ks}: with {n} samples, {metric} needs "
                f"{lo} <= k <= {hi}"
            )
        warnings.warn(f"crmkit.choose_k: skipped k={skipped} (needs {lo} <= k <= {hi} for {n} samples)", UserWarning, stacklevel=2)
    seed = _seed(random_state)
    idx = None
    if metric == "silhouette" and n > sample_size:
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(n, size=int(sample_size), replace=False))
        sample = np.ascontiguousarray(arr[idx])
    rows = []
    for kk in valid:
        km = KMeans(kk, n_init=n_init, max_iter=max_iter, random_state=seed).fit(arr)
        sil = None
        if metric == "silhouette":
            labels = km.labels_.astype(np.int64)
            if idx is not None:
                lab = np.ascontiguousarray(labels[idx])
                xs = sample
            else:
                lab, xs = np.ascontiguousarray(labels), arr
            if len(np.unique(lab)) < 2:
                sil = float("nan")
            else:
                _, lab = np.unique(lab, return_inverse=True)
                sil = float(_core.silhouette_samples(xs, np.ascontiguousarray(lab.astype(np.int64))).mean())
        rows.append((kk, km.inertia_, sil))
    scores = pl.DataFrame(rows, schema={"k": pl.Int64, "inertia": pl.Float64, "silhouette": pl.Float64}, orient="row")
    if metric == "silhouette":
        sils = np.array([r[2] for r in rows], dtype=float)
        best = int(valid[int(np.nanargmax(sils))]) if np.isfinite(sils).any() else valid[0]
    else:
        best = _elbow(valid, [r[1] for r in rows])
    return KChoice(k=best, metric=metric, scores=scores)
