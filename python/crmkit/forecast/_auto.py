"""auto (per-series model choice by cross-validation) and trend (growth table)."""

from __future__ import annotations

import warnings
from typing import Any, Optional, Sequence

import numpy as np
import polars as pl

from crmkit import _core
from crmkit.errors import CrmError
from crmkit.forecast._engine import _check_intermittent, _to_float_columns, check_models, run_tasks
from crmkit.forecast._frames import MAX_HORIZON, check_levels, level_name, optional_int, prepare, restore_names
from crmkit.forecast._models import AutoCES, AutoETS, AutoTheta, CrostonSBA, Naive, SeasonalNaive, _Model

#: Names of the combinations in the ``model`` column: the equal-weight mean and the
#: median of the combined models, and the mean of AutoETS and AutoTheta.
COMBINATION = "combination"
MEDIAN = "median"
ETS_THETA = "AutoETS+AutoTheta"


def default_candidates(season_length: int) -> list[_Model]:
    """The models ``auto`` chooses among by default (the combination averages the first
    ones, see ``auto``).

    >>> [m.alias for m in default_candidates(12)][:2]
    ['AutoETS', 'AutoTheta']
    """
    models: list[_Model] = [AutoETS(season_length=season_length), AutoTheta(season_length=season_length)]
    models.append(AutoCES(season_length=season_length))
    models.append(Naive())
    if season_length > 1:
        models.append(SeasonalNaive(season_length=season_length))
    return models


#: How far below the requested level the empirical quantile of ``auto``'s intervals is
#: taken (level 95 -> quantile 0.925, 80 -> 0.775). The cross-validation fits see h to
#: n_windows * h fewer points than the final fit, so their errors overstate its errors;
#: 2.5 points were measured on M3 and Tourism (coverage of the 95% interval 0.93-0.96 per
#: data set with it, 0.95-0.98 without; of the 80% interval 0.78-0.86).
QUANTILE_OFFSET = 0.025


def _prefix_scales(panel: Any, series: np.ndarray, train: np.ndarray, m: int) -> np.ndarray:
    """MASE scale (mean absolute seasonal difference, lag m; lag 1 when the training
    part has at most m points) of the first ``train`` points of each task's series;
    NaN when it is 0 or undefined. Vectorised with per-lag prefix sums."""
    values, offsets = panel.values, panel.offsets
    out = np.full(len(series), np.nan)
    for lag in sorted({m, 1}):
        if len(values) <= lag:
            continue
        d = np.abs(values[lag:] - values[:-lag])
        # d[i] belongs to the series of values[i + lag]; positions crossing a series
        # boundary are zeroed (never inside a task's window, see below).
        pos = np.arange(lag, len(values))
        sid = np.searchsorted(offsets, pos, side="right") - 1
        d = np.where(pos - offsets[sid] >= lag, d, 0.0)
        cs = np.concatenate([[0.0], np.cumsum(d)])
        use = (train > m) if lag == m else (train <= m)
        if lag == m == 1:
            use = np.ones(len(series), bool)
        start = offsets[series] + lag  # first value with a full lag inside the series
        stop = offsets[series] + train
        cnt = train - lag
        ok = use & (cnt > 0)
        tot = cs[np.maximum(stop - lag, 0)] - cs[np.maximum(start - lag, 0)]
        with np.errstate(invalid="ignore", divide="ignore"):
            sc = np.where(ok, tot / np.maximum(cnt, 1), np.nan)
        out = np.where(use, sc, out)
    return np.where(out > 0, out, np.nan)


def _options(aliases: list[str], combo: list[str]) -> list[tuple[str, list[int], str]]:
    """(name, member columns, how): the single models, then the combinations."""
    opts = [(a, [i], "mean") for i, a in enumerate(aliases)]
    if len(combo) >= 2:
        idx = [aliases.index(c) for c in combo]
        opts.append((COMBINATION, idx, "mean"))
        if len(combo) >= 3:
            opts.append((MEDIAN, idx, "median"))
        if "AutoETS" in combo and "AutoTheta" in combo:
            opts.append((ETS_THETA, [aliases.index("AutoETS"), aliases.index("AutoTheta")], "mean"))
    return opts


def _apply(arr: np.ndarray, members: list[int], how: str) -> np.ndarray:
    """Combines model axis 1 of ``arr`` (task, model, ...)."""
    sub = arr[:, members]
    return np.asarray(np.median(sub, axis=1) if how == "median" else sub.mean(axis=1), dtype=np.float64)


