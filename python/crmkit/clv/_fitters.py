"""The buy-till-you-die fitters (lifetimes' classes and methods) and their JSON persistence."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

import numpy as np
import polars as pl

from crmkit import _core, _interrupt
from crmkit._plugin import plugin_call
from crmkit._validate import require_columns
from crmkit.errors import CrmError, SchemaError, TooLargeError

if TYPE_CHECKING:
    from typing_extensions import Self

#: Periods per month used by customer_lifetime_value (lifetimes' factors).
#: Largest P(alive) / frequency-recency grid a matrix method builds (400 MB of floats).
_MAX_GRID_CELLS = 50_000_000
_MONTH_FACTOR = {"W": 4.345, "M": 1.0, "D": 30.0, "H": 30.0 * 24, "h": 30.0 * 24}

# fitters
# ---------------------------------------------------------------------------


def _vector(values: Any, name: str, function: str) -> np.ndarray:
    if isinstance(values, pl.Series):
        if values.null_count():
            raise SchemaError(f"{function}: '{name}' holds {values.null_count()} null value(s); drop or fill them first")
        arr = values.cast(pl.Float64).to_numpy()
    else:
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise CrmError(f"{function}: '{name}' must be numeric, found {type(values).__name__} ({e})") from None
    arr = np.atleast_1d(arr).astype(np.float64, copy=False)
    if arr.ndim != 1:
        raise CrmError(f"{function}: '{name}' must be one-dimensional, found shape {arr.shape}")
    bad = int(np.count_nonzero(~np.isfinite(arr)))
    if bad:
        raise CrmError(f"{function}: '{name}' holds {bad} NaN or infinite value(s); a model cannot be fitted on them")
    return np.ascontiguousarray(arr)


def _from_frame(data: Any, names: tuple[str, ...], function: str) -> list[pl.Series]:
    frame = data.pipe(_interrupt.collect) if isinstance(data, pl.LazyFrame) else data
    if type(frame).__module__.startswith("pandas"):
        frame = pl.from_pandas(frame)
    require_columns(frame, {n: "numeric" for n in names}, function=function)
    return [frame.get_column(n) for n in names]


def _is_frame(obj: Any) -> bool:
    return isinstance(obj, (pl.DataFrame, pl.LazyFrame)) or type(obj).__name__ == "DataFrame"


def _check_history(x: np.ndarray, tx: np.ndarray, t: np.ndarray, function: str, *, discrete: bool = False) -> None:
    n = len(x)
    if len(tx) != n or len(t) != n:
        raise CrmError(f"{function}: frequency, recency and T must have the same length, found {n}, {len(tx)}, {len(t)}")
    if n == 0:
        raise CrmError(f"{function}: no customers given (0 rows)")
    checks = [
        (x < 0, "frequency is negative"),
        (x != np.round(x), "frequency is not a whole number"),
        (tx < 0, "recency is negative (last purchase before the first?)"),
        (t < 0, "T is negative"),
        (tx > t, "recency is larger than T"),
        ((x == 0) & (tx != 0), "recency is non-zero although frequency is 0"),
    ]
    if discrete:
        checks.append((x > tx, "frequency is larger than recency (at most one purchase per period)"))
    for mask, what in checks:
        k = int(np.count_nonzero(mask))
        if k:
            i = int(np.flatnonzero(mask)[0])
            raise CrmError(
                f"{function}: {k} customer(s) where {what}; first at position {i} "
                f"(frequency={x[i]:g}, recency={tx[i]:g}, T={t[i]:g})"
            )
    if not np.any(x > 0):
        raise CrmError(
            f"{function}: no customer has a repeat purchase (all {n} frequencies are 0); "
            "the model cannot be identified without repeat buyers"
        )
    if not np.any(t > 0):
        raise CrmError(f"{function}: every T is 0 (all customers were first seen at the end of observation)")


#: lifetimes' optimiser options; crmkit's own optimiser does not need them.
_LIFETIMES_OPTIONS = {"verbose", "tol", "index", "iterative_fitting", "fit_method", "maxiter", "q_constraint"}


def _ignore_options(options: dict[str, Any], function: str) -> None:
    unknown = sorted(set(options) - _LIFETIMES_OPTIONS)
    if unknown:
        raise CrmError(f"{function}: unexpected argument(s) {unknown}")
    if options:
        warnings.warn(
            f"{function}: lifetimes' optimiser option(s) {sorted(options)} are ignored; crmkit fits by Newton/BFGS "
            "with analytic gradients to a fixed tight tolerance (use max_iter to bound the work)",
            stacklevel=3,
        )


def _weights(weights: Any, n: int, function: str) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = _vector(weights, "weights", function)
    if len(w) != n:
        raise CrmError(f"{function}: 'weights' has length {len(w)}, expected {n}")
    if np.any(w < 0) or not np.any(w > 0):
        raise CrmError(f"{function}: 'weights' must be non-negative with a positive sum")
    return w


def _result(values: np.ndarray, name: str, *inputs: Any) -> Any:
    if any(isinstance(v, pl.Series) for v in inputs):
        return pl.Series(name, values)
    if all(np.ndim(v) == 0 for v in inputs):
        return float(values[0])
    return values


class _BaseFitter:
    """Shared machinery: fitting through the Rust kernel, summary, JSON persistence."""

    _model = ""
    _param_names: tuple[str, ...] = ()
    _label = ""
    #: Set by fitting (and loading) a transaction model: the largest frequency and T seen.
    data_extent_: dict[str, float]

    def __init__(self, penalizer_coef: float = 0.0) -> None:
        if not (isinstance(penalizer_coef, (int, float)) and penalizer_coef >= 0 and math.isfinite(penalizer_coef)):
            raise CrmError(f"{type(self).__name__}: penalizer_coef must be a non-negative number, found {penalizer_coef!r}")
        self.penalizer_coef = float(penalizer_coef)

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return f"<crmkit.clv.{type(self).__name__}>"
        ps = ", ".join(f"{k}: {v:.2f}" for k, v in self.params_.items())
        return f"<crmkit.clv.{type(self).__name__}: fitted with {self.n_customers_:g} subjects, {ps}>"

    def _params(self) -> list[float]:
        if not hasattr(self, "params_"):
            raise CrmError(f"{type(self).__name__}: the model has not been fitted yet; call .fit(...) first")
        return [self.params_[k] for k in self._param_names]

    def _run_fit(self, cols: list[np.ndarray], weights: np.ndarray, divisor: float, initial_params: Any,
                 max_iter: int) -> None:
        data, w = list(cols), weights  # identical rows are merged in Rust, after its sort
        while len(data) < 3:
            data.append(np.zeros_like(data[0]))
        init = None
        if initial_params is not None:
            if isinstance(initial_params, dict):
                init = [float(initial_params[k]) for k in self._param_names]
            else:
                init = [float(v) for v in initial_params]
            if len(init) != len(self._param_names) or not all(v > 0 and math.isfinite(v) for v in init):
                raise CrmError(f"{type(self).__name__}: initial_params must be {len(self._param_names)} positive numbers")
        out = _core.clv_fit(self._model, data[0], data[1], data[2], w, self.penalizer_coef, divisor, init, max_iter)
        self._set(out["params"], out["log_likelihood"], out["covariance"], float(weights.sum()))
        if out["covariance"] is None:
            warnings.warn(
                f"{type(self).__name__}: the Hessian at the fitted parameters {self.params_} is not positive "
                "definite (a parameter is running off to 0 or infinity, so the data barely identify it); "
                "standard errors and intervals are NaN. A small penalizer_coef keeps the parameters finite.",
                stacklevel=3,
            )
        self._negative_log_likelihood_ = out["objective"]
        self.iterations_ = out["iterations"]

    def _set(self, params: list[float], ll: float, cov: Optional[list[float]], n: float) -> None:
        k = len(self._param_names)
        self.params_ = dict(zip(self._param_names, map(float, params)))
        self.log_likelihood_ = float(ll)
        self.n_customers_ = n
        self._cov = None if cov is None else [float(c) for c in cov]
        if self._cov is None:
            self.variance_matrix_ = None
            self.standard_errors_ = {p: float("nan") for p in self._param_names}
        else:
            self.variance_matrix_ = np.array(self._cov).reshape(k, k)
            self.standard_errors_ = {p: float(math.sqrt(max(self.variance_matrix_[i, i], 0.0)))
                                     for i, p in enumerate(self._param_names)}
        self.confidence_intervals_ = {
            p: (self.params_[p] - 1.96 * self.standard_errors_[p], self.params_[p] + 1.96 * self.standard_errors_[p])
            for p in self._param_names
        }

    @property
    def summary(self) -> pl.DataFrame:
        """Estimates with standard errors and 95% intervals (delta method on the
        inverse Hessian of the log-likelihood), in lifetimes' column names."""
        self._params()
        return pl.DataFrame({
            "param": list(self._param_names),
            "coef": [self.params_[p] for p in self._param_names],
            "se(coef)": [self.standard_errors_[p] for p in self._param_names],
            "lower 95% bound": [self.confidence_intervals_[p][0] for p in self._param_names],
            "upper 95% bound": [self.confidence_intervals_[p][1] for p in self._param_names],
        })

    def save(self, path: Union[str, Path]) -> None:
        """Writes the fitted model as JSON (never pickle); read it back with ``crmkit.clv.load``."""
        self._params()
        doc = {
            "crmkit_model": type(self).__name__,
            "version": 1,
            "penalizer_coef": self.penalizer_coef,
            "params": self.params_,
            "log_likelihood": self.log_likelihood_,
            "covariance": self._cov,
            "n_customers": self.n_customers_,
            "data_extent": getattr(self, "data_extent_", None),
        }
        Path(path).write_text(json.dumps(doc, indent=2))

    def save_model(self, path: Union[str, Path], *_lifetimes_args: Any, **_lifetimes_kwargs: Any) -> None:
        """lifetimes' name for ``save``; writes JSON, never a pickle (the data is not stored)."""
        self.save(path)

    def load_model(self, path: Union[str, Path]) -> Self:
        """lifetimes' name for loading into this instance; reads a model written by ``save``."""
        model = type(self).load(path)
        self.__dict__.update(model.__dict__)
        return self

    @classmethod
    def load(cls, path: Union[str, Path]) -> Self:
        """Reads a model written by ``save``."""
        model = load(path)
        if not isinstance(model, cls):
            raise CrmError(f"{path}: holds a {type(model).__name__}, not a {cls.__name__}")
        return model

    def _predict(self, target: str, t: Any, x: Any, tx: Any, big_t: Any, name: str) -> Any:
        fn = f"{type(self).__name__}.{name}"
        arrs = [_vector(v, a, fn) for v, a in ((t, "t"), (x, "frequency"), (tx, "recency"), (big_t, "T"))]
        values = _core.clv_predict(self._model, target, self._params(), *arrs)
        return _result(values, name, t, x, tx, big_t)

    def _expr(self, target: str, t: float, columns: tuple[Any, ...]) -> pl.Expr:
        return plugin_call(
            "clv_score",
            [pl.col(c) if isinstance(c, str) else c for c in columns],
            {"model": self._model, "target": target, "params": self._params(), "t": float(t)},
        )


