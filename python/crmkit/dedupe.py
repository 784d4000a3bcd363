"""Identity resolution: find the records of one person and give them one entity id.

The model is Fellegi–Sunter: each candidate pair gets an agreement level per field
(exact, close, different, or missing), u-probabilities come from random record pairs,
m-probabilities and the match prior from EM over the candidate pairs (unsupervised),
and exact agreement on a rare value weighs more than on a common one (term
frequencies). Candidate pairs come from a union of blocking keys (phone, e-mail, the
address without its leading province/city, name sound/pinyin keys combined with
birth date, postcode, ...); a key that would explode into too many pairs is reported
and cut to its rare values (or refused). Comparisons work by character, so Chinese
names compare correctly, with pinyin for homophones. Matched pairs are clustered
into entities: connected components, strongest links first, where a lone weak link
cannot join two groups and a size cap cuts long chains. Everything heavy runs in
Rust with the GIL released.

>>> import polars as pl, crmkit
>>> df = pl.DataFrame({"rid": [1, 2, 3, 4],
...     "name": ["张伟", "张 伟", "李娜", "王芳"],
...     "phone": ["13812345678", "+86 138 1234 5678", "13900001111", "13700002222"],
...     "birth_date": ["1990-01-02", "1990/1/2", "1985-05-06", "1979-09-09"]})
>>> crmkit.dedupe(df, id="rid").select("rid", "entity_id").rows()
[(1, 1), (2, 1), (3, 3), (4, 4)]
"""

from __future__ import annotations

import itertools
import json
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, Union

import polars as pl

from crmkit import _core, _interrupt
from crmkit import clean as _clean
from crmkit._validate import as_frame, require_columns, require_no_nulls, require_unique
from crmkit.errors import CrmError, SchemaError, TooLargeError

if TYPE_CHECKING:
    from crmkit._pipeline import StepOutput

__all__ = ["dedupe", "dedupe_pairs", "link", "golden_records", "infer_fields", "FIELD_KINDS"]

#: Match probability at which a pair links by default: the even-odds point of the model.
#: Known correlations between fields (an e-mail that spells the name, swapped name
#: fields) are modelled in the comparisons, so the probabilities are usable as they are
#: (FEBRL3/4 F1 0.999, generated customers precision and recall >= 0.98 at 100k and 1M records).
DEFAULT_THRESHOLD = 0.5

#: Field kinds the comparison engine knows.
FIELD_KINDS = ("name", "phone", "email", "date", "address", "postcode", "text", "exact")

_HINTS = [
    ("email", ("email", "e_mail", "mail", "邮箱")),
    ("phone", ("phone", "mobile", "tel", "cell", "telephone", "手机", "电话")),
    ("date", ("birth", "dob", "birthday", "birthdate", "生日", "出生")),
    ("postcode", ("postcode", "post_code", "postal", "zip", "zipcode", "邮编", "street_number", "house_number")),
    ("address", ("address", "street", "addr", "地址")),
    ("name", ("name", "surname", "given", "firstname", "lastname", "姓名", "名字")),
    ("exact", ("gender", "sex", "性别")),
    ("text", ("city", "suburb", "state", "province", "district", "county", "town", "country", "城市", "省", "区")),
]

_GENDER = {"男": "m", "male": "m", "先生": "m", "man": "m", "女": "f", "female": "f", "女士": "f", "woman": "f", "小姐": "f"}

Blocking = Union[str, pl.Expr, Sequence[Union[str, pl.Expr]]]


def infer_fields(columns: Sequence[str], id: Optional[str] = None) -> dict[str, str]:
    """Comparison kinds inferred from column names; columns that do not describe the
    person (source, signup dates, amounts, other ids) are left out.

    >>> from crmkit.dedupe import infer_fields
    >>> infer_fields(["record_id", "source", "name", "phone", "email",
    ...     "birth_date", "gender", "city", "address", "signup_date"], id="record_id")
    {'name': 'name', 'phone': 'phone', 'email': 'email', 'birth_date': 'date', 'gender': 'exact', 'city': 'text', 'address': 'address'}
    """
    out = {}
    for c in columns:
        if c == id:
            continue
        low = c.lower()
        if low == "id" or low.endswith("_id") or "signup" in low or "created" in low or "updated" in low:
            continue
        for kind, hints in _HINTS:
            if _clean.has_hint(c, hints):
                out[c] = kind
                break
    return out


@dataclass
class _Prepared:
    reps: pl.DataFrame  # one row per distinct record: _r, prepared field columns
    row_rep: pl.Series  # per input row: its representative index
    fields: dict[str, str]
    n_rows: int
    n_left: Optional[int] = None  # linking: reps [0, n_left) come from the left side
    notes: list[str] = field(default_factory=list)
    #: EM sessions: (candidate pair positions, masked field indices) per selective blocking key.
    sessions: list[Any] = field(default_factory=list)


