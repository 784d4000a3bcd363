"""Where customers are: addresses to regions, province and city aggregates with
coordinates, and a tile-grid layout of China's province-level divisions for maps.

Addresses are parsed by :func:`crmkit.clean.address`; names, codes and coordinates come
from the MIT-licensed ``cpca`` package's division table (``pip install 'crmkit[address]'``),
read at run time — crmkit ships no copy of it. The province map is a *tile grid*: each
of the 34 province-level divisions is one square in its approximate place, so no
boundary data (which in China needs an official map approval) is involved.

>>> import polars as pl, crmkit
>>> customers = pl.DataFrame({"customer_id": [1, 2, 3, 4],
...     "address": ["广东省深圳市南山区科技园", "深圳福田区", "上海市浦东新区张江路1号", "火星基地"]})
>>> crmkit.geo.summary(customers).select("province", "customers", "share").rows()
[('广东省', 2, 0.5), ('上海市', 1, 0.25), (None, 1, 0.25)]
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Optional, Sequence, Union, cast

import polars as pl

from crmkit._divisions import SOURCE_LICENSE, SOURCE_PACKAGE, divisions as _divisions
from crmkit._validate import as_frame
from crmkit.errors import CrmError, SchemaError

if TYPE_CHECKING:
    from crmkit._pipeline import StepOutput

__all__ = ["divisions", "summary", "parse", "TILE_GRID", "province_tiles", "SOURCE_PACKAGE", "SOURCE_LICENSE"]

#: Tile-grid place of each province-level division (first two digits of its code):
#: (row, column, short Chinese name, English name). Rows run north to south, columns
#: west to east; the layout is crmkit's own approximation, not a boundary map.
TILE_GRID: dict[str, tuple[int, int, str, str]] = {
    "23": (0, 7, "黑龙江", "Heilongjiang"),
    "15": (1, 4, "内蒙古", "Inner Mongolia"),
    "11": (1, 5, "北京", "Beijing"),
    "21": (1, 6, "辽宁", "Liaoning"),
    "22": (1, 7, "吉林", "Jilin"),
    "65": (2, 0, "新疆", "Xinjiang"),
    "64": (2, 2, "宁夏", "Ningxia"),
    "14": (2, 3, "山西", "Shanxi"),
    "13": (2, 4, "河北", "Hebei"),
    "12": (2, 5, "天津", "Tianjin"),
    "63": (3, 1, "青海", "Qinghai"),
    "62": (3, 2, "甘肃", "Gansu"),
    "61": (3, 3, "陕西", "Shaanxi"),
    "41": (3, 4, "河南", "Henan"),
    "37": (3, 5, "山东", "Shandong"),
    "54": (4, 0, "西藏", "Tibet"),
    "51": (4, 2, "四川", "Sichuan"),
    "50": (4, 3, "重庆", "Chongqing"),
    "42": (4, 4, "湖北", "Hubei"),
    "34": (4, 5, "安徽", "Anhui"),
    "32": (4, 6, "江苏", "Jiangsu"),
    "52": (5, 3, "贵州", "Guizhou"),
    "43": (5, 4, "湖南", "Hunan"),
    "36": (5, 5, "江西", "Jiangxi"),
    "33": (5, 6, "浙江", "Zhejiang"),
    "31": (5, 7, "上海", "Shanghai"),
    "53": (6, 2, "云南", "Yunnan"),
    "45": (6, 3, "广西", "Guangxi"),
    "44": (6, 4, "广东", "Guangdong"),
    "35": (6, 5, "福建", "Fujian"),
    "71": (6, 7, "台湾", "Taiwan"),
    "46": (7, 3, "海南", "Hainan"),
    "82": (7, 4, "澳门", "Macao"),
    "81": (7, 5, "香港", "Hong Kong"),
}

MEASURES = ("customers", "orders", "revenue", "aov")


def divisions() -> pl.DataFrame:
    """China's administrative divisions: adcode (6 digits), name, level
    (province/city/district), province, city, longitude, latitude — from the ``cpca``
    package's data file (MIT), read where pip installed it.

    >>> import crmkit
    >>> d = crmkit.geo.divisions()
    >>> d.filter(d["level"] == "province").height
    34
    >>> d.filter(d["adcode"] == "440305").select("name", "province", "city").row(0)
    ('南山区', '广东省', '深圳市')
    """
    return _divisions()


def province_tiles(lang: str = "zh") -> pl.DataFrame:
    """The tile grid as a table: province (full name), label (short name in ``lang``
    'zh' or 'en'), adcode, row, col, longitude, latitude.

    >>> import crmkit
    >>> crmkit.geo.province_tiles("en").filter(crmkit.geo.pl.col("adcode") == "440000").select("province", "label", "row", "col").row(0)
    ('广东省', 'Guangdong', 6, 4)
    """
    if lang not in ("zh", "en"):
        raise CrmError(f"crmkit.geo.province_tiles: lang must be 'zh' or 'en', found {lang!r}")
    d = _divisions().filter(pl.col("level") == "province")
    grid = pl.DataFrame(
        {
            "p2": list(TILE_GRID),
            "row": [v[0] for v in TILE_GRID.values()],
            "col": [v[1] for v in TILE_GRID.values()],
            "label": [v[2] if lang == "zh" else v[3] for v in TILE_GRID.values()],
        },
        schema={"p2": pl.String, "row": pl.Int32, "col": pl.Int32, "label": pl.String},
    )
    return (
        d.with_columns(p2=pl.col("adcode").str.slice(0, 2))
        .join(grid, on="p2", how="inner")
        .select(pl.col("name").alias("province"), "label", "adcode", "row", "col", "longitude", "latitude")
        .sort("adcode")
    )


def parse(
    data: Union[pl.DataFrame, pl.LazyFrame],
    *,
    by_address: str = "address",
    city: Optional[str] = None,
    default_province: Optional[str] = None,
) -> pl.DataFrame:
    """``data`` with ``province``, ``city``, ``district`` and ``adcode`` columns added from
    its address column. ``city``: an optional column holding the city alone (a CRM's
    separate city field); it settles addresses written without their city
    (朝阳区... under city 北京). An existing ``city`` column is replaced by the parsed one.

    >>> import polars as pl, crmkit
    >>> df = pl.DataFrame({"city": ["北京", "长春"], "address": ["朝阳区建国路1号", "朝阳区人民大街2号"]})
    >>> crmkit.geo.parse(df, city="city").select("province", "city", "district").rows()
    [('北京市', '北京市', '朝阳区'), ('吉林省', '长春市', '朝阳区')]
    """
    from crmkit import clean

    df = as_frame(data, argument="data")
    if by_address not in df.columns:
        raise SchemaError(
            f"crmkit.geo: address column '{by_address}' not found; the data has {df.columns}. "
            "Pass by_address='your_column'"
        )
    if city is not None and city not in df.columns:
        raise SchemaError(f"crmkit.geo: city column '{city}' not found; the data has {df.columns}")
    text = pl.col(by_address).cast(pl.String)
    if city is not None:
        # The city field first: "北京" + "朝阳区..." reads as 北京朝阳区...; a repeated
        # city ("北京" + "北京市朝阳区...") reads the same.
        c = pl.col(city).cast(pl.String)
        text = pl.when(c.is_not_null() & text.is_not_null()).then(c + " " + text).otherwise(pl.coalesce(text, c))
    parsed = df.select(clean.address(text.alias("_addr"), default_province=default_province).alias("_addr"))
    parts = parsed.unnest("_addr").select("province", "city", "district", "adcode")
    keep = [c for c in df.columns if c not in ("province", "city", "district", "adcode")]
    return pl.concat([df.select(keep), parts], how="horizontal")


def summary(
    customers_or_orders: Union[pl.DataFrame, pl.LazyFrame],
    *,
    level: str = "province",
    by_address: str = "address",
    measures: Sequence[str] = ("customers", "revenue", "orders"),
    customer: str = "customer_id",
    amount: str = "amount",
    order: str = "order_id",
    city: Optional[str] = None,
    default_province: Optional[str] = None,
) -> pl.DataFrame:
    """Aggregates by province (``level="province"``) or city (``level="city"``) with
    coordinates, for maps and tables.

    The input is customer records with an address column (``by_address``), or orders
    joined to them, or any table that already has ``province`` (and ``city``) columns.
    Measures: ``customers`` (distinct ``customer``, or rows when there is no such
    column), ``orders`` (distinct ``order``), ``revenue`` (sum of ``amount``), ``aov``
    (revenue per order), or the name of any numeric column (its mean, e.g. ``clv`` or
    ``churn_probability``). Measures whose columns are absent are left out. Rows whose
    region is unknown are kept in one row with a null region (nothing is dropped) and
    counted in a warning when they exceed 5%.

    Columns: province [, city], adcode, longitude, latitude, the measures, ``share``
    (of the first measure), and for provinces the tile-grid ``row``/``col`` and ``label``.

    >>> import polars as pl, crmkit
    >>> orders = pl.DataFrame({"customer_id": [1, 1, 2], "order_id": [1, 2, 3], "amount": [10.0, 30.0, 5.0],
    ...                        "address": ["杭州市西湖区", "杭州西湖区", "宁波市海曙区"]})
    >>> crmkit.geo.summary(orders, level="city", measures=("revenue", "customers", "orders")).select(
    ...     "city", "customers", "revenue", "orders").rows()
    [('杭州市', 1, 40.0, 2), ('宁波市', 1, 5.0, 1)]
    """
    if level not in ("province", "city"):
        raise CrmError(f"crmkit.geo.summary: level must be 'province' or 'city', found {level!r}")
    if isinstance(measures, str):
        measures = (measures,)
    df = as_frame(customers_or_orders, argument="customers_or_orders")
    if by_address in df.columns:
        df = parse(df, by_address=by_address, city=city, default_province=default_province)
    elif "province" not in df.columns or (level == "city" and "city" not in df.columns):
        raise SchemaError(
            f"crmkit.geo.summary: the data has neither an address column '{by_address}' nor "
            f"{'province' if level == 'province' else 'province and city'} columns; it has {df.columns}"
        )
    aggs: list[pl.Expr] = []
    names: list[str] = []
    for m in measures:
        if m == "customers":
            aggs.append(pl.col(customer).n_unique() if customer in df.columns else pl.len())
        elif m == "orders" and order in df.columns:
            aggs.append(pl.col(order).n_unique())
        elif m == "revenue" and amount in df.columns:
            aggs.append(pl.col(amount).sum())
        elif m == "aov" and amount in df.columns and order in df.columns:
            aggs.append(pl.col(amount).sum() / pl.col(order).n_unique())
        elif m not in MEASURES and m in df.columns:
            if not df.schema[m].is_numeric():
                raise SchemaError(f"crmkit.geo.summary: measure column '{m}' must be numeric, found {df.schema[m]}")
            aggs.append(pl.col(m).mean())
        elif m not in MEASURES:
            raise CrmError(
                f"crmkit.geo.summary: unknown measure {m!r}; expected one of {MEASURES} or a numeric column of the data"
            )
        else:
            continue
        names.append(m)
    if not aggs:
        raise CrmError(f"crmkit.geo.summary: none of the measures {tuple(measures)} can be computed from {df.columns}")
    aggs = [a.alias(n) for a, n in zip(aggs, names)]
    keys = ["province"] if level == "province" else ["province", "city"]
    out = df.group_by(keys).agg(aggs)
    first = names[0]
    total = float(out[first].sum())
    out = out.with_columns(share=(pl.col(first) / total) if total else pl.lit(None, dtype=pl.Float64))
    unknown = float(out.filter(pl.col(keys[-1]).is_null())[first].sum())
    if total and unknown / total > 0.05:
        warnings.warn(
            f"crmkit.geo.summary: {unknown / total:.1%} of {first} have no known {level} (kept in the null row)",
            stacklevel=2,
        )
    d = _divisions()
    if level == "province":
        coords = province_tiles("zh").select("province", "adcode", "longitude", "latitude", "row", "col", "label")
        out = out.join(coords, on="province", how="left")
        out = out.select("province", "adcode", "label", "longitude", "latitude", "row", "col", *names, "share")
    else:
        cities = (
            d.filter(pl.col("level").is_in(["city", "province"]) & pl.col("city").is_not_null())
            .unique(["province", "city"], keep="first")
            .select("province", "city", "adcode", "longitude", "latitude")
        )
        out = out.join(cities, on=["province", "city"], how="left")
        out = out.select("province", "city", "adcode", "longitude", "latitude", *names, "share")
    return out.sort([pl.col(keys[-1]).is_null(), first, *keys], descending=[False, True, False] + [False] * (len(keys) - 1))


def demo_step(ctx: Any) -> "StepOutput":
    """The geography step of `crmkit demo`/`crmkit run`: customer records by province and city."""
    from crmkit._pipeline import StepOutput

    customers = ctx.customers
    if "address" not in customers.columns:
        return StepOutput({}, ["no 'address' column in customers: geography skipped"])
    city = "city" if "city" in customers.columns else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            prov = summary(customers, level="province", city=city, measures=("customers",))
            cities = summary(customers, level="city", city=city, measures=("customers",))
        except CrmError as e:  # e.g. the division table's package is not installed
            return StepOutput({}, [f"geography skipped: {e}"])
    known = prov.filter(pl.col("province").is_not_null())
    lines = [
        f"{known['customers'].sum():,} of {customers.height:,} customer records placed in "
        f"{known.height} provinces, {cities.filter(pl.col('city').is_not_null()).height} cities; top: "
        + ", ".join(f"{r['province']} {r['share']:.0%}" for r in known.head(3).iter_rows(named=True))
    ]
    lines += [f"note: {w.message}" for w in caught]
    return StepOutput({"province": prov, "city": cities}, lines)
