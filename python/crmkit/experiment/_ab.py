"""A/B tests from unit rows or sufficient statistics: `summarize`, `ab_test`, `bayes`,
`sequential`, `srm`. The maths runs in Rust (`crate::stats`), vectorised over all
comparisons; this module validates, reshapes with polars and names the columns."""

from __future__ import annotations

import warnings
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import numpy as np
import polars as pl

from crmkit import _core
from crmkit._validate import Kind, as_lazy, require_columns, require_no_nulls, schema_of
from crmkit.errors import CrmError, SchemaError

Frame = Union[pl.DataFrame, pl.LazyFrame]

#: Names of the sufficient-statistic columns of an aggregated table.
STAT_COLUMNS = ("n", "sum", "sum_sq", "sum_den", "sum_den_sq", "sum_prod", "sum_cov", "sum_cov_sq", "sum_cov_prod")
_KIND_CODE = {"proportion": 0, "mean": 1, "ratio": 2}
_TESTS = ("welch", "z", "z-pooled", "mann-whitney", "chi2", "fisher")
_ALTERNATIVES = {"two-sided": "two-sided", "larger": "larger", "greater": "larger", "smaller": "smaller", "less": "smaller"}
_CORRECTIONS = {"holm": "holm", "bonferroni": "bonferroni", "bh": "bh", "fdr_bh": "bh", None: "none", "none": "none"}
#: SRM warnings fire below this p-value (the usual platform threshold).
SRM_THRESHOLD = 0.001


class SampleRatioMismatchWarning(UserWarning):
    """The observed split of units between variants is very unlikely under the planned
    split: the assignment or the logging is probably broken, and effects are suspect."""