#: Characters of each prepared field value that dedupe and link compare (longer values
#: are junk in a customer table, and similarity costs grow with the square of the length).
MAX_FIELD_CHARS = 128


def _prep_expr(col: str, kind: str, dtype: pl.DataType, region: str, function: str) -> pl.Expr:
    is_text = dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum)) or dtype == pl.Null
    c = pl.col(col)
    if kind == "name":
        if not is_text:
            raise SchemaError(f"{function}: field '{col}' (kind 'name') must be a string column, found dtype {dtype}")
        return _clean.name(c).str.to_lowercase()
    if kind == "email":
        if not is_text:
            raise SchemaError(f"{function}: field '{col}' (kind 'email') must be a string column, found dtype {dtype}")
        return _clean.email(c)
    if kind == "phone":
        if not (is_text or dtype.is_integer()):
            raise SchemaError(f"{function}: field '{col}' (kind 'phone') must be a string or integer column, found dtype {dtype}")
        return _clean.phone(c, region=region)
    if kind == "date":
        if not (is_text or dtype.is_integer() or dtype == pl.Date or isinstance(dtype, pl.Datetime)):
            raise SchemaError(f"{function}: field '{col}' (kind 'date') must be a string, integer or date column, found dtype {dtype}")
        return _clean.date(c).cast(pl.String)
    if kind == "exact" and _clean.has_hint(col, ("gender", "sex", "性别")):
        # One spelling per gender: 男 / M / male / 先生 and 女 / F / female / 女士.
        t = _clean.text(c.cast(pl.String), casefold=True)
        return t.replace(_GENDER)
    if not is_text:
        if dtype.is_float():
            c = pl.when(c.is_nan()).then(None).otherwise(c)
        c = c.cast(pl.String)
    t = _clean.text(c, casefold=True)
    if kind == "postcode":
        t = t.str.replace_all(" ", "", literal=True)
    return t


def _prepare(frames: list[tuple[pl.DataFrame, str, str]], fields: Optional[Mapping[str, str]], region: str, function: str) -> _Prepared:
    """frames: (frame, id column, argument name); two frames when linking."""
    first, first_id, _ = frames[0]
    if fields is None:
        fields = infer_fields(first.columns, id=first_id)
        if not fields:
            raise CrmError(
                f"{function}: no comparison fields could be inferred from columns {first.columns}; "
                f"pass fields={{column: kind}} with kinds from {list(FIELD_KINDS)}"
            )
    elif not isinstance(fields, Mapping) or not fields:
        raise CrmError(f"{function}: 'fields' must be a non-empty mapping column -> kind, found {fields!r}")
    fields = dict(fields)
    for c, k in fields.items():
        if k not in FIELD_KINDS:
            raise CrmError(f"{function}: field '{c}' has unknown kind {k!r}; expected one of {list(FIELD_KINDS)}")
    _core.check_phone_region(region)
    parts = []
    for frame, idc, arg in frames:
        require_columns(frame, {idc: "id", **{c: "any" for c in fields}}, function=function, argument=arg)
        require_no_nulls(frame, [idc], function=function, argument=arg)
        require_unique(frame, idc, function=function, argument=arg)
        names = [f"_f{j}" for j in range(len(fields))]
        prepared = frame.select(
            [_prep_expr(c, k, frame.schema[c], region, function).alias(n) for (c, k), n in zip(fields.items(), names)]
        )
        # String similarity costs the product of the two lengths, over every candidate and
        # random pair: values are compared on their first MAX_FIELD_CHARS characters (a
        # 10k-character "name" would otherwise take minutes).
        parts.append(prepared.with_columns(
            pl.col(n).str.slice(0, MAX_FIELD_CHARS) for n in names if prepared.schema[n] == pl.String
        ))
    names = [f"_f{j}" for j in range(len(fields))]
    n_left = None
    if len(parts) == 2:
        n_left_rows = parts[0].height
        allrows = pl.concat([parts[0].with_columns(pl.lit(0, pl.UInt8).alias("_side")), parts[1].with_columns(pl.lit(1, pl.UInt8).alias("_side"))])
        group_cols = ["_side", *names]
    else:
        n_left_rows = None
        allrows = parts[0]
        group_cols = names
    allrows = allrows.with_row_index("_row")
    # Identical records (same prepared values, nulls included) are compared once.
    first_row = allrows.group_by(group_cols, maintain_order=True).agg(pl.col("_row").min().alias("_first"))
    first_row = first_row.sort("_first").with_row_index("_r")
    reps = first_row.select("_r", "_first", *group_cols)
    row_rep = allrows.join(first_row.select(group_cols + ["_r"]), on=group_cols, how="left", nulls_equal=True).sort("_row")["_r"]
    if n_left_rows is not None:
        n_left = int((reps["_side"] == 0).sum())
    prep = _Prepared(reps=reps, row_rep=row_rep, fields=fields, n_rows=allrows.height, n_left=n_left)
    return prep


