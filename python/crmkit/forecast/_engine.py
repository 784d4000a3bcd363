"""forecast, cross_validation and evaluate over long panels (statsforecast's frames)."""

from __future__ import annotations

import warnings
from typing import Any, Optional, Sequence, Union

import numpy as np
import polars as pl

from crmkit import _core
from crmkit._validate import as_frame, require_columns
from crmkit.errors import CrmError
from crmkit.forecast._frames import MAX_HORIZON, Panel, check_levels, level_name, optional_int, prepare, restore_names
from crmkit.forecast._models import _Model

ModelsArg = Union[_Model, Sequence[_Model]]


def check_models(models: Any, *, function: str) -> list[_Model]:
    if isinstance(models, _Model):
        models = [models]
    if isinstance(models, (str, bytes)) or not hasattr(models, "__iter__"):
        raise CrmError(f"{function}: argument 'models' must be a list of model instances such as [AutoETS(season_length=12)], found {models!r}")
    listed: list[_Model] = list(models)
    models = listed
    if not models:
        raise CrmError(f"{function}: argument 'models' is empty; pass at least one model, e.g. [AutoETS(season_length=12)]")
    for m in models:
        if isinstance(m, type) and issubclass(m, _Model):
            raise CrmError(f"{function}: pass model instances, not classes: {m.__name__}() instead of {m.__name__}")
        if not isinstance(m, _Model):
            raise CrmError(f"{function}: argument 'models' holds {m!r}, which is not a crmkit.forecast model")
    aliases = [m.alias for m in models]
    dup = sorted({a for a in aliases if aliases.count(a) > 1})
    if dup:
        raise CrmError(f"{function}: two models share the output column {dup}; give each an alias=")
    return listed


def _check_intermittent(panel: Panel, models: list[_Model], *, function: str) -> None:
    inter = [m.alias for m in models if m.intermittent]
    if inter and (panel.values < 0).any():
        i = int(np.argmax(panel.values < 0))
        s = int(np.searchsorted(panel.offsets, i, side="right") - 1)
        raise CrmError(
            f"{function}: intermittent-demand models {inter} need non-negative values; series "
            f"{panel.ids[s]!r} has {panel.values[i]} (returns? net them out or clip at 0 first)"
        )


def run_tasks(
    panel: Panel, task_series: np.ndarray, task_len: np.ndarray, models: list[_Model], h: int, levels: list[float]
) -> dict[str, Any]:
    """Runs the kernels; arrays reshaped to (task, model, step) and (task, model, level, step)."""
    out = _core.forecast_run(
        panel.values,
        panel.offsets,
        task_series.astype(np.int64),
        task_len.astype(np.int64),
        [m._spec() for m in models],
        h,
        levels,
    )
    t, k, nl = len(task_series), len(models), len(levels)
    out["mean"] = np.asarray(out["mean"]).reshape(t, k, h)
    out["lower"] = np.asarray(out["lower"]).reshape(t, k, nl, h)
    out["upper"] = np.asarray(out["upper"]).reshape(t, k, nl, h)
    return out


def model_columns(out: dict[str, Any], models: list[_Model], levels: list[float]) -> dict[str, np.ndarray]:
    """Columns named as statsforecast: model, model-lo-<l> (high to low level), model-hi-<l>."""
    cols: dict[str, np.ndarray] = {}
    for j, m in enumerate(models):
        cols[m.alias] = out["mean"][:, j, :].ravel()
        for li in reversed(range(len(levels))):
            cols[f"{m.alias}-lo-{level_name(levels[li])}"] = out["lower"][:, j, li, :].ravel()
        for li in range(len(levels)):
            cols[f"{m.alias}-hi-{level_name(levels[li])}"] = out["upper"][:, j, li, :].ravel()
    return cols


def _to_float_columns(cols: dict[str, np.ndarray]) -> list[pl.Series]:
    # NaN bounds (models without native intervals) become nulls: "no value", not a number.
    return [pl.Series(name, values, dtype=pl.Float64, nan_to_null=True) for name, values in cols.items()]


def _warn_fallbacks(out: dict[str, Any], models: list[_Model], ids: list[Any], *, function: str) -> None:
    fell = np.asarray(out["fell_back"], dtype=bool).reshape(len(ids), len(models))
    for j, m in enumerate(models):
        rows = np.flatnonzero(fell[:, j])
        if len(rows):
            first = rows[0]
            note = out["note"][first * len(models) + j]
            warnings.warn(
                f"crmkit.forecast.{function}: {m.alias} fell back to Naive for {len(rows)} of {len(ids)} "
                f"forecast(s), e.g. series {ids[first]!r}: {note}. details=True lists them all.",
                UserWarning,
                stacklevel=3,
            )


