"""Column cleaners and clean.customers, checked against independent references:
Python phonenumbers for phone validity and E.164, hand-written expectations elsewhere."""

from __future__ import annotations

import datetime as dt
import random
import unicodedata

import phonenumbers
import polars as pl
import pytest

import crmkit
from crmkit import clean
from crmkit.errors import CrmError, SchemaError


def _reference_e164(raw: str, region: str) -> str | None:
    # crmkit reads input after Unicode NFKC; phonenumbers itself maps full-width digits
    # but not, for example, an ideographic space inside an extension ("ext\u300099").
    raw = unicodedata.normalize("NFKC", raw)
    try:
        n = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(n):
        return None
    return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)


_FULLWIDTH = str.maketrans("0123456789+-() ", "０１２３４５６７８９＋－（）　")


def _phone_sample(n: int, seed: int) -> list[str]:
    """A broad sample: CN mobiles and landlines in many spellings, numbers of other
    regions (from libphonenumber's example numbers, perturbed), junk."""
    rng = random.Random(seed)
    regions = ["CN", "US", "GB", "DE", "FR", "JP", "HK", "TW", "MO", "SG", "AU", "IN", "RU", "BR", "KR", "CA",
               "IT", "ES", "NL", "SE", "CH", "MY", "TH", "VN", "ID", "PH", "AE", "SA", "ZA", "MX", "NZ"]
    examples = []
    for r in regions:
        for t in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            ex = phonenumbers.example_number_for_type(r, t)
            if ex is not None:
                examples.append(ex)
    out = []
    cn_area = ["10", "20", "21", "22", "23", "24", "25", "27", "28", "29", "311", "351", "371", "431", "451", "471",
               "531", "571", "591", "731", "755", "757", "760", "769", "871", "898", "991"]
    for _ in range(n):
        kind = rng.random()
        if kind < 0.35:  # CN mobile, valid and invalid prefixes
            d = "1" + str(rng.randint(0, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(9 + rng.choice([0, 0, 0, 0, 1, -1])))
            pre = rng.choice(["", "", "+86", "+86 ", "0086", "86", "(+86)", "+86-"])
            body = d if rng.random() < 0.5 else f"{d[:3]} {d[3:7]} {d[7:]}" if rng.random() < 0.5 else f"{d[:3]}-{d[3:7]}-{d[7:]}"
            s = pre + body
        elif kind < 0.55:  # CN landline
            area = rng.choice(cn_area)
            local = "".join(str(rng.randint(0, 9)) for _ in range(rng.choice([7, 8, 8, 6, 9])))
            s = rng.choice([f"0{area}-{local}", f"(0{area}){local}", f"+86 {area} {local}", f"0{area}{local}", f"{local}"])
            if rng.random() < 0.1:
                s += rng.choice([" ext. 12", " 转 8001", " x123", "#55"])
        elif kind < 0.85:  # other regions from example numbers
            ex = rng.choice(examples)
            nsn = phonenumbers.national_significant_number(ex)
            if rng.random() < 0.3:  # perturb a digit or the length
                i = rng.randrange(len(nsn))
                nsn = nsn[:i] + str(rng.randint(0, 9)) + nsn[i + 1:]
            if rng.random() < 0.1:
                nsn = nsn[:-1] if rng.random() < 0.5 else nsn + str(rng.randint(0, 9))
            s = rng.choice([f"+{ex.country_code} {nsn}", f"+{ex.country_code}{nsn}", f"00{ex.country_code}{nsn}", f"+{ex.country_code}-{nsn[:3]}-{nsn[3:]}"])
        else:  # junk and edge cases
            s = rng.choice(["", "N/A", "unknown", "123", "+", "++86", "phone: 13812345678", "13812345678 13912345678",
                            "1381234567８", "tel:+86-138-1234-5678", "(010) 6234 5678", "+1 (650) 253-0000",
                            "".join(str(rng.randint(0, 9)) for _ in range(rng.randint(1, 18))), "abc", "+86 138 1234 5678 ext 99",
                            "0086-10-62345678", "+852 2123 4567", "+886 2 2345 6789", "+44 (0) 20 7183 8750"])
        if rng.random() < 0.08:
            s = s.translate(_FULLWIDTH)
        out.append(s)
    return out


@pytest.mark.parametrize("region", ["CN", "US"])
def test_phone_equals_python_phonenumbers(region):
    sample = _phone_sample(6000, seed=11 if region == "CN" else 12)
    got = pl.DataFrame({"p": sample}).select(clean.phone("p", region=region))["p"].to_list()
    want = [_reference_e164(s, region) for s in sample]
    mismatches = [(s, g, w) for s, g, w in zip(sample, got, want) if g != w]
    assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[:10]}"
    assert sum(w is not None for w in want) > 1500  # the sample holds plenty of valid numbers


