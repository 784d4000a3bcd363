"""Record linkage on Spark, with splink's playbook and crmkit's kernels.

1. Prepared fields and blocking keys per partition (``mapInArrow``): the same
   cleaners and Rust key functions (name sound/pinyin keys, normalised addresses) as
   :func:`crmkit.dedupe`.
2. Candidate pairs as one Spark equi-join per blocking rule with ``l.id < r.id``;
   a later rule leaves out the pairs an earlier rule produced (a join predicate, no
   de-duplication shuffle); blocks larger than ``salt_above`` records are salted
   (the left side split by a hash of its id, the right side replicated), so one hot
   key does not land on one task; a default key whose pairs would exceed the limit
   keeps only its rare values, or is skipped, with the warnings of the single-machine
   function (an explicit key over the limit raises TooLargeError).
3. The Fellegi-Sunter model is trained on the driver by the single-machine code on a
   sample of records (all of them up to ``train_sample``), or passed in as JSON;
   term frequencies are counted over all records in Spark.
4. Pairs are scored per partition by the Rust kernel (``dedupe_score_pairs``).
5. Links at or above ``threshold`` are clustered on the driver by crmkit's clustering
   (the same rules as on one machine) when there are at most ``driver_max_edges``
   of them; otherwise by connected components in Spark (iterative min-label
   propagation, as splink does), with a warning that the single-machine guards
   (strong links, ``max_cluster_size``) are not applied.
"""

from __future__ import annotations

import json
import math
import warnings
from functools import reduce
from typing import Any, Mapping, Optional, Sequence, Union

import polars as pl

from crmkit.dedupe import _fields, _pairs
from crmkit.errors import CrmError, SchemaError, TooLargeError
from crmkit.spark._base import (
    _pyspark,
    from_polars,
    map_rows,
    polars_schema,
    require_spark_frame,
    session_of,
    to_polars,
)

__all__ = ["dedupe", "dedupe_model"]

_FN = "crmkit.dedupe"


def _prep_part(df: pl.DataFrame, *, id: str, fields: dict[str, Any], region: str, tf: bool) -> pl.DataFrame:
    """id, prepared fields _f<j> (and their compared text _p<j> for term frequencies)."""
    from crmkit import _core

    out = df.select(
        pl.col(id),
        *[_fields._prep_expr(c, k, df.schema[c], region, _FN).cast(pl.String).alias(f"_f{j}") for j, (c, k) in enumerate(fields.items())],
    )
    if tf:
        out = out.with_columns(
            [pl.Series(f"_p{j}", _core.dedupe_prepared_text(k, out[f"_f{j}"])) for j, k in enumerate(fields.values())]
        )
    return out


def _keys_part(df: pl.DataFrame, *, fields: dict[str, Any], specs: list[Any]) -> pl.DataFrame:
    """Blocking key columns _k<i>, built here on the worker from the rule specs."""

    exprs = [_fields._key_expr(spec, fields, _FN)[0].cast(pl.String).alias(f"_k{i}") for i, spec in enumerate(specs)]
    return df.with_columns(exprs)


def _score_part(df: pl.DataFrame, *, model_json: str, kinds: list[Any], strong_fields: list[Any], tf: bool) -> pl.DataFrame:
    from crmkit import _core

    nf = len(kinds)
    scored = _core.dedupe_score_pairs(
        model_json, kinds,
        [df[f"_f{j}_l"] for j in range(nf)], [df[f"_f{j}_r"] for j in range(nf)],
        [df[f"_t{j}_l"] if tf else None for j in range(nf)],
    )
    # Identical records (every prepared field equal, nulls included) are one record
    # entered twice: probability 1 when they share an identifying value (name, phone,
    # e-mail) or two values of any kind, as on one machine.
    same = pl.all_horizontal([pl.col(f"_f{j}_l").eq_missing(pl.col(f"_f{j}_r")) for j in range(nf)])
    strong = (pl.any_horizontal([pl.col(f"_f{j}_l").is_not_null() for j in strong_fields]) if strong_fields else pl.lit(False)) | (
        pl.sum_horizontal([pl.col(f"_f{j}_l").is_not_null().cast(pl.Int32) for j in range(nf)]) >= 2)
    out = df.select("l", "r").with_columns(scored["match_weight"], scored["match_probability"])
    flags = df.select((same & strong).alias("_self"))
    return out.with_columns(
        pl.when(flags["_self"]).then(1.0).otherwise(pl.col("match_probability")).alias("match_probability")
    )