class _TimeModel(_BaseFitter):
    """Models of (frequency, recency, T) in continuous time."""

    _columns = ("frequency", "recency", "T")

    def fit(self, frequency: Any, recency: Any = None, T: Any = None, weights: Any = None,
            initial_params: Any = None, *, max_iter: int = 500, **lifetimes_options: Any) -> Self:
        """Fits by maximum likelihood. Pass three columns, or one frame with
        ``frequency``, ``recency`` and ``T`` columns (e.g. from ``clv.summary``)."""
        fn = f"{type(self).__name__}.fit"
        _ignore_options(lifetimes_options, fn)
        if _is_frame(frequency):
            frequency, recency, T = _from_frame(frequency, self._columns, fn)
        if recency is None or T is None:
            raise CrmError(f"{fn}: pass frequency, recency and T (or one frame holding those columns)")
        x, tx, t = (_vector(v, n, fn) for v, n in ((frequency, "frequency"), (recency, "recency"), (T, "T")))
        _check_history(x, tx, t, fn, discrete=self._columns[2] == "n_periods")
        w = _weights(weights, len(x), fn)
        self._run_fit([x, tx, t], w, self._divisor(w), initial_params, max_iter)
        self.data_extent_ = {"max_frequency": float(x.max()), "max_T": float(t.max())}
        return self

    def _divisor(self, w: np.ndarray) -> float:
        return float(w.sum())

    def conditional_expected_number_of_purchases_up_to_time(self, t: Any, frequency: Any, recency: Any, T: Any) -> Any:
        """Expected number of repeat purchases in the next ``t`` periods given the history."""
        return self._predict("expected", t, frequency, recency, T, "expected_purchases")

    def predict(self, t: Any, frequency: Any, recency: Any, T: Any) -> Any:
        """Alias of ``conditional_expected_number_of_purchases_up_to_time`` (as in lifetimes)."""
        return self.conditional_expected_number_of_purchases_up_to_time(t, frequency, recency, T)

    def conditional_probability_alive(self, frequency: Any, recency: Any, T: Any) -> Any:
        """Probability that a customer with this history is still active."""
        return self._predict("p_alive", 0.0, frequency, recency, T, "p_alive")

    def expected_number_of_purchases_up_to_time(self, t: Any) -> Any:
        """Expected repeat purchases of a newly acquired customer within ``t`` periods."""
        return self._predict("unconditional", t, 0.0, 0.0, 0.0, "expected_purchases")

    def expected_purchases_expr(self, t: float, frequency: Any = "frequency", recency: Any = "recency",
                                T: Any = "T") -> pl.Expr:
        """Polars expression for the conditional expected purchases in ``t`` periods."""
        return self._expr("expected", t, (frequency, recency, T))

    def p_alive_expr(self, frequency: Any = "frequency", recency: Any = "recency", T: Any = "T") -> pl.Expr:
        """Polars expression for the probability of being alive."""
        return self._expr("p_alive", 0.0, (frequency, recency, T))

    def probability_of_n_purchases_up_to_time(self, t: Any, n: Any) -> Any:
        """P(X(t) = n): the probability that a newly acquired customer makes exactly ``n``
        repeat purchases within ``t`` periods (lifetimes' method; ``t`` and ``n`` may be
        arrays, broadcast against each other).

        >>> from crmkit.clv import BetaGeoFitter
        >>> m = BetaGeoFitter()
        >>> m.params_ = {"r": 0.2426, "alpha": 4.414, "a": 0.7929, "b": 2.426}  # CDNOW, weeks
        >>> round(m.probability_of_n_purchases_up_to_time(52, 0), 4)
        0.539
        """
        fn = f"{type(self).__name__}.probability_of_n_purchases_up_to_time"
        arrs = [_vector(v, a, fn) for v, a in ((n, "n"), (t, "t"))]
        values = _core.clv_count_pmf(self._model, self._params(), *arrs)
        return _result(values, "probability", t, n)

    def conditional_probability_alive_matrix(self, max_frequency: Optional[int] = None,
                                             max_recency: Optional[int] = None) -> np.ndarray:
        """P(alive) on the grid of whole recencies 0..max_recency (rows) and
        frequencies 0..max_frequency (columns) for a customer of age T = max_recency,
        as lifetimes returns it. The maxima default to the largest frequency and T
        seen in ``fit``. Cells where frequency > 0 but recency = 0 are computed as
        lifetimes does, although no real history looks like that.

        >>> from crmkit.clv import BetaGeoFitter
        >>> f = [0, 2, 1, 0, 5, 3, 0, 1, 4, 2, 6, 1]
        >>> r = [0.0, 30.4, 1.7, 0.0, 35.0, 20.0, 0.0, 12.0, 5.0, 3.0, 8.0, 0.5]
        >>> T = [38.9, 38.9, 38.9, 38.0, 38.0, 37.1, 36.0, 36.0, 38.0, 37.5, 38.2, 36.3]
        >>> m = BetaGeoFitter(penalizer_coef=0.01).fit(f, r, T)
        >>> z = m.conditional_probability_alive_matrix()
        >>> z.shape  # 0..38 recencies x 0..6 frequencies
        (39, 7)
        >>> bool(z[38, 6] > z[5, 6])  # recent buyers are more likely alive
        True
        """
        fn = f"{type(self).__name__}.conditional_probability_alive_matrix"
        extent: Optional[dict[str, float]] = getattr(self, "data_extent_", None)
        if max_frequency is None or max_recency is None:
            if extent is None:
                raise CrmError(f"{fn}: pass max_frequency and max_recency (this model was loaded without its data extent)")
            mf = int(extent["max_frequency"] if max_frequency is None else max_frequency)
            mr = int(extent["max_T"] if max_recency is None else max_recency)
        else:
            mf, mr = int(max_frequency), int(max_recency)
        if mf < 0 or mr < 0:
            raise CrmError(f"{fn}: max_frequency and max_recency must be >= 0, found {mf} and {mr}")
        if (mf + 1) * (mr + 1) > _MAX_GRID_CELLS:
            raise TooLargeError(f"{fn}: a grid of {mr + 1:,} recencies x {mf + 1:,} frequencies exceeds "
                                f"{_MAX_GRID_CELLS:,} cells; pass smaller max_frequency / max_recency (one customer "
                                "with an extreme frequency sets the default)")
        rec, freq = np.meshgrid(np.arange(mr + 1, dtype=np.float64), np.arange(mf + 1, dtype=np.float64), indexing="ij")
        values = self.conditional_probability_alive(freq.ravel(), rec.ravel(), np.full(rec.size, float(mr)))
        return np.asarray(values).reshape(mr + 1, mf + 1)