def _as_list(value: Union[None, str, Sequence[str]], name: str, function: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise CrmError(f"{function}: argument '{name}' must be a column name or a list of names, found {value!r}")


def _alternative(alternative: str, function: str) -> str:
    if alternative not in _ALTERNATIVES:
        raise CrmError(
            f"{function}: argument 'alternative' must be 'two-sided', 'larger' (treatment > control; "
            f"scipy's 'greater') or 'smaller' ('less'), found {alternative!r}"
        )
    return _ALTERNATIVES[alternative]


def _alpha(alpha: Any, function: str) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 < float(alpha) < 1.0:
        raise CrmError(f"{function}: argument 'alpha' must be a number in (0, 1), found {alpha!r}")
    return float(alpha)


# ----------------------------------------------------------------------------------------
# sufficient statistics


def _key_for_rust(s: pl.Series) -> tuple[pl.Series, Any]:
    """A String or Int64 series for the Rust encoder and a function restoring the dtype."""
    dtype = s.dtype
    if dtype == pl.String:
        # polars' own dictionary encoding (parallel) beats hashing each string again;
        # the physical codes then take the dense integer path.
        s = s.cast(pl.Categorical)
        dtype = s.dtype
        uniq = s.unique()
        mapping = dict(zip(uniq.to_physical().cast(pl.Int64).to_list(), uniq.cast(pl.String).to_list()))
        return s.to_physical().cast(pl.Int64), lambda r: pl.Series(
            r.name, [mapping[v] for v in r.to_list()], dtype=pl.String
        )
    if dtype.is_integer():
        return s.cast(pl.Int64), lambda r: r.cast(dtype)
    if dtype == pl.Boolean:
        return s.cast(pl.Int64), lambda r: r.cast(pl.Boolean)
    if isinstance(dtype, (pl.Categorical, pl.Enum)):
        # Physical codes avoid materialising one string per row.
        uniq = s.unique()
        mapping = dict(zip(uniq.to_physical().cast(pl.Int64).to_list(), uniq.cast(pl.String).to_list()))
        return s.to_physical().cast(pl.Int64), lambda r: pl.Series(
            r.name, [mapping[v] for v in r.to_list()], dtype=pl.String
        ).cast(dtype)
    return s.cast(pl.String), lambda r: r.cast(dtype)


def _unit_kind(df: pl.DataFrame, metric: str, function: str) -> str:
    dtype = df.schema[metric]
    if dtype == pl.Boolean:
        return "proportion"
    if dtype.is_integer():
        lo, hi = df.select(pl.col(metric).min().alias("lo"), pl.col(metric).max().alias("hi")).row(0)
        if lo is not None and lo >= 0 and hi <= 1:
            return "proportion"
    return "mean"


def summarize(
    df: Frame,
    *,
    variant: str = "variant",
    metric: Union[str, Sequence[str]] = "converted",
    by: Union[None, str, Sequence[str]] = None,
    denominator: Optional[str] = None,
    covariate: Union[None, str, Mapping[str, str]] = None,
    kind: str = "auto",
) -> pl.DataFrame:
    """Sufficient statistics of unit-level experiment data, in the aggregated format that
    `ab_test`, `bayes` and `sequential` accept (and experimentation platforms store).

    One row per ``by`` group × variant × metric with ``n``, ``sum``, ``sum_sq`` (Σx, Σx²),
    for ratio metrics ``sum_den``, ``sum_den_sq``, ``sum_prod`` (Σ denominator, Σ
    denominator², Σ metric·denominator) and with a covariate ``sum_cov``, ``sum_cov_sq``,
    ``sum_cov_prod`` (Σ metric·covariate), plus the metric ``kind``. One parallel Rust
    pass over the rows; a null or NaN metric value is an error naming the column.

    >>> import polars as pl
    >>> units = pl.DataFrame({"variant": ["a", "b", "a", "b"], "converted": [1, 0, 1, 1]})
    >>> summarize(units).select("variant", "metric", "n", "sum").rows()
    [('a', 'converted', 2, 2.0), ('b', 'converted', 2, 1.0)]
    """
    fn = "crmkit.experiment.summarize"
    metrics = _as_list(metric, "metric", fn)
    by_cols = _as_list(by, "by", fn)
    if not metrics:
        raise CrmError(f"{fn}: argument 'metric' names no column")
    if isinstance(covariate, Mapping):
        cov_of = {m: covariate.get(m) for m in metrics}
    else:
        cov_of = {m: covariate for m in metrics}
    needed: dict[str, Kind] = {variant: "any", **{b: "any" for b in by_cols}, **{m: "numeric" for m in metrics}}
    lf = as_lazy(df, argument="df")
    schema = schema_of(lf)
    for m in metrics:
        if m in schema and schema[m] == pl.Boolean:
            needed[m] = "boolean"
    if denominator:
        needed[denominator] = "numeric"
    for c in {c for c in cov_of.values() if c}:
        needed[c] = "boolean" if c in schema and schema[c] == pl.Boolean else "numeric"
    require_columns(lf, needed, function=fn, argument="df")
    data = lf.select(list(dict.fromkeys(needed))).collect()
    require_no_nulls(data, [variant, *by_cols], function=fn, argument="df")
    if kind not in ("auto", "proportion", "mean", "ratio"):
        raise CrmError(f"{fn}: argument 'kind' must be 'auto', 'proportion', 'mean' or 'ratio', found {kind!r}")
    if kind == "ratio" and not denominator:
        raise CrmError(f"{fn}: kind='ratio' needs denominator=<column> (metric / denominator per unit)")
    kinds = {m: ("ratio" if denominator else (kind if kind != "auto" else _unit_kind(data, m, fn))) for m in metrics}
    for m in metrics:
        if denominator and cov_of[m]:
            raise CrmError(f"{fn}: CUPED (covariate=) is not supported for ratio metrics (metric '{m}')")

    keys, restore = [], []
    for c in [*by_cols, variant]:
        s, back = _key_for_rust(data[c])
        keys.append(s)
        restore.append(back)
    value_names: list[str] = list(dict.fromkeys([*metrics, *([denominator] if denominator else []),
                                                   *[c for c in cov_of.values() if c]]))
    index = {v: i for i, v in enumerate(value_names)}
    values = [data[v].cast(pl.Float64) for v in value_names]
    pairs: list[tuple[int, int]] = []
    pair_of: dict[tuple[str, str], int] = {}
    for m in metrics:
        cov = cov_of[m]
        for other in ([denominator] if denominator else []) + ([cov] if cov else []):
            if (m, other) not in pair_of:
                pair_of[(m, other)] = len(pairs)
                pairs.append((index[m], index[other]))
    wide = _core.experiment_summarize(keys, values, pairs)
    wide = wide.with_columns(
        [back(wide[c]).alias(c) for c, back in zip([*by_cols, variant], restore)]
    )
    key_cols = [*by_cols, variant]
    parts = []
    for m in metrics:
        i = index[m]
        cols = [*[pl.col(c) for c in key_cols], pl.lit(m).alias("metric"), pl.lit(kinds[m]).alias("kind"),
                pl.col("n"), pl.col(f"sum_{i}").alias("sum"), pl.col(f"sumsq_{i}").alias("sum_sq")]
        if denominator:
            j = index[denominator]
            cols += [pl.col(f"sum_{j}").alias("sum_den"), pl.col(f"sumsq_{j}").alias("sum_den_sq"),
                     pl.col(f"prod_{pair_of[(m, denominator)]}").alias("sum_prod")]
        else:
            cols += [pl.lit(None, pl.Float64).alias(c) for c in ("sum_den", "sum_den_sq", "sum_prod")]
        cov = cov_of[m]
        if cov:
            j = index[cov]
            cols += [pl.col(f"sum_{j}").alias("sum_cov"), pl.col(f"sumsq_{j}").alias("sum_cov_sq"),
                     pl.col(f"prod_{pair_of[(m, cov)]}").alias("sum_cov_prod")]
            cov_kind = "proportion" if data.schema[cov] == pl.Boolean else "mean"
            cols.append(pl.lit(cov_kind).alias("covariate_kind"))
        else:
            cols += [pl.lit(None, pl.Float64).alias(c) for c in ("sum_cov", "sum_cov_sq", "sum_cov_prod")]
            cols.append(pl.lit(None, pl.String).alias("covariate_kind"))
        parts.append(wide.select(cols))
    out = pl.concat(parts, how="vertical")
    return out.sort([*by_cols, "metric", variant], maintain_order=True)


# ----------------------------------------------------------------------------------------
# aggregated input


def _is_aggregated(schema: pl.Schema, metrics: list[str]) -> bool:
    return "n" in schema and "sum" in schema and not all(m in schema for m in metrics)


def _prepare_aggregated(lf: pl.LazyFrame, *, variant: str, metrics: list[str], metric_default: bool,
                        by_cols: list[str], kind: str, function: str) -> pl.DataFrame:
    schema = schema_of(lf)
    need: dict[str, Kind] = {variant: "any", "n": "numeric", "sum": "numeric", **{b: "any" for b in by_cols}}
    require_columns(lf, need, function=function, argument="df")
    for c in STAT_COLUMNS[2:]:
        if c in schema and not schema[c].is_numeric() and schema[c] != pl.Null:
            raise SchemaError(f"{function}: column '{c}' of the aggregated table must be numeric, found {schema[c]}")
    df = lf.collect()
    if "metric" not in df.columns:
        if len(metrics) != 1:
            raise CrmError(
                f"{function}: an aggregated table without a 'metric' column holds one metric; "
                f"pass metric='<its name>' (found {metrics})"
            )
        df = df.with_columns(pl.lit(metrics[0]).alias("metric"))
    else:
        present = df["metric"].unique().cast(pl.String).to_list()
        wanted = [m for m in metrics if m in present]
        if not wanted and metric_default:
            wanted = sorted(present)
        missing = [m for m in metrics if m not in present]
        if missing and not metric_default:
            raise SchemaError(f"{function}: metric(s) {missing} not found in the 'metric' column; it holds {sorted(present)}")
        df = df.filter(pl.col("metric").cast(pl.String).is_in(wanted)).with_columns(pl.col("metric").cast(pl.String))
    for c in STAT_COLUMNS:
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, pl.Float64).alias(c))
    df = df.with_columns([pl.col(c).cast(pl.Float64) for c in STAT_COLUMNS])
    require_no_nulls(df, [variant, *by_cols], function=function, argument="df")
    bad = df.filter(pl.col("n").is_null() | pl.col("sum").is_null() | pl.col("n").is_nan() | pl.col("sum").is_nan())
    if bad.height:
        raise SchemaError(f"{function}: {bad.height} row(s) of the aggregated table have a null/NaN 'n' or 'sum'")
    if df.filter(pl.col("n") < 0).height:
        raise CrmError(f"{function}: column 'n' holds negative counts; unit counts must be >= 0")
    if df.filter(pl.col("n") != pl.col("n").round()).height:
        raise CrmError(f"{function}: column 'n' must hold whole unit counts")
    # kind per row
    if "kind" in df.columns and kind == "auto":
        df = df.with_columns(pl.col("kind").cast(pl.String))
    elif kind != "auto":
        df = df.with_columns(pl.lit(kind).alias("kind"))
    else:
        is_ratio = pl.col("sum_den").is_not_null()
        is_prop = pl.col("sum_sq").is_null() | (
            (pl.col("sum_sq") == pl.col("sum")) & (pl.col("sum") <= pl.col("n")) & (pl.col("sum") >= 0)
        ).all().over("metric")
        df = df.with_columns(
            pl.when(is_ratio).then(pl.lit("ratio")).when(is_prop).then(pl.lit("proportion"))
            .otherwise(pl.lit("mean")).alias("kind")
        )
    bad_kind = df.filter(~pl.col("kind").is_in(list(_KIND_CODE)))
    if bad_kind.height:
        raise CrmError(f"{function}: kind must be proportion/mean/ratio, found {bad_kind['kind'].unique().to_list()}")
    props = df.filter(pl.col("kind") == "proportion")
    if props.filter((pl.col("sum") < 0) | (pl.col("sum") > pl.col("n"))).height:
        raise CrmError(f"{function}: a proportion metric has 'sum' (conversions) below 0 or above 'n' (units)")
    df = df.with_columns(pl.when(pl.col("kind") == "proportion").then(pl.col("sum_sq").fill_null(pl.col("sum")))
                         .otherwise(pl.col("sum_sq")).alias("sum_sq"))
    if df.filter((pl.col("kind") != "proportion") & pl.col("sum_sq").is_null()).height:
        raise SchemaError(f"{function}: mean and ratio metrics need 'sum_sq' (Σx²) in the aggregated table")
    # Σx² >= (Σx)²/n for any real data: a violation means mismatched columns.
    tol = 1e-9
    incons = df.filter((pl.col("n") > 0) & (pl.col("sum_sq") < pl.col("sum") ** 2 / pl.col("n") * (1 - tol) - 1e-12))
    if incons.height:
        raise CrmError(
            f"{function}: {incons.height} row(s) have sum_sq < sum²/n, impossible for real data: the "
            f"aggregated columns do not belong together (check n, sum and sum_sq)"
        )
    ratio = df.filter(pl.col("kind") == "ratio")
    if ratio.height and ratio.select(pl.any_horizontal(pl.col("sum_den", "sum_den_sq", "sum_prod").is_null().any())).item():
        raise SchemaError(f"{function}: ratio metrics need 'sum_den', 'sum_den_sq' and 'sum_prod' in the aggregated table")
    if "covariate_kind" not in df.columns:
        df = df.with_columns(
            pl.when(pl.col("sum_cov").is_not_null()).then(pl.lit("mean")).otherwise(pl.lit(None, pl.String))
            .alias("covariate_kind")
        )
    return df