def _key_expr(spec: Union[str, pl.Expr], fields: dict[str, str], function: str) -> tuple[pl.Expr, str]:
    if isinstance(spec, pl.Expr):
        return spec, str(spec)
    if not isinstance(spec, str) or spec not in fields:
        raise CrmError(
            f"{function}: blocking key {spec!r} is not one of the comparison fields {list(fields)}; "
            f"use a field name or a polars expression over the prepared fields"
        )
    j = list(fields).index(spec)
    e = pl.col(f"_f{j}")
    if fields[spec] == "name":
        return _clean.name_key(e), f"{spec}~sound"
    if fields[spec] == "address":
        return _address_key(e), f"{spec}~normalised"
    return e, spec


def _address_key(e: pl.Expr) -> pl.Expr:
    """An address as a blocking key: without spaces and punctuation, and without a
    leading province or city (深圳市宝安区... and 宝安区... are one address, as the
    comparison already treats them)."""
    return (
        e.str.replace_all(r"[\s,，.。·\-/#]", "")
        .str.replace(r"^[^\x00-\x7f区县镇乡路街道号]{1,7}?(省|自治区)", "")
        .str.replace(r"^[^\x00-\x7f区县镇乡路街道号]{1,7}?市", "")
        .replace("", None)
    )


def _default_rules(fields: dict[str, str], distinct: dict[str, int]) -> list[list[str]]:
    strong = [c for c, k in fields.items() if k in ("phone", "email")]
    names = [c for c, k in fields.items() if k == "name"]
    dates = [c for c, k in fields.items() if k == "date"]
    # Broad keys (a name sound with a state) are kept on purpose: besides catching
    # matches they give EM the non-matching pairs it needs to tell the two classes apart.
    others = [c for c, k in fields.items() if k in ("postcode", "address", "text") and distinct.get(c, 0) >= 2]
    rules: list[list[str]] = [[c] for c in strong]
    # A street address down to the flat is nearly as specific as a phone number;
    # shared ones (families, offices) are caught by the pair-limit guard.
    rules += [[c] for c in others if fields[c] == "address"]
    if names:
        rules.append(list(names))
    for n in names:
        for o in dates + others:
            rules.append([n, o])
    for d in dates:
        for o in others:
            rules.append([d, o])
    # Where the person is (address, postcode, street number) agreeing on two such fields
    # catches records whose names were swapped or mistyped.
    places = [c for c in others if fields[c] in ("postcode", "address")]
    for a, b in itertools.combinations(places, 2):
        rules.append([a, b])
    if not rules:
        rules = [[c] for c in fields]
    return rules


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


_RULES = ("most_recent", "most_frequent", "longest", "first")


