"""Alerts and bands over KPI series (the maths is in Rust: src/kpi/baseline.rs)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping, Optional, Sequence, Union, cast

import numpy as np
import polars as pl

from crmkit import _core
from crmkit._validate import as_frame, require_columns
from crmkit.errors import CrmError
from crmkit.kpi._compute import COUNT_KPIS, RATE_KPIS, STANDARD_COLUMNS
from crmkit.kpi import calendars

_SCORE_KPIS = frozenset({"nps", "csat"})
METHODS = ("auto", "zscore", "threshold")

# per frequency: season, level window, season cycles, error window, shift run, min history, zscore window
_SETTINGS = {
    "d": (7, 21, 26, 140, 3, 28, 28),
    "w": (52, 8, 3, 52, 3, 12, 12),
    "mo": (12, 3, 4, 36, 2, 12, 12),
    "q": (4, 4, 3, 12, 2, 8, 8),
    "y": (0, 3, 1, 6, 2, 4, 4),
}
#: Detector options per frequency (and for all; src/kpi/baseline.rs documents them):
#: daily series also look for level shifts with a CUSUM of their scores (a step smaller
#: than the band, which the 3-in-a-row rule misses, is found after a few days and dated
#: at its first clear move). Measured on simulated series (tests/bench/bench_kpi.py
#: --alerts): on weekly series the same CUSUM raised false alarms around holidays.
#: For every frequency: counts get a noise model with a Poisson part at each period's own
#: expected level plus an over-dispersion estimated from the trailing one-step errors
#: (level_noise), and are judged on the square-root scale of value / expected
#: (count_lambda 0.5: Poisson-like noise is symmetric there, where the log scale makes a
#: +40% day look smaller than a -40% one); levels and seasons are 25%-trimmed means
#: (nearly as robust as the median, with less variance). Chosen on simulated series of
#: seeds 11 and 12 (tests/bench/bench_kpi.py --alerts) and reported on others. Two more
#: options of src/kpi/baseline.rs stay off: re-scaling an event's learnt effect from the
#: earlier days of its current occurrence (event_scale_widen: more false alarms than it
#: saved), a shorter burn-in before one-step errors count (burn_in: a series' first
#: weeks then widened its bands) and choosing the candidate predictor on a clipped mean
#: |error| (choice_clip: no measurable change).
_TUNING: dict[str, Any] = {
    "all": {"level_noise": True, "level_trim": 0.25, "count_lambda": 0.5},
    "d": {"cusum_k": 1.0, "cusum_h": 7.0},
}
#: Monthly and quarterly series have few one-step errors, and those of the first cycles
#: (before the season is known) widen their noise estimate: the band is drawn this much
#: narrower so that "sensitivity" means about the same false-alarm rate at every frequency
#: (measured on simulated series, tests/bench/bench_kpi.py --alerts).
_SENS_SCALE = {"mo": 0.9, "q": 0.9}
#: Daily event days share their learnt effect with the neighbouring days of the same
#: event in buckets of this many days (the anchor day, e.g. 11 November, has its own).
_DAY_BUCKET = 1
#: For weekly KPIs, the events (of calendars.cn) and the days around them that move a week.
_WEEKLY_CORE = {"spring_festival": (-7, 7), "618": (-2, 0), "national_day": (0, 6), "double_11": (-21, 2)}
#: Smallest relative move (|value / expected - 1|) that "auto" alerts on: a statistically
#: clear 3% wobble of a large series is not news for a manager.
MIN_CHANGE = 0.05
BAND_COLUMNS = ("value", "expected", "lower", "upper", "score", "direction", "severity", "kind", "reason")


def _infer_freq(periods: pl.Series) -> str:
    days = periods.unique().sort().diff().dt.total_days().drop_nulls()
    if days.len() == 0:
        return "mo"
    step = float(days.min())
    if step <= 1:
        return "d"
    if step <= 7:
        return "w"
    if step <= 31:
        return "mo"
    if step <= 92:
        return "q"
    return "y"


def _grid_step(unit: str) -> str:
    return {"d": "1d", "w": "1w", "mo": "1mo", "q": "3mo", "y": "1y"}[unit]


def _holiday_codes(periods: pl.Series, unit: str, calendar: Optional[pl.DataFrame]) -> pl.DataFrame:
    """period_start -> integer event code (-1: none). Same event and offset = same code."""
    base = pl.DataFrame({"period_start": periods.unique().sort()})
    if calendar is None or unit not in ("d", "w") or calendar.height == 0:
        return base.with_columns(pl.lit(-1, pl.Int32).alias("__hol"))
    length = 1 if unit == "d" else 7
    if unit == "w" and "day" in calendar.columns:
        # A week's total moves only with the big events, and only in the weeks around
        # their core: a 3-day holiday or the long pre-sale of Double 11 would otherwise
        # take a third of all weeks out of judgement.
        core = pl.DataFrame({"name": list(_WEEKLY_CORE), "__a": [v[0] for v in _WEEKLY_CORE.values()],
                             "__b": [v[1] for v in _WEEKLY_CORE.values()]})
        calendar = calendar.join(core, on="name", how="inner").select(
            "name",
            "day",
            (pl.col("day") + pl.duration(days=pl.col("__a"))).alias("start"),
            (pl.col("day") + pl.duration(days=pl.col("__b"))).alias("end"),
        )
    hits = (
        base.join(calendar, how="cross")
        .filter(
            (pl.col("period_start") <= pl.col("end"))
            & (pl.col("period_start") + pl.duration(days=length - 1) >= pl.col("start"))
        )
        .with_columns(
            pl.when(pl.lit(unit == "d" and "day" in calendar.columns) & (pl.col("period_start") == pl.col("day")
                                                                       if "day" in calendar.columns else pl.lit(False)))
            .then(pl.col("name") + "@day")
            # weeks: counted from the week holding the event's own day, so that the week
            # of 11 November has the same code every year whatever weekday it falls on
            # (counted from the window's first day, it would share a code with the week
            # after the peak in other years)
            .when(pl.lit(unit == "w" and "day" in calendar.columns))
            .then(
                pl.col("name") + "@w" + (
                    (pl.col("period_start") - (pl.col("day") if "day" in calendar.columns else pl.col("start")).dt.truncate("1w"))
                    .dt.total_days() // 7
                ).cast(pl.String)
            )
            .otherwise(
                pl.col("name")
                + "+"
                + ((pl.col("period_start") - pl.col("start")).dt.total_days() // (length * (_DAY_BUCKET if unit == "d" else 1))).cast(pl.String)
            ).alias("__key")
        )
        .group_by("period_start")
        .agg(pl.col("__key").sort().str.join("|"))
    )
    hits = hits.with_columns((pl.col("__key").rank("dense") - 1).cast(pl.Int32).alias("__hol"))
    return base.join(hits.select("period_start", "__hol"), on="period_start", how="left").with_columns(
        pl.col("__hol").fill_null(-1)
    )


def _fmt(x: Optional[float]) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    a = abs(x)
    if a >= 100:
        return f"{x:,.0f}"
    if a >= 1:
        return f"{x:,.2f}"
    return f"{x:.3g}"


def bands(
    table: Any,
    /,
    *,
    method: str = "auto",
    sensitivity: float = 3.5,
    min_history: Optional[int] = None,
    season_length: Optional[int] = None,
    holidays: Any = "cn",
    kpis: Union[None, str, Sequence[str]] = None,
    thresholds: Any = None,
    freq: Optional[str] = None,
    critical: float = 2.0,
    min_change: float = MIN_CHANGE,
) -> pl.DataFrame:
    """The expected value and band of every period of every KPI series.

    Same arguments and columns as :func:`alerts`, for every period (flagged or not):
    ``expected``, ``lower``, ``upper`` and ``score`` are null where the history is
    too short (or a known event has no earlier occurrence to learn from), and
    ``is_alert`` marks the flagged periods.

    >>> import crmkit, polars as pl
    >>> k = crmkit.kpi.compute(crmkit.datasets.generate(n_customers=300, seed=1).orders, kpis="revenue")
    >>> b = bands(k)
    >>> b.columns[:4], b.height == k.height
    (['period_start', 'period_end', 'kpi', 'value'], True)
    """
    fn = "kpi.bands"
    if method not in METHODS:
        raise CrmError(f"{fn}: argument 'method' must be one of {list(METHODS)}, found {method!r}")
    if isinstance(sensitivity, bool) or not isinstance(sensitivity, (int, float)) or not sensitivity > 0:
        raise CrmError(f"{fn}: argument 'sensitivity' must be a positive number, found {sensitivity!r}")
    if min_history is not None and (isinstance(min_history, bool) or not isinstance(min_history, int) or min_history < 0):
        raise CrmError(f"{fn}: argument 'min_history' must be an integer >= 0, found {min_history!r}")
    if isinstance(min_change, bool) or not isinstance(min_change, (int, float)) or not 0 <= min_change < 1:
        raise CrmError(f"{fn}: argument 'min_change' must be a number in [0, 1), found {min_change!r}")
    if season_length is not None and (
        isinstance(season_length, bool) or not isinstance(season_length, int) or season_length < 0
    ):
        raise CrmError(f"{fn}: argument 'season_length' must be an integer >= 0 (0: no season), found {season_length!r}")
    df = as_frame(table, argument="kpis")
    require_columns(df, {"period_start": "date", "kpi": "any", "value": "numeric"}, function=fn, argument="kpis")
    if kpis is not None:
        names = [kpis] if isinstance(kpis, str) else list(kpis)
        missing = sorted(set(names) - set(df["kpi"].cast(pl.String).unique().to_list()))
        if missing:
            raise CrmError(f"{fn}: KPI(s) {missing} are not in the table")
        df = df.filter(pl.col("kpi").cast(pl.String).is_in(names))
    if df.height == 0:
        raise CrmError(f"{fn}: the KPI table is empty; there is nothing to judge")
    groups = [c for c in df.columns if c not in STANDARD_COLUMNS]
    keys = [*groups, "kpi"]
    df = df.with_columns(pl.col("period_start").cast(pl.Date) if df.schema["period_start"] == pl.Date
                         else pl.col("period_start").dt.replace_time_zone(None).dt.date())
    dup = df.group_by([*keys, "period_start"]).len().filter(pl.col("len") > 1)
    if dup.height:
        raise CrmError(
            f"{fn}: {dup.height} (period, group, kpi) combination(s) appear more than once, e.g. "
            f"{dup.drop('len').row(0, named=True)}; every column other than {list(STANDARD_COLUMNS)} "
            "is taken as a group key, so drop extra columns first"
        )
    unit = freq if freq is not None else _infer_freq(df["period_start"])
    if freq is not None:
        from crmkit.kpi._compute import parse_freq

        unit = parse_freq(freq, fn)[1]
    season, level_w, cycles, err_w, shift_run, min_hist, z_w = _SETTINGS[unit]
    if season_length is not None:
        season = season_length
    if min_history is None:
        min_history = min_hist

    # a regular grid per series: missing periods become nulls, never shift seasons
    lo, hi = cast(dt.date, df["period_start"].min()), cast(dt.date, df["period_start"].max())  # a Date column
    grid = pl.DataFrame({"period_start": pl.date_range(lo, hi, interval=_grid_step(unit), eager=True)})
    on_grid = df.join(grid, on="period_start", how="semi").height
    if on_grid != df.height:
        raise CrmError(
            f"{fn}: {df.height - on_grid} period_start value(s) do not fall on a regular '{_grid_step(unit)}' grid "
            f"starting {lo}; pass the table crmkit.kpi.compute makes, or freq= to say its frequency"
        )
    series = df.select(keys).unique(maintain_order=True)
    full = series.join(grid, how="cross").join(df, on=[*keys, "period_start"], how="left", nulls_equal=True)
    full = full.sort([*keys, "period_start"], nulls_last=True)

    cal = calendars.resolve(holidays, (lo.year, hi.year), fn) if method == "auto" else None
    codes = _holiday_codes(grid["period_start"], unit, cal)
    full = full.join(codes, on="period_start", how="left")
    complete = pl.col("is_complete").fill_null(False) if "is_complete" in full.columns else pl.lit(True)
    full = full.with_columns((complete & pl.col("value").is_not_null() & pl.col("value").is_finite()).alias("__eligible"))

    # per series: the scale its noise lives on
    has_nd = "numerator" in full.columns and "denominator" in full.columns
    kname = pl.col("kpi").cast(pl.String)
    stats = full.group_by(keys, maintain_order=True).agg(
        pl.col("value").min().alias("__min"),
        pl.col("value").max().alias("__max"),
        pl.col("value").filter(pl.col("value") > 0).median().alias("__med"),
        ((pl.col("numerator") <= pl.col("denominator")) | pl.col("numerator").is_null()).all().alias("__share")
        if has_nd else pl.lit(False).alias("__share"),
        pl.col("denominator").is_not_null().any().alias("__has_den") if has_nd else pl.lit(False).alias("__has_den"),
        pl.len().alias("__len"),
    )
    is_rate = (
        pl.col("__has_den") & pl.col("__share") & (pl.col("__min") >= 0) & (pl.col("__max") <= 1)
        & (kname.is_in(list(RATE_KPIS)) | ~kname.is_in(list(_SCORE_KPIS | COUNT_KPIS)))
        & ~kname.is_in(["aov", "revenue_per_customer", "revenue"])
    )
    stats = stats.with_columns(
        pl.when(is_rate).then(3)
        .when(kname.is_in(list(_SCORE_KPIS)) | (pl.col("__min") < 0)).then(2)
        .when(kname.is_in(list(COUNT_KPIS))).then(1)
        .otherwise(0)
        .cast(pl.UInt8)
        .alias("__kind"),
        pl.when(kname.is_in(list(COUNT_KPIS))).then(1.0)
        .otherwise((pl.col("__med") * 0.01).fill_null(1.0).clip(1e-12))
        .alias("__offset"),
    )
    lengths = stats["__len"].to_numpy().astype(np.uint64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.uint64)
    y = full["value"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    if has_nd:
        den = full["denominator"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    else:
        den = np.full(len(y), np.nan)
    eligible = full["__eligible"].to_numpy().astype(bool)
    holiday = full["__hol"].cast(pl.Int32).to_numpy()
    kind = stats["__kind"].to_numpy().astype(np.uint8)
    offset = stats["__offset"].to_numpy().astype(np.float64)
    seasons = np.full(len(kind), season, dtype=np.uint64)

    if method == "threshold":
        res = _thresholds(full, thresholds, fn)
    else:
        res = _core.kpi_bands(
            offsets, np.ascontiguousarray(y), np.ascontiguousarray(den), np.ascontiguousarray(eligible),
            np.ascontiguousarray(holiday, dtype=np.int32), kind, offset, seasons,
            method=method, sensitivity=float(sensitivity) * (_SENS_SCALE.get(unit, 1.0) if method == "auto" else 1.0),
            min_history=int(min_history), level_window=level_w,
            season_cycles=cycles, error_window=err_w, shift_run=shift_run, critical=float(critical),
            models=0b1111, zscore_window=z_w, **{**_TUNING["all"], **_TUNING.get(unit, {})},
        )
    if method == "auto" and min_change > 0:
        # the minimum-effect-size rule (amounts, counts and rates; not scores such as NPS)
        series_kind = np.repeat(kind, lengths.astype(np.int64))
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.abs(y / res["expected"] - 1.0)
        small = (series_kind != 2) & (res["flag"] > 0) & np.isfinite(rel) & (rel < min_change)
        if small.any():
            res = dict(res)
            res["flag"] = np.where(small, 0, res["flag"]).astype(res["flag"].dtype)
    out = full.with_columns(
        pl.Series("expected", res["expected"]).fill_nan(None),
        pl.Series("lower", res["lower"]).fill_nan(None),
        pl.Series("upper", res["upper"]).fill_nan(None),
        pl.Series("score", res["score"]).fill_nan(None),
        pl.Series("__flag", res["flag"]).cast(pl.UInt8),
        pl.Series("__model", res["model"]).cast(pl.UInt8),
    )
    # only the table's own rows (the grid may add periods outside a series' range)
    out = out.join(df.select(*keys, "period_start"), on=[*keys, "period_start"], how="semi", nulls_equal=True)
    if method == "threshold":
        sev = pl.lit("warning")
    else:
        sev = pl.when((pl.col("score").abs() >= critical * sensitivity) | (pl.col("__flag") == 2)).then(
            pl.lit("critical")).otherwise(pl.lit("warning"))
    out = out.with_columns(
        (pl.col("__flag") > 0).alias("is_alert"),
        pl.when(pl.col("__flag") > 0).then(
            pl.when((pl.col("value") > pl.col("expected")) if method != "threshold"
                    else (pl.col("value") > pl.col("upper")).fill_null(False)).then(pl.lit("up")).otherwise(pl.lit("down"))
        ).alias("direction"),
        pl.when(pl.col("__flag") > 0).then(sev).alias("severity"),
        pl.when(pl.col("__flag") == 2).then(pl.lit("level_shift"))
        .when(pl.col("__flag") == 1).then(pl.lit("anomaly" if method != "threshold" else "threshold"))
        .alias("kind"),
    )
    reasons = _reasons(out, method, sensitivity, unit)
    out = out.with_columns(reasons)
    cols = ["period_start"] + (["period_end"] if "period_end" in out.columns else []) + groups + ["kpi", *BAND_COLUMNS, "is_alert"]
    return out.select(cols)


def _thresholds(full: pl.DataFrame, thresholds: Any, fn: str) -> dict[str, np.ndarray]:
    if thresholds is None:
        raise CrmError(f"{fn}: method='threshold' needs thresholds={{kpi: (lower, upper)}} or a table kpi, lower, upper")
    if isinstance(thresholds, Mapping):
        rows = []
        for k, bounds in thresholds.items():
            try:
                lo, hi = bounds
            except (TypeError, ValueError):
                raise CrmError(f"{fn}: thresholds[{k!r}] must be a (lower, upper) pair (None for no bound), found {bounds!r}") from None
            rows.append((str(k), None if lo is None else float(lo), None if hi is None else float(hi)))
        table = pl.DataFrame(rows, schema={"kpi": pl.String, "lower": pl.Float64, "upper": pl.Float64}, orient="row")
    else:
        table = as_frame(thresholds, argument="thresholds")
        require_columns(table, {"kpi": "any"}, function=fn, argument="thresholds")
        table = table.select(
            pl.col("kpi").cast(pl.String),
            (pl.col("lower") if "lower" in table.columns else pl.lit(None)).cast(pl.Float64).alias("lower"),
            (pl.col("upper") if "upper" in table.columns else pl.lit(None)).cast(pl.Float64).alias("upper"),
        )
    j = full.select(pl.col("kpi").cast(pl.String), "value", "__eligible").join(table, on="kpi", how="left", maintain_order="left")
    v = j["value"].cast(pl.Float64)
    low = (v < j["lower"]).fill_null(False)
    high = (v > j["upper"]).fill_null(False)
    flag = ((low | high) & j["__eligible"]).cast(pl.UInt8).to_numpy()
    nan = np.full(j.height, np.nan)
    return {
        "expected": nan,
        "lower": j["lower"].fill_null(float("nan")).to_numpy(),
        "upper": j["upper"].fill_null(float("nan")).to_numpy(),
        "score": nan,
        "flag": flag,
        "model": np.zeros(j.height, np.uint8),
    }


def _reasons(out: pl.DataFrame, method: str, sensitivity: float, unit: str) -> pl.Series:
    """One sentence per flagged period (flagged rows are few: a list is fine)."""
    period_word = {"d": "day", "w": "week", "mo": "month", "q": "quarter", "y": "year"}[unit]
    season_word = {"d": "same-weekday", "w": "same-week-of-year", "mo": "same-month", "q": "same-quarter", "y": "yearly"}[unit]
    idx = np.flatnonzero(out["__flag"].to_numpy() > 0)
    reason: list[Optional[str]] = [None] * out.height
    if idx.size == 0:
        return pl.Series("reason", reason, dtype=pl.String)
    sub = out[idx.tolist()]
    for i, r in zip(idx, sub.iter_rows(named=True)):
        kpi, v = r["kpi"], r["value"]
        if method == "threshold":
            side = "below the lower" if r["direction"] == "down" else "above the upper"
            bound = r["lower"] if r["direction"] == "down" else r["upper"]
            reason[i] = f"{kpi} {_fmt(v)} is {side} threshold {_fmt(bound)}"
            continue
        e = r["expected"]
        rel = (v / e - 1.0) if e not in (None, 0) and v is not None else None
        how = f"{abs(rel):.0%} {'above' if rel > 0 else 'below'}" if rel is not None else ("above" if r["direction"] == "up" else "below")
        if method == "zscore":
            reason[i] = (f"{kpi} {_fmt(v)} is {how} the trailing mean {_fmt(e)} "
                         f"(band {_fmt(r['lower'])} to {_fmt(r['upper'])}; z = {r['score']:.1f})")
            continue
        bits = r["__model"]
        basis = []
        if bits & 1:
            basis.append(f"{season_word} season")
        if bits & 2:
            basis.append("trend")
        if bits & 4:
            basis.append("known event modelled from earlier years")
        if bits & 8:
            basis.append(f"binomial noise over {_fmt(r.get('denominator'))}" if r.get("denominator") is not None else "binomial noise")
        detail = ", ".join(basis) if basis else "robust level"
        if r["__flag"] == 2:
            reason[i] = (f"level shift: {kpi} moved to {_fmt(v)}, {how} the previous level {_fmt(e)}, "
                         f"and stayed there in the following {period_word}s ({detail}; score {r['score']:.1f})")
        else:
            reason[i] = (f"{kpi} {_fmt(v)} is {how} the expected {_fmt(e)} "
                         f"(band {_fmt(r['lower'])} to {_fmt(r['upper'])}; {detail}; score {r['score']:.1f})")
    return pl.Series("reason", reason, dtype=pl.String)


def alerts(
    table: Any,
    /,
    *,
    method: str = "auto",
    sensitivity: float = 3.5,
    min_history: Optional[int] = None,
    season_length: Optional[int] = None,
    holidays: Any = "cn",
    kpis: Union[None, str, Sequence[str]] = None,
    thresholds: Any = None,
    freq: Optional[str] = None,
    critical: float = 2.0,
    min_change: float = MIN_CHANGE,
) -> pl.DataFrame:
    """The flagged (period, group, KPI) rows of a KPI table, most severe first.

    Columns: ``period_start, [period_end], <groups...>, kpi, value, expected, lower,
    upper, score, direction ("up"/"down"), severity ("warning"/"critical"), kind
    ("anomaly", "level_shift", "threshold"), reason``. The series are the table's
    groups: every column other than the standard ones (``period_start, period_end,
    is_complete, kpi, value, numerator, denominator`` and the change columns) is a
    group key, so a hand-built ``period_start, <group>, kpi, value`` table works too.

    Methods:

    - ``"auto"`` (default): per series and period, from earlier data only, a robust
      baseline — the level of recent clean periods (a 25%-trimmed mean, estimated on
      the log scale for amounts and counts), plus a season (same weekday for daily
      data, same week/month of the year for weekly/monthly; season length inferred
      from the frequency or given as ``season_length``) and a Theil–Sen trend when
      they predict the recent past better. The band is ``sensitivity`` × the robust
      spread of the one-step errors (1.4826 × their median absolute value, or more
      when their tails are heavier than a normal's), so one outlier does not widen
      it. Amounts are judged on a log scale (a +50% spike is the same size at any
      level). Counts (orders, customers...) are judged on the square-root scale of
      value / expected, with a noise made of a Poisson part at the period's own
      expected level and an over-dispersion learnt from the one-step errors: a quiet
      day (a Sunday, a holiday dip) gets a relatively wider band than a busy one.
      Rates with a denominator (churn, conversion, repeat rate...) are judged with
      their binomial standard error, so a churn rate over 3 customers is not judged
      as if exact. Known events (``holidays``: ``"cn"`` for
      :func:`crmkit.kpi.calendars.cn`, ``"none"``, or a table ``name, start, end``)
      never enter the baseline; they are judged against the same event's deviation
      in earlier years (for weekly KPIs, the weeks are counted from the week holding
      the event's own day), and not judged at all the first time. A step that lasts
      (3 daily or weekly periods, 2 monthly ones beyond the band on the same side)
      is flagged once, at its start, as ``kind = "level_shift"``, and the baseline
      restarts there; daily series also keep a CUSUM of their scores, so that a step
      smaller than the band is found after a few days and dated at its first clear
      move. Monthly and quarterly bands are drawn 10% narrower (their few one-step
      errors over-state the noise; calibrated on simulated series).
    - ``"zscore"``: the plain trailing mean ± ``sensitivity`` × sd (what users
      compare with).
    - ``"threshold"``: ``thresholds={kpi: (lower, upper)}`` or a table
      ``kpi, lower, upper``.

    With "auto", a move smaller than ``min_change`` (default 5%) of the expected value
    is never alerted on, however clear statistically (amounts, counts and rates; NPS
    and CSAT are exempt): a manager is not told about a 3% wobble of a big series.

    A period is judged only when it is complete (``is_complete``) and the series has
    ``min_history`` clean earlier periods (default: 28 days, 12 weeks, 12 months).
    ``severity`` is "critical" for level shifts and scores beyond ``critical`` ×
    ``sensitivity``.

    >>> import crmkit, polars as pl, datetime as dt
    >>> days = pl.date_range(dt.date(2024, 1, 1), dt.date(2024, 6, 30), eager=True)
    >>> sales = pl.DataFrame({"period_start": days, "kpi": "orders",
    ...                       "value": [100.0 + 10 * (i % 7) for i in range(len(days))]})
    >>> sales = sales.with_columns(pl.when(pl.col("period_start") == dt.date(2024, 5, 15))
    ...                            .then(300.0).otherwise(pl.col("value")).alias("value"))
    >>> a = alerts(sales, holidays="none")
    >>> a.select("period_start", "direction", "kind").rows()
    [(datetime.date(2024, 5, 15), 'up', 'anomaly')]
    """
    b = bands(
        table, method=method, sensitivity=sensitivity, min_history=min_history, season_length=season_length,
        holidays=holidays, kpis=kpis, thresholds=thresholds, freq=freq, critical=critical, min_change=min_change,
    )
    return (
        b.filter(pl.col("is_alert"))
        .drop("is_alert")
        .with_columns(pl.col("severity").replace_strict({"critical": 0, "warning": 1}, return_dtype=pl.Int8).alias("__s"))
        .sort(["__s", "period_start"], descending=[False, True])
        .drop("__s")
    )