# ----------------------------------------------------------------------------------------
# the shared analysis


def _stats_table(df: Frame, *, variant: str, metric: Any, by: Any, denominator: Optional[str],
                 covariate: Any, kind: str, function: str) -> tuple[pl.DataFrame, list[str], bool]:
    metrics = _as_list(metric, "metric", function)
    by_cols = _as_list(by, "by", function)
    lf = as_lazy(df, argument="df")
    schema = schema_of(lf)
    aggregated = _is_aggregated(schema, metrics)
    if aggregated:
        stats = _prepare_aggregated(lf, variant=variant, metrics=metrics, metric_default=(metric == "converted"),
                                    by_cols=by_cols, kind=kind, function=function)
    else:
        stats = summarize(lf, variant=variant, metric=metrics, by=by_cols or None, denominator=denominator,
                          covariate=covariate, kind=kind)
    return stats, by_cols, aggregated


def _pairs(stats: pl.DataFrame, *, variant: str, control: Any, by_cols: list[str], function: str) -> pl.DataFrame:
    variants = stats[variant].unique().to_list()
    if len(variants) < 2:
        raise CrmError(f"{function}: column '{variant}' holds a single variant {variants}; an A/B test needs a "
                       f"control and at least one treatment")
    if control not in variants:
        raise CrmError(f"{function}: control {control!r} not found in column '{variant}'; it holds "
                       f"{sorted(map(str, variants))}. Pass control=<the control variant's value>")
    cols = list(STAT_COLUMNS)
    keys = [*by_cols, "metric"]
    ctrl = stats.filter(pl.col(variant) == control).select(
        *keys, *[pl.col(c).alias(f"c_{c[4:] if c.startswith('sum_') else c}") for c in cols]
    )
    treat = stats.filter(pl.col(variant) != control).select(
        *keys, variant, "kind", "covariate_kind", *[pl.col(c).alias(f"t_{c[4:] if c.startswith('sum_') else c}") for c in cols]
    )
    # nulls_equal: polars >= 1.24 (crmkit needs 1.28)
    return treat.join(ctrl, on=keys, how="left", nulls_equal=True)


