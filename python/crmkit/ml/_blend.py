"""Gradient-boosted trees and a logistic regression blended on the log-odds, the blend
chosen by cross-validation and calibrated: the engine of ``crmkit.ml.AutoClassifier``
and the pieces ``crmkit.churn.ChurnModel`` shares with it (linear input preparation,
Platt calibration).

Why a blend: on customer tables the signal is modest and a regularised linear model on
well-prepared inputs is often as strong as boosted trees (IBM's Telco table: logistic
regression 0.850 ROC AUC against 0.846 for tuned trees, 5-fold); trees catch the
interactions a linear score misses. Their log-odds are averaged with a weight chosen on
out-of-fold predictions, so the blend is never worse than the better of the two on the
folds by more than noise.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import polars as pl

from crmkit.errors import CrmError, SchemaError

#: Weights of the trees' log-odds tried by the blend (the regression gets the rest).
BLEND_GRID = tuple(round(0.1 * i, 1) for i in range(11))

#: Tree settings for customer data: small leaves, a slow learning rate and early stopping
#: (the defaults of ``GradientBoostingClassifier`` follow scikit-learn and overfit small
#: churn tables: Telco 0.834 ROC AUC with them, 0.846 with these).
CHURN_GBDT_PARAMS: dict[str, Any] = dict(max_iter=300, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=40,
                                         l2_regularization=1.0, early_stopping=True)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.asarray(np.log(p) - np.log1p(-p), dtype=np.float64)


def platt(z: np.ndarray, y: np.ndarray, w: Optional[np.ndarray] = None) -> tuple[float, float]:
    """Slope and intercept of p = sigmoid(a z + b) by Newton's method on the (weighted) log loss."""
    a, b = 1.0, 0.0
    w = np.ones_like(z) if w is None else w
    x = np.column_stack([z, np.ones_like(z)])
    for _ in range(100):
        p = sigmoid(a * z + b)
        g = x.T @ (w * (p - y))
        h = x.T @ (x * (w * p * (1 - p))[:, None]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(h, g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-10:
            break
    if not (np.isfinite(a) and np.isfinite(b)) or a <= 0:
        # A non-positive slope would reverse the ranking: keep the scores' order, fix the level only.
        a = 1.0
        rate = float(np.average(y, weights=w))
        b = float(logit(np.array([rate]))[0] - logit(np.array([np.average(sigmoid(z), weights=w)]))[0])
    return float(a), float(b)


def _is_category(dtype: pl.DataType) -> bool:
    return dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))


class LinearPrep:
    """Inputs for logistic regression from a mixed table.

    Numeric and boolean columns: a missing flag (when the training column has gaps),
    median imputation and a signed log1p of wide-ranged columns (counts, days, money) so a
    linear score is not ruled by outliers. Text and categorical columns: one indicator per
    level seen in training (unseen levels and nulls are all zeros; the L2 penalty makes a
    reference level unnecessary). The state is plain JSON."""

    def __init__(self, state: Optional[dict[str, Any]] = None) -> None:
        self.state = state or {}

    def fit(self, x: pl.DataFrame) -> "LinearPrep":
        cols: dict[str, dict[str, Any]] = {}
        for name, dtype in x.schema.items():
            if _is_category(dtype):
                levels = x[name].cast(pl.String).drop_nulls().unique().sort().to_list()
                cols[name] = {"levels": levels}
                continue
            if not (dtype.is_numeric() or dtype == pl.Boolean):
                raise SchemaError(f"column {name!r}: expected a numeric, boolean, text or categorical column, "
                                  f"found {dtype}")
            v = x[name].cast(pl.Float64).fill_nan(None)
            present = v.drop_nulls()
            wide = bool(present.len() and present.abs().max() > 1.5)
            t = present.sign() * present.abs().log1p() if wide else present
            cols[name] = {"flag": bool(v.null_count() > 0), "log": wide,
                          "median": float(t.median()) if t.len() else 0.0}
        self.state = {"columns": cols}
        return self

    def transform(self, x: pl.DataFrame) -> tuple[np.ndarray, list[str], list[str]]:
        """Matrix, its column names and, per column, the feature it came from."""
        exprs, names, source = [], [], []
        for name, s in self.state["columns"].items():
            if name not in x.columns:
                raise SchemaError(f"column {name!r} is missing: the model was fitted on it")
            if "levels" in s:
                text = pl.col(name).cast(pl.String)
                for level in s["levels"]:
                    label = f"{name}={level}"
                    exprs.append((text == level).fill_null(False).cast(pl.Float64).alias(label))
                    names.append(label)
                    source.append(name)
                continue
            v = pl.col(name).cast(pl.Float64).fill_nan(None)
            t = (v.sign() * v.abs().log1p()) if s["log"] else v
            exprs.append(t.fill_null(s["median"]).alias(f"{name}"))
            names.append(name)
            source.append(name)
            if s["flag"]:
                exprs.append(v.is_null().cast(pl.Float64).alias(f"{name}__missing"))
                names.append(f"{name}__missing")
                source.append(name)
        if not exprs:
            return np.zeros((x.height, 0)), names, source
        return x.select(exprs).to_numpy().astype(np.float64, copy=False), names, source

    @staticmethod
    def n_inputs(state: dict[str, Any]) -> int:
        return sum(len(s["levels"]) if "levels" in s else 1 + bool(s["flag"]) for s in state["columns"].values())