class _NoPurchaseMixin:
    """The BTYD churn score for the continuous-time models (BG/NBD, MBG/NBD, Pareto/NBD)."""

    if TYPE_CHECKING:  # provided by _TimeModel, which every user of the mixin also derives from
        _predict: Callable[..., Any]
        _expr: Callable[..., pl.Expr]

    def conditional_probability_no_purchases_up_to_time(self, t: Any, frequency: Any, recency: Any, T: Any) -> Any:
        """P(no purchase in the next ``t`` periods | history): the churn score of a BTYD model,
        ``(1 - P(alive)) + P(alive) * P(no purchase in t | alive)``.

        Why not ``1 - P(alive)``: in BG/NBD a customer can only drop out right after a
        purchase, so every one-time buyer (frequency 0) has P(alive) = 1 however long
        ago they bought; ``1 - P(alive)`` then ranks the oldest one-time buyers as the
        safest customers (ROC AUC 0.32 on CDNOW, worse than a coin). It also ignores
        that a live but slow buyer may well not buy within the horizon, which is what a
        churn label ("no order in the next t days") measures. This probability counts
        both ways of staying silent: dead, or alive and not buying in ``t``.

        Given alive, the purchase rate's posterior is Gamma(r + x, alpha + T), so for
        BG/NBD and MBG/NBD P(no purchase in t | alive) = ((alpha + T) / (alpha + T + t))^(r + x);
        for Pareto/NBD it is the conditional purchase-count PMF at 0 (the dropout clock
        keeps running, so a live customer may also die silently within ``t``).

        >>> from crmkit.clv import BetaGeoFitter
        >>> m = BetaGeoFitter()
        >>> m.params_ = {"r": 0.2426, "alpha": 4.414, "a": 0.7929, "b": 2.426}  # CDNOW, weeks
        >>> m.conditional_probability_alive(0, 0.0, 38.0)  # a one-time buyer is "alive"...
        1.0
        >>> round(m.conditional_probability_no_purchases_up_to_time(26, 0, 0.0, 38.0), 4)  # ...but mostly silent
        0.8905
        """
        return self._predict("p_no_purchase", t, frequency, recency, T, "p_no_purchase")

    def p_no_purchase_expr(self, t: float, frequency: Any = "frequency", recency: Any = "recency",
                           T: Any = "T") -> pl.Expr:
        """Polars expression for ``conditional_probability_no_purchases_up_to_time``."""
        return self._expr("p_no_purchase", t, (frequency, recency, T))