def _kernel_table(paired: pl.DataFrame) -> pl.DataFrame:
    """Columns in the names the Rust kernel reads: c_n, c_sum, c_sum_sq, c_den, ..."""
    mapping = {}
    for side in ("c", "t"):
        mapping.update({
            f"{side}_n": f"{side}_n", f"{side}_sum": f"{side}_sum", f"{side}_sq": f"{side}_sum_sq",
            f"{side}_den": f"{side}_den", f"{side}_den_sq": f"{side}_den_sq", f"{side}_prod": f"{side}_prod",
            f"{side}_cov": f"{side}_cov", f"{side}_cov_sq": f"{side}_cov_sq", f"{side}_cov_prod": f"{side}_cov_prod",
        })
    cols = [pl.col(k).fill_null(0.0).cast(pl.Float64).alias(v) for k, v in mapping.items()]
    kind = pl.col("kind").replace_strict(_KIND_CODE, return_dtype=pl.Int64).alias("kind")
    pre = pl.col("covariate_kind").replace_strict(_KIND_CODE, default=-1, return_dtype=pl.Int64).alias("pre_kind")
    return paired.select(kind, pre, *cols)


def _srm_check(stats: pl.DataFrame, *, variant: str, expected: Any, function: str) -> Optional[pl.DataFrame]:
    counts = (
        stats.filter(pl.col("metric") == stats["metric"][0])
        .group_by(variant).agg(pl.col("n").sum()).sort(variant)
    )
    result = srm(counts, variant=variant, expected=expected)
    p = result["p_value"][0]
    if p is not None and p < SRM_THRESHOLD:
        warnings.warn(
            f"{function}: sample ratio mismatch — the units per variant "
            f"{dict(zip(result[variant].to_list(), result['n'].to_list()))} are very unlikely under the planned "
            f"split (chi-square p = {p:.2e} < {SRM_THRESHOLD}); check assignment and logging before trusting effects",
            SampleRatioMismatchWarning,
            stacklevel=4,
        )
    return result


def _family(frame: pl.DataFrame, by_cols: list[str]) -> np.ndarray:
    if not by_cols:
        return np.zeros(frame.height, dtype=np.int64)
    return frame.select(pl.struct(by_cols).rank("dense").cast(pl.Int64)).to_series().to_numpy()


