"""Column cleaners for customer records, as polars expressions backed by Rust.

Each cleaner takes a column name or expression, keeps the column's name, and works
in ``select``, ``with_columns``, ``group_by``/``over`` and lazy or streaming queries.
The same cleaners are on the ``.crm`` expression namespace:
``pl.col("phone").crm.phone(region="CN")`` is ``crmkit.clean.phone("phone", region="CN")``.

>>> import polars as pl
>>> import crmkit
>>> df = pl.DataFrame({"name": ["  张 伟 ", "mr. john SMITH", "N/A"],
...                    "phone": ["138 1234 5678", "+1 650-253-0000", "12345"]})
>>> df.select(crmkit.clean.name("name"), crmkit.clean.phone("phone", region="CN")).rows()
[('张伟', '+8613812345678'), ('John Smith', '+16502530000'), (None, None)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence, Union

import polars as pl

from crmkit import _core
from crmkit._plugin import plugin_call
from crmkit._validate import as_frame, require_columns, schema_of
from crmkit.errors import CrmError, SchemaError

__all__ = ["text", "name", "phone", "email", "date", "amount", "name_key", "customers", "CleanResult", "KINDS", "infer_kind", "has_hint"]

IntoExpr = Union[str, pl.Expr]

#: Column kinds `customers` knows, each with its cleaner.
KINDS = ("text", "name", "phone", "email", "date", "amount", "skip")


def _e(col: IntoExpr) -> pl.Expr:
    if isinstance(col, str):
        return pl.col(col)
    if isinstance(col, pl.Expr):
        return col
    raise CrmError(f"crmkit.clean: expected a column name or a polars expression, found {type(col).__name__}")


def text(col: IntoExpr, casefold: bool = False) -> pl.Expr:
    """Unicode NFKC (full-width to half-width), trim, collapse inner whitespace, drop
    control and zero-width characters; placeholders ('', 'N/A', 'null', 'None', '-',
    '无', '空', '不详', ...) become null. ``casefold=True`` also lower-cases.

    >>> import polars as pl, crmkit
    >>> pl.select(crmkit.clean.text(pl.lit(pl.Series("v", ["  ＡＢＣ　１２３ ", "不详", "a\\tb"])))).to_series().to_list()
    ['ABC 123', None, 'a b']
    """
    return plugin_call("crm_clean_text", _e(col), {"casefold": bool(casefold)})


def name(col: IntoExpr) -> pl.Expr:
    """A person's name: ``text`` plus Latin names title-cased, no spaces inside CJK
    names, honorifics removed (先生, 女士, 小姐, Mr, Mrs, Ms, Dr, ...).

    >>> import polars as pl, crmkit
    >>> pl.select(crmkit.clean.name(pl.lit(pl.Series("n", ["王 先生", "李 娜", "DR. jean-luc picard"])))).to_series().to_list()
    ['王', '李娜', 'Jean-Luc Picard']
    """
    return plugin_call("crm_clean_name", _e(col))


def phone(col: IntoExpr, region: str = "CN") -> pl.Expr:
    """Phone numbers in E.164 (``+8613812345678``), or null when the number is not valid
    for its region under libphonenumber's rules. Numbers without a country code are read
    as numbers of ``region``; full-width digits, ``0086``/``+86`` prefixes and separators
    are understood, extensions are dropped. Integer columns are read as digit strings.

    >>> import polars as pl, crmkit
    >>> s = pl.Series("p", ["１３８１２３４５６７８", "0086 10 6234 5678", "+44 20 7183 8750", "138123"])
    >>> pl.select(crmkit.clean.phone(pl.lit(s))).to_series().to_list()
    ['+8613812345678', '+861062345678', '+442071838750', None]
    """
    if not isinstance(region, str):
        raise CrmError(f"crmkit.clean.phone: argument 'region' must be a two-letter region code, found {region!r}")
    _core.check_phone_region(region)
    return plugin_call("crm_clean_phone", _e(col), {"region": region.strip().upper()})


def email(col: IntoExpr) -> pl.Expr:
    """E-mail addresses trimmed, NFKC-normalised and lower-cased; null when the syntax is invalid.

    >>> import polars as pl, crmkit
    >>> pl.select(crmkit.clean.email(pl.lit(pl.Series("e", [" Li.Na@QQ.com ", "li@na", "ｗａｎｇ＠１６３．ｃｏｍ"])))).to_series().to_list()
    ['li.na@qq.com', None, 'wang@163.com']
    """
    return plugin_call("crm_clean_email", _e(col))


def date(col: IntoExpr, formats: Optional[Sequence[str]] = None) -> pl.Expr:
    """Dates from mixed formats to ``pl.Date``; null for impossible or unreadable dates.

    Without ``formats``: '2024-03-05', '2024/3/5', '2024.3.5', '2024年3月5日', '20240305',
    '05.03.2024' and '05-03-2024' (day first), '03/05/2024' (month first unless the
    first number exceeds 12), '5 Mar 2024', 'March 5, 2024', a trailing time of day,
    and five-digit Excel serial day numbers. ``formats`` (strftime: %Y %y %m %d %b) are
    tried in order instead. Date and Datetime columns pass through as dates.

    >>> import polars as pl, crmkit
    >>> s = pl.Series("d", ["2024-03-05", "2024/3/5", "05.03.2024", "2024年3月5日", "20240305", "45356", "2023-02-29"])
    >>> [str(d) if d else None for d in pl.select(crmkit.clean.date(pl.lit(s))).to_series().to_list()]
    ['2024-03-05', '2024-03-05', '2024-03-05', '2024-03-05', '2024-03-05', '2024-03-05', None]
    """
    if formats is not None:
        if isinstance(formats, str):
            formats = [formats]
        formats = [str(f) for f in formats]
        if not formats:
            raise CrmError("crmkit.clean.date: 'formats' is empty; pass None to use the built-in formats")
    return plugin_call("crm_clean_date", _e(col), {"formats": formats})


def amount(col: IntoExpr) -> pl.Expr:
    """Money amounts to Float64: currency symbols and codes removed, either thousands
    convention ('1,234.50' and '1.234,50'), accounting negatives '(12.00)', full-width
    digits, 万/亿. Numeric columns pass through (NaN becomes null).

    >>> import polars as pl, crmkit
    >>> s = pl.Series("a", ["¥1,234.50", "1.234,50 €", "$12", "１２３", "(12.00)", "abc"])
    >>> pl.select(crmkit.clean.amount(pl.lit(s))).to_series().to_list()
    [1234.5, 1234.5, 12.0, 123.0, -12.0, None]
    """
    return plugin_call("crm_clean_amount", _e(col))


def name_key(col: IntoExpr) -> pl.Expr:
    """Blocking key of a (cleaned) name: for a Chinese name, in characters or in pinyin,
    its toneless pinyin words sorted, so homophone typos, both scripts and both orders
    agree; sorted Soundex codes of the words otherwise.

    >>> import polars as pl, crmkit
    >>> pl.select(crmkit.clean.name_key(pl.lit(pl.Series("n", ["张伟", "张玮", "Zhang Wei", "John Smith"])))).to_series().to_list()
    ['wei zhang', 'wei zhang', 'wei zhang', 'J500 S530']
    """
    return plugin_call("crm_name_key", _e(col))


# --- whole tables -------------------------------------------------------------------

_NAME_HINTS = {
    "phone": ("phone", "mobile", "tel", "cell", "telephone", "手机", "电话"),
    "email": ("email", "e_mail", "mail", "邮箱"),
    "date": ("date", "birth", "dob", "birthday", "at", "time", "生日", "日期"),
    "amount": ("amount", "price", "revenue", "spend", "total", "value", "金额", "价格"),
    "name": ("name", "姓名", "surname", "given"),
}


def has_hint(column: str, hints: Sequence[str]) -> bool:
    """True when a column name holds one of the hints: as a word of the name (split on
    non-alphanumerics), as the start of a word for hints of four letters or more, as the
    whole name, or anywhere for CJK hints.

    >>> from crmkit.clean import has_hint
    >>> has_hint("mobile_tel", ["tel"]), has_hint("hotel", ["tel"]), has_hint("birthday", ["birth"]), has_hint("客户手机", ["手机"])
    (True, False, True, True)
    """
    low = column.lower()
    words = [w for w in re.split(r"[^0-9a-z]+", low) if w]
    for h in hints:
        if not h.isascii():
            if h in low:
                return True
        elif low == h or h in words or (len(h) >= 4 and any(w.startswith(h) for w in words)):
            return True
    return False


def infer_kind(column: str, dtype: pl.DataType) -> str:
    """The cleaner kind `customers` uses for a column, from its name and dtype.

    >>> import polars as pl, crmkit
    >>> [crmkit.clean.infer_kind(c, pl.String) for c in ["phone", "birth_date", "name", "city", "record_id"]]
    ['phone', 'date', 'name', 'text', 'skip']
    """
    low = column.lower()
    is_text = dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))
    if low == "id" or low.endswith("_id") or low.endswith(" id") or low in ("uid", "pk", "key"):
        return "skip"
    for kind in ("phone", "email", "date", "amount", "name"):
        if has_hint(column, _NAME_HINTS[kind]):
            if kind == "phone" and not (is_text or dtype.is_integer()):
                return "skip"
            if kind == "date" and not (is_text or dtype.is_integer() or dtype == pl.Date):
                return "skip"  # a Datetime keeps its time of day: nothing to clean
            if kind == "amount" and not (is_text or dtype.is_numeric()):
                return "skip"
            if kind in ("email", "name") and not is_text:
                return "skip"
            return kind
    return "text" if is_text else "skip"


def _cleaner(kind: str, col: str, region: str) -> pl.Expr:
    if kind == "text":
        return text(col)
    if kind == "name":
        return name(col)
    if kind == "phone":
        return phone(col, region=region)
    if kind == "email":
        return email(col)
    if kind == "date":
        return date(col)
    if kind == "amount":
        return amount(col)
    raise CrmError(f"crmkit.clean.customers: unknown kind {kind!r} for column '{col}'; expected one of {list(KINDS)}")


@dataclass
class CleanResult:
    """Result of :func:`customers`: the cleaned table and a per-column report.

    >>> import polars as pl, crmkit
    >>> res = crmkit.clean.customers(pl.DataFrame({"name": ["li  na", "N/A"]}))
    >>> res.data["name"].to_list(), res.report.select("column", "changed", "placeholders_removed").rows()
    (['Li Na', None], [('name', 1, 1)])
    """

    #: The input rows in the same order, cleaned column by column.
    data: pl.DataFrame
    #: One row per cleaned column: column, kind, non_null_before, changed,
    #: nulled_invalid, placeholders_removed, non_null_after.
    report: pl.DataFrame

    def __repr__(self) -> str:  # pragma: no cover - display only
        return f"CleanResult(data={self.data.shape}, report=\n{self.report})"


def customers(
    df: Union[pl.DataFrame, pl.LazyFrame],
    columns: Optional[Mapping[str, str]] = None,
    region: str = "CN",
) -> CleanResult:
    """Cleans a customer table column by column; no row is dropped or reordered.

    ``columns`` maps column -> kind ('text', 'name', 'phone', 'email', 'date',
    'amount', 'skip'); when None, kinds are inferred from column names and dtypes
    (see :func:`infer_kind`); id columns and timestamps (Datetime, which keep their
    time of day) are left as they are. The report counts, per column, values
    changed, values nulled as invalid and placeholders removed.

    >>> import polars as pl, crmkit
    >>> df = pl.DataFrame({"record_id": [1, 2, 3], "name": ["张 伟", "N/A", "li na"],
    ...                    "phone": ["13812345678", "12", None], "birth_date": ["1990/1/2", "1990-02-30", "无"]})
    >>> res = crmkit.clean.customers(df)
    >>> res.data.rows()
    [(1, '张伟', '+8613812345678', datetime.date(1990, 1, 2)), (2, None, None, None), (3, 'Li Na', None, None)]
    >>> res.report.select("column", "changed", "nulled_invalid", "placeholders_removed").rows()
    [('name', 2, 0, 1), ('phone', 1, 1, 0), ('birth_date', 1, 1, 1)]
    """
    frame = as_frame(df, argument="df")
    schema = schema_of(frame)
    if columns is None:
        kinds = {c: infer_kind(c, dt) for c, dt in schema.items()}
    else:
        if not isinstance(columns, Mapping):
            raise CrmError(f"crmkit.clean.customers: 'columns' must map column -> kind, found {type(columns).__name__}")
        require_columns(frame, {c: "any" for c in columns}, function="crmkit.clean.customers", argument="df")
        kinds = dict(columns)
        for c, k in kinds.items():
            if k not in KINDS:
                raise CrmError(f"crmkit.clean.customers: column '{c}': unknown kind {k!r}; expected one of {list(KINDS)}")
    todo = {c: k for c, k in kinds.items() if k != "skip"}
    for c, k in todo.items():
        dt = schema[c]
        ok_num = k in ("phone", "date") and dt.is_integer() or k == "amount" and dt.is_numeric() or k == "date" and (dt == pl.Date or isinstance(dt, pl.Datetime))
        if not (dt == pl.String or isinstance(dt, (pl.Categorical, pl.Enum)) or dt == pl.Null or ok_num):
            raise SchemaError(
                f"crmkit.clean.customers: column '{c}' (kind '{k}') must be a string column, found dtype {dt}; "
                f"cast it to pl.String or mark it 'skip' in columns="
            )
    if todo:
        _core.check_phone_region(region)
    cleaned = frame.with_columns([_cleaner(k, c, region).alias(c) for c, k in todo.items()])
    rows = []
    if todo:
        stats = []
        for c, k in todo.items():
            raw = pl.col(c)
            raw_s = raw.cast(pl.String)
            placeholder = text(raw_s).is_null() & raw.is_not_null() if schema[c] != pl.Null else pl.lit(False)
            new = _cleaner(k, c, region)
            stats += [
                raw.is_not_null().sum().alias(f"{c}\x00before"),
                (raw.is_not_null() & new.is_not_null() & (new.cast(pl.String) != raw_s)).sum().alias(f"{c}\x00changed"),
                (raw.is_not_null() & new.is_null() & ~placeholder).sum().alias(f"{c}\x00invalid"),
                placeholder.sum().alias(f"{c}\x00placeholder"),
                new.is_not_null().sum().alias(f"{c}\x00after"),
            ]
        s = frame.select(stats).row(0, named=True)
        for c, k in todo.items():
            rows.append(
                {
                    "column": c,
                    "kind": k,
                    "non_null_before": s[f"{c}\x00before"],
                    "changed": s[f"{c}\x00changed"],
                    "nulled_invalid": s[f"{c}\x00invalid"],
                    "placeholders_removed": s[f"{c}\x00placeholder"],
                    "non_null_after": s[f"{c}\x00after"],
                }
            )
    report = pl.DataFrame(
        rows,
        schema={
            "column": pl.String,
            "kind": pl.String,
            "non_null_before": pl.Int64,
            "changed": pl.Int64,
            "nulled_invalid": pl.Int64,
            "placeholders_removed": pl.Int64,
            "non_null_after": pl.Int64,
        },
    )
    return CleanResult(cleaned, report)


# --- addresses ---

__all__ += ["address", "region"]


def _address_kwargs(what: str, default_province: Optional[str]) -> dict[str, Any]:
    from crmkit import _divisions

    if default_province is not None and not isinstance(default_province, str):
        raise CrmError(
            f"crmkit.clean.{what}: argument 'default_province' must be a province name such as '广东' or '广东省', "
            f"found {default_province!r}"
        )
    kwargs = dict(_divisions.plugin_kwargs())
    kwargs["default_province"] = default_province.strip() if default_province else None
    if kwargs["default_province"] is not None:
        provinces = _divisions.divisions().filter(pl.col("level") == "province")["name"].to_list()
        wanted = _core_text_nfkc(kwargs["default_province"])
        if not any(p == wanted or p.startswith(wanted) for p in provinces):
            raise CrmError(
                f"crmkit.clean.{what}: default_province {default_province!r} is not a province-level division; "
                f"expected one of {', '.join(provinces[:6])}, ... (full or short names)"
            )
    return kwargs


def _core_text_nfkc(s: str) -> str:
    import unicodedata

    return "".join(unicodedata.normalize("NFKC", s).split())


def address(col: IntoExpr, *, default_province: Optional[str] = None) -> pl.Expr:
    """Chinese addresses to a struct ``{province, city, district, detail, adcode}``.

    Understands addresses as people write them: with or without the province, suffixes
    (省/市/区/县/自治州...) present or dropped, municipalities (北京, 上海, 天津, 重庆: the
    province is also the city), autonomous regions by their short names (广西, 内蒙古, 内蒙),
    full-width characters, spaces or separators between the names ("广东省,深圳市,南山区",
    "浙江-杭州-西湖区"), postcodes, a leading 中国, and Latin transcriptions of place names
    ("Shenzhen", "Guangdong Province"). Names are reported in their canonical full form
    with the 6-digit administrative code of the smallest part found. The table subdivides
    neither 香港, 澳门 nor 台湾: their districts and cities (九龙, 氹仔, 台北市) give the
    province and stay in ``detail``; a district the table does not know under a city it
    does know (a newer one) stays in ``detail`` with the district null.

    A part is null when the text does not settle it — never a guess that contradicts the
    text: ``朝阳区`` alone (Beijing's or Changchun's?) leaves the province null, unless
    ``default_province`` settles it; a text that names two provinces gets none.
    ``default_province`` also fills the province of addresses that name no place. Latin
    addresses without a Chinese place name keep only a normalised ``detail`` (case,
    whitespace, Rd/St/Ave spelt out).

    The division table comes from the MIT-licensed ``cpca`` package's data file
    (``pip install 'crmkit[address]'``); see :func:`crmkit.geo.divisions`.

    >>> import polars as pl, crmkit
    >>> s = pl.Series("a", ["广东省深圳市南山区科技园路1号", "北京朝阳区建国路88号", "ｓｈａｎｇｈａｉ", None])
    >>> pl.select(crmkit.clean.address(pl.lit(s))).unnest("a").rows()[:2]
    [('广东省', '深圳市', '南山区', '科技园路1号', '440305'), ('北京市', '北京市', '朝阳区', '建国路88号', '110105')]
    >>> pl.select(crmkit.clean.address(pl.lit(s))).unnest("a").rows()[2:]
    [('上海市', '上海市', None, 'Shanghai', '310000'), (None, None, None, None, None)]
    """
    return plugin_call("crm_clean_address", _e(col), _address_kwargs("address", default_province))


def region(col: IntoExpr, *, default_province: Optional[str] = None) -> pl.Expr:
    """A column holding only a place name (a province, city or district, in any of the
    forms :func:`address` reads) to a struct ``{province, city, district, adcode}``;
    null where the name is not a known division or is ambiguous.

    >>> import polars as pl, crmkit
    >>> s = pl.Series("c", ["深圳", "上海市", "Guangzhou", "桂林市", "火星"])
    >>> pl.select(crmkit.clean.region(pl.lit(s))).unnest("c").select("province", "city").rows()
    [('广东省', '深圳市'), ('上海市', '上海市'), ('广东省', '广州市'), ('广西壮族自治区', '桂林市'), (None, None)]
    """
    return plugin_call("crm_clean_region", _e(col), _address_kwargs("region", default_province))
