"""ChurnModel: gradient-boosted trees and logistic regression, chosen or blended out of
time, calibrated on an out-of-time fold, with future spend, value at risk and reasons."""

from __future__ import annotations

import datetime as _dt
import json
import warnings
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np
import polars as pl

from crmkit import _interrupt, metrics
from crmkit.ml._blend import CHURN_GBDT_PARAMS
from crmkit.ml._blend import LinearPrep as _LinearPrep
from crmkit.ml._blend import logit as _logit
from crmkit.ml._blend import model_doc as _model_json
from crmkit.ml._blend import model_from_doc as _model_from_json
from crmkit.ml._blend import platt as _platt
from crmkit.ml._blend import sigmoid as _sigmoid
from crmkit.ml._blend import tree_frame as _tree_frame
from crmkit._validate import as_lazy
from crmkit._history import naive_datetime as _cutoff
from crmkit.churn._features import (_DAY_US, _check_horizon, _check_windows, _date_us, _orders_base, features,
                                    labels, training_set)
from crmkit.churn._reasons import top_reasons
from crmkit.errors import CrmError

_LABELS = ("churned", "future_orders", "future_spend")
_BLEND_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
_FORMAT = "crmkit.churn.ChurnModel"
#: Up to this many customers, top_reasons include the trees' exact TreeSHAP contributions.
EXACT_REASON_ROWS = 20_000


def _ml() -> Any:
    from crmkit import ml

    return ml


def _btyd_column(frame: pl.DataFrame) -> Optional[np.ndarray]:
    if "btyd_p_no_purchase" not in frame.columns:
        return None
    return np.asarray(frame["btyd_p_no_purchase"].cast(pl.Float64).fill_null(float("nan")).to_numpy(), dtype=np.float64)


def _hedge(p: np.ndarray, btyd: Optional[np.ndarray], beta: float) -> np.ndarray:
    """(1 - beta) p + beta P_BTYD(no purchase); the calibrated p where BTYD is missing."""
    if beta <= 0 or btyd is None:
        return p
    return np.where(np.isnan(btyd), p, (1 - beta) * p + beta * np.nan_to_num(btyd))


