"""Address parsing: crmkit.clean.address against cpca (the Python package whose
division table crmkit reads), side by side in the same run:

- accuracy on two sets with known truth: the hand-written real-format addresses of
  tests/test_address.py (REAL_FORMAT: every province-level division, written the ways
  people write them, expected parts by hand) and 50,000 addresses generated from the
  division table in 8 formats;
- speed on N addresses (default 1,000,000: the generated set repeated), crmkit and cpca
  timed alternately R times (default 3); the ratio is of the medians.

`cases(quick)` follows tests/bench/_harness.py; `python bench_address.py [N] [R]` prints
both. A part counts as correct when it equals the truth (null where the text does not
settle it); "wrong" counts non-null parts that differ from the truth (a guess or a
contradiction of the text).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
import unicodedata
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))

import crmkit  # noqa: E402
from crmkit import geo  # noqa: E402
from _harness import Case  # noqa: E402

STREETS = ["人民路12号", "中山大道88号3栋201室", "建设街5号", "解放西路100号", "科技园南区8栋", "滨江花园3期12幢",
           "光明巷7号", "新华大街256号", "长江中路33号A座1502", "学府路1号", "幸福小区5单元302", "工业园区创业路9号"]
SUFFIXES = ("特别行政区", "自治区", "自治州", "自治县", "省", "市", "区", "县", "盟", "旗")
MUNICIPAL = {"北京市", "天津市", "上海市", "重庆市"}


REGIONS = {"内蒙古自治区": "内蒙古", "广西壮族自治区": "广西", "西藏自治区": "西藏", "宁夏回族自治区": "宁夏",
           "新疆维吾尔自治区": "新疆", "香港特别行政区": "香港", "澳门特别行政区": "澳门"}


def _short(name: str) -> str:
    """The short form people write: 广东, 深圳, 南山, 广西, 黔南州, 喀什; autonomous
    counties and leagues as they are."""
    if name in REGIONS:
        return REGIONS[name]
    if name.endswith("自治州"):
        from crmkit._divisions import nations

        cut = min((i for n in nations() for i in [name.find(n.removesuffix("族"))] if i >= 2), default=None)
        return name[:cut] + "州" if cut else name
    if name.endswith(("自治县", "自治旗", "盟")):
        return name
    for s in ("地区", "省", "市", "区", "县"):
        if name.endswith(s) and len(name) - len(s) >= 2:
            return name[: -len(s)]
    return name


def _fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


def generate(n: int, seed: int = 7) -> pl.DataFrame:
    """Addresses with their true province, city and district (district null when the
    text names none). Formats: full; no province; suffixes dropped; spaces; full-width
    digits; repeated municipality (e-commerce exports); postcode and country prefix;
    city only."""
    rng = random.Random(seed)
    d = geo.divisions()
    districts = d.filter(pl.col("level") == "district").select("province", "city", "name").rows()
    # Short district names that stay unique within their city keep the text unambiguous.
    rows = []
    for _ in range(n):
        p, c, dist = rng.choice(districts)
        street = rng.choice(STREETS)
        fmt = rng.randrange(8)
        if p in MUNICIPAL:
            c_text = ""
            p_text = rng.choice([p, _short(p), p + p])
        else:
            c_text = c
            p_text = p
        if fmt == 0:
            text = f"{p_text}{c_text}{dist}{street}"
        elif fmt == 1:
            text = f"{c_text or p_text}{dist}{street}"
        elif fmt == 2:
            text = f"{_short(p_text)}{_short(c_text) if c_text else ''}{dist}{street}"
        elif fmt == 3:
            text = f"{p_text} {c_text} {dist} {street}"
        elif fmt == 4:
            text = _fullwidth(f"{p_text}{c_text}{dist}{street}")
        elif fmt == 5:
            text = f"{rng.randint(100000, 999999)} 中国{p_text}{c_text}{dist}{street}"
        elif fmt == 6:
            text = f"{p_text}{c_text}{street}"
            dist = None
        else:
            text = f"{_short(p_text)}{c_text}{dist}{street}"
        rows.append((text, p, c, dist))
    return pl.DataFrame(rows, schema=["address", "province", "city", "district"], orient="row")


def crmkit_parse(addresses: pl.Series) -> pl.DataFrame:
    return pl.select(crmkit.clean.address(pl.lit(addresses))).unnest(addresses.name).select("province", "city", "district")


def cpca_parse(addresses: pl.Series) -> pl.DataFrame:
    import cpca

    out = cpca.transform(addresses.to_list())
    df = pl.from_pandas(out[["省", "市", "区"]].astype(object)).rename({"省": "province", "市": "city", "区": "district"})
    df = df.with_columns([pl.col(c).cast(pl.String) for c in ("province", "city", "district")])
    # cpca reports the table's placeholder rows: a municipality's city is "市辖区" (or
    # "县"), read as the municipality itself; a county-level city directly under its
    # province (仙桃市, 石河子市) comes as city "省直辖县级行政区划" and district 仙桃市,
    # read as crmkit's (city 仙桃市, district null).
    municipal = pl.col("city").is_in(["市辖区", "县"])
    direct = pl.col("city").str.ends_with("直辖县级行政区划").fill_null(False)
    return df.select(
        "province",
        pl.when(municipal).then(pl.col("province")).when(direct).then(pl.col("district")).otherwise(pl.col("city")).alias("city"),
        pl.when(direct).then(pl.lit(None, dtype=pl.String)).otherwise(pl.col("district")).alias("district"),
    )


def accuracy(truth: pl.DataFrame, got: pl.DataFrame) -> dict[str, float]:
    out = {}
    for part in ("province", "city", "district"):
        t, g = truth[part], got[part]
        same = (t.is_null() & g.is_null()) | (t == g).fill_null(False)
        out[part] = float(same.mean())
        out[f"{part}_wrong_nonnull"] = int((g.is_not_null() & ~same).sum())
    return out


def real_format() -> pl.DataFrame:
    """The hand-written set of tests/test_address.py with its expected parts."""
    from test_address import REAL_FORMAT

    return pl.DataFrame(
        [r[:4] for r in REAL_FORMAT], schema=["address", "province", "city", "district"], orient="row"
    )


def print_accuracy(title: str, sample: pl.DataFrame) -> None:
    print(f"{title} ({sample.height:,} addresses): correct province / city / district, wrong non-null parts")
    for name, fn in (("crmkit", crmkit_parse), ("cpca", cpca_parse)):
        acc = accuracy(sample, fn(sample["address"]))
        print(f"  {name:<7} {acc['province']:.4f} / {acc['city']:.4f} / {acc['district']:.4f}   wrong: "
              f"{acc['province_wrong_nonnull']} / {acc['city_wrong_nonnull']} / {acc['district_wrong_nonnull']}")


def cases(quick: bool) -> list[Case]:
    n = 20_000 if quick else 1_000_000
    base = generate(50_000)
    addresses = pl.Series("a", (base["address"].to_list() * (n // base.height + 1))[:n])
    crmkit_parse(addresses.head(10))  # the matcher is built once per process
    return [
        Case(
            name=f"address parse, {n:,} addresses",
            crmkit=lambda: crmkit_parse(addresses),
            peer=lambda: cpca_parse(addresses),
            peer_name="cpca 0.5.5",
            repeat=3,
            note="generated from the division table; 8 formats",
            target_ratio=20.0,
        )
    ]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    print_accuracy("hand-written real-format set (tests/test_address.py)", real_format())
    sample = generate(50_000, seed=11)
    print_accuracy("generated set", sample)
    addresses = sample["address"]
    big = pl.Series("a", (addresses.to_list() * (n // addresses.len() + 1))[:n])
    crmkit_parse(big.head(10))
    cpca_parse(big.head(10))
    ours, theirs = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        crmkit_parse(big)
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        cpca_parse(big)
        theirs.append(time.perf_counter() - t0)
        print(f"  run: crmkit {ours[-1]:.3f}s, cpca {theirs[-1]:.2f}s, ratio {theirs[-1] / ours[-1]:.1f}x", flush=True)
    mo, mt = statistics.median(ours), statistics.median(theirs)
    print(f"{n:,} addresses, medians of {repeat}: crmkit {mo:.3f}s, cpca {mt:.2f}s, ratio {mt / mo:.1f}x")


if __name__ == "__main__":
    unicodedata.normalize("NFKC", "")
    main()
