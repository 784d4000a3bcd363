"""ARIMA-family and complex exponential smoothing models, statsforecast's names and
arguments, over the Rust kernels in ``src/forecast/{arima,ces}.rs``.

>>> AutoARIMA(season_length=12)
AutoARIMA(season_length=12)
>>> AutoCES(season_length=4).alias
'CES'
"""

from __future__ import annotations

from typing import Any, Optional

from crmkit.errors import CrmError
from crmkit.forecast._models import MODEL_CLASSES, _int_arg, _Model

__all__ = ["AutoARIMA", "ARIMA", "AutoCES"]

_METHODS = ("CSS-ML", "ML", "CSS")


def _order(cls: str, name: str, value: Any) -> list[int]:
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise CrmError(f"{cls}: argument '{name}' must be a tuple of 3 non-negative integers, found {value!r}")
    return [_int_arg(cls, name, v, minimum=0) for v in value]


class AutoARIMA(_Model):
    """Automatic ARIMA (Hyndman & Khandakar 2008) as statsforecast's ``AutoARIMA``: KPSS
    tests for ``d``, seasonal strength for ``D``, stepwise search by AICc, drift or mean,
    CSS-ML estimation with the exact Kalman-filter likelihood, Gaussian intervals.

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
        d: Optional[int] = None,
        D: Optional[int] = None,
        max_p: int = 5,
        max_q: int = 5,
        max_P: int = 2,
        max_Q: int = 2,
        max_order: int = 5,
        max_d: int = 2,
        max_D: int = 1,
        start_p: int = 2,
        start_q: int = 2,
        start_P: int = 1,
        start_Q: int = 1,
        stationary: bool = False,
        seasonal: bool = True,
        ic: str = "aicc",
        stepwise: bool = True,
        nmodels: int = 94,
        approximation: Optional[bool] = False,
        method: Optional[str] = None,
        truncate: Optional[int] = None,
        allowdrift: bool = True,
        allowmean: bool = True,
        season_length: int = 1,
        alias: str = "AutoARIMA",
    ) -> None:
        c = type(self).__name__
        if ic not in ("aicc", "aic", "bic"):
            raise CrmError(f"{c}: argument 'ic' must be 'aicc', 'aic' or 'bic', found {ic!r}")
        if method is not None and method not in _METHODS:
            raise CrmError(f"{c}: argument 'method' must be None, 'CSS-ML', 'ML' or 'CSS', found {method!r}")
        params: dict[str, Any] = {"season_length": _int_arg(c, "season_length", season_length)}
        ints = dict(max_p=max_p, max_q=max_q, max_P=max_P, max_Q=max_Q, max_order=max_order, max_d=max_d,
                    max_D=max_D, start_p=start_p, start_q=start_q, start_P=start_P, start_Q=start_Q)
        defaults = dict(max_p=5, max_q=5, max_P=2, max_Q=2, max_order=5, max_d=2, max_D=1, start_p=2,
                        start_q=2, start_P=1, start_Q=1)
        for k, v in ints.items():
            _int_arg(c, k, v, minimum=0)
            if v != defaults[k]:
                params[k] = v
        _int_arg(c, "nmodels", nmodels)
        for k, v, default in (("d", d, None), ("D", D, None), ("truncate", truncate, None)):
            if v is not None:
                params[k] = _int_arg(c, k, v, minimum=0)
        for k, v, default in (("stationary", stationary, False), ("seasonal", seasonal, True),
                              ("stepwise", stepwise, True), ("allowdrift", allowdrift, True),
                              ("allowmean", allowmean, True), ("approximation", bool(approximation), False)):
            if not isinstance(v, bool):
                raise CrmError(f"{c}: argument '{k}' must be True or False, found {v!r}")
            if v != default:
                params[k] = v
        if ic != "aicc":
            params["ic"] = ic
        if nmodels != 94:
            params["nmodels"] = nmodels
        if method is not None:
            params["method"] = method
        super().__init__(alias, **params)


class ARIMA(_Model):
    """ARIMA of a given order as statsforecast's ``ARIMA`` (CSS-ML by default; a drift
    term with ``include_drift`` when at most one difference is taken).

    >>> ARIMA(order=(0, 1, 1), season_length=12, seasonal_order=(0, 1, 1)).params["order"]
    [0, 1, 1]
    """

    name = "ARIMA"

    def __init__(
        self,
        order: tuple[int, int, int] = (0, 0, 0),
        season_length: int = 1,
        seasonal_order: tuple[int, int, int] = (0, 0, 0),
        include_mean: bool = True,
        include_drift: bool = False,
        include_constant: Optional[bool] = None,
        method: str = "CSS-ML",
        alias: str = "ARIMA",
    ) -> None:
        c = type(self).__name__
        if method not in _METHODS:
            raise CrmError(f"{c}: argument 'method' must be 'CSS-ML', 'ML' or 'CSS', found {method!r}")
        params: dict[str, Any] = {
            "order": _order(c, "order", order),
            "season_length": _int_arg(c, "season_length", season_length),
            "seasonal_order": _order(c, "seasonal_order", seasonal_order),
            "include_mean": bool(include_mean),
            "include_drift": bool(include_drift),
            "method": method,
        }
        if include_constant is not None:
            params["include_constant"] = bool(include_constant)
        super().__init__(alias, **params)


class AutoCES(_Model):
    """Complex exponential smoothing (Svetunkov & Kourentzes) as statsforecast's
    ``AutoCES``: forms N, S, P, F (``model="Z"`` picks by AICc); output column ``CES``.

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, AutoCES
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(12)), "y": [3.0, 5, 4, 6, 5, 7, 6, 8, 7, 9, 8, 10]})
    >>> forecast(df, models=[AutoCES()], h=2).columns
    ['unique_id', 'ds', 'CES']
    """

    name = "AutoCES"

    def __init__(self, season_length: int = 1, model: str = "Z", alias: str = "CES") -> None:
        if model not in ("Z", "N", "S", "P", "F"):
            raise CrmError(f"AutoCES: argument 'model' must be 'Z', 'N', 'S', 'P' or 'F', found {model!r}")
        super().__init__(alias, season_length=_int_arg("AutoCES", "season_length", season_length), model=model)


MODEL_CLASSES.update({cls.name: cls for cls in (AutoARIMA, ARIMA, AutoCES)})