def auto(
    df: Any,
    *,
    h: int,
    season_length: Optional[int] = None,
    freq: Any = None,
    level: Optional[Sequence[float]] = None,
    models: Optional[Sequence[_Model]] = None,
    combine: Optional[Sequence[str]] = None,
    n_windows: int = 2,
    margin: float = 0.7,
    intervals: str = "conformal",
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    details: bool = False,
) -> Any:
    """The forecast users should reach for: the candidate models and their combinations
    scored by cross-validated MASE, the best for the panel used for every series unless a
    single model is much better on a series.

    Candidates default to AutoETS, AutoTheta, AutoCES (column ``CES``), Naive and, when
    seasonal, SeasonalNaive, plus CrostonSBA when some series are intermittent. The
    combinations are the mean (``"combination"``) and the median (``"median"``) of
    AutoETS, AutoTheta and CES (``combine`` names other models), and the mean of AutoETS
    and AutoTheta (``"AutoETS+AutoTheta"``). Every option is scored on ``n_windows``
    rolling windows of ``h`` steps. The panel's choice is the combination or automatic
    model (AutoETS, AutoTheta, CES) with the lowest mean score over all series: a choice
    made on hundreds of windows, where a per-series choice made on two is mostly noise
    (on M3 and Tourism, choosing per series lost 1-5% MASE against one choice for the
    panel). A series switches to a single model only when that model's score is lower
    than the panel choice's by more than ``margin`` (70%). Series too short for one window
    get the panel's choice. ``season_length`` defaults to the one of ``freq`` (12
    monthly, 4 quarterly, 52 weekly, 7 daily, 1 otherwise).

    Intervals (``level``): with ``intervals="conformal"`` (default) they are calibrated
    on the cross-validation errors: each window's errors are divided by the MASE scale of
    its training part, the scaled errors of all series are pooled per horizon step, and
    the bound at level L is the forecast plus or minus their empirical quantile at
    ``L - 0.025`` times the series' own MASE scale (all steps pooled when a step
    has fewer than 20 errors). The intervals therefore depend on the other series of the
    call: forecast comparable series together. On M3 and Tourism the 95% intervals cover
    93-96% of the holdout points (the models' own intervals 78-93%). With fewer than 10
    scaled errors, or ``intervals="model"``, the bounds are the chosen model's (the
    combination's: the mean or median of its members' bounds).

    Returns ``unique_id, ds, auto`` (+ ``auto-lo-<l>``/``auto-hi-<l>`` with ``level``)
    and ``model``, what was used for the series. ``details=True`` returns
    ``(forecasts, scores)`` with each option's cross-validated MASE per series.

    >>> import polars as pl
    >>> from crmkit.forecast import auto
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(40)),
    ...                    "y": [float(100 + 2 * t + (5 if t % 4 == 0 else 0)) for t in range(40)]})
    >>> fc = auto(df, h=4, season_length=4, level=[90])
    >>> fc.columns
    ['unique_id', 'ds', 'auto', 'auto-lo-90', 'auto-hi-90', 'model']
    >>> fc.height
    4
    """
    return _auto(df, h=h, season_length=season_length, freq=freq, level=level, models=models, combine=combine,
                 n_windows=n_windows, margin=margin, intervals=intervals, id_col=id_col, time_col=time_col,
                 target_col=target_col, details=details)