class BetaGeoFitter(_NoPurchaseMixin, _TimeModel):
    """BG/NBD model (Fader, Hardie & Lee 2005) with lifetimes' interface.

    Parameters r, alpha (purchase rate heterogeneity, alpha in the time unit of
    the data), a, b (dropout probability heterogeneity).

    >>> from crmkit.clv import BetaGeoFitter
    >>> f = [0, 2, 1, 0, 5, 3, 0, 1, 4, 2, 6, 1]
    >>> r = [0.0, 30.4, 1.7, 0.0, 35.0, 20.0, 0.0, 12.0, 5.0, 3.0, 8.0, 0.5]
    >>> T = [38.9, 38.9, 38.9, 38.0, 38.0, 37.1, 36.0, 36.0, 38.0, 37.5, 38.2, 36.3]
    >>> bgf = BetaGeoFitter(penalizer_coef=0.01).fit(f, r, T)
    >>> sorted(bgf.params_)
    ['a', 'alpha', 'b', 'r']
    >>> 0 < bgf.conditional_probability_alive(2, 30.4, 38.9) <= 1
    True
    """

    _model = "bgnbd"
    _param_names = ("r", "alpha", "a", "b")


class ModifiedBetaGeoFitter(_NoPurchaseMixin, _TimeModel):
    """Modified BG/NBD (Batislam, Denizel & Filiztekin 2007): customers may also
    drop out right after their first purchase. Parameters r, alpha, a, b.

    >>> from crmkit.clv import ModifiedBetaGeoFitter
    >>> f = [0, 2, 1, 0, 5, 3, 0, 1, 4, 2, 6, 1]
    >>> r = [0.0, 30.4, 1.7, 0.0, 35.0, 20.0, 0.0, 12.0, 5.0, 3.0, 8.0, 0.5]
    >>> T = [38.9, 38.9, 38.9, 38.0, 38.0, 37.1, 36.0, 36.0, 38.0, 37.5, 38.2, 36.3]
    >>> m = ModifiedBetaGeoFitter(penalizer_coef=0.01).fit(f, r, T)
    >>> 0 < m.conditional_probability_alive(0, 0, 38.9) < 1
    True
    """

    _model = "mbgnbd"
    _param_names = ("r", "alpha", "a", "b")