def _details(out: dict[str, Any], models: list[_Model], ids: list[Any], extra: Optional[dict[str, Any]] = None) -> pl.DataFrame:
    k = len(models)
    cols: dict[str, Any] = {
        "unique_id": [i for i in ids for _ in range(k)],
        "model": [m.alias for _ in ids for m in models],
        "description": out["description"],
        "note": out["note"],
        "fell_back": out["fell_back"],
    }
    if extra:
        for name, values in extra.items():
            cols[name] = [v for v in values for _ in range(k)]
    return pl.DataFrame(cols, strict=False)


def forecast(
    df: Any,
    *,
    models: ModelsArg,
    h: int,
    freq: Any = None,
    level: Optional[Sequence[float]] = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    details: bool = False,
) -> Any:
    """Forecasts every series ``h`` steps ahead with every model (statsforecast's
    ``StatsForecast(models, freq).forecast(df=df, h=h, level=level)``).

    ``df`` is long: one row per (series, period). ``ds`` is a date/datetime on a regular
    calendar (``freq`` such as "1w", "1mo", "MS" or inferred) or an integer period index.
    Returns one row per series and step: ``unique_id, ds`` and a column per model
    (its ``alias``) plus ``<alias>-lo-<level>`` / ``<alias>-hi-<level>`` for each level.
    Models without native intervals (WindowAverage, SES, Croston family, ADIDA, IMAPA,
    TSB) have null bounds. Series are fitted in parallel in Rust with the GIL released;
    results do not depend on the number of threads.

    A series a model cannot fit (too short, constant where that matters) gets that
    model's Naive forecast instead and a warning says which; ``details=True`` returns
    ``(forecasts, details)`` where ``details`` has one row per (series, model) with the
    fitted model (``description``, e.g. "ETS(M,Ad,M)"), ``note`` and ``fell_back``.

    >>> import polars as pl
    >>> from crmkit.forecast import forecast, AutoETS, Naive
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(1, 25)),
    ...                    "y": [float(10 + t % 4 + t) for t in range(24)]})
    >>> fc = forecast(df, models=[AutoETS(season_length=4), Naive()], h=2, level=[95])
    >>> fc.columns
    ['unique_id', 'ds', 'AutoETS', 'AutoETS-lo-95', 'AutoETS-hi-95', 'Naive', 'Naive-lo-95', 'Naive-hi-95']
    >>> fc["ds"].to_list()
    [25, 26]
    """
    function = "forecast"
    models = check_models(models, function=function)
    h = optional_int(h, "h", function=function, limit=MAX_HORIZON)  # type: ignore[assignment]
    if h is None:
        raise CrmError("forecast: argument 'h' (the horizon) is required")
    levels = check_levels(level, function=function)
    panel = prepare(df, id_col=id_col, time_col=time_col, target_col=target_col, freq=freq, function=function)
    _check_intermittent(panel, models, function=function)
    series = np.arange(panel.n_series)
    out = run_tasks(panel, series, panel.lengths, models, h, levels)
    ids = panel.ids.to_list()
    _warn_fallbacks(out, models, ids, function=function)
    rep = np.repeat(series, h)
    steps = np.tile(np.arange(h), panel.n_series)
    ds = panel.ds_at(rep, np.repeat(panel.lengths, h) + steps)
    frame = pl.DataFrame([panel.ids.gather(pl.Series(rep, dtype=pl.UInt32)).alias("unique_id"), ds.alias("ds"), *_to_float_columns(model_columns(out, models, levels))])
    frame = restore_names(frame, panel)
    if details:
        return frame, _details(out, models, ids).rename({"unique_id": id_col})
    return frame