def _check_args(threshold: Any, max_cluster_size: Any, strong_link: Any) -> float:

    thr: float = _pairs._check_threshold(threshold, _FN)
    if isinstance(max_cluster_size, bool) or not isinstance(max_cluster_size, int) or max_cluster_size < 2:
        raise CrmError(f"{_FN}: 'max_cluster_size' must be an integer >= 2, found {max_cluster_size!r}")
    if isinstance(strong_link, bool) or not isinstance(strong_link, (int, float)) or not 0 <= strong_link <= 1:
        raise CrmError(f"{_FN}: 'strong_link' must be a probability between 0 and 1, found {strong_link!r}")
    return thr


def _validate(sdf: Any, id: str, fields: Optional[Mapping[str, str]], region: str) -> dict[str, Any]:
    """Fields (given or inferred) checked by the single-machine code on an empty frame,
    then the id column checked for nulls and duplicates in one Spark job."""
    from pyspark.sql import functions as F


    if not isinstance(id, str):
        raise CrmError(f"{_FN}: 'id' must be the name of the record id column, found {id!r}")
    prep = _fields._prepare([(pl.DataFrame(schema=polars_schema(sdf)), id, "df")], fields, region, _FN)
    row = sdf.agg(F.count(F.lit(1)).alias("n"), F.count(F.col(id)).alias("nn"), F.countDistinct(F.col(id)).alias("d")).collect()[0]
    n, nn, d = int(row["n"]), int(row["nn"]), int(row["d"])
    if nn < n:
        raise SchemaError(
            f"{_FN}: column '{id}' in 'df' holds {n - nn} null/NaN value(s) of {n}; a key column must be complete. "
            f"Drop or fill them first (for example df.drop_nulls('{id}'))."
        )
    if d < n:
        raise SchemaError(f"{_FN}: column '{id}' in 'df' must hold unique ids, found {n - d} duplicated row(s)")
    return dict(prep.fields)


def dedupe_model(
    sdf: Any,
    id: str,
    fields: Optional[Mapping[str, str]] = None,
    blocking: Optional[Sequence[Any]] = None,
    *,
    region: str = "CN",
    training_pairs: Optional[pl.DataFrame] = None,
    max_pairs_per_key: Optional[int] = None,
    term_frequency: bool = True,
    seed: int = 42,
    train_sample: int = 200_000,
) -> str:
    """The Fellegi-Sunter model (JSON) that :func:`dedupe` trains on the driver: the
    single-machine code on all records, or on a uniform sample of ``train_sample``
    records when there are more. Pass it back with ``dedupe(..., model=...)`` to score
    further data with the same model.

    >>> model = crmkit.spark.dedupe_model(customers_sdf, id="record_id")  # doctest: +SKIP
    """
    _pyspark()
    require_spark_frame(sdf, function=_FN, argument="sdf")
    fields = _validate(sdf, id, fields, region)
    return _train(sdf, id, fields, blocking, region, training_pairs, max_pairs_per_key, term_frequency, seed,
                  train_sample, sdf.count())