def _ml() -> Any:
    from crmkit import ml

    return ml


def model_doc(model: Any) -> Any:
    """A crmkit.ml model as the JSON object its ``save`` writes."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.json"
        model.save(str(path))
        return json.loads(path.read_text())


def model_from_doc(doc: Any) -> Any:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.json"
        path.write_text(json.dumps(doc))
        return _ml().load(str(path))


def stratified_folds(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold number per row: each class shuffled (seeded) and dealt round-robin, so every
    fold holds both classes in the overall proportion."""
    rng = np.random.default_rng(seed)
    folds = np.empty(y.shape[0], dtype=np.int64)
    offset = 0
    for cls in (0.0, 1.0):
        idx = np.flatnonzero(y == cls)
        idx = idx[rng.permutation(idx.shape[0])]
        folds[idx] = (np.arange(idx.shape[0]) + offset) % k
        offset += idx.shape[0]
    return folds


def tree_frame(x: pl.DataFrame) -> pl.DataFrame:
    """Numeric columns as Float64 with NaN for missing; categories as they are."""
    return x.select([pl.col(c) if _is_category(t) else pl.col(c).cast(pl.Float64).fill_nan(None).fill_null(float("nan"))
                     for c, t in x.schema.items()])


def check_table(X: Any, fn: str) -> pl.DataFrame:
    """X as a polars DataFrame of numeric, boolean, text or categorical columns."""
    if isinstance(X, pl.LazyFrame):
        X = X.collect()
    if not isinstance(X, pl.DataFrame):
        if type(X).__module__.startswith("pandas"):
            X = pl.from_pandas(X)
        else:
            arr = np.asarray(X)
            if arr.ndim != 2:
                raise CrmError(f"{fn}: X must be a polars DataFrame or a 2-D array, found shape {arr.shape}")
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError):
                raise CrmError(f"{fn}: a 2-D array X must hold numbers (pass a DataFrame for text columns)") from None
            X = pl.DataFrame({f"x{j}": arr[:, j] for j in range(arr.shape[1])})
    if X.height == 0 or X.width == 0:
        raise CrmError(f"{fn}: X is empty ({X.height} rows x {X.width} columns)")
    for name, dtype in X.schema.items():
        if not (_is_category(dtype) or dtype.is_numeric() or dtype == pl.Boolean):
            raise SchemaError(f"{fn}: column {name!r}: expected a numeric, boolean, text or categorical column, "
                              f"found {dtype} (turn dates into numbers such as days since an event first)")
    frame: pl.DataFrame = X
    return frame


# --------------------------------------------------------------------------- the estimator

from crmkit.ml._boosting import GradientBoostingClassifier  # noqa: E402
from crmkit.ml._estimator import (_FILE_VERSION, _FORMAT, _binary_target, _Estimator, _float_vector,  # noqa: E402
                                  _jsonable, _write_json)
from crmkit.ml._logistic import LogisticRegression  # noqa: E402