def cross_validation(
    df: Any,
    *,
    models: ModelsArg,
    h: int,
    n_windows: int = 1,
    step_size: Optional[int] = None,
    freq: Any = None,
    level: Optional[Sequence[float]] = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    details: bool = False,
) -> Any:
    """Rolling-origin evaluation (statsforecast's ``cross_validation``): for each of
    ``n_windows`` cutoffs, ``step_size`` periods apart (default ``h``) and ending ``h``
    periods before each series' end, fits on the history up to the cutoff and forecasts
    the next ``h`` periods. Returns ``unique_id, ds, cutoff, y`` and the model columns.
    Windows a series is too short for (no history before the cutoff) are skipped with a
    warning.

    >>> import polars as pl
    >>> from crmkit.forecast import cross_validation, Naive
    >>> df = pl.DataFrame({"unique_id": "a", "ds": list(range(10)), "y": [float(t) for t in range(10)]})
    >>> cv = cross_validation(df, models=[Naive()], h=2, n_windows=2)
    >>> cv.select("ds", "cutoff", "y", "Naive").rows()
    [(6, 5, 6.0, 5.0), (7, 5, 7.0, 5.0), (8, 7, 8.0, 7.0), (9, 7, 9.0, 7.0)]
    """
    function = "cross_validation"
    models = check_models(models, function=function)
    h = optional_int(h, "h", function=function, limit=MAX_HORIZON)  # type: ignore[assignment]
    if h is None:
        raise CrmError("cross_validation: argument 'h' (the horizon) is required")
    n_windows = optional_int(n_windows, "n_windows", function=function) or 1
    step = optional_int(step_size, "step_size", function=function) or h
    levels = check_levels(level, function=function)
    panel = prepare(df, id_col=id_col, time_col=time_col, target_col=target_col, freq=freq, function=function)
    _check_intermittent(panel, models, function=function)
    series = np.repeat(np.arange(panel.n_series), n_windows)
    windows = np.tile(np.arange(n_windows), panel.n_series)
    train = np.repeat(panel.lengths, n_windows) - h - (n_windows - 1 - windows) * step
    keep = train >= 1
    if not keep.all():
        short = panel.ids.gather(pl.Series(np.unique(series[~keep]), dtype=pl.UInt32)).to_list()
        warnings.warn(
            f"crmkit.forecast.cross_validation: {int((~keep).sum())} window(s) skipped because the series is "
            f"shorter than h + the windows after it (series {short[:5]}{'...' if len(short) > 5 else ''})",
            UserWarning,
            stacklevel=2,
        )
    series, train = series[keep], train[keep]
    if len(series) == 0:
        raise CrmError(f"cross_validation: no series is long enough for h={h} with {n_windows} window(s)")
    out = run_tasks(panel, series, train, models, h, levels)
    ids = panel.ids.gather(pl.Series(series, dtype=pl.UInt32)).to_list()
    _warn_fallbacks(out, models, ids, function=function)
    rep = np.repeat(series, h)
    idx = np.repeat(train, h) + np.tile(np.arange(h), len(series))
    rows = panel.offsets[rep] + idx
    frame = pl.DataFrame(
        [
            panel.ids.gather(pl.Series(rep, dtype=pl.UInt32)).alias("unique_id"),
            panel.frame["ds"].gather(pl.Series(rows, dtype=pl.UInt32)).alias("ds"),
            panel.frame["ds"].gather(pl.Series(panel.offsets[rep] + np.repeat(train, h) - 1, dtype=pl.UInt32)).alias("cutoff"),
            pl.Series("y", panel.values[rows], dtype=pl.Float64),
            *_to_float_columns(model_columns(out, models, levels)),
        ]
    )
    frame = restore_names(frame, panel)
    if details:
        cut = panel.frame["ds"].gather(pl.Series(panel.offsets[series] + train - 1, dtype=pl.UInt32)).to_list()
        return frame, _details(out, models, ids, {"cutoff": cut}).rename({"unique_id": id_col})
    return frame


_METRICS = ("mase", "smape", "rmse", "mae", "coverage")


