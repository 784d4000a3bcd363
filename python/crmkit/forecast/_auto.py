"""auto (per-series model choice by cross-validation) and trend (growth table)."""

from __future__ import annotations

import warnings
from typing import Any, Optional, Sequence

import numpy as np
import polars as pl

from crmkit import _core
from crmkit.errors import CrmError
from crmkit.forecast._engine import _check_intermittent, _to_float_columns, check_models, run_tasks
from crmkit.forecast._frames import check_levels, level_name, optional_int, prepare, restore_names
from crmkit.forecast._models import AutoCES, AutoETS, AutoTheta, CrostonSBA, Naive, SeasonalNaive, _Model

#: Name of the equal-weight combination in the ``model`` column.
COMBINATION = "combination"


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


def _mase_scale(values: np.ndarray, m: int) -> float:
    if len(values) <= m:
        d = np.abs(np.diff(values))
    else:
        d = np.abs(values[m:] - values[:-m])
    s = float(d.mean()) if len(d) else 0.0
    return s if s > 0 else float("nan")


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
    margin: float = 0.5,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    details: bool = False,
) -> Any:
    """The forecast users should reach for: per series, the model (or the equal-weight
    combination of the automatic models) with the lowest cross-validated MASE.

    Candidates default to AutoETS, AutoTheta, AutoCES (column ``CES``), Naive and, when
    seasonal, SeasonalNaive, plus CrostonSBA when some series are intermittent; the
    combination averages AutoETS, AutoTheta and CES point forecasts and bounds
    (``combine`` names other models to average). Each candidate is scored on
    ``n_windows`` rolling windows of ``h`` steps; a single model replaces the combination
    only when its MASE is lower by more than ``margin`` (50%): averaging is the safer bet
    on short, noisy histories, and choosing on a few windows is itself noisy (on M3 and
    Tourism a 10% margin picked single models for ~45% of series and lost 1.2% MASE
    against the plain combination). Series too
    short for one window get the combination. ``season_length`` defaults to the one of
    ``freq`` (12 monthly, 4 quarterly, 52 weekly, 7 daily, 1 otherwise).

    Returns ``unique_id, ds, auto`` (+ ``auto-lo-<l>``/``auto-hi-<l>`` with ``level``)
    and ``model``, what was used for the series. ``details=True`` returns
    ``(forecasts, scores)`` with each candidate's cross-validated MASE per series.

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
    function = "auto"
    h = optional_int(h, "h", function=function)  # type: ignore[assignment]
    if h is None:
        raise CrmError("auto: argument 'h' (the horizon) is required")
    n_windows = optional_int(n_windows, "n_windows", function=function) or 1
    if not isinstance(margin, (int, float)) or isinstance(margin, bool) or not 0 <= margin < 1:
        raise CrmError(f"auto: argument 'margin' must be a number in [0, 1), found {margin!r}")
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
        combo = [a for a in ("AutoETS", "AutoTheta", "CES") if a in aliases]
    else:
        combo = list(combine)
        unknown = [c for c in combo if c not in aliases]
        if unknown:
            raise CrmError(f"auto: argument 'combine' names {unknown}, which are not among the candidates {aliases}")
    use_combo = len(combo) >= 2
    combo_idx = [aliases.index(c) for c in combo]

    ns = panel.n_series
    k = len(cands)
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
    mean = out["mean"]
    # Cross-validated MASE per (series, candidate [+ combination]).
    n_opts = k + (1 if use_combo else 0)
    err_sum = np.zeros((ns, n_opts))
    err_cnt = np.zeros(ns)
    for t in range(ncv):
        s, tl = cv_series[t], cv_train[t]
        ys = panel.values[panel.offsets[s] : panel.offsets[s + 1]]
        scale = _mase_scale(ys[:tl], m)
        actual = ys[tl : tl + h]
        if not np.isfinite(scale):
            continue
        preds = mean[t]
        errs = np.abs(preds - actual).mean(axis=1) / scale
        if use_combo:
            errs = np.append(errs, np.abs(preds[combo_idx].mean(axis=0) - actual).mean() / scale)
        err_sum[s] += errs
        err_cnt[s] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        score = err_sum / err_cnt[:, None]
    score[err_cnt == 0] = np.nan
    # Choose: the combination unless a single model beats it by more than `margin`.
    choice = np.empty(ns, dtype=np.int64)
    for s in range(ns):
        row = score[s]
        if not np.isfinite(row).any():
            choice[s] = k if use_combo else 0
            continue
        best = int(np.nanargmin(np.where(np.isfinite(row), row, np.inf)))
        if use_combo and best != k and np.isfinite(row[k]) and row[best] > (1 - margin) * row[k]:
            best = k
        choice[s] = best
    final = slice(ncv, ncv + ns)
    fmean, flo, fhi = mean[final], out["lower"][final], out["upper"][final]
    names = aliases + ([COMBINATION] if use_combo else [])
    auto_mean = np.empty((ns, h))
    auto_lo = np.empty((ns, len(levels), h))
    auto_hi = np.empty((ns, len(levels), h))
    for s in range(ns):
        c = choice[s]
        if c == k:
            auto_mean[s] = fmean[s, combo_idx].mean(axis=0)
            auto_lo[s] = flo[s, combo_idx].mean(axis=0)
            auto_hi[s] = fhi[s, combo_idx].mean(axis=0)
        else:
            auto_mean[s], auto_lo[s], auto_hi[s] = fmean[s, c], flo[s, c], fhi[s, c]
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
            pl.Series("model", [chosen[s] for s in rep], dtype=pl.String),
        ]
    )
    frame = restore_names(frame, panel)
    if details:
        scores = pl.DataFrame({id_col: panel.ids, "model": chosen, "windows": err_cnt.astype(np.int64)})
        scores = scores.with_columns([pl.Series(f"mase_{n}", score[:, i]) for i, n in enumerate(names)])
        return frame, scores
    return frame


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
    hh = optional_int(h, "h", function=function) or w
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