def _mann_whitney(df: Frame, paired: pl.DataFrame, *, variant: str, control: Any, by_cols: list[str],
                  alternative: str, function: str) -> tuple[np.ndarray, np.ndarray]:
    metrics = paired["metric"].unique().to_list()
    data = as_lazy(df).select(list(dict.fromkeys([variant, *by_cols, *metrics]))).collect()
    groups = data.partition_by([*by_cols, variant], as_dict=True, maintain_order=True)
    ps = np.full(paired.height, np.nan)
    us = np.full(paired.height, np.nan)
    for i, row in enumerate(paired.iter_rows(named=True)):
        key_t = tuple([*(row[b] for b in by_cols), row[variant]])
        key_c = tuple([*(row[b] for b in by_cols), control])
        if key_t not in groups or key_c not in groups:
            continue
        x = groups[key_t][row["metric"]].cast(pl.Float64).to_numpy()
        y = groups[key_c][row["metric"]].cast(pl.Float64).to_numpy()
        us[i], ps[i] = _core.experiment_mann_whitney(np.ascontiguousarray(x), np.ascontiguousarray(y), alternative)
    return us, ps


def _analyse(df: Frame, *, variant: str, metric: Any, control: Any, kind: str, denominator: Optional[str],
             covariate: Any, alpha: float, alternative: str, test: str, by: Any, mode: str,
             function: str, expected: Any = None, relative: bool = True, prior_mean: float = 0.0,
             prior_sd: Optional[float] = None, tuning: float = 5000.0) -> tuple[pl.DataFrame, list[str], Optional[pl.DataFrame]]:
    stats, by_cols, aggregated = _stats_table(df, variant=variant, metric=metric, by=by, denominator=denominator,
                                             covariate=covariate, kind=kind, function=function)
    paired = _pairs(stats, variant=variant, control=control, by_cols=by_cols, function=function)
    if test in ("chi2", "fisher", "z-pooled") and mode == "frequentist":
        wrong = paired.filter(pl.col("kind") != "proportion")
        if test != "z-pooled" and wrong.height:
            raise CrmError(f"{function}: test={test!r} compares conversion counts; metric(s) "
                           f"{wrong['metric'].unique().to_list()} are not proportions (kind='proportion')")
    table = _kernel_table(paired)
    kernel_test = test
    if test == "mann-whitney":
        if aggregated:
            raise CrmError(f"{function}: test='mann-whitney' ranks unit values; pass unit-level rows, not an "
                           f"aggregated table")
        if paired.filter(pl.col("kind") == "ratio").height or covariate is not None:
            raise CrmError(f"{function}: test='mann-whitney' applies to plain metrics (no ratio, no covariate)")
        us, ps = _mann_whitney(df, paired, variant=variant, control=control, by_cols=by_cols,
                               alternative=alternative, function=function)
        table = table.with_columns(pl.Series("external_p", ps), pl.Series("external_stat", us))
        kernel_test = "external"
    prior_var = None if prior_sd is None else float(prior_sd) ** 2
    res = _core.experiment_compare(table, alpha, alternative, kernel_test, mode, relative, prior_mean, prior_var, tuning)
    srm_table = _srm_check(stats, variant=variant, expected=expected, function=function)
    out = pl.concat(
        [
            paired.select(*by_cols, pl.col(variant), "metric", "kind",
                          pl.col("t_n").cast(pl.Int64).alias("n"), pl.col("c_n").fill_null(0).cast(pl.Int64).alias("control_n")),
            res,
        ],
        how="horizontal",
    )
    return out, by_cols, srm_table


_TEST_LABEL = {"welch": "welch-t", "z": "z", "z-pooled": "z-pooled", "mann-whitney": "mann-whitney",
               "chi2": "chi2", "fisher": "fisher"}