def _auto(
    df: Any,
    *,
    h: int,
    season_length: Optional[int] = None,
    freq: Any = None,
    level: Optional[Sequence[float]] = None,
    models: Optional[Sequence[_Model]] = None,
    combine: Optional[Sequence[str]] = None,
    n_windows: int = 2,
    margin: float = 0.7,
    intervals: str = "conformal",
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    details: bool = False,
    fixed: Optional[dict[str, Any]] = None,
    stats: Optional[dict[str, Any]] = None,
) -> Any:
    """auto's work. ``fixed`` imposes the panel's choice (``default``, an option name)
    and the conformal quantiles (``quantiles``: level -> one per step) decided over a
    larger panel (crmkit.spark.forecast: the buckets' figures added up on the driver);
    ``stats`` receives this panel's figures for those decisions."""
    function = "auto"
    h = optional_int(h, "h", function=function, limit=MAX_HORIZON)  # type: ignore[assignment]
    if h is None:
        raise CrmError("auto: argument 'h' (the horizon) is required")
    n_windows = optional_int(n_windows, "n_windows", function=function) or 1
    if not isinstance(margin, (int, float)) or isinstance(margin, bool) or not 0 <= margin < 1:
        raise CrmError(f"auto: argument 'margin' must be a number in [0, 1), found {margin!r}")
    if intervals not in ("conformal", "model"):
        raise CrmError(f"auto: argument 'intervals' must be 'conformal' or 'model', found {intervals!r}")
    levels = check_levels(level, function=function)
    panel = prepare(df, id_col=id_col, time_col=time_col, target_col=target_col, freq=freq, function=function)
    m = optional_int(season_length, "season_length", function=function) or panel.freq.season_length()
    if models is None:
        cands = default_candidates(m)
        nonneg = bool((panel.values >= 0).all())
        if nonneg and float((panel.values == 0).mean()) > 0.05:
            cands.append(CrostonSBA())
    else:
        cands = check_models(models, function=function)
    _check_intermittent(panel, cands, function=function)
    aliases = [c.alias for c in cands]
    if combine is None:
        combo: list[str] = [a for a in ("AutoETS", "AutoTheta", "CES") if a in aliases]
    else:
        combo = list(combine)
        unknown = [c for c in combo if c not in aliases]
        if unknown:
            raise CrmError(f"auto: argument 'combine' names {unknown}, which are not among the candidates {aliases}")
    opts = _options(aliases, combo)
    names = [o[0] for o in opts]
    automatic = {"AutoETS", "AutoTheta", "CES", COMBINATION, MEDIAN, ETS_THETA}
    panel_pool = [i for i, nm in enumerate(names) if nm in automatic] or list(range(len(opts)))

    ns = panel.n_series
    # Cross-validation tasks (series, window) then the final fits, in one parallel call.
    cv_series = np.repeat(np.arange(ns), n_windows)
    win = np.tile(np.arange(n_windows), ns)
    cv_train = np.repeat(panel.lengths, n_windows) - h - (n_windows - 1 - win) * h
    ok = cv_train >= max(2 * m, 4) if m > 1 else cv_train >= 4
    cv_series, cv_train = cv_series[ok], cv_train[ok]
    t_series = np.concatenate([cv_series, np.arange(ns)])
    t_len = np.concatenate([cv_train, panel.lengths])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = run_tasks(panel, t_series, t_len, cands, h, levels)
    ncv = len(cv_series)
    k = len(opts)
    # Scaled CV errors per (task, option, step) and MASE per (series, option).
    cv_mean = np.stack([_apply(out["mean"][:ncv], mem, how) for _, mem, how in opts], axis=1)
    actual = panel.values[(panel.offsets[cv_series] + cv_train)[:, None] + np.arange(h)[None, :]] if ncv else np.empty((0, h))
    scale = _prefix_scales(panel, cv_series, cv_train, m)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = (actual[:, None, :] - cv_mean) / scale[:, None, None]
    task_mase = np.abs(scaled).mean(axis=2)  # (task, option); NaN where the scale is
    finite = np.isfinite(task_mase)
    err_sum = np.zeros((ns, k))
    err_cnt = np.zeros((ns, k))
    np.add.at(err_sum, cv_series, np.where(finite, task_mase, 0.0))
    np.add.at(err_cnt, cv_series, finite.astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        score = err_sum / err_cnt
    windows = err_cnt.max(axis=1) if k else np.zeros(ns)
    # The panel's choice: the lowest mean score over the series scored by every option.
    pool_scores = score[:, panel_pool]
    rows = np.isfinite(pool_scores).all(axis=1)
    if stats is not None:
        stats["pool"] = [names[i] for i in panel_pool]
        stats["pool_sum"] = pool_scores[rows].sum(axis=0) if rows.any() else np.zeros(len(panel_pool))
        stats["pool_n"] = int(rows.sum())
        stats["fallback"] = COMBINATION if COMBINATION in names else names[0]
    if fixed is not None and fixed.get("default") is not None:
        if fixed["default"] not in names:
            raise CrmError(f"auto: the panel's choice {fixed['default']!r} is not among the options {names}")
        default = names.index(fixed["default"])
    elif rows.any():
        default = panel_pool[int(np.argmin(pool_scores[rows].mean(axis=0)))]
    else:
        default = names.index(COMBINATION) if COMBINATION in names else 0
    # A series leaves it for a single model only when that model is much better.
    singles = np.arange(len(aliases))
    choice = np.full(ns, default, dtype=np.int64)
    if len(singles):
        with np.errstate(invalid="ignore"):
            s_scores = np.where(np.isfinite(score[:, singles]), score[:, singles], np.inf)
            best_single = singles[np.argmin(s_scores, axis=1)]
            best_val = s_scores.min(axis=1)
            better = np.isfinite(score[:, default]) & (best_val < (1 - margin) * score[:, default])
        choice = np.where(better, best_single, choice)
    final = slice(ncv, ncv + ns)
    fmean = np.stack([_apply(out["mean"][final], mem, how) for _, mem, how in opts], axis=1)
    flo = np.stack([_apply(out["lower"][final], mem, how) for _, mem, how in opts], axis=1)
    fhi = np.stack([_apply(out["upper"][final], mem, how) for _, mem, how in opts], axis=1)
    rs = np.arange(ns)
    auto_mean = fmean[rs, choice]
    auto_lo = flo[rs, choice]
    auto_hi = fhi[rs, choice]
    if levels and intervals == "conformal":
        # Scaled absolute CV errors of each series' chosen option, pooled per step.
        z = np.abs(scaled[np.arange(ncv), choice[cv_series]]) if ncv else np.empty((0, h))
        final_scale = _prefix_scales(panel, np.arange(ns), panel.lengths, m)
        per_step = [col[np.isfinite(col)] for col in z.T]
        if stats is not None:
            stats["errors"] = per_step
        quantiles = fixed.get("quantiles") if fixed is not None else conformal_quantiles(per_step, levels)
        if quantiles:
            for li, lv in enumerate(levels):
                qs = np.asarray(quantiles[lv], dtype=np.float64)
                half = qs[None, :] * final_scale[:, None]
                ok_s = np.isfinite(final_scale)
                auto_lo[ok_s, li] = auto_mean[ok_s] - half[ok_s]
                auto_hi[ok_s, li] = auto_mean[ok_s] + half[ok_s]
    rep = np.repeat(np.arange(ns), h)
    steps = np.tile(np.arange(h), ns)
    cols: dict[str, np.ndarray] = {"auto": auto_mean.ravel()}
    for li in reversed(range(len(levels))):
        cols[f"auto-lo-{level_name(levels[li])}"] = auto_lo[:, li, :].ravel()
    for li in range(len(levels)):
        cols[f"auto-hi-{level_name(levels[li])}"] = auto_hi[:, li, :].ravel()
    chosen = [names[c] for c in choice]
    frame = pl.DataFrame(
        [
            panel.ids.gather(pl.Series(rep, dtype=pl.UInt32)).alias("unique_id"),
            panel.ds_at(rep, np.repeat(panel.lengths, h) + steps).alias("ds"),
            *_to_float_columns(cols),
            pl.Series("model", chosen, dtype=pl.String).gather(pl.Series(rep, dtype=pl.UInt32)),
        ]
    )
    frame = restore_names(frame, panel)
    if details:
        scores = pl.DataFrame({id_col: panel.ids, "model": chosen, "windows": windows.astype(np.int64)})
        scores = scores.with_columns([pl.Series(f"mase_{n}", score[:, i]) for i, n in enumerate(names)])
        return frame, scores
    return frame


def conformal_quantiles(per_step: list[np.ndarray], levels: Sequence[float]) -> Optional[dict[float, np.ndarray]]:
    """Per level, the conformal quantile of the scaled absolute errors of each horizon step
    (all steps pooled for a step with fewer than 20 errors); None with fewer than 10."""
    pooled = np.concatenate(per_step) if per_step else np.empty(0)
    if pooled.size < 10:
        return None
    out = {}
    for lv in levels:
        q_level = max(lv / 100 - QUANTILE_OFFSET, lv / 200)
        out[lv] = np.array([_conformal_quantile(c if c.size >= 20 else pooled, q_level) for c in per_step])
    return out


def _conformal_quantile(values: np.ndarray, q: float) -> float:
    """The ceil((n + 1) q)-th smallest value (the split-conformal quantile), capped at the
    largest; NaN when empty."""
    n = values.size
    if n == 0:
        return float("nan")
    rank = min(n, int(np.ceil((n + 1) * q)))
    return float(np.partition(values, rank - 1)[rank - 1])


def trend(
    df: Any,
    *,
    season_length: Optional[int] = None,
    window: Optional[int] = None,
    h: Optional[int] = None,
    model: Optional[_Model] = None,
    alpha: float = 0.05,
    freq: Any = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
) -> pl.DataFrame:
    """Which series are growing and which are shrinking: one row per series.

    Columns: ``n``, ``last_ds``; ``recent`` and ``previous`` (sums of the last ``window``
    periods and of the ``window`` before; ``window`` defaults to ``season_length`` when
    seasonal, else 3) and ``growth`` = recent / previous - 1 (null when previous is 0);
    ``slope`` (least squares, per period) and ``sen_slope`` (Sen's median slope, robust),
    ``sen_slope_pct`` (Sen's slope over the mean level); ``mk_z``/``p_value`` of the
    Mann–Kendall trend test (tie-corrected) and ``direction``: "growing" / "shrinking"
    when p < ``alpha``, else "flat"; ``trend_strength`` and ``seasonal_strength`` in
    [0, 1] (Wang, Smith & Hyndman 2006; null when there are fewer than two seasons);
    ``forecast`` (sum of the next ``h`` periods by ``model``, default AutoETS; ``h``
    defaults to ``window``) and ``forecast_change`` = forecast / (sum of the last ``h``
    periods) - 1.

    >>> import polars as pl
    >>> from crmkit.forecast import trend
    >>> df = pl.DataFrame({"unique_id": ["up"] * 12 + ["down"] * 12, "ds": list(range(12)) * 2,
    ...                    "y": [float(t) for t in range(12)] + [float(20 - t) for t in range(12)]})
    >>> trend(df).select("unique_id", "direction", "sen_slope").sort("unique_id").rows()
    [('down', 'shrinking', -1.0), ('up', 'growing', 1.0)]
    """
    function = "trend"
    panel = prepare(df, id_col=id_col, time_col=time_col, target_col=target_col, freq=freq, function=function)
    m = optional_int(season_length, "season_length", function=function) or panel.freq.season_length()
    w = optional_int(window, "window", function=function) or (m if m > 1 else 3)
    hh = optional_int(h, "h", function=function, limit=MAX_HORIZON) or w
    if not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise CrmError(f"trend: argument 'alpha' must be in (0, 1), found {alpha!r}")
    if model is None:
        model = AutoETS(season_length=m)
    model = check_models([model], function=function)[0]
    stats = _core.forecast_trend_stats(panel.values, panel.offsets, m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = run_tasks(panel, np.arange(panel.n_series), panel.lengths, [model], hh, [])
    fsum = out["mean"][:, 0, :].sum(axis=1)
    recent = np.empty(panel.n_series)
    previous = np.empty(panel.n_series)
    last_h = np.empty(panel.n_series)
    mean_level = np.empty(panel.n_series)
    for s in range(panel.n_series):
        ys = panel.values[panel.offsets[s] : panel.offsets[s + 1]]
        recent[s] = ys[-w:].sum() if len(ys) >= w else np.nan
        previous[s] = ys[-2 * w : -w].sum() if len(ys) >= 2 * w else np.nan
        last_h[s] = ys[-hh:].sum() if len(ys) >= hh else np.nan
        mean_level[s] = np.abs(ys).mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        growth = np.where(previous != 0, recent / previous - 1, np.nan)
        change = np.where(last_h != 0, fsum / last_h - 1, np.nan)
        sen_pct = np.where(mean_level > 0, stats["sen_slope"] / mean_level, np.nan)
    p = np.asarray(stats["mk_p"])
    z = np.asarray(stats["mk_z"])
    direction = np.where((p < alpha) & (z > 0), "growing", np.where((p < alpha) & (z < 0), "shrinking", "flat"))
    last_ds = panel.ds_at(np.arange(panel.n_series), panel.lengths - 1)
    frame = pl.DataFrame(
        [
            panel.ids.alias("unique_id"),
            pl.Series("n", panel.lengths, dtype=pl.Int64),
            last_ds.alias("last_ds"),
            *_to_float_columns(
                {
                    "recent": recent, "previous": previous, "growth": growth, "slope": stats["ols_slope"],
                    "sen_slope": stats["sen_slope"], "sen_slope_pct": sen_pct, "mk_z": z, "p_value": p,
                }
            ),
            pl.Series("direction", direction.tolist(), dtype=pl.String),
            *_to_float_columns(
                {"trend_strength": stats["trend_strength"], "seasonal_strength": stats["seasonal_strength"], "forecast": fsum, "forecast_change": change}
            ),
        ]
    )
    return frame.rename({"unique_id": id_col})
