"""dedupe, dedupe_pairs and link: records to entities, scored pairs, two tables linked."""

from __future__ import annotations

import warnings
from typing import Any, Mapping, Optional, Sequence, Union

import polars as pl

from crmkit import _core, _interrupt
from crmkit._validate import as_frame
from crmkit.dedupe._fields import Blocking, _prepare, _Prepared, infer_fields
from crmkit.dedupe._pairs import _candidate_pairs, _check_threshold, _pairs_table, _run, _score
from crmkit.errors import CrmError


def dedupe(
    df: Union[pl.DataFrame, pl.LazyFrame],
    id: str,
    fields: Optional[Mapping[str, str]] = None,
    blocking: Optional[Sequence[Blocking]] = None,
    threshold: Optional[float] = None,
    *,
    region: str = "CN",
    training_pairs: Optional[pl.DataFrame] = None,
    max_pairs_per_key: Optional[int] = None,
    max_cluster_size: int = 50,
    strong_link: float = 0.6,
    term_frequency: bool = True,
    seed: int = 42,
) -> pl.DataFrame:
    """Resolves records to entities: one row per input record (same order) with ``id``,
    ``entity_id`` (the id of the entity's first record) and ``match_probability`` of
    the record's best candidate link (null when it had no candidate pair).

    ``fields`` maps column -> kind ('name', 'phone', 'email', 'date', 'address',
    'postcode', 'text', 'exact'); None infers them from column names. ``blocking`` is a
    list of keys, each a field name (names block on their sound/pinyin key) or a list
    of them (all must agree) or a polars expression over the prepared fields; None
    chooses keys from the fields; a default key that would exceed ``max_pairs_per_key``
    candidate pairs (default max(2M, 20 per record)) keeps, with a warning, only its rare
    values (those whose pairs total at most one per record; records sharing a common
    value are paired by the keys that add a second field), or is skipped when none is
    rare enough; an explicit key over the limit raises TooLargeError. ``threshold`` is the match probability
    above which a pair links (default ``DEFAULT_THRESHOLD``, 0.5). ``training_pairs`` (columns id_l, id_r and
    optionally a boolean is_match) estimates the m-probabilities from labelled matches
    instead of EM. Links are applied strongest first, and two rules keep one
    coincidence from merging two people: a link with probability below
    ``strong_link`` that would join two groups into an entity of three or more
    records needs a second link between the two groups (one person's records link to
    one another many times over; two people link through one weak coincidence;
    ``strong_link=threshold`` gives plain connected components), and entities never
    exceed ``max_cluster_size`` records.

    >>> import polars as pl, crmkit
    >>> df = pl.DataFrame({"id": ["a", "b", "c"], "name": ["Anna Smith", "anna  smith", "Bob Jones"],
    ...                    "email": ["anna@x.com", "ANNA@x.com", "bob@y.org"]})
    >>> crmkit.dedupe(df, id="id").select("id", "entity_id").rows()
    [('a', 'a'), ('b', 'a'), ('c', 'c')]
    """
    function = "crmkit.dedupe"
    thr = _check_threshold(threshold, function)
    if isinstance(max_cluster_size, bool) or not isinstance(max_cluster_size, int) or max_cluster_size < 2:
        raise CrmError(f"{function}: 'max_cluster_size' must be an integer >= 2, found {max_cluster_size!r}")
    if isinstance(strong_link, bool) or not isinstance(strong_link, (int, float)) or not 0 <= strong_link <= 1:
        raise CrmError(f"{function}: 'strong_link' must be a probability between 0 and 1, found {strong_link!r}")
    frame, prep, scored, model, report = _run(df, id, fields, blocking, region, training_pairs, max_pairs_per_key, seed, term_frequency, function)
    ids = frame[id]
    if scored is None:
        return pl.DataFrame({id: ids, "entity_id": ids, "match_probability": pl.Series([], dtype=pl.Float64)})
    n_pairs = scored.height - int((scored["l"] == scored["r"]).sum())
    pair_part = scored.head(n_pairs)
    self_part = scored.slice(n_pairs)
    n = prep.reps.height
    entity, best, _n_links, n_refused, _n_unsupported = _core.dedupe_cluster(
        n, pair_part["l"], pair_part["r"], pair_part["match_probability"], thr, max_cluster_size, float(strong_link)
    )
    if n_refused:
        warnings.warn(
            f"{function}: {n_refused} link(s) above the threshold were refused because they would chain more "
            f"than max_cluster_size={max_cluster_size} records into one entity",
            stacklevel=2,
        )
    # Per input row: representative, its entity, best probability (joins over every
    # input row: on a worker, so Ctrl-C is felt).
    def entities() -> pl.DataFrame:
        rep_first_row = prep.reps["_first"]
        rows = pl.DataFrame({"_rep": prep.row_rep.cast(pl.UInt32)}).with_row_index("_row")
        rep_tbl = pl.DataFrame(
            {
                "_rep": pl.int_range(0, n, dtype=pl.UInt32, eager=True),
                "_ent_row": rep_first_row.gather(entity),
                "_best": best,
                "_rep_row": rep_first_row,
            }
        ).join(self_part.select(pl.col("l").cast(pl.UInt32).alias("_rep"), pl.col("match_probability").alias("_self")), on="_rep", how="left")
        t = rows.join(rep_tbl, on="_rep", how="left").sort("_row")
        # A row identical to an earlier one joins it when identical records match (self-pair
        # probability >= threshold); otherwise it stays on its own.
        same_ok = pl.col("_self") >= thr
        is_first = pl.col("_row") == pl.col("_rep_row")
        t = t.with_columns(
            pl.when(is_first | same_ok).then(pl.col("_ent_row")).otherwise(pl.col("_row")).alias("_entity_row"),
            pl.when(is_first).then(pl.max_horizontal(pl.col("_best"), pl.when(pl.col("_self").is_not_null()).then(pl.col("_self"))))
            .otherwise(pl.max_horizontal(pl.col("_self"), pl.when(same_ok).then(pl.col("_best")))).alias("_p"),
        )
        return pl.DataFrame(
            {id: ids, "entity_id": ids.gather(t["_entity_row"]), "match_probability": t["_p"]}
        )

    return _interrupt.run(entities)