def ab_test(
    df: Frame,
    *,
    variant: str = "variant",
    metric: Union[str, Sequence[str]] = "converted",
    control: Any = "control",
    kind: str = "auto",
    denominator: Optional[str] = None,
    covariate: Union[None, str, Mapping[str, str]] = None,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    correction: Optional[str] = "holm",
    test: Optional[str] = None,
    by: Union[None, str, Sequence[str]] = None,
    expected: Optional[Any] = None,
) -> pl.DataFrame:
    """Frequentist A/B test of every treatment against the control, per metric (and per
    ``by`` segment), from unit rows or from an aggregated table.

    Input: one row per unit (user/customer) with the ``variant`` and metric columns, or
    an aggregated table with ``n``, ``sum``, ``sum_sq`` per variant (and ``sum_den``,
    ``sum_den_sq``, ``sum_prod`` for ratio metrics, ``sum_cov``, ``sum_cov_sq``,
    ``sum_cov_prod`` for CUPED; a ``metric`` column for several metrics) as
    experimentation platforms store them — `summarize` produces it.

    Semantics (GrowthBook's gbstats engine, the numbers platform users know):

    - per arm a statistic: proportions have variance p(1 - p); means the sample variance;
      ``kind="ratio"`` (metric / ``denominator`` per unit, e.g. revenue per session) the
      delta-method variance of Σmetric / Σdenominator;
    - ``diff`` = treatment mean - control mean with Welch's t interval and p-value
      (Welch-Satterthwaite degrees of freedom);
    - ``lift`` = (t - c) / c with the delta-method variance
      Var(t)/(c² n_t) + Var(c)·t²/(c⁴ n_c), a symmetric interval and p-value from the same
      t distribution. Why this convention: it is what GrowthBook (and most platforms)
      display, it comes with a p-value consistent with its interval, and it needs only
      sufficient statistics. The two other conventions in use — Fieller's interval of the
      ratio t/c - 1 (asymmetric, exact under normality) and the log-ratio interval
      exp(log t/c ± z·se) - 1 — agree with it to first order for large samples and differ
      in small ones; all three are in the documentation notes of `crmkit.experiment`;
    - ``covariate=`` applies CUPED (gbstats' regression adjustment, θ pooled over both
      arms): ``diff`` and ``lift`` use the adjusted means (the lift is divided by the
      unadjusted control mean), ``mean``/``control_mean`` stay unadjusted, ``theta`` and
      ``variance_reduction`` (1 - adjusted/unadjusted variance of the difference) show
      what CUPED achieved;
    - ``test=`` replaces the test of the difference: ``"z"`` (unpooled Wald z, as
      statsmodels ``test_proportions_2indep`` / ``ztest(usevar="unequal")``; intervals
      then use the normal quantile), ``"z-pooled"`` (pooled z, as statsmodels
      ``proportions_ztest``; the interval stays the unpooled Wald one), ``"mann-whitney"``
      (scipy ``mannwhitneyu`` defaults: tie and continuity correction, exact for small
      samples without ties; unit rows only), ``"chi2"`` (scipy ``chi2_contingency`` of the
      2x2 table, Yates-corrected) and ``"fisher"`` (scipy ``fisher_exact``; ``statistic`` is
      the odds ratio) for conversions. Intervals for those three stay Welch's;
    - ``correction`` adjusts ``p_value`` over the family of comparisons (treatments ×
      metrics) within each ``by`` segment: ``"holm"`` (default), ``"bonferroni"``,
      ``"bh"`` (Benjamini–Hochberg) or None; ``significant`` = ``p_adjusted < alpha``;
    - ``by=`` adds the effect per segment and, per treatment × metric, Cochran's Q test of
      heterogeneity of ``diff`` across segments (``heterogeneity_q``, ``heterogeneity_p``,
      ``heterogeneity_i2``);
    - the split of units is checked for sample ratio mismatch (`srm`, planned split
      ``expected``, equal by default) and a `SampleRatioMismatchWarning` is raised when
      p < 0.001.

    Undefined results are null with a ``reason`` (fewer than 2 units in an arm, zero
    variance in both arms, a control mean of 0 for the lift, a zero denominator), never a
    silent NaN. Both arms' variance may be 0 for the difference to be null; gbstats
    instead reports a default (0, p = 1) whenever either arm has zero variance.

    >>> import polars as pl
    >>> agg = pl.DataFrame({"variant": ["control", "treatment"], "n": [1000, 1000], "sum": [100, 120]})
    >>> r = ab_test(agg)
    >>> [round(v, 6) for v in r.select("diff", "diff_lower", "diff_upper", "p_value").row(0)]
    [0.02, -0.007428, 0.047428, 0.152865]
    >>> [round(v, 6) for v in r.select("lift", "lift_lower", "lift_upper", "lift_p_value").row(0)]
    [0.2, -0.100768, 0.500768, 0.19235]
    """
    fn = "crmkit.experiment.ab_test"
    alpha = _alpha(alpha, fn)
    alt = _alternative(alternative, fn)
    if test is None or test in ("t", "welch", "welch-t"):
        test_name = "welch"
    elif test in _TESTS:
        test_name = test
    else:
        raise CrmError(f"{fn}: argument 'test' must be None (Welch t), one of {list(_TESTS)}, found {test!r}")
    if test_name == "chi2" and alt != "two-sided":
        raise CrmError(f"{fn}: test='chi2' is two-sided only; use test='z' or 'fisher' for a one-sided test")
    if correction not in _CORRECTIONS:
        raise CrmError(f"{fn}: argument 'correction' must be 'holm', 'bonferroni', 'bh' or None, found {correction!r}")
    out, by_cols, _ = _analyse(df, variant=variant, metric=metric, control=control, kind=kind,
                               denominator=denominator, covariate=covariate, alpha=alpha, alternative=alt,
                               test=test_name, by=by, mode="frequentist", function=fn, expected=expected)
    p = out["p_value"].fill_null(np.nan).to_numpy().astype(np.float64)
    adj = _core.experiment_adjust(np.ascontiguousarray(p), _family(out, by_cols), _CORRECTIONS[correction])
    out = out.with_columns(
        pl.Series("p_adjusted", adj).fill_nan(None),
        pl.lit(_TEST_LABEL[test_name]).alias("test"),
    ).with_columns((pl.col("p_adjusted") < alpha).alias("significant"))
    extra: list[str] = []
    if covariate is not None or out["theta"].is_not_null().any():
        extra += ["theta", "variance_reduction"]
    if by_cols:
        out = _with_heterogeneity(out, variant=variant)
        extra += ["heterogeneity_q", "heterogeneity_p", "heterogeneity_i2"]
    return out.select(
        *by_cols, variant, "metric", "kind", "n", "control_n", "mean", "control_mean",
        "diff", "diff_lower", "diff_upper", "lift", "lift_lower", "lift_upper",
        "p_value", "lift_p_value", "p_adjusted", "significant", "test", "statistic", "df",
        *extra, "reason",
    )