def test_phone_cases_and_dtypes():
    s = pl.Series("tel", ["１３８１２３４５６７８", "0086 138 1234 5678", "+86-138-1234-5678", "138 1234 5678 ext. 5", "12345678901", None])
    out = pl.DataFrame({"tel": s}).select(clean.phone("tel"))
    assert out.columns == ["tel"]
    assert out["tel"].to_list() == ["+8613812345678"] * 4 + [None, None]
    ints = pl.DataFrame({"tel": [13812345678, 12]}).select(clean.phone("tel"))["tel"].to_list()
    assert ints == ["+8613812345678", None]
    with pytest.raises(CrmError, match="region"):
        clean.phone("tel", region="XX")
    with pytest.raises(pl.exceptions.PolarsError, match="tel"):
        pl.DataFrame({"tel": [1.5]}).select(clean.phone("tel"))


def test_text_and_name():
    df = pl.DataFrame({"t": ["  ＡＢＣ　１２３ ", "N/A", "null", "-", "无", "空", "不详", "a\u0007b\u200bc", "  x   y  ", None, "Ｎｏｎｅ"]})
    assert df.select(clean.text("t"))["t"].to_list() == ["ABC 123", None, None, None, None, None, None, "abc", "x y", None, None]
    assert df.select(clean.text("t", casefold=True))["t"][0] == "abc 123"
    names = pl.DataFrame({"n": ["张 伟", "王先生", "李娜  女士", "MRS.  mary-jane o'neil", "dr smith", "Ms Li", "ＪＯＨＮ", "---", "张三丰"]})
    assert names.select(clean.name("n"))["n"].to_list() == ["张伟", "王", "李娜", "Mary-Jane O'Neil", "Smith", "Li", "John", None, "张三丰"]


def test_email():
    df = pl.DataFrame({"e": [" Zhang.Wei@QQ.COM ", "ｌｉ＠１６３．ｃｏｍ", "bad@", "a@b", "x..y@z.com", "mailto:Bob@Example.org", "无", "a b@c.com"]})
    assert df.select(clean.email("e"))["e"].to_list() == ["zhang.wei@qq.com", "li@163.com", None, None, None, "bob@example.org", None, None]


def test_date_formats_and_dtypes():
    want = dt.date(2024, 3, 5)
    vals = ["2024-03-05", "2024/3/5", "05.03.2024", "2024年3月5日", "20240305", "45356", "2024-03-05 08:00:00", "5 March 2024", "２０２４年３月５日"]
    out = pl.DataFrame({"d": vals}).select(clean.date("d"))
    assert out.schema["d"] == pl.Date
    assert out["d"].to_list() == [want] * len(vals)
    bad = pl.DataFrame({"d": ["2023-02-29", "2024-13-01", "31/31/2024", "hello", "", None, "1700-01-01"]}).select(clean.date("d"))
    assert bad["d"].null_count() == 7
    assert pl.DataFrame({"d": ["05|03|2024"]}).select(clean.date("d", formats=["%d|%m|%Y"]))["d"][0] == want
    assert pl.DataFrame({"d": [want]}).select(clean.date("d"))["d"][0] == want
    assert pl.DataFrame({"d": [dt.datetime(2024, 3, 5, 10)]}).select(clean.date("d"))["d"][0] == want
    assert pl.DataFrame({"d": [20240305]}).select(clean.date("d"))["d"][0] == want


def test_amount():
    vals = ["¥1,234.50", "1.234,50 €", "$12", "１２３", "(12.00)", "-3.5", "RMB 1,000", "1.5万", "abc", "", None, "1,2,3"]
    out = pl.DataFrame({"a": vals}).select(clean.amount("a"))["a"].to_list()
    assert out == [1234.5, 1234.5, 12.0, 123.0, -12.0, -3.5, 1000.0, 15000.0, None, None, None, None]
    assert pl.DataFrame({"a": [1, 2]}).select(clean.amount("a"))["a"].to_list() == [1.0, 2.0]
    assert pl.DataFrame({"a": [1.5, float("nan")]}).select(clean.amount("a"))["a"].to_list() == [1.5, None]


def test_namespace_lazy_and_over():
    lf = pl.LazyFrame({"g": [1, 1, 2], "phone": ["13812345678", "bad", "+1 650 253 0000"], "name": ["a b", "c", "张 伟"]})
    out = lf.with_columns(
        pl.col("phone").crm.phone(region="CN").alias("e164"),
        pl.col("name").crm.name().first().over("g").alias("first_name"),
    ).collect()
    assert out["e164"].to_list() == ["+8613812345678", None, "+16502530000"]
    assert out["first_name"].to_list() == ["A B", "A B", "张伟"]
    agg = lf.group_by("g", maintain_order=True).agg(clean.phone("phone").drop_nulls().len()).collect()
    assert agg["phone"].to_list() == [1, 1]