def golden_records(
    df: Union[pl.DataFrame, pl.LazyFrame],
    entities: pl.DataFrame,
    id: str,
    rules: Optional[Mapping[str, Union[str, tuple[Any, ...]]]] = None,
    *,
    order_by: Optional[str] = None,
    source: Optional[str] = None,
) -> pl.DataFrame:
    """One row per entity (``entity_id``), each field chosen by a survivorship rule,
    with ``record_ids``: the list of source record ids (lineage) and ``n_records``.

    Rules per column: 'most_recent' (default: the last non-null value by ``order_by``,
    or by input order when ``order_by`` is None), 'most_frequent' (ties: most recent),
    'longest', 'first', or ``("source", [preferred sources...])`` (the most recent value
    from the most preferred source, needs ``source=``). Columns without a rule use the
    default; ``id``, ``order_by`` and ``source`` themselves are not repeated.

    >>> import polars as pl, crmkit
    >>> df = pl.DataFrame({"rid": [1, 2, 3], "name": ["张伟", None, "李娜"],
    ...                    "email": ["zw@qq.com", "zhang.wei@163.com", None], "seen": [1, 2, 1]})
    >>> ent = pl.DataFrame({"rid": [1, 2, 3], "entity_id": [1, 1, 3]})
    >>> crmkit.golden_records(df, ent, id="rid", order_by="seen").rows()
    [(1, '张伟', 'zhang.wei@163.com', [1, 2], 2), (3, '李娜', None, [3], 1)]
    """
    function = "crmkit.golden_records"
    frame = as_frame(df, argument="df")
    ent = as_frame(entities, argument="entities")
    require_columns(frame, {id: "id"}, function=function, argument="df")
    require_columns(ent, {id: "id", "entity_id": "id"}, function=function, argument="entities")
    require_no_nulls(frame, [id], function=function, argument="df")
    require_unique(frame, id, function=function, argument="df")
    if order_by is not None:
        require_columns(frame, {order_by: "any"}, function=function, argument="df")
    if source is not None:
        require_columns(frame, {source: "any"}, function=function, argument="df")
    data = frame.with_row_index("_pos").join(ent.select(id, "entity_id"), on=id, how="left")
    missing = int(data["entity_id"].null_count())
    if missing:
        raise SchemaError(f"{function}: {missing} record id(s) of 'df' have no row in 'entities' (column '{id}'); pass the output of crmkit.dedupe for the same records")
    skip = {id, order_by, source}
    cols = [c for c in frame.columns if c not in skip]
    rules = dict(rules or {})
    for c in rules:
        if c not in frame.columns:
            raise SchemaError(f"{function}: rule for column '{c}', which is not in 'df' (columns {frame.columns})")
    order = [order_by, "_pos"] if order_by is not None else ["_pos"]
    data = data.sort(order, nulls_last=False).with_row_index("_ord")
    aggs = []
    frequent = []
    for c in cols:
        rule = rules.get(c, "most_recent")
        v = pl.col(c)
        if isinstance(rule, tuple) or isinstance(rule, list):
            if len(rule) != 2 or rule[0] != "source" or source is None:
                raise CrmError(f"{function}: rule for '{c}' must be one of {list(_RULES)} or ('source', [preferred, ...]) with source= given, found {rule!r}")
            prefs = list(rule[1])
            rank = pl.col(source).replace_strict(prefs, list(range(len(prefs))), default=len(prefs), return_dtype=pl.Int64)
            # Sort first, then drop nulls: filtered sort keys inside a group-by fail on polars 1.28.
            aggs.append(v.sort_by(rank, descending=True, maintain_order=True).drop_nulls().last().alias(c))
        elif rule == "most_recent":
            aggs.append(v.drop_nulls().last().alias(c))
        elif rule == "first":
            aggs.append(v.drop_nulls().first().alias(c))
        elif rule == "longest":
            length = v.cast(pl.String).str.len_chars()
            aggs.append(v.sort_by(length, maintain_order=True).drop_nulls().last().alias(c))
        elif rule == "most_frequent":
            frequent.append(c)
        else:
            raise CrmError(f"{function}: rule for '{c}' must be one of {list(_RULES)} or ('source', [preferred, ...]), found {rule!r}")
    out = data.group_by("entity_id", maintain_order=False).agg(
        *aggs, pl.col(id).sort_by("_pos").alias("record_ids"), pl.len().cast(pl.Int64).alias("n_records")
    )
    for c in frequent:
        # Most frequent non-null value; ties go to the most recent.
        pick = (
            data.filter(pl.col(c).is_not_null())
            .group_by("entity_id", c)
            .agg(pl.len().alias("_n"), pl.col("_ord").max().alias("_last"))
            .sort("entity_id", "_n", "_last")
            .group_by("entity_id")
            .agg(pl.col(c).last())
        )
        out = out.join(pick, on="entity_id", how="left")
    return out.sort("entity_id").select("entity_id", *cols, "record_ids", "n_records")


def demo_step(ctx: Any) -> "StepOutput":
    """The `crmkit demo` step: cleaned customers, entity map, golden records, report."""
    from crmkit._pipeline import StepOutput

    customers = ctx.customers
    id_col = "record_id" if "record_id" in customers.columns else customers.columns[0]
    cleaned = _clean.customers(customers)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        entities = dedupe(customers, id=id_col)
    order_by = "signup_date" if "signup_date" in cleaned.data.columns else None
    src = "source" if "source" in cleaned.data.columns else None
    golden = golden_records(cleaned.data, entities, id=id_col, order_by=order_by, source=src)
    n_ent = entities["entity_id"].n_unique()
    lines = [
        f"{customers.height:,} customer records resolved to {n_ent:,} entities "
        f"({customers.height - n_ent:,} duplicates merged)",
    ]
    for r in cleaned.report.iter_rows(named=True):
        lines.append(
            f"clean {r['column']} ({r['kind']}): {r['changed']:,} changed, {r['nulled_invalid']:,} invalid nulled, "
            f"{r['placeholders_removed']:,} placeholders removed"
        )
    lines += [f"note: {w.message}" for w in caught]
    return StepOutput(
        {"customers_clean": cleaned.data, "clean_report": cleaned.report, "entities": entities, "golden_records": golden},
        lines,
    )