class AutoClassifier(_Estimator):
    """Gradient-boosted trees and a logistic regression, blended on the log-odds by
    cross-validation, then calibrated — the model to reach for on a customer table.

    ``fit`` makes ``cv`` stratified folds; on each it fits
    :class:`GradientBoostingClassifier` (native categoricals and missing values; the
    churn settings of ``CHURN_GBDT_PARAMS`` unless ``gbdt_params`` says otherwise) and
    :class:`LogisticRegression` on prepared inputs (missing flags, median imputation,
    signed log1p of wide-ranged numbers, one indicator per category), predicts the
    held-out fold, and picks the weight ``blend_`` of the trees' log-odds (0 = the
    regression alone, 1 = the trees alone) with the best out-of-fold ROC AUC (log loss
    breaks near-ties). A Platt calibration is fitted on the same out-of-fold scores, so
    ``predict_proba`` is calibrated without class weights. Both models are then refitted
    on all rows. ``model="gbdt"`` or ``"logistic"`` fixes the weight (still calibrated).

    ``cv_results_`` lists every weight tried with its out-of-fold ROC AUC and log loss;
    ``contributions(X)`` explains each row (TreeSHAP for the trees, coefficient times
    centred input for the regression, per original column, plus ``bias``): every row sums
    to ``decision_function(X)``, the calibrated log-odds.

    >>> import numpy as np, polars as pl
    >>> from crmkit.ml import AutoClassifier
    >>> rng = np.random.default_rng(0)
    >>> n = 3000
    >>> X = pl.DataFrame({"tenure": rng.integers(0, 72, n).astype(float),
    ...                   "contract": rng.choice(["monthly", "one year", "two year"], n),
    ...                   "charges": rng.gamma(4, 20, n)})
    >>> z = -0.04 * X["tenure"].to_numpy() + 1.5 * (X["contract"] == "monthly").to_numpy() - 0.5
    >>> y = rng.random(n) < 1 / (1 + np.exp(-z))
    >>> model = AutoClassifier(random_state=0).fit(X, y)
    >>> model.predict_proba(X).shape
    (3000, 2)
    >>> model.cv_results_.columns
    ['gbdt_weight', 'roc_auc', 'log_loss']
    >>> c = model.contributions(X.head(2))
    >>> c.columns
    ['tenure', 'contract', 'charges', 'bias']
    >>> bool(np.allclose(c.sum_horizontal().to_numpy(), model.decision_function(X.head(2))))
    True
    """

    _estimator_type = "classifier"

    def __init__(self, model: str = "auto", cv: int = 5, calibrate: bool = True,
                 gbdt_params: Optional[dict[str, Any]] = None, logistic_params: Optional[dict[str, Any]] = None,
                 random_state: Optional[int] = 0) -> None:
        self.model = model
        self.cv = cv
        self.calibrate = calibrate
        self.gbdt_params = gbdt_params
        self.logistic_params = logistic_params
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import ClassifierTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags(multi_class=False))

    # ------------------------------------------------------------------ fitting

    def _check_params(self) -> None:
        fn = "AutoClassifier"
        if self.model not in ("auto", "gbdt", "logistic"):
            raise CrmError(f"{fn}: model must be 'auto', 'gbdt' or 'logistic', found {self.model!r}")
        if isinstance(self.cv, bool) or not isinstance(self.cv, (int, np.integer)) or not 2 <= self.cv <= 50:
            raise CrmError(f"{fn}: cv must be a whole number of folds between 2 and 50, found {self.cv!r}")
        for key in ("gbdt_params", "logistic_params"):
            if getattr(self, key) is not None and not isinstance(getattr(self, key), dict):
                raise CrmError(f"{fn}: {key} must be a dict of parameters or None, found {getattr(self, key)!r}")

    def _seed(self) -> int:
        rs = self.random_state
        if rs is None:
            return int(np.random.randint(0, 2**31 - 1))
        if isinstance(rs, bool) or not isinstance(rs, (int, np.integer)):
            raise CrmError(f"AutoClassifier: random_state must be None or an int, found {rs!r}")
        return int(rs) & 0x7FFF_FFFF

    def _trees(self, seed: int) -> GradientBoostingClassifier:
        params = {**CHURN_GBDT_PARAMS, "random_state": seed, **(self.gbdt_params or {})}
        return GradientBoostingClassifier(**params)

    def _linear(self) -> LogisticRegression:
        return LogisticRegression(**{"C": 1.0, "max_iter": 1000, **(self.logistic_params or {})})

    def _fit_pair(self, x: pl.DataFrame, y: np.ndarray, w: Optional[np.ndarray], seed: int, gbdt: bool,
                  linear: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if gbdt:
            out["gbdt"] = self._trees(seed).fit(tree_frame(x), y, sample_weight=w)
        if linear:
            prep = LinearPrep().fit(x)
            mat, _, _ = prep.transform(x)
            out["prep"] = prep
            out["lr"] = self._linear().fit(mat, y, sample_weight=w) if mat.shape[1] else None
            out["lr_means"] = mat.mean(axis=0) if mat.shape[1] else np.zeros(0)
        return out

    @staticmethod
    def _raw(models: dict[str, Any], x: pl.DataFrame) -> dict[str, Any]:
        raw = {}
        if "gbdt" in models:
            raw["gbdt"] = np.asarray(models["gbdt"].decision_function(tree_frame(x)), dtype=np.float64)
        if "prep" in models:
            if models["lr"] is None:
                raw["lr"] = np.zeros(x.height)
            else:
                mat, _, _ = models["prep"].transform(x)
                raw["lr"] = np.asarray(models["lr"].decision_function(mat), dtype=np.float64)
        return raw

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "AutoClassifier":
        from crmkit import metrics

        fn = "AutoClassifier.fit"
        self._check_params()
        x = check_table(X, fn)
        classes, y_enc = _binary_target(y, x.height)
        w = None if sample_weight is None else _float_vector(sample_weight, "sample_weight", x.height)
        k = int(self.cv)
        counts = np.bincount(y_enc.astype(np.int64), minlength=2)
        if counts.min() < k:
            raise CrmError(f"{fn}: the rarer class has {int(counts.min())} row(s); {k}-fold cross-validation needs at "
                           f"least {k} (lower cv or add rows)")
        seed = self._seed()
        gbdt, linear = self.model in ("auto", "gbdt"), self.model in ("auto", "logistic")
        folds = stratified_folds(y_enc, k, seed)
        held: dict[str, np.ndarray] = {}
        for f in range(k):
            tr, te = folds != f, folds == f
            part = self._fit_pair(x.filter(pl.Series(tr)), y_enc[tr], None if w is None else w[tr], seed, gbdt, linear)
            for key, values in self._raw(part, x.filter(pl.Series(te))).items():
                held.setdefault(key, np.zeros(x.height))[te] = values
        grid = BLEND_GRID if self.model == "auto" else ((1.0,) if self.model == "gbdt" else (0.0,))
        rows = []
        for g in grid:
            z = g * held.get("gbdt", 0.0) + (1 - g) * held.get("lr", 0.0)
            z = np.asarray(z, dtype=np.float64) * np.ones(x.height)
            rows.append((float(g), metrics.roc_auc_score(y_enc, z, sample_weight=w),
                         metrics.log_loss(y_enc, np.clip(sigmoid(z), 1e-15, 1 - 1e-15), sample_weight=w)))
        self.cv_results_ = pl.DataFrame(rows, schema={"gbdt_weight": pl.Float64, "roc_auc": pl.Float64,
                                                      "log_loss": pl.Float64}, orient="row")
        best = rows[0]
        for r in rows[1:]:
            if r[1] > best[1] + 1e-4 or (abs(r[1] - best[1]) <= 1e-4 and r[2] < best[2]):
                best = r
        self.blend_ = best[0]
        z_oof = self.blend_ * held.get("gbdt", 0.0) + (1 - self.blend_) * held.get("lr", 0.0)
        z_oof = np.asarray(z_oof, dtype=np.float64) * np.ones(x.height)
        self.calibration_ = platt(z_oof, y_enc, w) if self.calibrate else (1.0, 0.0)
        self.oof_decision_function_ = self.calibration_[0] * z_oof + self.calibration_[1]
        self._models = self._fit_pair(x, y_enc, w, seed, gbdt and self.blend_ > 0, linear and self.blend_ < 1)
        self._model = True
        self.classes_ = classes
        self.feature_names_in_ = np.asarray(x.columns, dtype=object)
        self.n_features_in_ = x.width
        self._schema = {c: str(t) for c, t in x.schema.items()}
        return self

    # ------------------------------------------------------------------ prediction

    def _frame(self, X: Any, fn: str) -> pl.DataFrame:
        self._check_fitted()
        x = check_table(X, fn)
        names = list(self.feature_names_in_)
        missing = [c for c in names if c not in x.columns]
        if missing:
            raise SchemaError(f"{fn}: X is missing column(s) {missing} the model was fitted on")
        return x.select(names)

    def decision_function(self, X: Any) -> np.ndarray:
        """Calibrated log-odds of the positive class (``classes_[1]``)."""
        x = self._frame(X, "AutoClassifier.decision_function")
        raw = self._raw(self._models, x)
        z = self.blend_ * raw.get("gbdt", 0.0) + (1 - self.blend_) * raw.get("lr", 0.0)
        return self.calibration_[0] * np.asarray(z, dtype=np.float64) * np.ones(x.height) + self.calibration_[1]

    def predict_proba(self, X: Any) -> np.ndarray:
        p = sigmoid(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(np.int64)]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy, as scikit-learn's classifiers report it."""
        return GradientBoostingClassifier.score(self, X, y, sample_weight)  # type: ignore[arg-type]

    def contributions(self, X: Any) -> pl.DataFrame:
        """Per-column contributions to the calibrated log-odds, plus ``bias``; each row
        sums to ``decision_function(X)``."""
        x = self._frame(X, "AutoClassifier.contributions")
        names = list(self.feature_names_in_)
        total = np.zeros((x.height, len(names)))
        bias = np.zeros(x.height)
        if "gbdt" in self._models:
            c = self._models["gbdt"].contributions(tree_frame(x))
            total += self.blend_ * c.select(names).to_numpy()
            bias += self.blend_ * c["bias"].to_numpy()
        if "prep" in self._models and self._models["lr"] is not None:
            mat, _, source = self._models["prep"].transform(x)
            lr = self._models["lr"]
            coef = np.asarray(lr.coef_, dtype=np.float64).reshape(-1)
            means = self._models["lr_means"]
            lin = (mat - means) * coef
            index = {n: i for i, n in enumerate(names)}
            for j, s in enumerate(source):
                total[:, index[s]] += (1 - self.blend_) * lin[:, j]
            bias += (1 - self.blend_) * (float(lr.intercept_[0]) + float(means @ coef))
        a, b = self.calibration_
        out = {n: a * total[:, i] for i, n in enumerate(names)}
        out["bias"] = a * bias + b
        return pl.DataFrame(out)

    # ------------------------------------------------------------------ files

    def save(self, path: Union[str, os.PathLike[str]]) -> None:
        """Writes the fitted model as JSON (read it back with :func:`crmkit.ml.load`)."""
        self._check_fitted()
        m = self._models
        fitted = {
            "classes": self.classes_.tolist(),
            "features": list(self.feature_names_in_),
            "schema": self._schema,
            "blend": self.blend_,
            "calibration": list(self.calibration_),
            "cv_results": self.cv_results_.to_dicts(),
            "gbdt": model_doc(m["gbdt"]) if "gbdt" in m else None,
            "prep": m["prep"].state if "prep" in m else None,
            "lr": model_doc(m["lr"]) if m.get("lr") is not None else None,
            "lr_means": m["lr_means"].tolist() if "prep" in m else None,
        }
        _write_json(path, {"format": _FORMAT, "version": _FILE_VERSION, "estimator": "AutoClassifier",
                           "params": _jsonable(self.get_params()), "fitted": _jsonable(fitted)})

    def _restore(self, doc: dict[str, Any]) -> None:
        from crmkit._modelfile import ModelDoc

        fn, source = "crmkit.ml.load", "AutoClassifier file"
        d = ModelDoc(doc["fitted"], fn, source)
        names = d.strings("features", non_empty=True)
        self.blend_ = d.number("blend", lo=0.0, hi=1.0)
        cal = d.numbers("calibration", length=2)
        self.calibration_ = (cal[0], cal[1])
        models: dict[str, Any] = {}
        if d.has("gbdt"):
            models["gbdt"] = model_from_doc(d.get("gbdt", dict, "a crmkit.ml model"))
            if models["gbdt"].n_features_in_ != len(names):
                raise CrmError(f"{fn}: {source}: the trees take {models['gbdt'].n_features_in_} features, the file "
                               f"names {len(names)}")
        if d.has("prep"):
            prep = d.get("prep", dict, "a JSON object")
            cols = prep.get("columns")
            if not isinstance(cols, dict) or list(cols) != list(names):
                raise CrmError(f"{fn}: {source}: 'prep' must describe the model's features in order")
            for name, s in cols.items():
                c = ModelDoc(s, fn, f"{source} [prep {name}]")
                if "levels" in s:
                    c.strings("levels")
                else:
                    c.get("flag", bool, "true or false")
                    c.get("log", bool, "true or false")
                    c.number("median")
            models["prep"] = LinearPrep(prep)
            n_inputs = LinearPrep.n_inputs(prep)
            models["lr"] = model_from_doc(d.get("lr", dict, "a crmkit.ml model")) if d.has("lr") else None
            if models["lr"] is not None and models["lr"].n_features_in_ != n_inputs:
                raise CrmError(f"{fn}: {source}: the regression takes {models['lr'].n_features_in_} inputs, 'prep' "
                               f"makes {n_inputs}")
            models["lr_means"] = np.asarray(d.numbers("lr_means", length=n_inputs), dtype=np.float64)
        if not models:
            raise CrmError(f"{fn}: {source}: the file holds neither trees nor a regression")
        self._models = models
        self._model = True
        self.classes_ = np.asarray(doc["fitted"]["classes"])
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        self._schema = dict(d.get("schema", dict, "a JSON object"))
        self.cv_results_ = pl.DataFrame(d.get("cv_results", list, "a list of rows"),
                                        schema={"gbdt_weight": pl.Float64, "roc_auc": pl.Float64,
                                                "log_loss": pl.Float64})