class ChurnModel:
    """Who will stop buying in the next ``horizon`` days, how sure we are, why, and what is at stake.

    ``fit`` builds ``training_set`` over several cutoffs (default: monthly cutoffs that
    leave a full horizon before the data end), trains ``crmkit.ml`` gradient-boosted
    trees and a logistic regression (log-scaled inputs with missing flags), and on an
    out-of-time fold — the latest cutoff, predicted by models trained on cutoffs whose
    label windows end before it — picks the trees, the regression or a blend of their
    log-odds (``model="auto"``), and fits a Platt calibration (class weights are never
    used: they break probabilities). The calibrated probability is then averaged with the
    BG/NBD P(no purchase in the horizon) — up to half, as far as the fold's ranking allows
    — because the structural model's calibration follows customers ageing past the
    training cutoffs where a supervised model's drifts. The final models are refitted on every cutoff. With
    a single cutoff, the fold is replaced by 5-fold cross-fitting over customers.

    Future spend over the horizon comes from a Poisson gradient-boosted regressor, the
    BG/NBD x Gamma-Gamma value, or a blend, chosen by mean absolute error on the same fold.

    ``score`` returns ``customer_id, churn_probability, risk_band, expected_future_spend,
    value_at_risk, top_reasons`` (sorted by churn probability); the reasons are the
    largest contributions toward churn (exact TreeSHAP for the trees and coefficient x
    centred input for the regression, weighted as in the blend; above
    ``EXACT_REASON_ROWS`` customers the regression's alone, as TreeSHAP costs
    milliseconds per customer); ``evaluate`` compares the
    model with the baselines users would otherwise use on a later cutoff; ``validation_``
    holds the same comparison on the out-of-time fold of ``fit``.

    >>> from crmkit import churn, datasets
    >>> world = datasets.generate(n_customers=1_000, seed=3, start="2023-01-01", end="2025-07-01")
    >>> m = churn.ChurnModel(horizon=180, n_cutoffs=2).fit(world.orders)
    >>> scores = m.score(world.orders)
    >>> scores.columns
    ['customer_id', 'churn_probability', 'risk_band', 'expected_future_spend', 'value_at_risk', 'top_reasons']
    >>> bool(scores["churn_probability"].is_between(0, 1).all())
    True
    """

    def __init__(
        self,
        horizon: int = 180,
        model: str = "auto",
        *,
        n_cutoffs: int = 6,
        cutoff_step_days: int = 30,
        windows: Sequence[int] = (30, 90, 180, 365),
        spend_model: str = "auto",
        bands: Sequence[float] = (0.3, 0.6, 0.8),
        n_reasons: int = 3,
        gbdt_params: Optional[dict[str, Any]] = None,
        logistic_params: Optional[dict[str, Any]] = None,
        random_state: int = 0,
        customer: str = "customer_id",
        date: str = "order_date",
        amount: str = "amount",
    ) -> None:
        fn = "ChurnModel"
        self.horizon = _check_horizon(horizon, fn)
        if model not in ("auto", "gbdt", "logistic"):
            raise CrmError(f"{fn}: model must be 'auto', 'gbdt' or 'logistic', found {model!r}")
        if spend_model not in ("auto", "gbdt", "btyd"):
            raise CrmError(f"{fn}: spend_model must be 'auto', 'gbdt' or 'btyd', found {spend_model!r}")
        if isinstance(n_cutoffs, bool) or not isinstance(n_cutoffs, int) or n_cutoffs < 1:
            raise CrmError(f"{fn}: n_cutoffs must be a positive integer, found {n_cutoffs!r}")
        if isinstance(cutoff_step_days, bool) or not isinstance(cutoff_step_days, int) or cutoff_step_days < 1:
            raise CrmError(f"{fn}: cutoff_step_days must be a positive integer, found {cutoff_step_days!r}")
        b = [float(v) for v in bands]
        if b != sorted(b) or any(not 0 < v < 1 for v in b):
            raise CrmError(f"{fn}: bands must be increasing probabilities in (0, 1), found {bands!r}")
        self.model = model
        self.spend_model = spend_model
        self.n_cutoffs = n_cutoffs
        self.cutoff_step_days = cutoff_step_days
        self.windows = _check_windows(windows, fn)
        self.bands = tuple(b)
        self.n_reasons = int(n_reasons)
        self.gbdt_params = dict(gbdt_params or {})
        self.logistic_params = dict(logistic_params or {})
        self.random_state = int(random_state)
        self.customer, self.date, self.amount = customer, date, amount

    def __repr__(self) -> str:
        if not hasattr(self, "blend_"):
            return f"ChurnModel(horizon={self.horizon}, model={self.model!r})"
        return (f"ChurnModel(horizon={self.horizon}, model={self.model!r}: gbdt weight {self.blend_:.2f}, "
                f"{len(self.feature_names_in_)} features, cutoffs {[str(c.date()) for c in self.cutoffs_]})")

    # ------------------------------------------------------------------ estimators

    def _classifier(self) -> Any:
        params = dict(CHURN_GBDT_PARAMS, random_state=self.random_state)
        params.update(self.gbdt_params)
        return _ml().GradientBoostingClassifier(**params)

    def _regressor(self) -> Any:
        params = dict(CHURN_GBDT_PARAMS, loss="poisson", random_state=self.random_state)
        params.update({k: v for k, v in self.gbdt_params.items() if k != "class_weight"})
        return _ml().GradientBoostingRegressor(**params)

    def _logistic(self) -> Any:
        params = dict(C=1.0, max_iter=1000)
        params.update(self.logistic_params)
        return _ml().LogisticRegression(**params)

    def _fit_all(self, x: pl.DataFrame, y: np.ndarray, spend: np.ndarray, *, want_gbdt: bool, want_lr: bool,
                 want_reg: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if want_gbdt:
            out["gbdt"] = self._classifier().fit(_tree_frame(x), y)
        if want_lr:
            prep = _LinearPrep().fit(x)
            mat, _, _ = prep.transform(x)
            out["prep"] = prep
            out["lr"] = self._logistic().fit(mat, y)
        if want_reg:
            out["reg"] = self._regressor().fit(_tree_frame(x), np.maximum(spend, 0.0))
        return out

    @staticmethod
    def _raw(models: dict[str, Any], x: pl.DataFrame, cache: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        """Raw outputs of the fitted models; ``cache`` keeps the trees' frame and the
        regression's matrix for a later ``_contributions`` on the same rows."""
        cache = {} if cache is None else cache
        raw = {}
        if "gbdt" in models or "reg" in models:
            cache["trees"] = tf = cache["trees"] if "trees" in cache else _tree_frame(x)
        if "gbdt" in models:
            raw["gbdt"] = np.asarray(models["gbdt"].decision_function(tf), dtype=np.float64)
        if "lr" in models:
            cache["prep"] = cache["prep"] if "prep" in cache else models["prep"].transform(x)
            raw["lr"] = np.asarray(models["lr"].decision_function(cache["prep"][0]), dtype=np.float64)
        if "reg" in models:
            raw["reg"] = np.asarray(models["reg"].predict(tf), dtype=np.float64)
        return raw

    # ------------------------------------------------------------------ fit

    def _default_cutoffs(self, first: _dt.datetime, end: _dt.datetime) -> tuple[list[Any], Optional[_dt.datetime]]:
        """Monthly training cutoffs whose label windows end by the validation cutoff (the
        latest month start with a full horizon before the data end)."""
        def month_start(d: _dt.datetime) -> _dt.datetime:
            return _dt.datetime(d.year, d.month, 1)

        def back(d: _dt.datetime, months: int) -> _dt.datetime:
            m = d.year * 12 + d.month - 1 - months
            return _dt.datetime(m // 12, m % 12 + 1, 1)

        h = _dt.timedelta(days=self.horizon)
        earliest = first + _dt.timedelta(days=min(90, self.horizon))  # some history before the first cutoff
        val = month_start(end - h)
        if val <= earliest:
            raise CrmError(f"ChurnModel.fit: the orders span {first.date()} to {end.date()}, too short for a "
                           f"{self.horizon}-day horizon with some history before a cutoff; use a shorter horizon")
        last_train = month_start(val - h)
        train = [c for c in (back(last_train, i) for i in range(self.n_cutoffs)) if c >= earliest]
        if not train:
            # Too short for a fully out-of-time fold: the label windows of the training
            # cutoffs then overlap the fold's (said in a warning).
            train = [c for c in (back(val, i) for i in range(1, self.n_cutoffs + 1)) if c >= earliest]
            if train:
                warnings.warn("ChurnModel.fit: the data are too short for a fully out-of-time validation fold "
                              f"(training label windows overlap the fold at {val.date()})", stacklevel=3)
        if not train:
            return [val], None
        return sorted(train), val

    def fit(self, orders: Union[pl.DataFrame, pl.LazyFrame], *, cutoffs: Optional[Sequence[Any]] = None,
            events: Any = None, items: Any = None, **feature_options: Any) -> "ChurnModel":
        """Trains on features and labels at ``cutoffs`` (see the class docstring); options
        such as ``windows`` or column names for events and items go to ``features``."""
        fn = "ChurnModel.fit"
        frame = as_lazy(orders, argument="orders").pipe(_interrupt.collect)
        _, schema = _orders_base(frame, self.customer, self.date, self.amount, fn)
        n_bad = frame.select((~pl.col(self.amount).cast(pl.Float64).is_finite()).sum()).item()
        if n_bad:
            # The spend model learns from amounts: a NaN or an infinity would poison its target.
            raise CrmError(f"{fn}: column '{self.amount}' in 'orders' holds {n_bad} NaN or infinite value(s); "
                           f"drop or fix those rows first (for example orders.filter(pl.col('{self.amount}').is_finite()))")
        span = frame.select(_date_us(self.date, schema[self.date]).min().alias("a"),
                            _date_us(self.date, schema[self.date]).max().alias("b")).row(0)
        if span[0] is None:
            raise CrmError(f"{fn}: 'orders' is empty (0 rows)")
        epoch = _dt.datetime(1970, 1, 1)
        first = epoch + _dt.timedelta(microseconds=span[0])
        end = epoch + _dt.timedelta(microseconds=span[1] + (_DAY_US if schema[self.date] == pl.Date else 1))
        if cutoffs is None:
            train_cuts, val_cut = self._default_cutoffs(first, end)
        else:
            cuts = sorted({_cutoff(c, "cutoffs", fn) for c in cutoffs})
            if not cuts:
                raise CrmError(f"{fn}: cutoffs is empty")
            if len(cuts) == 1:
                train_cuts, val_cut = cuts, None
            else:
                val_cut = cuts[-1]
                h = _dt.timedelta(days=self.horizon)
                train_cuts = [c for c in cuts[:-1] if c + h <= val_cut]
                if not train_cuts:
                    train_cuts = cuts[:-1]
                    warnings.warn(f"{fn}: no cutoff's label window ends by the latest cutoff {val_cut.date()}; the "
                                  "validation fold is not fully out of time", stacklevel=2)
        opts = dict(windows=self.windows, events=events, items=items, **feature_options)
        all_cuts = sorted(set(train_cuts) | ({val_cut} if val_cut is not None else set()))
        data = training_set(frame, cutoffs=all_cuts, horizon=self.horizon, customer=self.customer, date=self.date,
                            amount=self.amount, data_end=end, **opts)
        candidates = [c for c in data.columns if c not in (self.customer, "cutoff", *_LABELS)]
        # A feature that never varies in the training data (e.g. web events when the event
        # log starts after the training cutoffs) carries nothing to learn: leave it out.
        varies = data.select([pl.col(c).cast(pl.Float64).fill_nan(None).drop_nulls().n_unique().alias(c)
                              for c in candidates]).row(0, named=True)
        names = [c for c in candidates if varies[c] > 1]
        self.constant_features_ = [c for c in candidates if varies[c] <= 1]
        self.feature_names_in_ = names
        self.feature_options_ = {k: v for k, v in feature_options.items() if isinstance(v, (str, int, float, type(None)))}
        y_all = data["churned"].cast(pl.Float64).to_numpy()
        if y_all.min() == y_all.max():
            raise CrmError(f"{fn}: every customer has the same label (churned={bool(y_all[0])}) at the cutoffs "
                           f"{[str(c.date()) for c in all_cuts]}; there is nothing to learn")
        want_gbdt, want_lr = self.model in ("auto", "gbdt"), self.model in ("auto", "logistic")
        want_reg = self.spend_model in ("auto", "gbdt")

        # Out-of-time (or cross-fitted) predictions for choosing and calibrating.
        if val_cut is not None:
            is_val = (data["cutoff"] == val_cut).to_numpy()
            tr, va = data.filter(~pl.Series(is_val)), data.filter(pl.Series(is_val))
            ytr = tr["churned"].cast(pl.Float64).to_numpy()
            if ytr.min() == ytr.max():
                raise CrmError(f"{fn}: the training cutoffs hold one class only; pass other cutoffs")
            models = self._fit_all(tr.select(names), ytr, tr["future_spend"].to_numpy(), want_gbdt=want_gbdt,
                                   want_lr=want_lr, want_reg=want_reg)
            held = self._raw(models, va.select(names))
            fold = va
        else:
            fold = data
            held = self._cross_fit(data, names, want_gbdt, want_lr, want_reg)
        y_val = fold["churned"].cast(pl.Float64).to_numpy()
        if y_val.min() == y_val.max():
            raise CrmError(f"{fn}: the validation fold holds one class only; pass other cutoffs")

        # Choose the blend of log-odds, then calibrate it.
        grid = _BLEND_GRID if self.model == "auto" else ((1.0,) if self.model == "gbdt" else (0.0,))
        best = None
        for w in grid:
            z = w * held.get("gbdt", 0.0) + (1 - w) * held.get("lr", 0.0)
            auc = metrics.roc_auc_score(y_val, z)
            ll = metrics.log_loss(y_val, _sigmoid(z))
            if best is None or auc > best[1] + 1e-4 or (abs(auc - best[1]) <= 1e-4 and ll < best[2]):
                best = (w, auc, ll)
        assert best is not None
        self.blend_ = float(best[0])
        z_val = self.blend_ * held.get("gbdt", 0.0) + (1 - self.blend_) * held.get("lr", 0.0)
        self.calibration_ = _platt(np.asarray(z_val, dtype=np.float64), y_val)

        # Spend: GBDT regressor, BTYD value or a blend, by MAE on the fold.
        spend_true = fold["future_spend"].to_numpy()
        btyd_value = fold["btyd_expected_spend"].fill_null(0.0).to_numpy() if "btyd_expected_spend" in fold.columns \
            else np.zeros(fold.height)
        weights = _BLEND_GRID if self.spend_model == "auto" else ((1.0,) if self.spend_model == "gbdt" else (0.0,))
        best_mae = None
        for v in weights:
            pred = v * held.get("reg", 0.0) + (1 - v) * btyd_value
            mae = float(np.mean(np.abs(spend_true - pred)))
            if best_mae is None or mae < best_mae[1] - 1e-12:
                best_mae = (v, mae)
        assert best_mae is not None
        self.spend_blend_ = float(best_mae[0])

        # Hedge with the BTYD probability. A supervised model's calibration holds at the
        # cutoffs it saw; when customers age past them (a cohort, a shifting mix) its level
        # drifts, while the BG/NBD probability follows the ageing by construction (CDNOW,
        # trained at 1997-07-01 and scored at 1997-12-31: ECE 0.052 alone, 0.029 half-and-
        # half). The largest weight whose ranking on the fold is within 0.002 ROC AUC of the
        # best is taken, so the hedge never costs ranking.
        p_cal = _sigmoid(self.calibration_[0] * z_val + self.calibration_[1])
        b_val = _btyd_column(fold)
        self.btyd_weight_ = 0.0
        if b_val is not None and not np.all(np.isnan(b_val)):
            aucs = {beta: metrics.roc_auc_score(y_val, _hedge(p_cal, b_val, beta)) for beta in (0.0, 0.25, 0.5)}
            top = max(aucs.values())
            self.btyd_weight_ = max(beta for beta, auc in aucs.items() if auc >= top - 0.002)
        p_val = _hedge(p_cal, b_val, self.btyd_weight_)
        self.validation_ = self._comparison(fold, p_val, held, spend_pred=self.spend_blend_ * held.get("reg", 0.0)
                                            + (1 - self.spend_blend_) * btyd_value)

        # Final models on every cutoff.
        final = self._fit_all(data.select(names), y_all, data["future_spend"].to_numpy(),
                              want_gbdt=want_gbdt and self.blend_ > 0, want_lr=want_lr and self.blend_ < 1,
                              want_reg=want_reg and self.spend_blend_ > 0)
        self.models_ = final
        self.cutoffs_ = all_cuts
        self.validation_cutoff_ = val_cut
        self.n_training_rows_ = data.height
        # The centre of the BTYD hedge's contributions, fixed at training so that a
        # customer's reasons do not depend on which other customers are scored with it
        # (a Spark partition, a subset).
        b_all = _btyd_column(data)
        self._btyd_centre = float(np.mean(_logit(np.nan_to_num(b_all, nan=0.5)))) if b_all is not None else 0.0
        if "lr" in final:
            mat, _, lr_source = final["prep"].transform(data.select(names))
            self._lr_means = mat.mean(axis=0)
            self._lr_source = lr_source
        return self

    def _cross_fit(self, data: pl.DataFrame, names: list[str], want_gbdt: bool, want_lr: bool,
                   want_reg: bool, k: int = 5) -> dict[str, Any]:
        ids = data[self.customer].unique().sort()
        rng = np.random.default_rng(self.random_state)
        fold_of = pl.DataFrame({self.customer: ids, "__fold": rng.permutation(len(ids)) % k})
        folds = data.select(self.customer).join(fold_of, on=self.customer, how="left")["__fold"].to_numpy()
        held: dict[str, Any] = {}
        for f in range(k):
            tr, te = folds != f, folds == f
            if not te.any():
                continue
            part = data.filter(pl.Series(tr))
            ytr = part["churned"].cast(pl.Float64).to_numpy()
            if ytr.min() == ytr.max():
                raise CrmError("ChurnModel.fit: a cross-fitting fold holds one class only; use more customers")
            models = self._fit_all(part.select(names), ytr, part["future_spend"].to_numpy(), want_gbdt=want_gbdt,
                                   want_lr=want_lr, want_reg=want_reg)
            raw = self._raw(models, data.filter(pl.Series(te)).select(names))
            for key, values in raw.items():
                held.setdefault(key, np.zeros(data.height))[te] = values
        return held

    # ------------------------------------------------------------------ scoring

    def _check_fitted(self, fn: str) -> None:
        if not hasattr(self, "models_"):
            raise CrmError(f"{fn}: the model has not been fitted yet; call .fit(orders) first")

    def _logits(self, x: pl.DataFrame, cache: Optional[dict[str, Any]] = None) -> tuple[np.ndarray, dict[str, Any]]:
        raw = self._raw(self.models_, x, cache)
        z = self.blend_ * raw.get("gbdt", 0.0) + (1 - self.blend_) * raw.get("lr", 0.0)
        return np.asarray(z, dtype=np.float64) * np.ones(x.height), raw

    def _align(self, f: pl.DataFrame) -> pl.DataFrame:
        """The training columns in training order (a channel unseen now gets share 0)."""
        missing = [c for c in self.feature_names_in_ if c not in f.columns]
        if missing:
            fill = [pl.lit(0.0 if c.startswith("channel_share_") else None, pl.Float64).alias(c) for c in missing]
            f = f.with_columns(fill)
        return f

    def _contributions(self, x: pl.DataFrame, exact: Optional[bool] = None,
                       cache: Optional[dict[str, Any]] = None) -> np.ndarray:
        """Per-feature contributions to the blended log-odds (TreeSHAP for the trees,
        coefficient x centred input for the regression, summed back onto features)."""
        names = self.feature_names_in_
        total = np.zeros((x.height, len(names)), order="F")
        has_lr = "lr" in self.models_ and self.blend_ < 1
        # Exact TreeSHAP costs tens of microseconds per row (about 60 us of CPU for 150
        # trees of 15 leaves, with the per-leaf tables); beyond EXACT_REASON_ROWS customers the
        # reasons come from the regression's exact linear contributions alone (when the
        # blend has one), which keeps scoring a million customers in seconds.
        if exact is None:
            exact = x.height <= EXACT_REASON_ROWS
        trees = "gbdt" in self.models_ and self.blend_ > 0 and (exact or not has_lr)
        w_lr = (1 - self.blend_) if trees else 1.0
        cache = {} if cache is None else cache
        if trees:
            tf = cache["trees"] if "trees" in cache else _tree_frame(x)
            c = self.models_["gbdt"].contributions(tf)
            total += self.blend_ * c.select(names).to_numpy()
        if has_lr:
            mat, _, source = cache["prep"] if "prep" in cache else self.models_["prep"].transform(x)
            coef = np.asarray(self.models_["lr"].coef_, dtype=np.float64).reshape(-1)
            # Each matrix column j adds coef_j (x_j - mean_j) onto the feature it came
            # from (a feature and its missing flag). Column by column on column-major
            # arrays: contiguous and without a temporary as large as the matrix.
            index = {n: i for i, n in enumerate(names)}
            means = np.asarray(self._lr_means, dtype=np.float64).reshape(-1)
            for j, src in enumerate(source):
                total[:, index[src]] += (mat[:, j] - means[j]) * (w_lr * coef[j])
        total *= self.calibration_[0] * (1 - self.btyd_weight_)
        b = _btyd_column(x)
        if self.btyd_weight_ > 0 and b is not None and "btyd_p_no_purchase" in names:
            lb = _logit(np.nan_to_num(b, nan=0.5))
            centre = getattr(self, "_btyd_centre", None)
            total[:, names.index("btyd_p_no_purchase")] += self.btyd_weight_ * (lb - (np.mean(lb) if centre is None
                                                                                       else centre))
        return total

    def _band(self, p: np.ndarray) -> pl.Series:
        labels = ["low", "medium", "high", "very high"][: len(self.bands) + 1] if len(self.bands) <= 3 else \
            [f"band {i}" for i in range(len(self.bands) + 1)]
        idx = np.searchsorted(np.asarray(self.bands), p, side="right")
        return pl.Series("risk_band", np.asarray(labels, dtype=object)[idx].tolist(),
                         dtype=pl.Enum(labels))

    def score_features(self, f: pl.DataFrame, *, reasons: bool = True,
                       exact_reasons: Optional[bool] = None) -> pl.DataFrame:
        """``score`` on a frame from ``churn.features`` (computed at the scoring date).

        ``exact_reasons``: True explains with exact TreeSHAP on the trees, False with the
        regression's linear contributions (much faster); None (default) chooses exact up to
        ``EXACT_REASON_ROWS`` customers. Every row is scored on its own, so scoring a
        subset (a Spark partition) gives each customer the same values as scoring all."""
        fn = "ChurnModel.score_features"
        self._check_fitted(fn)
        f = self._align(f)
        x = f.select(self.feature_names_in_)
        cache: dict[str, Any] = {}
        z, raw = self._logits(x, cache)
        p = _hedge(_sigmoid(self.calibration_[0] * z + self.calibration_[1]), _btyd_column(f), self.btyd_weight_)
        btyd = f["btyd_expected_spend"].fill_null(0.0).to_numpy() if "btyd_expected_spend" in f.columns \
            else np.zeros(f.height)
        spend = self.spend_blend_ * raw.get("reg", 0.0) + (1 - self.spend_blend_) * btyd
        spend = np.asarray(spend, dtype=np.float64) * np.ones(f.height)
        w = max(self.windows)
        pace_days = np.minimum(f["tenure"].to_numpy(), float(w))
        recent = f[f"spend_{w}d"].to_numpy() if f"spend_{w}d" in f.columns else f["monetary_sum"].to_numpy()
        pace = np.where(pace_days > 0, recent / np.maximum(pace_days, 1.0) * self.horizon, 0.0)
        cols = [
            f[self.customer],
            pl.Series("churn_probability", p),
            self._band(p),
            pl.Series("expected_future_spend", spend),
            pl.Series("value_at_risk", p * np.maximum(pace, 0.0)),
        ]
        if reasons:
            contrib = self._contributions(x, exact_reasons, cache)
            cols.append(top_reasons(f, contrib, self.feature_names_in_, horizon=self.horizon, k=self.n_reasons))
        return pl.DataFrame(cols).sort("churn_probability", descending=True, maintain_order=True)

    def score(self, orders: Union[pl.DataFrame, pl.LazyFrame], *, as_of: Any = None, events: Any = None,
              items: Any = None, reasons: bool = True, **feature_options: Any) -> pl.DataFrame:
        """Scores every customer with an order before ``as_of`` (default: the day after the
        last order): ``churn_probability`` (calibrated), ``risk_band`` (by ``bands``),
        ``expected_future_spend`` over the horizon, ``value_at_risk`` (churn probability
        times the customer's spend pace over the last year, scaled to the horizon) and
        ``top_reasons`` (the largest contributions toward churn, in words)."""
        fn = "ChurnModel.score"
        self._check_fitted(fn)
        frame = as_lazy(orders, argument="orders")
        if as_of is None:
            _, schema = _orders_base(frame, self.customer, self.date, self.amount, fn)
            last = frame.select(_date_us(self.date, schema[self.date]).max()).pipe(_interrupt.collect).item()
            if last is None:
                raise CrmError(f"{fn}: 'orders' is empty (0 rows)")
            as_of = _dt.datetime(1970, 1, 1) + _dt.timedelta(days=last // _DAY_US + 1)
        opts = {**self.feature_options_, **feature_options}
        f = features(frame, cutoff=as_of, customer=self.customer, date=self.date, amount=self.amount,
                     events=events, items=items, windows=self.windows, horizon=self.horizon, **opts)
        return self.score_features(f, reasons=reasons)

    # ------------------------------------------------------------------ evaluation

    def _comparison(self, fold: pl.DataFrame, p_model: np.ndarray, raw: dict[str, Any],
                    spend_pred: Any) -> pl.DataFrame:
        y = fold["churned"].cast(pl.Float64).to_numpy()
        rows = []

        def add(name: str, score: np.ndarray, is_prob: bool) -> None:
            g = metrics.gains_table(y, score) if len(y) >= 10 else None
            rows.append({
                "task": "churn", "model": name,
                "roc_auc": metrics.roc_auc_score(y, score),
                "pr_auc": metrics.average_precision_score(y, score),
                "log_loss": metrics.log_loss(y, score) if is_prob else None,
                "brier": metrics.brier_score_loss(y, score) if is_prob else None,
                "ece": metrics.expected_calibration_error(y, score) if is_prob else None,
                "top_decile_lift": float(g["lift"][0]) if g is not None else None,
                "mae": None, "r2": None,
            })

        add("ChurnModel", p_model, True)
        if "gbdt" in raw:
            add("gbdt (uncalibrated)", _sigmoid(raw["gbdt"]), True)
        if "lr" in raw:
            add("logistic regression", _sigmoid(raw["lr"]), True)
        add("recency rule", fold["recency"].to_numpy().astype(np.float64), False)
        if "btyd_p_no_purchase" in fold.columns and fold["btyd_p_no_purchase"].null_count() == 0:
            add("BG/NBD P(no purchase)", fold["btyd_p_no_purchase"].to_numpy(), True)
            add("1 - P(alive)", 1 - fold["btyd_p_alive"].to_numpy(), True)
        actual = fold["future_spend"].to_numpy()

        def add_spend(name: str, pred: np.ndarray) -> None:
            pred = np.asarray(pred, dtype=np.float64) * np.ones(len(actual))
            ss = float(np.sum((actual - actual.mean()) ** 2))
            rows.append({"task": "future_spend", "model": name, "roc_auc": None, "pr_auc": None, "log_loss": None,
                         "brier": None, "ece": None, "top_decile_lift": None,
                         "mae": float(np.mean(np.abs(actual - pred))),
                         "r2": 1 - float(np.sum((actual - pred) ** 2)) / ss if ss > 0 else None})

        add_spend("ChurnModel", spend_pred)
        if "reg" in raw:
            add_spend("gbdt regressor (poisson)", raw["reg"])
        if "btyd_expected_spend" in fold.columns:
            add_spend("BG/NBD x Gamma-Gamma", fold["btyd_expected_spend"].fill_null(0.0).to_numpy())
        naive = f"spend_{self.horizon}d"
        if naive in fold.columns:
            add_spend(f"naive last {self.horizon} days", fold[naive].to_numpy())
        schema = {"task": pl.String, "model": pl.String, "roc_auc": pl.Float64, "pr_auc": pl.Float64,
                  "log_loss": pl.Float64, "brier": pl.Float64, "ece": pl.Float64, "top_decile_lift": pl.Float64,
                  "mae": pl.Float64, "r2": pl.Float64}
        return pl.DataFrame(rows, schema=schema)

    def evaluate(self, orders: Union[pl.DataFrame, pl.LazyFrame], *, cutoff: Any, events: Any = None,
                 items: Any = None, **feature_options: Any) -> pl.DataFrame:
        """The model against the baselines users would otherwise use, at a ``cutoff`` whose
        horizon the data cover (choose one after the training cutoffs' label windows for an
        honest out-of-time test): churn rows (ROC AUC, PR AUC, log loss, Brier, ECE, top-
        decile lift) for the model, the uncalibrated trees and regression, the recency rule,
        BG/NBD P(no purchase) and 1 - P(alive); future-spend rows (MAE, R²) for the model,
        the GBDT regressor, BG/NBD x Gamma-Gamma and the naive last-horizon spend."""
        fn = "ChurnModel.evaluate"
        self._check_fitted(fn)
        cut = _cutoff(cutoff, "cutoff", fn)
        if self.cutoffs_ and cut < max(self.cutoffs_) + _dt.timedelta(days=self.horizon):
            warnings.warn(f"{fn}: the cutoff {cut.date()} is within {self.horizon} days of the last training cutoff "
                          f"{max(self.cutoffs_).date()}: the evaluation window overlaps the training labels",
                          stacklevel=2)
        frame = as_lazy(orders, argument="orders").pipe(_interrupt.collect)
        opts = {**self.feature_options_, **feature_options}
        windows = tuple(sorted(set(self.windows) | {self.horizon}))
        f = features(frame, cutoff=cut, customer=self.customer, date=self.date, amount=self.amount, events=events,
                     items=items, windows=windows, horizon=self.horizon, **opts)
        y = labels(frame, cutoff=cut, horizon=self.horizon, customer=self.customer, date=self.date,
                   amount=self.amount)
        fold = self._align(f).join(y, on=self.customer, how="left")
        x = fold.select(self.feature_names_in_)
        z, raw = self._logits(x)
        p = _hedge(_sigmoid(self.calibration_[0] * z + self.calibration_[1]), _btyd_column(fold), self.btyd_weight_)
        btyd = fold["btyd_expected_spend"].fill_null(0.0).to_numpy() if "btyd_expected_spend" in fold.columns \
            else np.zeros(fold.height)
        spend = self.spend_blend_ * raw.get("reg", 0.0) + (1 - self.spend_blend_) * btyd
        return self._comparison(fold, p, raw, spend)

    # ------------------------------------------------------------------ persistence

    def save(self, path: Union[str, Path]) -> None:
        """Writes the fitted model as JSON (never a pickle)."""
        Path(path).write_text(self.to_json())

    def to_json(self) -> str:
        """The fitted model as a JSON document (what ``save`` writes; ``churn.load`` and
        ``ChurnModel.from_json`` read it back)."""
        self._check_fitted("ChurnModel.to_json")
        doc = {
            "crmkit_model": _FORMAT,
            "version": 1,
            "params": {"horizon": self.horizon, "model": self.model, "n_cutoffs": self.n_cutoffs,
                       "cutoff_step_days": self.cutoff_step_days, "windows": list(self.windows),
                       "spend_model": self.spend_model, "bands": list(self.bands), "n_reasons": self.n_reasons,
                       "gbdt_params": self.gbdt_params, "logistic_params": self.logistic_params,
                       "random_state": self.random_state, "customer": self.customer, "date": self.date,
                       "amount": self.amount},
            "feature_names_in": self.feature_names_in_,
            "feature_options": self.feature_options_,
            "blend": self.blend_,
            "calibration": list(self.calibration_),
            "spend_blend": self.spend_blend_,
            "btyd_weight": self.btyd_weight_,
            "cutoffs": [c.isoformat() for c in self.cutoffs_],
            "validation_cutoff": self.validation_cutoff_.isoformat() if self.validation_cutoff_ else None,
            "validation": self.validation_.to_dicts(),
            "n_training_rows": self.n_training_rows_,
            "models": {k: _model_json(v) for k, v in self.models_.items() if k in ("gbdt", "lr", "reg")},
            "prep": self.models_["prep"].state if "prep" in self.models_ else None,
            "lr_means": self._lr_means.tolist() if "lr" in self.models_ else None,
            "lr_source": self._lr_source if "lr" in self.models_ else None,
            "btyd_centre": getattr(self, "_btyd_centre", None),
        }
        return json.dumps(doc)

    @classmethod
    def load(cls, path: Union[str, Path]) -> "ChurnModel":
        """Reads a model written by ``save``."""
        return load(path)

    @classmethod
    def from_json(cls, text: str) -> "ChurnModel":
        """The model of a JSON document written by ``to_json``."""
        return _from_text(text, "ChurnModel.from_json", "the text")


def load(path: Union[str, Path]) -> ChurnModel:
    """Reads a ``ChurnModel`` written by ``ChurnModel.save`` (JSON, with the crmkit.ml
    models inside).

    >>> import os, tempfile
    >>> from crmkit import churn, datasets
    >>> world = datasets.generate(n_customers=600, seed=4, start="2023-06-01", end="2025-07-01")
    >>> m = churn.ChurnModel(horizon=120, model="logistic", n_cutoffs=2).fit(world.orders)
    >>> path = os.path.join(tempfile.mkdtemp(), "churn.json")
    >>> m.save(path)
    >>> again = churn.load(path)
    >>> again.score(world.orders)["churn_probability"].equals(m.score(world.orders)["churn_probability"])
    True
    """
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise CrmError(f"churn.load: cannot read a model from {path}: {e}") from None
    return _from_text(text, "churn.load", str(path))


def _from_text(text: str, fn: str, source: str) -> ChurnModel:
    from crmkit._modelfile import ModelDoc, check_keys

    try:
        doc = json.loads(text)
    except (TypeError, ValueError) as e:
        raise CrmError(f"{fn}: cannot read a model from {source}: {e}") from None
    if not isinstance(doc, dict) or doc.get("crmkit_model") != _FORMAT:
        raise CrmError(f"{fn}: {source} does not hold a crmkit ChurnModel")
    d = ModelDoc(doc, fn, source)
    if d.number("version", integer=True) != 1:
        raise CrmError(f"{fn}: {source}: model file version {doc.get('version')!r} is not supported (expects 1)")
    params = check_keys(doc.get("params"), ("horizon", "model", "n_cutoffs", "cutoff_step_days", "windows",
                                            "spend_model", "bands", "n_reasons", "gbdt_params", "logistic_params",
                                            "random_state", "customer", "date", "amount"), fn, source)
    p = ModelDoc(params, fn, f"{source} [params]")
    for key in ("customer", "date", "amount"):
        if key in params:
            p.get(key, str, "a column name")
    p.number("n_reasons", lo=1, hi=1000, integer=True, optional=True)
    p.number("random_state", lo=0, hi=2**63, integer=True, optional=True)
    p.get("gbdt_params", dict, "a JSON object", optional=True)
    p.get("logistic_params", dict, "a JSON object", optional=True)
    for key in ("windows", "bands"):
        p.numbers(key, optional=True)
    try:
        m = ChurnModel(**params)
    except (TypeError, ValueError) as e:
        raise CrmError(f"{fn}: {source}: bad model parameters ({e})") from None
    names = d.strings("feature_names_in", non_empty=True)
    m.feature_names_in_ = list(names)
    m.feature_options_ = dict(d.get("feature_options", dict, "a JSON object"))
    m.blend_ = d.number("blend", lo=0.0, hi=1.0)
    cal = d.numbers("calibration", length=2)
    m.calibration_ = (cal[0], cal[1])
    m.spend_blend_ = d.number("spend_blend", lo=0.0, hi=1.0)
    m.btyd_weight_ = d.number("btyd_weight", lo=0.0, hi=1.0)
    try:
        m.cutoffs_ = [_dt.datetime.fromisoformat(c) for c in d.strings("cutoffs")]
        val_cut = d.get("validation_cutoff", str, "an ISO date", optional=True)
        m.validation_cutoff_ = _dt.datetime.fromisoformat(val_cut) if val_cut else None
    except ValueError as e:
        raise CrmError(f"{fn}: {source}: a cutoff is not an ISO date ({e})") from None
    validation = d.get("validation", list, "a list of rows")
    try:
        m.validation_ = pl.DataFrame(validation, schema={
            "task": pl.String, "model": pl.String, "roc_auc": pl.Float64, "pr_auc": pl.Float64, "log_loss": pl.Float64,
            "brier": pl.Float64, "ece": pl.Float64, "top_decile_lift": pl.Float64, "mae": pl.Float64, "r2": pl.Float64})
    except Exception as e:  # noqa: BLE001 - polars raises several kinds for malformed rows
        raise CrmError(f"{fn}: {source}: field 'validation' is not a table of evaluation rows ({e})") from None
    m.n_training_rows_ = d.number("n_training_rows", lo=0, integer=True)  # type: ignore[assignment]
    models_doc = d.sub("models")
    unknown = sorted(set(models_doc.doc) - {"gbdt", "lr", "reg"})
    if unknown or not models_doc.doc:
        raise CrmError(f"{fn}: {source}: field 'models' must hold 'gbdt', 'lr' or 'reg' models, found {unknown}")
    models: dict[str, Any] = {k: _model_from_json(v) for k, v in models_doc.doc.items()}
    for k, v in models.items():
        if k != "lr" and getattr(v, "n_features_in_", len(names)) != len(names):
            raise CrmError(f"{fn}: {source}: the '{k}' model takes {v.n_features_in_} features, the file names "
                           f"{len(names)}")
    if ("lr" in models) != d.has("prep"):
        raise CrmError(f"{fn}: {source}: a logistic model and its input preparation ('prep') come together")
    if d.has("prep"):
        prep = d.sub("prep")
        cols = prep.sub("columns")
        if list(cols.doc) != names:
            raise CrmError(f"{fn}: {source}: 'prep' must describe the model's features in order")
        n_inputs = 0
        for name in names:
            c = cols.sub(name)
            c.get("flag", bool, "true or false")
            c.get("log", bool, "true or false")
            c.number("median")
            n_inputs += 1 + bool(c.doc["flag"])
        models["prep"] = _LinearPrep(prep.doc)
        if getattr(models["lr"], "n_features_in_", n_inputs) != n_inputs:
            raise CrmError(f"{fn}: {source}: the logistic model takes {models['lr'].n_features_in_} inputs, "
                           f"'prep' makes {n_inputs}")
        m._lr_means = np.asarray(d.numbers("lr_means", length=n_inputs), dtype=np.float64)
        source_names = d.strings("lr_source")
        if len(source_names) != n_inputs or not set(source_names) <= set(names):
            raise CrmError(f"{fn}: {source}: 'lr_source' must name a feature for each of the {n_inputs} inputs")
        m._lr_source = list(source_names)
    centre = d.number("btyd_centre", optional=True)
    if centre is not None:
        m._btyd_centre = centre
    m.models_ = models
    return m


def demo_step(ctx: Any) -> Any:
    """Fits a ChurnModel on the orders (with items and events when given), scores every
    customer at the analysis date and reports the out-of-time validation."""
    from crmkit._pipeline import StepOutput

    try:
        model = ChurnModel(horizon=180, n_cutoffs=3).fit(ctx.orders, events=ctx.events, items=ctx.items)
    except CrmError as e:
        return StepOutput({}, [f"churn model skipped: {e}"])
    scores = model.score(ctx.orders, as_of=ctx.as_of, events=ctx.events, items=ctx.items)
    ev = model.validation_
    churn_rows = ev.filter(pl.col("task") == "churn")
    lines = [
        f"trained on {model.n_training_rows_:,} customer snapshots at {len(model.cutoffs_)} cutoffs; "
        f"gbdt weight {model.blend_:.2f}",
    ]
    for r in churn_rows.iter_rows(named=True):
        ece = f", ECE {r['ece']:.3f}" if r["ece"] is not None else ""
        lines.append(f"{r['model']}: ROC AUC {r['roc_auc']:.3f}{ece}")
    at_risk = scores.filter(pl.col("risk_band").cast(pl.String).is_in(["high", "very high"]))
    lines.append(f"{at_risk.height:,} of {scores.height:,} customers at high risk; value at risk "
                 f"{scores['value_at_risk'].sum():,.0f}")
    return StepOutput({"scores": scores, "evaluation": ev}, lines)

