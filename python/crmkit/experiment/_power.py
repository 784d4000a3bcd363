"""Sample size, power and minimum detectable effect with statsmodels' definitions."""

from __future__ import annotations

import math
from typing import cast, Optional

from crmkit import _core
from crmkit.errors import CrmError

#: Effect-size conventions for proportions (d = standardised difference).
EFFECT_SIZES = ("average", "pooled", "baseline", "arcsine")


def _check(name: str, value: float, lo: float, hi: float, function: str, *, open_lo: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise CrmError(f"{function}: argument '{name}' must be a number, found {value!r}")
    v = float(value)
    if (v <= lo if open_lo else v < lo) or v >= hi:
        raise CrmError(f"{function}: argument '{name}' must lie in ({lo}, {hi}), found {value!r}")
    return v


def _alt(alternative: str, function: str) -> str:
    mapping = {"two-sided": "two-sided", "larger": "larger", "greater": "larger", "smaller": "smaller", "less": "smaller"}
    if alternative not in mapping:
        raise CrmError(f"{function}: argument 'alternative' must be 'two-sided', 'larger' or 'smaller', found {alternative!r}")
    return mapping[alternative]


def _target(baseline: float, mde: float, relative: bool) -> float:
    return baseline * (1.0 + mde) if relative else baseline + mde


def _effect_size(kind: str, baseline: float, target: float, sd: Optional[float], convention: str) -> float:
    if kind == "mean":
        return (target - baseline) / float(cast(float, sd))  # _common requires sd for kind='mean'
    p1, p2 = baseline, target
    if convention == "average":
        return (p2 - p1) / math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2.0)
    if convention == "pooled":
        p = (p1 + p2) / 2.0
        return (p2 - p1) / math.sqrt(p * (1 - p))
    if convention == "baseline":
        return (p2 - p1) / math.sqrt(p1 * (1 - p1))
    return 2.0 * math.asin(math.sqrt(p2)) - 2.0 * math.asin(math.sqrt(p1))


def _common(baseline: float, mde: Optional[float], kind: str, sd: Optional[float], alpha: float, ratio: float,
            alternative: str, test: Optional[str], effect_size: str, function: str, *,
            need_mde: bool = True) -> tuple[float, float, float, str, str]:
    if kind not in ("proportion", "mean"):
        raise CrmError(f"{function}: argument 'kind' must be 'proportion' or 'mean', found {kind!r}")
    if kind == "proportion":
        baseline = _check("baseline", baseline, 0.0, 1.0, function)
    else:
        if isinstance(baseline, bool) or not isinstance(baseline, (int, float)) or baseline != baseline:
            raise CrmError(f"{function}: argument 'baseline' must be a number, found {baseline!r}")
        if sd is None or isinstance(sd, bool) or not isinstance(sd, (int, float)) or not sd > 0:
            raise CrmError(f"{function}: kind='mean' needs sd=<standard deviation of the metric per unit> (> 0), found {sd!r}")
    if effect_size not in EFFECT_SIZES:
        raise CrmError(f"{function}: argument 'effect_size' must be one of {list(EFFECT_SIZES)}, found {effect_size!r}")
    alpha = _check("alpha", alpha, 0.0, 1.0, function)
    ratio = _check("ratio", ratio, 0.0, math.inf, function)
    alt = _alt(alternative, function)
    test = test or ("normal" if kind == "proportion" else "t")
    if test not in ("normal", "t"):
        raise CrmError(f"{function}: argument 'test' must be 'normal' (NormalIndPower) or 't' (TTestIndPower), found {test!r}")
    return float(baseline), alpha, ratio, alt, test