def _train(sdf: Any, id: str, fields: dict[str, Any], blocking: Optional[Sequence[Any]], region: str,
           training_pairs: Optional[pl.DataFrame], max_pairs_per_key: Optional[int], term_frequency: bool, seed: int,
           train_sample: int, n: int) -> str:

    data = sdf.select(id, *fields)
    if n > train_sample:
        data = data.sample(fraction=min(1.0, 1.05 * train_sample / n), seed=seed).limit(train_sample)
    sample = to_polars(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the full data's blocking warnings are given once, by dedupe
        _, _, scored, model, _ = _pairs._run(sample, id, fields, blocking, region, training_pairs, max_pairs_per_key, seed,
                                         term_frequency, _FN)
    if model is None or scored is None:
        raise CrmError(f"{_FN}: the training sample has no candidate pairs to fit the model on; pass model=... or more data")
    return json.dumps(model)


def dedupe(
    sdf: Any,
    id: str,
    fields: Optional[Mapping[str, str]] = None,
    blocking: Optional[Sequence[Any]] = None,
    threshold: Optional[float] = None,
    *,
    region: str = "CN",
    training_pairs: Optional[pl.DataFrame] = None,
    max_pairs_per_key: Optional[int] = None,
    max_cluster_size: int = 50,
    strong_link: float = 0.6,
    term_frequency: bool = True,
    seed: int = 42,
    model: Union[None, str, dict[str, Any]] = None,
    train_sample: int = 200_000,
    salt_above: int = 10_000,
    driver_max_edges: int = 5_000_000,
    max_iterations: int = 50,
) -> Any:
    """:func:`crmkit.dedupe` on a Spark DataFrame: one row per record with ``id``,
    ``entity_id`` and ``match_probability`` (of the record's best candidate link; null
    without one). Same arguments as on one machine; ``entity_id`` is the smallest id of
    the entity's records (Spark rows have no input order to take the first from).

    Spark-only arguments: ``model`` (a model's JSON from :func:`dedupe_model`; default:
    trained on the driver from ``train_sample`` records), ``salt_above`` (blocks with
    more records are salted), ``driver_max_edges`` (links clustered on the driver up to
    this many; beyond, connected components in Spark, at most ``max_iterations``
    rounds). See the module notes for the steps.

    >>> entities = crmkit.spark.dedupe(customers_sdf, id="record_id")  # doctest: +SKIP
    """
    from pyspark.sql import Window  # noqa: F401
    from pyspark.sql import functions as F

    from crmkit import _core

    _pyspark()
    require_spark_frame(sdf, function=_FN, argument="sdf")
    thr = _check_args(threshold, max_cluster_size, strong_link)
    for name, v in (("train_sample", train_sample), ("salt_above", salt_above), ("max_iterations", max_iterations)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise CrmError(f"{_FN}: '{name}' must be an integer >= 1, found {v!r}")
    fields = _validate(sdf, id, fields, region)
    names = list(fields)
    kinds = [fields[c] for c in names]
    nf = len(names)
    spark = session_of(sdf)
    id_dtype = polars_schema(sdf)[id]
    _core.check_phone_region(region)

    # 1. prepared fields (and their compared text for term frequencies)
    ready = {id: id_dtype, **{f"_f{j}": pl.String for j in range(nf)}}
    if term_frequency:
        ready.update({f"_p{j}": pl.String for j in range(nf)})
    # Plans are cut at each stage (localCheckpoint): the rules' joins would otherwise
    # repeat the whole lineage many times over.
    rec = _cut(map_rows(sdf.select(id, *names), _prep_part, ready,
                        kwargs=dict(id=id, fields=fields, region=region, tf=term_frequency)))
    n = rec.count()
    if n == 0:
        return from_polars(spark, pl.DataFrame(schema={id: id_dtype, "entity_id": id_dtype, "match_probability": pl.Float64}))

    # 2. blocking rules and keys
    user = blocking is not None
    if blocking is None:
        aggs = []
        for j in range(nf):
            aggs += [F.countDistinct(F.col(f"_f{j}")).alias(f"d{j}"), F.max(F.col(f"_f{j}").isNull().cast("int")).alias(f"z{j}")]
        row = rec.agg(*aggs).collect()[0]
        distinct = {c: int(row[f"d{j}"]) + int(row[f"z{j}"] or 0) for j, c in enumerate(names)}
        rules: list[Any] = _fields._default_rules(fields, distinct)
    else:
        if isinstance(blocking, (str, pl.Expr)):
            blocking = [blocking]
        rules = [[r] if isinstance(r, (str, pl.Expr)) else list(r) for r in blocking]
        if not rules:
            raise CrmError(f"{_FN}: 'blocking' is empty; pass None for the default keys")
    specs: dict[str, Any] = {}
    rule_labels: list[list[str]] = []
    for rule in rules:
        labs = []
        for spec in rule:
            _, lbl = _fields._key_expr(spec, fields, _FN)  # checks the spec on the driver
            specs.setdefault(lbl, spec)
            if lbl not in labs:
                labs.append(lbl)
        rule_labels.append(labs)
    keyname = {lbl: f"_k{i}" for i, lbl in enumerate(specs)}
    keyed = map_rows(rec, _keys_part, {**ready, **{keyname[lbl]: pl.String for lbl in specs}},
                     kwargs=dict(fields=fields, specs=list(specs.values())))
    if term_frequency:
        # Term frequency of each compared value among the distinct records, as the
        # kernel counts them on one machine: one counting job for all fields.
        distinct_recs = keyed.dropDuplicates([f"_f{j}" for j in range(nf)])
        long = reduce(lambda a, b: a.unionByName(b), [
            distinct_recs.select(F.lit(j).alias("_j"), F.col(f"_p{j}").alias("_p")).filter(F.col("_p").isNotNull())
            for j in range(nf)])
        counts = _cut(long.groupBy("_j", "_p").agg(F.count(F.lit(1)).alias("_c")))
        totals = {int(r["_j"]): int(r["t"]) for r in counts.groupBy("_j").agg(F.sum("_c").alias("t")).collect()}
        for j in range(nf):
            tf_j = counts.filter(F.col("_j") == j).select(F.col("_p").alias(f"_p{j}"),
                                                           (F.col("_c") / F.lit(float(totals.get(j, 1) or 1))).alias(f"_t{j}"))
            keyed = keyed.join(tf_j, on=f"_p{j}", how="left").drop(f"_p{j}")
    keyed = _cut(keyed)
    rule_cols = [[keyname[lbl] for lbl in labs] for labs in rule_labels]

    # 3. pair counts per rule (one job), caps for broad default keys
    limit = max_pairs_per_key if max_pairs_per_key is not None else max(2_000_000, 20 * n)
    sizes = []
    for k, cols in enumerate(rule_cols):
        blocks = keyed.filter(reduce(lambda a, b: a & b, [F.col(c).isNotNull() for c in cols])).groupBy(*cols).agg(
            F.count(F.lit(1)).alias("_len"))
        sizes.append(blocks.agg((F.sum(F.col("_len") * (F.col("_len") - 1) / 2)).cast("long").alias("pairs"),
                                F.max("_len").alias("max_block")).withColumn("k", F.lit(k)))
    size_rows = {int(r["k"]): r for r in reduce(lambda a, b: a.unionByName(b), sizes).collect()}
    counts = [int(size_rows[k]["pairs"] or 0) for k in range(len(rule_cols))]
    max_block = [int(size_rows[k]["max_block"] or 0) for k in range(len(rule_cols))]
    budget = min(limit, max(n, 1000))
    caps: dict[int, int] = {}
    for k, cols in enumerate(rule_cols):
        if counts[k] <= limit or user:
            continue
        hist = to_polars(
            keyed.filter(reduce(lambda a, b: a & b, [F.col(c).isNotNull() for c in cols])).groupBy(*cols)
            .agg(F.count(F.lit(1)).alias("len")).groupBy("len").agg(F.count(F.lit(1)).alias("blocks"))
        )
        sz = hist.filter(pl.col("len") >= 2).sort("len").with_columns(
            (pl.col("blocks").cast(pl.Int64) * pl.col("len") * (pl.col("len") - 1) // 2).cum_sum().alias("cum"))
        fit = sz.filter(pl.col("cum") <= budget)
        if fit.height:
            caps[k] = int(fit["len"][-1])
            counts[k] = int(fit["cum"][-1])
            max_block[k] = caps[k]
    used: list[int] = []
    for k, (labs, n_pairs) in enumerate(zip(rule_labels, counts)):
        label = " & ".join(labs)
        if k in caps:
            warnings.warn(
                f"{_FN}: blocking key '{label}' would produce more than {limit:,} candidate pairs "
                f"(max_pairs_per_key); it is restricted to values shared by at most {caps[k]:,} records "
                f"({n_pairs:,} pairs); records sharing a more common value are paired by the keys that add another field",
                stacklevel=2,
            )
        if n_pairs > limit:
            msg = f"{_FN}: blocking key '{label}' would produce {n_pairs:,} candidate pairs (limit {limit:,}, max_pairs_per_key); "
            if user:
                raise TooLargeError(msg + "use a more selective key (combine it with another field) or raise max_pairs_per_key")
            warnings.warn(msg + "this default key was skipped", stacklevel=2)
            continue
        if n_pairs:
            used.append(k)
    if not used and any(c > limit for c in counts):
        raise TooLargeError(f"{_FN}: every blocking key exceeds the pair limit; pass more selective blocking keys")
    # Records in a block within a capped key's limit.
    for k, cap in caps.items():
        cols = rule_cols[k]
        ok = keyed.groupBy(*cols).agg(F.count(F.lit(1)).alias("_len")).filter(F.col("_len") <= cap).select(
            *cols, F.lit(True).alias(f"_in{k}"))
        keyed = keyed.join(ok, on=cols, how="left")

    if caps:
        keyed = _cut(keyed)

    # 4. candidate pairs: one equi-join per rule, later rules without earlier pairs
    def produced(k: int, left: Any, right: Any) -> Any:
        cond = reduce(lambda a, b: a & b, [F.coalesce(left[c] == right[c], F.lit(False)) for c in rule_cols[k]])
        if k in caps:
            cond = cond & F.coalesce(left[f"_in{k}"], F.lit(False))
        return cond

    key_cols = sorted({c for k in used for c in rule_cols[k]} | {f"_in{k}" for k in caps if k in used})
    side = keyed.select(id, *key_cols)
    pair_frames = []
    for pos, k in enumerate(used):
        cols = rule_cols[k]
        base = side.filter(reduce(lambda a, b: a & b, [F.col(c).isNotNull() for c in cols]))
        if k in caps:
            base = base.filter(F.coalesce(F.col(f"_in{k}"), F.lit(False)))
        salts = max(1, min(64, math.ceil(max_block[k] / salt_above))) if max_block[k] > salt_above else 1
        if salts > 1:
            bl = base.groupBy(*cols).agg(F.count(F.lit(1)).alias("_len"))
            base = base.join(bl, on=cols)
            hot = F.col("_len") > salt_above
            left = base.withColumn("_salt", F.when(hot, F.pmod(F.hash(F.col(id)), F.lit(salts))).otherwise(F.lit(0)))
            right = base.withColumn("_salt", F.explode(F.when(hot, F.sequence(F.lit(0), F.lit(salts - 1))).otherwise(F.array(F.lit(0)))))
            join_cols = [*cols, "_salt"]
        else:
            left, right, join_cols = base, base, list(cols)
        lf, rt = left.alias("a"), right.alias("b")
        cond = [F.col(f"a.{c}") == F.col(f"b.{c}") for c in join_cols] + [F.col(f"a.{id}") < F.col(f"b.{id}")]
        joined = lf.join(rt, on=reduce(lambda x, y: x & y, cond))
        a_cols = {c: F.col(f"a.{c}") for c in key_cols}
        b_cols = {c: F.col(f"b.{c}") for c in key_cols}
        for earlier in used[:pos]:
            joined = joined.filter(~produced(earlier, a_cols, b_cols))
        pair_frames.append(joined.select(F.col(f"a.{id}").alias("l"), F.col(f"b.{id}").alias("r")))
    if not pair_frames:
        pairs = None
    else:
        pairs = _cut(reduce(lambda a, b: a.unionByName(b), pair_frames))

    # 5. the model (driver) and the scores (per partition, in Rust)
    if model is None:
        model_json = _train(sdf, id, fields, blocking, region, training_pairs, max_pairs_per_key, term_frequency, seed,
                            train_sample, n)
    elif isinstance(model, dict):
        model_json = json.dumps(model)
    elif isinstance(model, str):
        model_json = model
    else:
        raise CrmError(f"{_FN}: 'model' must be the JSON text (or dict) of a dedupe model, found {type(model).__name__}")
    try:
        doc = json.loads(model_json)
    except ValueError:
        raise CrmError(f"{_FN}: 'model' is not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("fields") != names or doc.get("kinds") != kinds:
        raise CrmError(f"{_FN}: the model was trained on fields {doc.get('fields') if isinstance(doc, dict) else None}, "
                       f"kinds {doc.get('kinds') if isinstance(doc, dict) else None}; these data compare {names}, {kinds}")
    values = keyed.select(id, *[f"_f{j}" for j in range(nf)], *([f"_t{j}" for j in range(nf)] if term_frequency else []))
    records = keyed.select(id)
    if pairs is None:
        return from_polars(spark, pl.DataFrame(schema={id: id_dtype, "entity_id": id_dtype,
                                                       "match_probability": pl.Float64})) if n == 0 else records.select(
            F.col(id), F.col(id).alias("entity_id"), F.lit(None).cast("double").alias("match_probability"))
    lv = values.select(F.col(id).alias("l"), *[F.col(c).alias(f"{c}_l") for c in values.columns if c != id])
    rv = values.select(F.col(id).alias("r"), *[F.col(f"_f{j}").alias(f"_f{j}_r") for j in range(nf)])
    wide = pairs.join(lv, on="l").join(rv, on="r")
    strong_fields = [j for j, c in enumerate(names) if fields[c] in ("name", "phone", "email")]
    scored = map_rows(wide, _score_part, {"l": id_dtype, "r": id_dtype, "match_weight": pl.Float64,
                                          "match_probability": pl.Float64},
                      kwargs=dict(model_json=model_json, kinds=kinds, strong_fields=strong_fields, tf=term_frequency))
    scored = _cut(scored)

    # 6. clusters
    best = scored.select(F.col("l").alias(id), "match_probability").unionByName(
        scored.select(F.col("r").alias(id), "match_probability")).groupBy(id).agg(F.max("match_probability").alias("_best"))
    edges = scored.filter(F.col("match_probability") >= F.lit(thr)).select("l", "r", "match_probability")
    n_edges = edges.count()
    if n_edges <= driver_max_edges:
        e = to_polars(edges)
        ids = pl.concat([e["l"], e["r"]]).unique().sort()
        index = pl.DataFrame({"_id": ids, "_i": pl.int_range(0, ids.len(), dtype=pl.UInt32, eager=True)})
        el = e.join(index.rename({"_id": "l", "_i": "li"}), on="l").join(index.rename({"_id": "r", "_i": "ri"}), on="r")
        entity, _best, _links, n_refused, _ = _core.dedupe_cluster(
            ids.len(), el["li"], el["ri"], el["match_probability"], thr, max_cluster_size, float(strong_link))
        if n_refused:
            warnings.warn(
                f"{_FN}: {n_refused} link(s) above the threshold were refused because they would chain more "
                f"than max_cluster_size={max_cluster_size} records into one entity",
                stacklevel=2,
            )
        ent = pl.DataFrame({id: ids, "entity_id": ids.gather(entity)})
        ent_sdf = from_polars(spark, ent)
    else:
        warnings.warn(
            f"{_FN}: {n_edges:,} links exceed driver_max_edges={driver_max_edges:,}; entities are the connected "
            f"components of the links, found in Spark (without the single-machine strong_link and "
            f"max_cluster_size guards)", stacklevel=2)
        ent_sdf = _components(edges.select("l", "r"), id, max_iterations)
    out = records.join(ent_sdf, on=id, how="left").join(best, on=id, how="left").select(
        F.col(id), F.coalesce(F.col("entity_id"), F.col(id)).alias("entity_id"), F.col("_best").alias("match_probability"))
    return out


def _cut(sdf: Any) -> Any:
    """The frame computed now, with its plan cut (iterations would otherwise nest)."""
    return sdf.localCheckpoint(eager=True)


def _components(edges: Any, id: str, max_iterations: int) -> Any:
    """Connected components by iterative min-label propagation, as splink does: every
    node takes the smallest label among itself and its neighbours until no label
    changes (rounds grow with the longest chain, not with the data)."""
    from pyspark.sql import functions as F

    both = _cut(edges.select(F.col("l").alias("a"), F.col("r").alias("b")).unionByName(
        edges.select(F.col("r").alias("a"), F.col("l").alias("b"))))
    labels = _cut(both.groupBy("a").agg(F.least(F.col("a"), F.min("b")).alias("label")).withColumnRenamed("a", "node"))
    for _ in range(max_iterations):
        # Each node's new label: the smallest label among its neighbours and its own.
        proposed = both.join(labels.withColumnRenamed("node", "b"), on="b").groupBy("a").agg(F.min("label").alias("_m"))
        new = _cut(labels.join(proposed.withColumnRenamed("a", "node"), on="node", how="left").select(
            "node", F.least(F.col("label"), F.coalesce(F.col("_m"), F.col("label"))).alias("label")))
        changed = new.join(labels.withColumnRenamed("label", "_old"), on="node").filter(F.col("label") != F.col("_old")).count()
        labels = new
        if changed == 0:
            break
    else:
        raise CrmError(f"{_FN}: connected components did not settle in {max_iterations} rounds; raise max_iterations")
    return labels.select(F.col("node").alias(id), F.col("label").alias("entity_id"))