def _with_heterogeneity(out: pl.DataFrame, *, variant: str) -> pl.DataFrame:
    key = out.select(pl.struct([variant, "metric"]).rank("dense").cast(pl.Int64)).to_series()
    est = out["diff"].fill_null(np.nan).to_numpy()
    var = (out["diff_se"].fill_null(np.nan) ** 2).to_numpy()
    groups, q, dof, p, i2 = _core.experiment_heterogeneity(est.tolist(), var.tolist(), key.to_list())
    het = pl.DataFrame({"__key": groups, "heterogeneity_q": q, "heterogeneity_df": dof, "heterogeneity_p": p,
                        "heterogeneity_i2": i2}, schema_overrides={"__key": pl.Int64}).with_columns(
        [pl.col(c).fill_nan(None) for c in ("heterogeneity_q", "heterogeneity_df", "heterogeneity_p", "heterogeneity_i2")]
    )
    return out.with_columns(key.alias("__key")).join(het, on="__key", how="left").drop("__key")


def bayes(
    df: Frame,
    *,
    variant: str = "variant",
    metric: Union[str, Sequence[str]] = "converted",
    control: Any = "control",
    kind: str = "auto",
    denominator: Optional[str] = None,
    covariate: Union[None, str, Mapping[str, str]] = None,
    alpha: float = 0.05,
    by: Union[None, str, Sequence[str]] = None,
    relative: bool = True,
    prior_mean: float = 0.0,
    prior_sd: Optional[float] = None,
    expected: Optional[Any] = None,
) -> pl.DataFrame:
    """GrowthBook's Bayesian engine (gbstats ``EffectBayesianABTest``): a Gaussian
    posterior of the effect from a flat prior (``prior_sd=None``, gbstats' default) or a
    proper normal prior N(prior_mean, prior_sd²) on the lift scale (``relative=True``) or
    absolute scale.

    Columns: ``chance_to_win`` P(effect > 0), ``expected_loss`` E[max(0, -effect)] (the
    risk of shipping the treatment, gbstats ``risk[1]``), ``risk_control`` (gbstats
    ``risk[0]``), the posterior ``lift`` with its ``1 - alpha`` credible interval and the
    same for ``diff``. ``relative`` chooses the scale of the chance to win and the risks
    (gbstats' ``difference_type``).

    >>> import polars as pl
    >>> agg = pl.DataFrame({"variant": ["control", "treatment"], "n": [1000, 1000], "sum": [100, 120]})
    >>> round(bayes(agg)["chance_to_win"][0], 6)
    0.9039
    """
    fn = "crmkit.experiment.bayes"
    alpha = _alpha(alpha, fn)
    if prior_sd is not None and not (isinstance(prior_sd, (int, float)) and prior_sd > 0):
        raise CrmError(f"{fn}: argument 'prior_sd' must be a positive number or None (flat prior), found {prior_sd!r}")
    out, by_cols, _ = _analyse(df, variant=variant, metric=metric, control=control, kind=kind,
                               denominator=denominator, covariate=covariate, alpha=alpha, alternative="two-sided",
                               test="welch", by=by, mode="bayes", function=fn, expected=expected, relative=relative,
                               prior_mean=float(prior_mean), prior_sd=prior_sd)
    return out.rename({"risk_treatment": "expected_loss"}).select(
        *by_cols, variant, "metric", "kind", "n", "control_n", "mean", "control_mean",
        "chance_to_win", "expected_loss", "risk_control",
        "lift", "lift_lower", "lift_upper", "diff", "diff_lower", "diff_upper", "reason",
    )


