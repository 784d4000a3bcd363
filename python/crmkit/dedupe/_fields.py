"""Field kinds, the prepared (cleaned, distinct) records and the blocking keys."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence, Union

import polars as pl

from crmkit import _core
from crmkit import clean as _clean
from crmkit._validate import require_columns, require_no_nulls, require_unique
from crmkit.errors import CrmError, SchemaError


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