class ParetoNBDFitter(_NoPurchaseMixin, _TimeModel):
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987) with lifetimes' interface.

    Parameters r, alpha (purchase rates), s, beta (dropout rates); alpha and beta
    are in the time unit of the data. The likelihood's hypergeometric term is
    summed in log space, so frequencies in the hundreds are fine. As in lifetimes,
    the optimised objective is the negative log-likelihood divided by the mean
    weight plus ``penalizer_coef`` times the sum of squared (time-rescaled) parameters.

    >>> from crmkit.clv import ParetoNBDFitter
    >>> f = [0, 2, 1, 0, 5, 3, 0, 1, 4, 2, 6, 1]
    >>> r = [0.0, 30.4, 1.7, 0.0, 35.0, 20.0, 0.0, 12.0, 5.0, 3.0, 8.0, 0.5]
    >>> T = [38.9, 38.9, 38.9, 38.0, 38.0, 37.1, 36.0, 36.0, 38.0, 37.5, 38.2, 36.3]
    >>> p = ParetoNBDFitter(penalizer_coef=0.01).fit(f, r, T)
    >>> sorted(p.params_)
    ['alpha', 'beta', 'r', 's']
    """

    _model = "pareto"
    _param_names = ("r", "alpha", "s", "beta")

    def _divisor(self, w: np.ndarray) -> float:
        return float(w.mean())

    def conditional_probability_of_n_purchases_up_to_time(self, n: Any, t: Any, frequency: Any, recency: Any,
                                                          T: Any) -> Any:
        """P(exactly ``n`` purchases in the next ``t`` periods) for a customer with this
        history (Fader & Hardie's conditional PMF, lifetimes' method and argument order).
        Unlike lifetimes, t = 0 gives 1 for n = 0 (nothing happens in no time).

        >>> from crmkit.clv import ParetoNBDFitter
        >>> m = ParetoNBDFitter()
        >>> m.params_ = {"r": 0.5533, "alpha": 10.578, "s": 0.6062, "beta": 11.67}  # CDNOW, weeks
        >>> p = [m.conditional_probability_of_n_purchases_up_to_time(k, 39, 2, 30.43, 38.86) for k in range(200)]
        >>> round(sum(p), 9)
        1.0
        >>> round(sum(k * v for k, v in enumerate(p)), 6) == round(m.predict(39, 2, 30.43, 38.86), 6)
        True
        """
        fn = f"{type(self).__name__}.conditional_probability_of_n_purchases_up_to_time"
        arrs = [_vector(v, a, fn) for v, a in ((n, "n"), (t, "t"), (frequency, "frequency"), (recency, "recency"), (T, "T"))]
        values = _core.clv_conditional_pmf(self._model, self._params(), *arrs)
        return _result(values, "probability", n, t, frequency, recency, T)


class BetaGeoBetaBinomFitter(_TimeModel):
    """BG/BB model (Fader, Hardie & Shang 2010) for discrete purchase opportunities.

    Fit on ``frequency``, ``recency`` (the opportunity of the last purchase) and
    ``n_periods`` (opportunities observed); parameters alpha, beta, gamma, delta.

    >>> from crmkit.clv import BetaGeoBetaBinomFitter
    >>> m = BetaGeoBetaBinomFitter().fit([0, 1, 2, 3, 6, 0, 4], [0, 1, 5, 4, 6, 0, 6], [6] * 7)
    >>> sorted(m.params_)
    ['alpha', 'beta', 'delta', 'gamma']
    """

    _model = "bgbb"
    _param_names = ("alpha", "beta", "gamma", "delta")
    _columns = ("frequency", "recency", "n_periods")

    # lifetimes' BG/BB names the third column n_periods and adds m_periods_in_future to
    # conditional_probability_alive; crmkit keeps its names (a deliberate override).
    def fit(self, frequency: Any, recency: Any = None, n_periods: Any = None, weights: Any = None,  # type: ignore[override]
            initial_params: Any = None, *, max_iter: int = 500, **lifetimes_options: Any) -> Self:
        """Fits by maximum likelihood on (frequency, recency, n_periods), or a frame with those columns."""
        return super().fit(frequency, recency, n_periods, weights, initial_params, max_iter=max_iter,
                           **lifetimes_options)

    def conditional_expected_number_of_purchases_up_to_time(self, m_periods_in_future: Any, frequency: Any,
                                                           recency: Any, n_periods: Any) -> Any:
        """Expected purchases in the next ``m_periods_in_future`` opportunities."""
        return self._predict("expected", m_periods_in_future, frequency, recency, n_periods, "expected_purchases")

    def predict(self, m_periods_in_future: Any, frequency: Any, recency: Any, n_periods: Any) -> Any:
        """Alias of ``conditional_expected_number_of_purchases_up_to_time``."""
        return self.conditional_expected_number_of_purchases_up_to_time(m_periods_in_future, frequency, recency, n_periods)

    def conditional_probability_alive(self, m_periods_in_future: Any, frequency: Any, recency: Any,  # type: ignore[override]
                                      n_periods: Any) -> Any:
        """Probability of being alive at opportunity n_periods + m_periods_in_future."""
        return self._predict("p_alive", m_periods_in_future, frequency, recency, n_periods, "p_alive")

    def p_alive_expr(self, frequency: Any = "frequency", recency: Any = "recency", T: Any = "n_periods",
                     m_periods_in_future: float = 0.0) -> pl.Expr:
        """Polars expression for the probability of being alive."""
        return self._expr("p_alive", m_periods_in_future, (frequency, recency, T))

    def expected_purchases_expr(self, t: float, frequency: Any = "frequency", recency: Any = "recency",
                                T: Any = "n_periods") -> pl.Expr:
        return self._expr("expected", t, (frequency, recency, T))

    def conditional_probability_alive_matrix(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise CrmError("BetaGeoBetaBinomFitter: the P(alive) matrix is for continuous-time models; "
                       "use conditional_probability_alive(m_periods_in_future, frequency, recency, n_periods)")

    def expected_number_of_transactions_in_first_n_periods(self, n: int) -> pl.DataFrame:
        """Expected number of customers with 0, 1, ..., n purchases in their first ``n``
        opportunities (Fader, Hardie & Shang 2010, eq. 7), scaled to the customers the
        model was fitted on: compare it with the observed frequency histogram. Unlike
        lifetimes, every frequency 0..n is listed, not only the observed ones.

        >>> from crmkit.clv import BetaGeoBetaBinomFitter
        >>> m = BetaGeoBetaBinomFitter().fit([0, 1, 2, 3, 6, 0, 4], [0, 1, 5, 4, 6, 0, 6], [6] * 7)
        >>> table = m.expected_number_of_transactions_in_first_n_periods(6)
        >>> table.columns, table.height, round(table["model"].sum(), 9)
        (['frequency', 'model'], 7, 7.0)
        """
        fn = f"{type(self).__name__}.expected_number_of_transactions_in_first_n_periods"
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise CrmError(f"{fn}: n must be a whole number of opportunities >= 0, found {n!r}")
        probabilities = _core.clv_bgbb_counts(self._params(), int(n))
        return pl.DataFrame({"frequency": np.arange(int(n) + 1, dtype=np.int64),
                             "model": probabilities * self.n_customers_})


class GammaGammaFitter(_BaseFitter):
    """Gamma-Gamma spend model (Fader & Hardie) with lifetimes' interface.

    Fit on repeat customers only (frequency > 0) and their mean repeat spend;
    parameters p, q, v.

    >>> from crmkit.clv import GammaGammaFitter
    >>> gg = GammaGammaFitter().fit([1, 2, 3, 1, 5, 2, 4, 1, 2, 6], [20.0, 35.5, 18.2, 50.0, 25.1, 22.0, 30.3, 12.9, 41.0, 27.5])
    >>> 20.0 < gg.conditional_expected_average_profit(2, 30.0) < 30.0  # shrunk toward the population mean
    True
    """

    _model = "gamma_gamma"
    _param_names = ("p", "q", "v")

    def fit(self, frequency: Any, monetary_value: Any = None, weights: Any = None, initial_params: Any = None,
            *, max_iter: int = 500, **lifetimes_options: Any) -> "GammaGammaFitter":
        """Fits on (frequency, monetary_value) of repeat customers, or a frame with those columns."""
        fn = "GammaGammaFitter.fit"
        _ignore_options(lifetimes_options, fn)
        if _is_frame(frequency):
            frequency, monetary_value = _from_frame(frequency, ("frequency", "monetary_value"), fn)
        if monetary_value is None:
            raise CrmError(f"{fn}: pass frequency and monetary_value (or one frame holding those columns)")
        x = _vector(frequency, "frequency", fn)
        m = _vector(monetary_value, "monetary_value", fn)
        if len(x) != len(m):
            raise CrmError(f"{fn}: frequency and monetary_value differ in length ({len(x)} vs {len(m)})")
        if len(x) == 0:
            raise CrmError(f"{fn}: no customers given (0 rows)")
        zero = int(np.count_nonzero(x <= 0))
        if zero:
            raise CrmError(
                f"{fn}: {zero} customer(s) with frequency <= 0; the Gamma-Gamma model describes repeat spend, "
                "so fit it on repeat customers only, e.g. summary.filter(pl.col('frequency') > 0)"
            )
        if np.any(x != np.round(x)):
            raise CrmError(f"{fn}: frequency must hold whole numbers")
        bad = int(np.count_nonzero(m <= 0))
        if bad:
            raise CrmError(f"{fn}: {bad} customer(s) with monetary_value <= 0; spend must be positive")
        w = _weights(weights, len(x), fn)
        if len(np.unique(m)) < 2:
            raise CrmError(f"{fn}: all monetary values are equal; the spread of spend cannot be estimated")
        self._run_fit([x, m], w, float(w.sum()), initial_params, max_iter)
        return self

    def conditional_expected_average_profit(self, frequency: Any = None, monetary_value: Any = None) -> Any:
        """E[spend per transaction | x, mean spend]: shrinks observed means toward the population mean."""
        fn = "GammaGammaFitter.conditional_expected_average_profit"
        x = _vector(frequency, "frequency", fn)
        m = _vector(monetary_value, "monetary_value", fn)
        values = _core.clv_predict(self._model, "expected", self._params(), np.zeros(1), x, m, np.zeros(1))
        return _result(values, "expected_spend", frequency, monetary_value)

    def expected_spend_expr(self, frequency: Any = "frequency", monetary_value: Any = "monetary_value") -> pl.Expr:
        """Polars expression for ``conditional_expected_average_profit``."""
        p, q, v = self._params()
        x = pl.col(frequency) if isinstance(frequency, str) else frequency
        m = pl.col(monetary_value) if isinstance(monetary_value, str) else monetary_value
        weight = p * x / (p * x + q - 1)
        return ((1 - weight) * (v * p / (q - 1)) + weight * m).alias("expected_spend")

    def customer_lifetime_value(self, transaction_prediction_model: _TimeModel, frequency: Any, recency: Any, T: Any,
                                monetary_value: Any, time: int = 12, discount_rate: float = 0.01,
                                freq: str = "D") -> Any:
        """Discounted CLV over ``time`` months, as lifetimes computes it: monthly
        increments of expected purchases times the expected spend, discounted at
        ``discount_rate`` per month. ``freq`` is the time unit of recency and T."""
        fn = "GammaGammaFitter.customer_lifetime_value"
        _check_horizon(time, discount_rate, "time", fn)
        if freq not in _MONTH_FACTOR:
            raise CrmError(f"{fn}: argument 'freq' must be one of {sorted(_MONTH_FACTOR)}, found {freq!r}")
        x, tx, t, m = (_vector(v, n, fn) for v, n in
                       ((frequency, "frequency"), (recency, "recency"), (T, "T"), (monetary_value, "monetary_value")))
        spend = self.conditional_expected_average_profit(x, m)
        values = _core.clv_value(transaction_prediction_model._model, transaction_prediction_model._params(), int(time),
                                 _MONTH_FACTOR[freq], float(discount_rate), x, tx, t, np.asarray(spend, dtype=np.float64))
        return _result(values, "clv", frequency, recency, T, monetary_value)


def _check_horizon(months: Any, discount_rate: Any, name: str, function: str) -> None:
    """Months ahead and a monthly discount rate that make sense (the value is summed
    month by month, so a century is the most that is computed)."""
    if isinstance(months, bool) or not isinstance(months, (int, float, np.integer, np.floating)) \
            or not (0 <= months <= 1200):
        raise CrmError(f"{function}: '{name}' must be a number of months from 0 to 1200, found {months!r}")
    if isinstance(discount_rate, bool) or not isinstance(discount_rate, (int, float, np.integer, np.floating)) \
            or not (-1 < discount_rate < 10):
        raise CrmError(f"{function}: 'discount_rate' must be a monthly rate above -1 (0.01 is 1% a month), "
                       f"found {discount_rate!r}")


_CLASSES = {c.__name__: c for c in (BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter, BetaGeoBetaBinomFitter,
                                    GammaGammaFitter)}


def load(path: Union[str, Path]) -> _BaseFitter:
    """Reads a fitted model written by ``<fitter>.save(path)``.

    >>> import tempfile, os
    >>> from crmkit.clv import BetaGeoFitter, load
    >>> f = [0, 2, 1, 0, 5, 3, 0, 1, 4, 2, 6, 1]
    >>> r = [0.0, 30.4, 1.7, 0.0, 35.0, 20.0, 0.0, 12.0, 5.0, 3.0, 8.0, 0.5]
    >>> T = [38.9, 38.9, 38.9, 38.0, 38.0, 37.1, 36.0, 36.0, 38.0, 37.5, 38.2, 36.3]
    >>> bgf = BetaGeoFitter(penalizer_coef=0.01).fit(f, r, T)
    >>> path = os.path.join(tempfile.mkdtemp(), "bgf.json")
    >>> bgf.save(path)
    >>> load(path).params_ == bgf.params_
    True
    """
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise CrmError(f"clv.load: cannot read a model from {path}: {e}") from None
    from crmkit._modelfile import ModelDoc

    name = doc.get("crmkit_model") if isinstance(doc, dict) else None
    if not isinstance(name, str) or name not in _CLASSES:
        raise CrmError(f"clv.load: {path} does not hold a crmkit CLV model (found model {name!r})")
    cls = _CLASSES[name]
    d = ModelDoc(doc, "clv.load", str(path))
    if d.has("version") and d.number("version", integer=True) != 1:
        raise CrmError(f"clv.load: {path}: model file version {doc['version']!r} is not supported (expects 1)")
    model = cls(d.number("penalizer_coef", lo=0.0, optional=True) or 0.0)
    params = d.sub("params")
    missing = [p for p in cls._param_names if p not in params.doc]
    if missing:
        raise CrmError(f"clv.load: {path} lacks parameter(s) {missing}")
    values = [params.number(p, lo=0.0) for p in cls._param_names]
    if any(v <= 0 for v in values):
        raise CrmError(f"clv.load: {path}: the model's parameters must be positive, found {values}")
    k = len(cls._param_names)
    ll = d.number("log_likelihood", optional=True)
    model._set(values, float("nan") if ll is None else ll, d.numbers("covariance", length=k * k, optional=True),
               d.number("n_customers", lo=0.0, optional=True) or float("nan"))
    extent = d.sub("data_extent", optional=True)
    if extent is not None:
        model.data_extent_ = {key: extent.number(key, lo=0.0) for key in extent.doc}
    return model


# ---------------------------------------------------------------------------