def dedupe_pairs(
    df: Union[pl.DataFrame, pl.LazyFrame],
    id: str,
    fields: Optional[Mapping[str, str]] = None,
    blocking: Optional[Sequence[Blocking]] = None,
    threshold: Optional[float] = None,
    *,
    region: str = "CN",
    training_pairs: Optional[pl.DataFrame] = None,
    max_pairs_per_key: Optional[int] = None,
    term_frequency: bool = True,
    seed: int = 42,
) -> pl.DataFrame:
    """The scored candidate pairs behind :func:`dedupe`, so every merge can be explained:
    ``<id>_l``, ``<id>_r``, ``match_probability``, ``match_weight`` (log2 odds), and per
    field its two values, agreement level (0 = different, highest = exact, null = a value
    is missing) and weight (log2 Bayes factor). Pairs of identical records appear once
    per duplicate. With ``threshold``, only pairs at or above it are returned.

    >>> import polars as pl, crmkit
    >>> df = pl.DataFrame({"id": [1, 2, 3], "name": ["张伟", "张玮", "李娜"], "phone": ["13812345678", "13812345678", "13900001111"]})
    >>> p = crmkit.dedupe_pairs(df, id="id")
    >>> p.select("id_l", "id_r", "name_level", "phone_level").rows()
    [(1, 2, 3, 2)]
    """
    function = "crmkit.dedupe_pairs"
    thr = None if threshold is None else _check_threshold(threshold, function)
    frame, prep, scored, model, _ = _run(df, id, fields, blocking, region, training_pairs, max_pairs_per_key, seed, term_frequency, function)
    names = list(prep.fields)
    idl, idr = f"{id}_l", f"{id}_r"
    if scored is None:
        return _empty_pairs(frame, id, names, (idl, idr))
    rep_ids = frame[id].gather(prep.reps["_first"])
    n_pairs = scored.height - int((scored["l"] == scored["r"]).sum())
    out = _pairs_table(prep, scored.head(n_pairs), (rep_ids, rep_ids), (idl, idr), (frame.select(id, *names), frame.select(id, *names)))
    # Identical duplicates: each later copy paired with the first one.
    self_part = scored.slice(n_pairs)
    if self_part.height:
        rows = pl.DataFrame({"_rep": prep.row_rep.cast(pl.UInt32), idr: frame[id]}).with_row_index("_row")
        rows = rows.join(prep.reps.select(pl.col("_r").cast(pl.UInt32).alias("_rep"), "_first"), on="_rep").filter(pl.col("_row") != pl.col("_first"))
        rows = rows.with_columns(frame[id].gather(rows["_first"]).alias(idl))
        dup = _pairs_table(prep, self_part, (rep_ids, rep_ids), (idl, "_x"), (frame.select(id, *names), frame.select(id, *names)))
        dup = dup.drop("_x").join(rows.select(idl, idr), on=idl)
        dup = dup.join(frame.select(pl.col(id).alias(idr), *[pl.col(c).alias(f"{c}_r") for c in names]), on=idr, how="left", suffix="_new")
        dup = dup.with_columns([pl.col(f"{c}_r_new").alias(f"{c}_r") for c in names]).select(out.columns)
        out = pl.concat([out, dup.cast(out.schema)]).sort("match_probability", idl, idr, descending=[True, False, False])
    if thr is not None:
        out = out.filter(pl.col("match_probability") >= thr)
    return out


