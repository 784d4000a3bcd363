"""Model classes with statsforecast's names and constructor arguments.

Each class is a small, immutable description of a model: ``name`` is the Rust kernel it
selects (and statsforecast's class name), ``params`` the constructor arguments sent to
it, ``alias`` the output column. This module is the one registry of Python classes; the
Rust side maps each name onto its kernel in ``src/forecast/mod.rs::build_model``.

>>> AutoETS(season_length=12).alias
'AutoETS'
>>> AutoETS(season_length=12, model="MAM", alias="ets_mam")
AutoETS(season_length=12, model='MAM', alias='ets_mam')
"""

from __future__ import annotations

import json
from typing import Any, Optional

from crmkit.errors import CrmError

__all__ = [
    "Naive", "SeasonalNaive", "HistoricAverage", "WindowAverage", "SimpleExponentialSmoothing",
    "SimpleExponentialSmoothingOptimized", "Holt", "HoltWinters", "AutoETS", "AutoTheta", "Theta",
    "OptimizedTheta", "DynamicTheta", "DynamicOptimizedTheta", "CrostonClassic", "CrostonOptimized",
    "CrostonSBA", "TSB", "ADIDA", "IMAPA", "AutoARIMA", "ARIMA", "AutoCES", "MODEL_CLASSES",
]