def evaluate(
    df: Any,
    *,
    metrics: Sequence[str] = ("mase", "smape", "rmse", "coverage"),
    season_length: int = 1,
    train_df: Any = None,
    models: Optional[Sequence[str]] = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    agg: Optional[str] = None,
) -> pl.DataFrame:
    """Accuracy of forecasts against actuals, per series and metric (utilsforecast's
    ``evaluate`` layout: ``unique_id, metric`` and one column per model).

    ``df`` holds actuals ``y`` and model columns: the output of ``cross_validation``, or
    a holdout joined to ``forecast``'s output. Metrics: ``mase`` (mean absolute error
    scaled by the in-sample mean absolute seasonal difference of ``train_df`` up to each
    cutoff, lag ``season_length``; needs ``train_df``), ``smape`` (mean of
    |y - ŷ| / (|y| + |ŷ|), in [0, 1], as utilsforecast), ``rmse``, ``mae`` and
    ``coverage`` (share of actuals inside each ``-lo-<l>``/``-hi-<l>`` interval, one
    metric ``coverage-<l>`` per level). ``agg="mean"`` averages over series.

    >>> import polars as pl
    >>> from crmkit.forecast import evaluate
    >>> cv = pl.DataFrame({"unique_id": ["a", "a"], "ds": [3, 4], "y": [3.0, 5.0], "m": [2.0, 5.0]})
    >>> evaluate(cv, metrics=["rmse", "mae"]).sort("metric").rows()
    [('a', 'mae', 0.5), ('a', 'rmse', 0.7071067811865476)]
    """
    function = "evaluate"
    data = as_frame(df)
    require_columns(data, {id_col: "id", target_col: "numeric"}, function=function)
    for m in metrics:
        if m not in _METRICS:
            raise CrmError(f"evaluate: unknown metric {m!r}; choose among {list(_METRICS)}")
    reserved = {id_col, time_col, target_col, "cutoff"}
    if models is None:
        models = [c for c in data.columns if c not in reserved and "-lo-" not in c and "-hi-" not in c and data.schema[c].is_numeric()]
    else:
        models = list(models)
        require_columns(data, {m: "numeric" for m in models}, function=function)
    if not models:
        raise CrmError("evaluate: no model columns found; pass models=[...]")
    has_cutoff = "cutoff" in data.columns
    y = pl.col(target_col)
    per_row: list[pl.Expr] = []
    names: list[tuple[str, str]] = []  # (metric, model) in order
    if "mase" in metrics:
        if train_df is None:
            raise CrmError(
                "evaluate: metric 'mase' needs train_df= (the history the forecasts were made from) for its scale; "
                "pass it or drop 'mase' from metrics"
            )
        scale = _mase_scale(data, train_df, season_length, id_col=id_col, time_col=time_col, target_col=target_col, has_cutoff=has_cutoff)
        keys = [id_col, "cutoff"] if has_cutoff else [id_col]
        data = data.join(scale, on=keys, how="left")
    results = []
    group = [id_col]
    for metric in metrics:
        if metric == "coverage":
            levels = sorted({c.split("-lo-")[1] for c in data.columns if "-lo-" in c and c.split("-lo-")[0] in models}, key=float)
            for lv in levels:
                exprs = []
                for m in models:
                    lo, hi = f"{m}-lo-{lv}", f"{m}-hi-{lv}"
                    if lo in data.columns and hi in data.columns:
                        exprs.append(((y >= pl.col(lo)) & (y <= pl.col(hi))).cast(pl.Float64).mean().alias(m))
                    else:
                        exprs.append(pl.lit(None, dtype=pl.Float64).alias(m))
                results.append(data.group_by(group, maintain_order=True).agg(exprs).with_columns(pl.lit(f"coverage-{lv}").alias("metric")))
            continue
        exprs = []
        for m in models:
            e = y - pl.col(m)
            if metric == "mae":
                ex = e.abs().mean()
            elif metric == "rmse":
                ex = (e * e).mean().sqrt()
            elif metric == "smape":
                denom = y.abs() + pl.col(m).abs()
                ex = pl.when(denom == 0).then(0.0).otherwise(e.abs() / denom).mean()
            else:  # mase
                ex = (e.abs() / pl.col("__scale")).mean()
            exprs.append(ex.alias(m))
        results.append(data.group_by(group, maintain_order=True).agg(exprs).with_columns(pl.lit(metric).alias("metric")))
    out = pl.concat(results, how="vertical_relaxed").select(id_col, "metric", *models)
    if agg is not None:
        if agg != "mean":
            raise CrmError(f"evaluate: argument 'agg' must be None or 'mean', found {agg!r}")
        out = out.group_by("metric", maintain_order=True).agg([pl.col(m).mean() for m in models])
    return out


def _mase_scale(
    data: pl.DataFrame, train_df: Any, m: int, *, id_col: str, time_col: str, target_col: str, has_cutoff: bool
) -> pl.DataFrame:
    train = as_frame(train_df, argument="train_df")
    require_columns(train, {id_col: "id", target_col: "numeric"}, function="evaluate", argument="train_df")
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise CrmError(f"evaluate: argument 'season_length' must be an integer >= 1, found {m!r}")
    train = train.select(id_col, time_col, pl.col(target_col).cast(pl.Float64).alias("__y")).sort(id_col, time_col)
    if has_cutoff:
        cuts = data.select(id_col, "cutoff").unique()
        joined = train.join(cuts, on=id_col).filter(pl.col(time_col) <= pl.col("cutoff")).sort(id_col, "cutoff", time_col)
        keys = [id_col, "cutoff"]
    else:
        joined = train
        keys = [id_col]
    scale = joined.group_by(keys).agg((pl.col("__y") - pl.col("__y").shift(m)).abs().mean().alias("__scale"))
    return scale