def _empty_pairs(frame: pl.DataFrame, id: str, names: list[str], id_names: tuple[str, str]) -> pl.DataFrame:
    schema: dict[str, Any] = {id_names[0]: frame.schema[id], id_names[1]: frame.schema[id], "match_probability": pl.Float64, "match_weight": pl.Float64}
    for c in names:
        schema[f"{c}_l"] = frame.schema[c]
        schema[f"{c}_r"] = frame.schema[c]
        schema[f"{c}_level"] = pl.UInt8
        schema[f"{c}_weight"] = pl.Float64
    return pl.DataFrame(schema=schema)


def link(
    left: Union[pl.DataFrame, pl.LazyFrame],
    right: Union[pl.DataFrame, pl.LazyFrame],
    left_id: str,
    right_id: str,
    fields: Optional[Mapping[str, str]] = None,
    blocking: Optional[Sequence[Blocking]] = None,
    threshold: Optional[float] = None,
    *,
    one_to_one: bool = False,
    region: str = "CN",
    max_pairs_per_key: Optional[int] = None,
    term_frequency: bool = True,
    seed: int = 42,
) -> pl.DataFrame:
    """Links the records of two sources with the same machinery as :func:`dedupe`
    (columns of ``fields`` must exist in both). Returns the matched pairs
    ``left_id``, ``right_id``, ``match_probability``, best first. With
    ``one_to_one=True`` each record is used at most once (greedy by probability), for
    two sources that are each free of duplicates.

    >>> import polars as pl, crmkit
    >>> a = pl.DataFrame({"a_id": [1, 2, 3, 4], "name": ["张伟", "李娜", "王芳", "刘洋"],
    ...                   "phone": ["13812345678", "13900001111", "13700002222", "13600003333"],
    ...                   "birth_date": ["1990-01-02", "1985-05-06", "1979-09-09", "2001-12-01"]})
    >>> b = pl.DataFrame({"b_id": [10, 20, 30], "name": ["李 娜", "陈静", "刘 洋"],
    ...                   "phone": ["+86 139 0000 1111", "13500004444", None],
    ...                   "birth_date": ["1985/5/6", "1992-02-03", "2001年12月1日"]})
    >>> crmkit.link(a, b, "a_id", "b_id").select("a_id", "b_id").rows()
    [(2, 10), (4, 30)]
    """
    function = "crmkit.link"
    thr = _check_threshold(threshold, function)
    lf = as_frame(left, argument="left")
    rf = as_frame(right, argument="right")
    if fields is None:
        fl = infer_fields(lf.columns, id=left_id)
        fields = {c: k for c, k in fl.items() if c in rf.columns}
        if not fields:
            raise CrmError(f"{function}: no comparison fields common to both sources could be inferred; pass fields={{column: kind}}")
    out_ids = (left_id, right_id) if left_id != right_id else (f"{left_id}_l", f"{right_id}_r")
    empty = pl.DataFrame(schema={out_ids[0]: lf.schema.get(left_id, pl.Int64), out_ids[1]: rf.schema.get(right_id, pl.Int64), "match_probability": pl.Float64})
    prep = _interrupt.run(_prepare, [(lf, left_id, "left"), (rf, right_id, "right")], fields, region, function)
    if lf.height == 0 or rf.height == 0 or prep.n_left in (0, prep.reps.height):
        return empty
    pairs, _ = _candidate_pairs(prep, blocking, max_pairs_per_key, function)
    # Self pairs are meaningless across sources: score only the candidate pairs.
    prep_nodup = _Prepared(reps=prep.reps, row_rep=pl.Series("_r", range(prep.reps.height), dtype=pl.UInt32), fields=prep.fields, n_rows=prep.n_rows, n_left=prep.n_left, sessions=prep.sessions)
    scored, _ = _score(prep_nodup, pairs, None, seed, term_frequency)
    matched = scored.filter(pl.col("match_probability") >= thr).select("l", "r", "match_probability")
    # Representatives -> all rows (identical rows within a source share a representative).
    rows = pl.DataFrame({"_rep": prep.row_rep.cast(pl.UInt32)}).with_row_index("_row")
    left_rows = rows.head(lf.height).with_columns(lf[left_id].alias(out_ids[0]))
    right_rows = rows.slice(lf.height).with_columns(rf[right_id].alias(out_ids[1]))
    out = matched.join(left_rows.select(pl.col("_rep").alias("l"), out_ids[0]), on="l").join(
        right_rows.select(pl.col("_rep").alias("r"), out_ids[1]), on="r"
    )
    out = out.select(out_ids[0], out_ids[1], "match_probability").sort("match_probability", out_ids[0], out_ids[1], descending=[True, False, False])
    if one_to_one and out.height:
        codes_l = out[out_ids[0]].rank("dense").cast(pl.UInt32) - 1
        codes_r = out[out_ids[1]].rank("dense").cast(pl.UInt32) - 1
        out = out.filter(_core.greedy_one_to_one(codes_l, codes_r))
    return out