def _int_arg(cls: str, name: str, value: Any, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise CrmError(f"{cls}: argument '{name}' must be an integer >= {minimum}, found {value!r}")
    return value


def _float_arg(cls: str, name: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (lo <= float(value) <= hi):
        raise CrmError(f"{cls}: argument '{name}' must be a number in [{lo}, {hi}], found {value!r}")
    return float(value)


class _Model:
    """Base class: a model name, its parameters and the output column (``alias``)."""

    #: statsforecast's class name, also the kernel name on the Rust side.
    name: str = ""
    #: True for intermittent-demand models (non-negative data only).
    intermittent: bool = False

    def __init__(self, alias: Optional[str] = None, **params: Any) -> None:
        if alias is not None and (not isinstance(alias, str) or not alias):
            raise CrmError(f"{type(self).__name__}: argument 'alias' must be a non-empty string, found {alias!r}")
        self.alias: str = alias or self.name
        self.params: dict[str, Any] = params

    @property
    def season_length(self) -> int:
        return int(self.params.get("season_length", 1))

    def _spec(self) -> tuple[str, str]:
        return self.name, json.dumps(self.params)

    def __repr__(self) -> str:
        args = [f"{k}={v!r}" for k, v in self.params.items()]
        if self.alias != self.name:
            args.append(f"alias={self.alias!r}")
        return f"{type(self).__name__}({', '.join(args)})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.params == self.params and other.alias == self.alias

    def __hash__(self) -> int:
        return hash((self.name, self.alias, json.dumps(self.params, sort_keys=True)))


class Naive(_Model):
    """Last value repeated; intervals widen with sqrt(h) (statsforecast ``Naive``).

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, Naive
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [3.0, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8, 10]})
    >>> [round(v, 3) for v in forecast(df, models=[Naive()], h=2)["Naive"]]
    [10.0, 10.0]
    """

    name = "Naive"

    def __init__(self, alias: str = "Naive") -> None:
        super().__init__(alias)


class SeasonalNaive(_Model):
    """Last season repeated (statsforecast ``SeasonalNaive``).

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, SeasonalNaive
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [3.0, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8, 10]})
    >>> [round(v, 3) for v in forecast(df, models=[SeasonalNaive(season_length=2)], h=2)["SeasonalNaive"]]
    [8.0, 10.0]
    """

    name = "SeasonalNaive"

    def __init__(self, season_length: int, alias: str = "SeasonalNaive") -> None:
        super().__init__(alias, season_length=_int_arg(self.name, "season_length", season_length))


class HistoricAverage(_Model):
    """Mean of the whole history (statsforecast ``HistoricAverage``).

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, HistoricAverage
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [3.0, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8, 10]})
    >>> [round(v, 3) for v in forecast(df, models=[HistoricAverage()], h=2)["HistoricAverage"]]
    [6.5, 6.5]
    """

    name = "HistoricAverage"

    def __init__(self, alias: str = "HistoricAverage") -> None:
        super().__init__(alias)


class WindowAverage(_Model):
    """Mean of the last ``window_size`` points; no native intervals (bounds are null).

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, WindowAverage
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [3.0, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8, 10]})
    >>> [round(v, 3) for v in forecast(df, models=[WindowAverage(window_size=3)], h=2)["WindowAverage"]]
    [9.0, 9.0]
    """

    name = "WindowAverage"

    def __init__(self, window_size: int, alias: str = "WindowAverage") -> None:
        super().__init__(alias, window_size=_int_arg(self.name, "window_size", window_size))


class SimpleExponentialSmoothing(_Model):
    """SES with a fixed ``alpha``; no native intervals (bounds are null).

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, SimpleExponentialSmoothing
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [3.0, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8, 10]})
    >>> [round(v, 3) for v in forecast(df, models=[SimpleExponentialSmoothing(alpha=0.5)], h=2)["SES"]]
    [9.0, 9.0]
    """

    name = "SimpleExponentialSmoothing"

    def __init__(self, alpha: float, alias: str = "SES") -> None:
        super().__init__(alias, alpha=_float_arg(self.name, "alpha", alpha, 0.0, 1.0))


class SimpleExponentialSmoothingOptimized(_Model):
    """SES with alpha chosen by golden-section search of the in-sample SSE on [0.01, 0.99],
    as statsforecast; no native intervals (bounds are null).

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, SimpleExponentialSmoothingOptimized
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [3.0, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8, 10]})
    >>> [round(v, 3) for v in forecast(df, models=[SimpleExponentialSmoothingOptimized()], h=2)["SESOpt"]]
    [9.347, 9.347]
    """

    name = "SimpleExponentialSmoothingOptimized"

    def __init__(self, alias: str = "SESOpt") -> None:
        super().__init__(alias)


class Holt(_Model):
    """Holt's linear trend: ETS(A,A,N) (or (M,A,N) with ``error_type="M"``).

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, Holt
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [3.0, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8, 10]})
    >>> [round(v, 3) for v in forecast(df, models=[Holt()], h=2)["Holt"]]
    [9.954, 10.486]
    """

    name = "Holt"

    def __init__(self, season_length: int = 1, error_type: str = "A", alias: str = "Holt") -> None:
        if error_type not in ("A", "M"):
            raise CrmError(f"Holt: argument 'error_type' must be 'A' or 'M', found {error_type!r}")
        super().__init__(alias, season_length=_int_arg(self.name, "season_length", season_length), error_type=error_type)


class HoltWinters(_Model):
    """Holt-Winters: ETS(A,A,A) (or (M,A,M) with ``error_type="M"``).

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, HoltWinters
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [3.0, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8, 10]})
    >>> [round(v, 3) for v in forecast(df, models=[HoltWinters(season_length=2)], h=2)["HoltWinters"]]
    [9.0, 11.0]
    """

    name = "HoltWinters"

    def __init__(self, season_length: int = 1, error_type: str = "A", alias: str = "HoltWinters") -> None:
        if error_type not in ("A", "M"):
            raise CrmError(f"HoltWinters: argument 'error_type' must be 'A' or 'M', found {error_type!r}")
        super().__init__(alias, season_length=_int_arg(self.name, "season_length", season_length), error_type=error_type)


class AutoETS(_Model):
    """Exponential smoothing state-space model chosen by AICc among all ETS combinations
    allowed by ``model`` (letters error/trend/season; ``Z`` = choose), as R's
    forecast::ets and statsforecast's ``AutoETS``; ``damped`` None tries both.

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, AutoETS
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [3.0, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8, 10]})
    >>> out, details = forecast(df, models=[AutoETS(season_length=2)], h=2, details=True)
    >>> details["description"][0]
    'ETS(A,A,A)'
    >>> [round(v, 3) for v in out["AutoETS"]]
    [9.0, 11.0]
    """

    name = "AutoETS"

    def __init__(
        self,
        season_length: int = 1,
        model: str = "ZZZ",
        damped: Optional[bool] = None,
        phi: Optional[float] = None,
        alias: str = "AutoETS",
    ) -> None:
        if not isinstance(model, str) or len(model) != 3:
            raise CrmError(f"AutoETS: argument 'model' must be three letters such as 'ZZZ' or 'MAM', found {model!r}")
        if damped is not None and not isinstance(damped, bool):
            raise CrmError(f"AutoETS: argument 'damped' must be None, True or False, found {damped!r}")
        params: dict[str, Any] = {"season_length": _int_arg(self.name, "season_length", season_length), "model": model.upper()}
        if damped is not None:
            params["damped"] = damped
        if phi is not None:
            params["phi"] = _float_arg(self.name, "phi", phi, 0.8, 0.98)
        super().__init__(alias, **params)


class AutoTheta(_Model):
    """Theta model (standard, optimised, dynamic) chosen by in-sample MSE after a
    seasonality test and classical decomposition, as statsforecast's ``AutoTheta``.

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, AutoTheta
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [3.0, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8, 10]})
    >>> [round(v, 3) for v in forecast(df, models=[AutoTheta()], h=2)["AutoTheta"]]
    [9.835, 10.335]
    """

    name = "AutoTheta"

    def __init__(
        self,
        season_length: int = 1,
        decomposition_type: str = "multiplicative",
        model: Optional[str] = None,
        alias: str = "AutoTheta",
    ) -> None:
        if decomposition_type not in ("multiplicative", "additive"):
            raise CrmError(
                f"{type(self).__name__}: argument 'decomposition_type' must be 'multiplicative' or 'additive', "
                f"found {decomposition_type!r}"
            )
        if model is not None and model not in ("STM", "OTM", "DSTM", "DOTM"):
            raise CrmError(f"AutoTheta: argument 'model' must be None, 'STM', 'OTM', 'DSTM' or 'DOTM', found {model!r}")
        params: dict[str, Any] = {
            "season_length": _int_arg(type(self).__name__, "season_length", season_length),
            "decomposition_type": decomposition_type,
        }
        if model is not None:
            params["model"] = model
        super().__init__(alias, **params)


class _FixedTheta(AutoTheta):
    def __init__(self, season_length: int = 1, decomposition_type: str = "multiplicative", alias: Optional[str] = None) -> None:
        super().__init__(season_length, decomposition_type, None, alias or self.name)


class Theta(_FixedTheta):
    """Standard Theta model (theta = 2).

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, Theta
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [3.0, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8, 10]})
    >>> [round(v, 3) for v in forecast(df, models=[Theta()], h=2)["Theta"]]
    [8.737, 9.003]
    """

    name = "Theta"


class OptimizedTheta(_FixedTheta):
    """Theta model with theta optimised.

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, OptimizedTheta
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [3.0, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8, 10]})
    >>> [round(v, 3) for v in forecast(df, models=[OptimizedTheta()], h=2)["OptimizedTheta"]]
    [9.835, 10.335]
    """

    name = "OptimizedTheta"


class DynamicTheta(_FixedTheta):
    """Dynamic standard Theta model.

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, DynamicTheta
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [3.0, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8, 10]})
    >>> [round(v, 3) for v in forecast(df, models=[DynamicTheta()], h=2)["DynamicTheta"]]
    [9.256, 9.489]
    """

    name = "DynamicTheta"


class DynamicOptimizedTheta(_FixedTheta):
    """Dynamic optimised Theta model.

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, DynamicOptimizedTheta
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [3.0, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8, 10]})
    >>> [round(v, 3) for v in forecast(df, models=[DynamicOptimizedTheta()], h=2)["DynamicOptimizedTheta"]]
    [9.546, 9.92]
    """

    name = "DynamicOptimizedTheta"


class _Intermittent(_Model):
    intermittent = True

    def __init__(self, alias: Optional[str] = None) -> None:
        super().__init__(alias or self.name)


class CrostonClassic(_Intermittent):
    """Croston's method, alpha 0.1 for demand sizes and intervals; no native intervals.

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, CrostonClassic
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [0.0, 3, 0, 0, 2, 0, 4, 0, 0, 0, 3, 0]})
    >>> [round(v, 3) for v in forecast(df, models=[CrostonClassic()], h=2)["CrostonClassic"]]
    [1.319, 1.319]
    """

    name = "CrostonClassic"


class CrostonOptimized(_Intermittent):
    """Croston's method with both smoothing parameters optimised on [0.1, 0.3].

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, CrostonOptimized
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [0.0, 3, 0, 0, 2, 0, 4, 0, 0, 0, 3, 0]})
    >>> [round(v, 3) for v in forecast(df, models=[CrostonOptimized()], h=2)["CrostonOptimized"]]
    [1.095, 1.095]
    """

    name = "CrostonOptimized"


class CrostonSBA(_Intermittent):
    """Syntetos-Boylan approximation: Croston classic x 0.95.

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, CrostonSBA
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [0.0, 3, 0, 0, 2, 0, 4, 0, 0, 0, 3, 0]})
    >>> [round(v, 3) for v in forecast(df, models=[CrostonSBA()], h=2)["CrostonSBA"]]
    [1.253, 1.253]
    """

    name = "CrostonSBA"


class ADIDA(_Intermittent):
    """Aggregate-disaggregate intermittent demand approach (aggregation = mean interval).

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, ADIDA
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [0.0, 3, 0, 0, 2, 0, 4, 0, 0, 0, 3, 0]})
    >>> [round(v, 3) for v in forecast(df, models=[ADIDA()], h=2)["ADIDA"]]
    [1.003, 1.003]
    """

    name = "ADIDA"


class IMAPA(_Intermittent):
    """Intermittent multiple aggregation prediction algorithm (mean over aggregation levels).

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, IMAPA
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [0.0, 3, 0, 0, 2, 0, 4, 0, 0, 0, 3, 0]})
    >>> [round(v, 3) for v in forecast(df, models=[IMAPA()], h=2)["IMAPA"]]
    [1.009, 1.009]
    """

    name = "IMAPA"


class TSB(_Model):
    """Teunter-Syntetos-Babai: smoothed demand probability x smoothed demand size.

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, TSB
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [0.0, 3, 0, 0, 2, 0, 4, 0, 0, 0, 3, 0]})
    >>> [round(v, 3) for v in forecast(df, models=[TSB(alpha_d=0.2, alpha_p=0.1)], h=2)["TSB"]]
    [0.703, 0.703]
    """

    name = "TSB"
    intermittent = True

    def __init__(self, alpha_d: float, alpha_p: float, alias: str = "TSB") -> None:
        super().__init__(
            alias,
            alpha_d=_float_arg(self.name, "alpha_d", alpha_d, 0.0, 1.0),
            alpha_p=_float_arg(self.name, "alpha_p", alpha_p, 0.0, 1.0),
        )


class AutoARIMA(_Model):
    """ARIMA with orders chosen by a stepwise search on AICc after KPSS / seasonal
    strength tests for differencing, as R's forecast::auto.arima and statsforecast's
    ``AutoARIMA``. Arguments left at None take statsforecast's defaults.

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, AutoARIMA
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [3.0, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8, 10]})
    >>> out = forecast(df, models=[AutoARIMA()], h=2)
    >>> out.columns
    ['unique_id', 'ds', 'AutoARIMA']
    """

    name = "AutoARIMA"

    def __init__(
        self,
        season_length: int = 1,
        d: Optional[int] = None,
        D: Optional[int] = None,
        max_p: Optional[int] = None,
        max_q: Optional[int] = None,
        max_P: Optional[int] = None,
        max_Q: Optional[int] = None,
        max_order: Optional[int] = None,
        max_d: Optional[int] = None,
        max_D: Optional[int] = None,
        start_p: Optional[int] = None,
        start_q: Optional[int] = None,
        start_P: Optional[int] = None,
        start_Q: Optional[int] = None,
        stationary: Optional[bool] = None,
        seasonal: Optional[bool] = None,
        ic: Optional[str] = None,
        stepwise: Optional[bool] = None,
        nmodels: Optional[int] = None,
        approximation: Optional[bool] = None,
        method: Optional[str] = None,
        truncate: Optional[int] = None,
        allowdrift: Optional[bool] = None,
        allowmean: Optional[bool] = None,
        alias: str = "AutoARIMA",
    ) -> None:
        params: dict[str, Any] = {"season_length": _int_arg(self.name, "season_length", season_length)}
        given = dict(d=d, D=D, max_p=max_p, max_q=max_q, max_P=max_P, max_Q=max_Q, max_order=max_order, max_d=max_d,
                     max_D=max_D, start_p=start_p, start_q=start_q, start_P=start_P, start_Q=start_Q,
                     stationary=stationary, seasonal=seasonal, ic=ic, stepwise=stepwise, nmodels=nmodels,
                     approximation=approximation, method=method, truncate=truncate, allowdrift=allowdrift,
                     allowmean=allowmean)
        params.update({k: v for k, v in given.items() if v is not None})
        super().__init__(alias, **params)


class ARIMA(_Model):
    """ARIMA of fixed orders, as statsforecast's ``ARIMA``.

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, ARIMA
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [3.0, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8, 10]})
    >>> forecast(df, models=[ARIMA(order=(0, 1, 0))], h=2)["ARIMA"].to_list()
    [10.0, 10.0]
    """

    name = "ARIMA"

    def __init__(
        self,
        order: tuple[Any, ...] = (0, 0, 0),
        season_length: int = 1,
        seasonal_order: tuple[Any, ...] = (0, 0, 0),
        include_mean: Optional[bool] = None,
        include_drift: Optional[bool] = None,
        include_constant: Optional[bool] = None,
        method: Optional[str] = None,
        alias: str = "ARIMA",
    ) -> None:
        for name, value in (("order", order), ("seasonal_order", seasonal_order)):
            if len(tuple(value)) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
                raise CrmError(f"ARIMA: argument '{name}' must be three non-negative integers (p, d, q), found {value!r}")
        params: dict[str, Any] = {
            "order": list(order), "season_length": _int_arg(self.name, "season_length", season_length),
            "seasonal_order": list(seasonal_order),
        }
        given = dict(include_mean=include_mean, include_drift=include_drift, include_constant=include_constant, method=method)
        params.update({k: v for k, v in given.items() if v is not None})
        super().__init__(alias, **params)


class AutoCES(_Model):
    """Complex exponential smoothing (Svetunkov & Kourentzes), the seasonal type chosen by
    AICc among none/simple/partial/full (``model="Z"``), as statsforecast's ``AutoCES``
    (output column ``CES``).

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, AutoCES
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [3.0, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8, 10]})
    >>> forecast(df, models=[AutoCES()], h=2).columns
    ['unique_id', 'ds', 'CES']
    """

    name = "AutoCES"

    def __init__(self, season_length: int = 1, model: str = "Z", alias: str = "CES") -> None:
        if model not in ("Z", "N", "S", "P", "F"):
            raise CrmError(f"AutoCES: argument 'model' must be one of 'Z', 'N', 'S', 'P', 'F', found {model!r}")
        super().__init__(alias, season_length=_int_arg(self.name, "season_length", season_length), model=model)


#: Every model class by its statsforecast name (one entry per class).
MODEL_CLASSES: dict[str, type] = {
    cls.name: cls
    for cls in (
        Naive, SeasonalNaive, HistoricAverage, WindowAverage, SimpleExponentialSmoothing,
        SimpleExponentialSmoothingOptimized, Holt, HoltWinters, AutoETS, AutoTheta, Theta, OptimizedTheta,
        DynamicTheta, DynamicOptimizedTheta, CrostonClassic, CrostonOptimized, CrostonSBA, TSB, ADIDA, IMAPA,
        AutoARIMA, ARIMA, AutoCES,
    )
}
