"""Candidate pairs from the blocking rules, their Fellegi–Sunter scores and the pairs table."""

from __future__ import annotations

import json
import warnings
from typing import Any, Mapping, Optional, Sequence, Union

import polars as pl

from crmkit import _core, _interrupt
from crmkit._validate import as_frame, require_columns
from crmkit.dedupe._fields import DEFAULT_THRESHOLD, Blocking, _default_rules, _key_expr, _prepare, _Prepared
from crmkit.errors import CrmError, TooLargeError


def _candidate_pairs(prep: _Prepared, blocking: Optional[Sequence[Blocking]], max_pairs_per_key: Optional[int], function: str) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    fields = prep.fields
    n = prep.reps.height
    user = blocking is not None
    if blocking is None:
        distinct = dict(zip(fields, _interrupt.collect(prep.reps.lazy().select([pl.col(f"_f{j}").n_unique() for j in range(len(fields))])).row(0)))
        rules: list[Sequence[Union[str, pl.Expr]]] = list(_default_rules(fields, distinct))
    else:
        if isinstance(blocking, (str, pl.Expr)):
            blocking = [blocking]
        rules = [[r] if isinstance(r, (str, pl.Expr)) else list(r) for r in blocking]
        if not rules:
            raise CrmError(f"{function}: 'blocking' is empty; pass None for the default keys")
    limit = max_pairs_per_key if max_pairs_per_key is not None else max(2_000_000, 20 * n)
    linking = prep.n_left is not None
    # Every key column is computed once; the keys' pair counts, then the pairs of the
    # keys within the limit, are each collected in one parallel polars query.
    specs: dict[str, pl.Expr] = {}
    rule_labels: list[list[str]] = []
    for rule in rules:
        labs = []
        for spec in rule:
            e, lbl = _key_expr(spec, fields, function)
            specs.setdefault(lbl, e)
            if lbl not in labs:
                labs.append(lbl)
        rule_labels.append(labs)
    keyname = {lbl: f"_k{i}" for i, lbl in enumerate(specs)}
    side = ["_side"] if linking else []
    base = _interrupt.collect(prep.reps.lazy().select(["_r", *side, *[e.alias(keyname[lbl]) for lbl, e in specs.items()]])).lazy()
    keyed_q = []
    size_q = []
    for labs in rule_labels:
        cols = [keyname[lbl] for lbl in labs]
        keyed = base.select("_r", *side, *cols).drop_nulls(cols)
        keyed_q.append((keyed, cols))
        if linking:
            q = keyed.group_by(cols).agg((pl.col("_side") == 0).sum().alias("a"), (pl.col("_side") == 1).sum().alias("b"))
            q = q.select((pl.col("a").cast(pl.Int64) * pl.col("b")).sum().alias("n"))
        else:
            q = keyed.group_by(cols).len().select((pl.col("len").cast(pl.Int64) * (pl.col("len") - 1) // 2).sum().alias("n"))
        size_q.append(q)
    counts = [int(f["n"][0] or 0) for f in _interrupt.collect_all(size_q)]
    # A default key over the limit keeps its rare values: the blocks of at most `cap`
    # records, the largest cap whose pairs stay within one pair per record (a key
    # broader than that pairs mostly different people sharing a value). The pairs of a
    # common value (a popular name) are left to the keys that combine it with a second
    # field, since agreeing on that value alone says little; a rare one says a lot.
    budget = min(limit, max(n, 1000))
    caps: dict[int, int] = {}
    over = [k for k, c in enumerate(counts) if c > limit and not user]
    if over:
        sizes = _interrupt.collect_all(
            [keyed_q[k][0].group_by(keyed_q[k][1]).len().group_by("len").agg(pl.len().alias("blocks")) for k in over]
        )
        for k, sz in zip(over, sizes):
            if linking:
                continue  # cross-source blocks are not sized by one count
            sz = sz.filter(pl.col("len") >= 2).sort("len").with_columns(
                (pl.col("blocks").cast(pl.Int64) * pl.col("len") * (pl.col("len") - 1) // 2).cum_sum().alias("cum")
            )
            fit = sz.filter(pl.col("cum") <= budget)
            if fit.height:
                caps[k] = int(fit["len"][-1])
                counts[k] = int(fit["cum"][-1])
    pair_q = []
    session_rules: list[Optional[list[str]]] = []
    report = []
    for k, (rule, labs, (keyed, cols), n_pairs) in enumerate(zip(rules, rule_labels, keyed_q, counts)):
        label = " & ".join(labs)
        entry = {"rule": label, "pairs": n_pairs, "used": n_pairs <= limit}
        if k in caps:
            entry["max_block"] = caps[k]
            warnings.warn(
                f"{function}: blocking key '{label}' would produce more than {limit:,} candidate pairs "
                f"(max_pairs_per_key); it is restricted to values shared by at most {caps[k]:,} records "
                f"({n_pairs:,} pairs); records sharing a more common value are paired by the keys that add another field",
                stacklevel=3,
            )
            keyed = keyed.join(keyed.group_by(cols).len().filter(pl.col("len") <= caps[k]).select(cols), on=cols, how="semi")
        report.append(entry)
        if n_pairs > limit:
            msg = (
                f"{function}: blocking key '{label}' would produce {n_pairs:,} candidate pairs "
                f"(limit {limit:,}, max_pairs_per_key); "
            )
            if user:
                raise TooLargeError(msg + "use a more selective key (combine it with another field) or raise max_pairs_per_key")
            warnings.warn(msg + "this default key was skipped", stacklevel=3)
            continue
        if n_pairs == 0:
            continue
        # A broad key (more candidate pairs than records) mostly pairs different people
        # who share a common value (a common name): its pairs are scored, but the model
        # is trained on the pairs of selective keys, where people rather than popular
        # values are what the pairs have in common.
        is_broad = n_pairs > max(n, 1000)
        broad = pl.lit(is_broad, dtype=pl.Boolean).alias("_broad")
        if linking:
            a = keyed.filter(pl.col("_side") == 0).select("_r", *cols)
            b = keyed.filter(pl.col("_side") == 1).select(pl.col("_r").alias("_r_b"), *cols)
            pair_q.append(a.join(b, on=cols).select(pl.col("_r").alias("l"), pl.col("_r_b").alias("r"), broad))
        else:
            kk = keyed.select("_r", *cols)
            pair_q.append(
                kk.join(kk.rename({"_r": "_r_b"}), on=cols).filter(pl.col("_r") < pl.col("_r_b")).select(pl.col("_r").alias("l"), pl.col("_r_b").alias("r"), broad)
            )
        names_only = [x for x in rule if isinstance(x, str)]
        session_rules.append(names_only if len(names_only) == len(rule) else None)
    frames = _interrupt.collect_all(pair_q) if pair_q else []
    if not any(e["used"] for e in report):
        raise TooLargeError(f"{function}: every blocking key exceeds the pair limit ({report}); pass more selective blocking keys")
    if frames:
        # Training pairs (from at least one selective key) first, then the rest.
        pairs = _interrupt.collect(pl.concat([f.lazy() for f in frames]).group_by("l", "r").agg(pl.col("_broad").all()).sort("_broad", "l", "r"))
        if not (~pairs["_broad"]).any():
            pairs = pairs.with_columns(pl.lit(False).alias("_broad"))
    else:
        pairs = pl.DataFrame({"l": [], "r": [], "_broad": []}, schema={"l": pl.UInt32, "r": pl.UInt32, "_broad": pl.Boolean})
    pairs = pairs.with_columns(pl.col("l").cast(pl.UInt32), pl.col("r").cast(pl.UInt32))
    # Each selective key over named fields is an EM session with its own fields masked;
    # a session is given as the positions of its pairs among the candidate pairs.
    names_idx = {c: j for j, c in enumerate(fields)}
    positions = pairs.lazy().select("l", "r").with_row_index("_p")
    session_q = []
    for session_rule, frame in zip(session_rules, frames):
        if session_rule is not None and frame.height and not frame["_broad"][0]:
            at = frame.lazy().select(pl.col("l").cast(pl.UInt32), pl.col("r").cast(pl.UInt32)).join(positions, on=["l", "r"]).select(pl.col("_p").cast(pl.UInt32))
            session_q.append((at, sorted({names_idx[c] for c in session_rule})))
    at_frames = _interrupt.collect_all([q for q, _ in session_q]) if session_q else []
    prep.sessions = [(f["_p"], fields_masked) for f, (_, fields_masked) in zip(at_frames, session_q)]
    return pairs, report


def _score(prep: _Prepared, pairs: pl.DataFrame, training_pairs: Optional[tuple[pl.Series, pl.Series]], seed: int, term_frequency: bool) -> tuple[pl.DataFrame, dict[str, Any]]:
    names = list(prep.fields)
    # Identical records: a self pair per group of identical rows, scored but not trained on.
    counts = prep.row_rep.value_counts()
    multi = counts.filter(pl.col("count") > 1)[prep.row_rep.name].cast(pl.UInt32).sort()
    left = pl.concat([pairs["l"], multi])
    right = pl.concat([pairs["r"], multi])
    cols = [prep.reps[f"_f{j}"] for j in range(len(names))]
    kinds = [prep.fields[c] for c in names]
    tl, tr = training_pairs if training_pairs is not None else (None, None)
    # Random pairs estimate u (agreement among non-matches): two per record, at least
    # 20k and at most 200k, is plenty for level shares of 1e-3 and up.
    n_random = int(min(200_000, max(20_000, prep.reps.height * 2)))
    scored, model_json = _core.dedupe_score(
        cols, names, kinds, [term_frequency] * len(names), left, right, int((~pairs["_broad"]).sum()) if "_broad" in pairs.columns else pairs.height,
        n_left=prep.n_left, labelled_left=tl, labelled_right=tr, n_random=n_random, seed=seed,
        sessions=prep.sessions or None,
    )
    scored = scored.with_columns(left.alias("l"), right.alias("r"))
    # Exact duplicates (every compared field equal, nulls included) are the same record
    # entered twice: they merge with probability 1 when they share at least one
    # identifying value (name, phone or e-mail), or two values of any kind.
    ident = [f"_f{j}" for j, c in enumerate(names) if prep.fields[c] in ("name", "phone", "email")]
    strong = prep.reps.select(
        (pl.any_horizontal([pl.col(c).is_not_null() for c in ident]) if ident else pl.lit(False))
        | (pl.sum_horizontal([pl.col(f"_f{j}").is_not_null().cast(pl.Int32) for j in range(len(names))]) >= 2)
    ).to_series()
    is_self = pl.int_range(0, scored.height, eager=True) >= pairs.height
    scored = scored.with_columns(
        pl.when(pl.lit(is_self) & pl.lit(strong.gather(scored["l"])))
        .then(1.0)
        .otherwise(pl.col("match_probability"))
        .alias("match_probability")
    )
    return scored, json.loads(model_json)


def _training(prep: _Prepared, training_pairs: Optional[pl.DataFrame], ids: pl.Series, function: str) -> Optional[tuple[pl.Series, pl.Series]]:
    if training_pairs is None:
        return None
    tp = as_frame(training_pairs, argument="training_pairs")
    require_columns(tp, {"id_l": "id", "id_r": "id"}, function=function, argument="training_pairs")
    if "is_match" in tp.columns:
        tp = tp.filter(pl.col("is_match"))
    lookup = pl.DataFrame({"_id": ids, "_r": prep.row_rep.cast(pl.UInt32)})
    t = tp.join(lookup.rename({"_id": "id_l", "_r": "l"}), on="id_l", how="inner").join(lookup.rename({"_id": "id_r", "_r": "r"}), on="id_r", how="inner")
    if t.height == 0:
        raise CrmError(f"{function}: no labelled matching pair in training_pairs refers to ids of the data")
    return t["l"], t["r"]


def _pairs_table(prep: _Prepared, scored: pl.DataFrame, rep_ids: tuple[pl.Series, pl.Series], id_names: tuple[str, str], originals: tuple[pl.DataFrame, pl.DataFrame]) -> pl.DataFrame:
    names = list(prep.fields)
    out = scored.select(
        pl.col("l").alias("_l"),
        pl.col("r").alias("_r"),
        "match_probability",
        "match_weight",
        *[pl.col(f"level_{j}").alias(f"{c}_level") for j, c in enumerate(names)],
        *[pl.col(f"weight_{j}").alias(f"{c}_weight") for j, c in enumerate(names)],
    )
    lid, rid = rep_ids
    out = out.with_columns(lid.gather(out["_l"]).alias(id_names[0]), rid.gather(out["_r"]).alias(id_names[1]))
    lo, ro = originals
    out = out.join(lo.select(pl.col(lo.columns[0]).alias(id_names[0]), *[pl.col(c).alias(f"{c}_l") for c in names]), on=id_names[0], how="left")
    out = out.join(ro.select(pl.col(ro.columns[0]).alias(id_names[1]), *[pl.col(c).alias(f"{c}_r") for c in names]), on=id_names[1], how="left")
    value_cols = [x for c in names for x in (f"{c}_l", f"{c}_r", f"{c}_level", f"{c}_weight")]
    return out.select(id_names[0], id_names[1], "match_probability", "match_weight", *value_cols).sort("match_probability", id_names[0], id_names[1], descending=[True, False, False])


def _check_threshold(threshold: Optional[float], function: str) -> float:
    if threshold is None:
        return DEFAULT_THRESHOLD
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not (0.0 < float(threshold) < 1.0):
        raise CrmError(f"{function}: 'threshold' must be a probability strictly between 0 and 1, found {threshold!r}")
    return float(threshold)


def _run(df: Any, id: str, fields: Optional[Mapping[str, str]], blocking: Optional[Sequence[Blocking]], region: str,
         training_pairs: Optional[pl.DataFrame], max_pairs_per_key: Optional[int], seed: int, term_frequency: bool,
         function: str) -> tuple[pl.DataFrame, _Prepared, Optional[pl.DataFrame], Optional[dict[str, Any]], list[dict[str, Any]]]:
    frame = as_frame(df, argument="df")
    if not isinstance(id, str):
        raise CrmError(f"{function}: 'id' must be the name of the record id column, found {id!r}")
    prep = _interrupt.run(_prepare, [(frame, id, "df")], fields, region, function)
    ids = frame[id]
    if frame.height == 0:
        return frame, prep, None, None, []
    pairs, report = _candidate_pairs(prep, blocking, max_pairs_per_key, function) if prep.reps.height > 1 else (pl.DataFrame({"l": [], "r": []}, schema={"l": pl.UInt32, "r": pl.UInt32}), [])
    tp = _training(prep, training_pairs, ids, function)
    scored, model = _score(prep, pairs, tp, seed, term_frequency)
    return frame, prep, scored, model, report