def test_non_string_rejected_with_column_name():
    with pytest.raises(pl.exceptions.PolarsError, match="'n'.*string"):
        pl.DataFrame({"n": [1, 2]}).select(clean.name("n"))
    with pytest.raises(CrmError):
        clean.text(42)  # type: ignore[arg-type]


def test_all_null_and_empty_columns():
    df = pl.DataFrame({"p": [None, None]}, schema={"p": pl.Null})
    assert df.select(clean.phone("p"))["p"].to_list() == [None, None]
    empty = pl.DataFrame({"p": []}, schema={"p": pl.String})
    assert empty.select(clean.phone("p")).height == 0


def test_large_column_parallel_path_is_identical():
    sample = _phone_sample(3000, seed=3) * 20  # 60k values: the parallel slices path
    got = pl.DataFrame({"p": sample}).select(clean.phone("p"))["p"].to_list()
    small = pl.DataFrame({"p": sample[:3000]}).select(clean.phone("p"))["p"].to_list()
    assert got == small * 20


def test_customers_report_and_no_row_dropped():
    df = pl.DataFrame({
        "record_id": [1, 2, 3, 4],
        "source": ["web", "app", "store", " WEB "],
        "name": ["张 伟", "N/A", "li na", "王先生"],
        "phone": ["13812345678", "12", None, "+86 139 0000 1111"],
        "email": ["A@QQ.com", "x@", "无", "b@163.com"],
        "birth_date": ["1990/1/2", "1990-02-30", "不详", "1985年5月6日"],
        "spend": ["¥1,200", "abc", None, "88"],
    })
    res = crmkit.clean.customers(df)
    assert res.data.height == 4 and res.data["record_id"].to_list() == [1, 2, 3, 4]
    assert res.data.columns == df.columns
    assert res.data["name"].to_list() == ["张伟", None, "Li Na", "王"]
    assert res.data["birth_date"].to_list() == [dt.date(1990, 1, 2), None, None, dt.date(1985, 5, 6)]
    assert res.data["spend"].to_list() == [1200.0, None, None, 88.0]
    rep = {r["column"]: r for r in res.report.iter_rows(named=True)}
    assert set(rep) == {"source", "name", "phone", "email", "birth_date", "spend"}
    assert (rep["name"]["changed"], rep["name"]["nulled_invalid"], rep["name"]["placeholders_removed"]) == (3, 0, 1)
    assert (rep["phone"]["changed"], rep["phone"]["nulled_invalid"], rep["phone"]["placeholders_removed"]) == (2, 1, 0)
    assert (rep["email"]["nulled_invalid"], rep["email"]["placeholders_removed"]) == (1, 1)
    assert (rep["birth_date"]["nulled_invalid"], rep["birth_date"]["placeholders_removed"]) == (1, 1)
    assert (rep["spend"]["nulled_invalid"], rep["spend"]["non_null_after"]) == (1, 2)
    assert rep["source"]["changed"] == 1


def test_customers_explicit_columns_and_errors():
    df = pl.DataFrame({"a": ["13812345678"], "b": [1.5]})
    res = crmkit.clean.customers(df, columns={"a": "phone"})
    assert res.data["a"][0] == "+8613812345678" and res.data["b"][0] == 1.5
    with pytest.raises(SchemaError, match="'zz'"):
        crmkit.clean.customers(df, columns={"zz": "phone"})
    with pytest.raises(CrmError, match="unknown kind"):
        crmkit.clean.customers(df, columns={"a": "telephone"})
    with pytest.raises(SchemaError, match="'b'"):
        crmkit.clean.customers(df, columns={"b": "name"})
    empty = df.clear()
    res = crmkit.clean.customers(empty, columns={"a": "phone"})
    assert res.data.height == 0 and res.report["non_null_before"].to_list() == [0]
    lazy = crmkit.clean.customers(df.lazy(), columns={"a": "phone"})
    assert lazy.data["a"][0] == "+8613812345678"


def test_inferred_kinds_leave_timestamps_alone():
    """A Datetime named like a date keeps its time of day unless a kind is asked for."""
    import datetime as dt

    df = pl.DataFrame({"signup_date": [dt.datetime(2024, 1, 1, 13, 5), None], "birth_date": ["1990/1/2", "N/A"]})
    res = crmkit.clean.customers(df)
    assert res.data["signup_date"].equals(df["signup_date"])
    assert res.report["column"].to_list() == ["birth_date"]
    asked = crmkit.clean.customers(df, columns={"signup_date": "date"})
    assert asked.data["signup_date"].to_list() == [dt.date(2024, 1, 1), None]