def sample_size(
    baseline: float,
    mde: float,
    *,
    relative: bool = True,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    kind: str = "proportion",
    sd: Optional[float] = None,
    alternative: str = "two-sided",
    test: Optional[str] = None,
    effect_size: str = "average",
) -> float:
    """Units needed in the control arm (``nobs1``; the treatment arm gets ``ratio`` times
    as many) to detect the effect ``mde`` with the given power — equal to statsmodels'
    ``NormalIndPower().solve_power`` (``test="normal"``, the default for proportions) or
    ``TTestIndPower().solve_power`` (``test="t"``, the default for means) with
    ``nobs1=None``, solved to full precision (statsmodels stops at an absolute tolerance
    of 1e-5). Round up for a plan: ``math.ceil``.

    The standardised effect size d passed to statsmodels:

    - proportions (``baseline`` = control conversion p1, target p2 = p1·(1 + mde) or
      p1 + mde): ``effect_size="average"`` (default) d = (p2 - p1) / √((p1q1 + p2q2)/2),
      the unpooled variance of the classic two-proportion formula
      n = (z₁₋α/₂ + z₁₋β)²(p1q1 + p2q2)/(p2 - p1)²; ``"pooled"`` uses p̄ = (p1 + p2)/2,
      ``"baseline"`` p1 only and ``"arcsine"`` Cohen's h (statsmodels
      ``proportion_effectsize``). For a 10% baseline and a 10% relative lift at α 0.05
      and power 0.8 they give 14,748.0 (average), 14,751.9 (pooled), 14,127.9 (baseline)
      and 14,744.1 (arcsine) per arm — the 14,748–14,751 quoted by calculators is the
      average-vs-pooled convention;
    - means: d = (target - baseline) / ``sd``.

    >>> round(sample_size(0.10, 0.10), 3)
    14748.009
    """
    fn = "crmkit.experiment.sample_size"
    baseline, alpha, ratio, alt, test = _common(baseline, mde, kind, sd, alpha, ratio, alternative, test, effect_size, fn)
    power = _check("power", power, 0.0, 1.0, fn)
    target = _target(baseline, float(mde), relative)
    if kind == "proportion" and not 0.0 < target < 1.0:
        raise CrmError(f"{fn}: the target conversion {target:.4g} (baseline with the mde) must lie in (0, 1)")
    d = _effect_size(kind, baseline, target, sd, effect_size)
    if d == 0:
        raise CrmError(f"{fn}: an effect of 0 cannot be detected; mde must be non-zero")
    if (alt == "larger" and d < 0) or (alt == "smaller" and d > 0):
        raise CrmError(f"{fn}: with alternative={alternative!r} the effect must point the same way (mde sign)")
    n = _core.experiment_solve_power(test, "nobs1", d, math.nan, alpha, power, ratio, alt)
    if n is None:
        raise CrmError(f"{fn}: no sample size reaches power {power} (is power below alpha?)")
    return n


def power(
    baseline: float,
    mde: float,
    n: float,
    *,
    relative: bool = True,
    alpha: float = 0.05,
    ratio: float = 1.0,
    kind: str = "proportion",
    sd: Optional[float] = None,
    alternative: str = "two-sided",
    test: Optional[str] = None,
    effect_size: str = "average",
) -> float:
    """Power of the test with ``n`` units in the control arm (``n·ratio`` in the treatment
    arm); statsmodels ``NormalIndPower().power`` / ``TTestIndPower().power`` with the
    effect size of `sample_size`.

    >>> round(power(0.10, 0.10, 14748.008897108914), 6)
    0.8
    """
    fn = "crmkit.experiment.power"
    baseline, alpha, ratio, alt, test = _common(baseline, mde, kind, sd, alpha, ratio, alternative, test, effect_size, fn)
    n = _check("n", n, 0.0 if test == "normal" else 1.0, math.inf, fn)
    target = _target(baseline, float(mde), relative)
    d = _effect_size(kind, baseline, target, sd, effect_size)
    return _core.experiment_power(test, d, n, alpha, ratio, alt)


def mde(
    baseline: float,
    n: float,
    *,
    relative: bool = True,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    kind: str = "proportion",
    sd: Optional[float] = None,
    alternative: str = "two-sided",
    test: Optional[str] = None,
    effect_size: str = "average",
) -> float:
    """Minimum detectable effect with ``n`` control units (relative to ``baseline`` when
    ``relative``, else absolute): the statsmodels standardised effect size solved with
    ``effect_size=None``, turned back into a lift (for proportions the target p2 solves
    d(p1, p2) = d*, since the variance depends on p2). Negative for ``alternative="smaller"``.

    >>> round(mde(0.10, 14748.008897108914), 6)
    0.1
    """
    fn = "crmkit.experiment.mde"
    baseline, alpha, ratio, alt, test = _common(baseline, 0.0, kind, sd, alpha, ratio, alternative, test, effect_size, fn)
    power_ = _check("power", power, 0.0, 1.0, fn)
    n = _check("n", n, 0.0 if test == "normal" else 1.0, math.inf, fn)
    d = _core.experiment_solve_power(test, "effect_size", math.nan, n, alpha, power_, ratio, alt)
    if d is None:
        raise CrmError(f"{fn}: no effect size reaches power {power_} with n={n}")
    if kind == "mean":
        delta = d * float(cast(float, sd))  # _common requires sd for kind='mean'
    else:
        sign = -1.0 if d < 0 else 1.0
        lo, hi = baseline, (1.0 if sign > 0 else 0.0)
        def f(p2: float) -> float:
            return _effect_size(kind, baseline, p2, sd, effect_size)

        if abs(f(hi - sign * 1e-15)) < abs(d):
            raise CrmError(f"{fn}: even a conversion of {hi:g} is not detectable with n={n}")
        for _ in range(200):  # bisection on p2: |d(p2)| grows away from p1
            mid = 0.5 * (lo + hi)
            if abs(f(mid)) < abs(d):
                lo = mid
            else:
                hi = mid
        delta = 0.5 * (lo + hi) - baseline
    return delta / baseline if relative else delta