def sequential(
    df: Frame,
    *,
    variant: str = "variant",
    metric: Union[str, Sequence[str]] = "converted",
    control: Any = "control",
    kind: str = "auto",
    denominator: Optional[str] = None,
    covariate: Union[None, str, Mapping[str, str]] = None,
    alpha: float = 0.05,
    by: Union[None, str, Sequence[str]] = None,
    tuning: float = 5000.0,
    expected: Optional[Any] = None,
) -> pl.DataFrame:
    """Always-valid p-values and confidence sequences (gbstats' sequential testing,
    Waudby-Smith et al. 2023, eq. 9 and 155 with ρ from eq. 161): the intervals hold
    simultaneously at every look, so a daily Airflow job may look every day and stop
    when ``significant`` without inflating false positives.

    ``tuning`` is gbstats' ``sequential_tuning_parameter`` (the sample size, summed over
    both arms, at which the sequence is tightest; default 5000). Wider than the fixed-
    horizon interval by design.

    >>> import polars as pl
    >>> agg = pl.DataFrame({"variant": ["control", "treatment"], "n": [1000, 1000], "sum": [100, 120]})
    >>> s = sequential(agg)
    >>> bool(s["diff_lower"][0] < ab_test(agg)["diff_lower"][0])
    True
    """
    fn = "crmkit.experiment.sequential"
    alpha = _alpha(alpha, fn)
    if not (isinstance(tuning, (int, float)) and tuning > 0):
        raise CrmError(f"{fn}: argument 'tuning' must be a positive number, found {tuning!r}")
    out, by_cols, _ = _analyse(df, variant=variant, metric=metric, control=control, kind=kind,
                               denominator=denominator, covariate=covariate, alpha=alpha, alternative="two-sided",
                               test="welch", by=by, mode="sequential", function=fn, expected=expected,
                               tuning=float(tuning))
    return out.with_columns(
        (pl.col("p_value") < alpha).alias("significant"), pl.lit("sequential").alias("test")
    ).select(
        *by_cols, variant, "metric", "kind", "n", "control_n", "mean", "control_mean",
        "diff", "diff_lower", "diff_upper", "lift", "lift_lower", "lift_upper",
        "p_value", "lift_p_value", "significant", "test", "reason",
    )


def srm(
    data: Union[Frame, Mapping[Any, int], Sequence[int]],
    *,
    variant: str = "variant",
    expected: Union[None, Mapping[Any, float], Sequence[float]] = None,
) -> pl.DataFrame:
    """Sample ratio mismatch: the chi-square goodness-of-fit test of units per variant
    against the planned split (gbstats ``check_srm``; variants with a planned weight of 0
    are left out of the statistic).

    ``data``: unit rows (counted per ``variant``), an aggregated table with ``n`` per
    variant (summed over other columns), a dict ``{variant: units}`` or a list of counts.
    ``expected``: planned weights (dict by variant or list in the order of the sorted
    variants / the list given); equal by default.

    >>> srm({"control": 5000, "treatment": 5200})["p_value"][0].__round__(7)
    0.0476704
    """
    fn = "crmkit.experiment.srm"
    if isinstance(data, Mapping):
        names = list(data.keys())
        counts = [data[k] for k in names]
    elif isinstance(data, (list, tuple)):
        names = list(range(len(data)))
        counts = list(data)
    else:
        lf = as_lazy(data, argument="data")
        schema = schema_of(lf)
        require_columns(lf, {variant: "any"}, function=fn, argument="data")
        if "n" in schema and schema["n"].is_numeric():
            if "metric" in schema:
                first = lf.select(pl.col("metric").first()).collect().item()
                lf = lf.filter(pl.col("metric") == first)
            tab = lf.group_by(variant).agg(pl.col("n").sum()).sort(variant).collect()
        else:
            tab = lf.group_by(variant).agg(pl.len().alias("n")).sort(variant).collect()
        names = tab[variant].to_list()
        counts = tab["n"].to_list()
    if len(counts) < 2:
        raise CrmError(f"{fn}: need at least 2 variants, found {len(counts)}")
    if any((not isinstance(c, (int, float, np.integer, np.floating))) or c is None or c < 0 or c != c for c in counts):
        raise CrmError(f"{fn}: unit counts must be non-negative numbers, found {counts}")
    if expected is None:
        weights = [1.0] * len(counts)
    elif isinstance(expected, Mapping):
        missing = [n for n in names if n not in expected]
        if missing:
            raise CrmError(f"{fn}: argument 'expected' has no weight for variant(s) {missing}")
        weights = [float(expected[n]) for n in names]
    else:
        weights = [float(w) for w in expected]
        if len(weights) != len(counts):
            raise CrmError(f"{fn}: argument 'expected' has {len(weights)} weights for {len(counts)} variants")
    if any(w < 0 or w != w for w in weights) or sum(weights) <= 0:
        raise CrmError(f"{fn}: argument 'expected' must hold non-negative weights with a positive sum, found {weights}")
    total = float(sum(counts))
    wsum = sum(weights)
    exp_n = [w / wsum * total for w in weights]
    stat = sum((o - e) ** 2 / e for o, e, w in zip(counts, exp_n, weights) if w > 0 and e > 0)
    dof = len(counts) - 1
    p = 1.0 if total == 0 else float(_core.stats_dist("chi2_sf", np.array([stat]), float(dof))[0])
    out_schema: dict[str, Any] = {variant: pl.String if isinstance(names[0], str) else None}
    table = pl.DataFrame(
        {
            variant: names,
            "n": [int(c) for c in counts],
            "expected_share": [w / wsum for w in weights],
            "expected_n": exp_n,
        },
        schema_overrides={k: v for k, v in out_schema.items() if v is not None},
    )
    return table.with_columns(
        pl.lit(stat).alias("chi2"), pl.lit(dof).alias("df"), pl.lit(p).alias("p_value"),
        pl.lit(p < SRM_THRESHOLD).alias("mismatch"),
    )
