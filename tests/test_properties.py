"""Property-based checks over crmkit's public functions (hypothesis).

Inputs nobody chose: strings of every shape (emoji, right-to-left text, combining
marks, full-width forms, controls, 10k characters), order logs with duplicated and
extreme values, one-row and empty frames, several id and date dtypes. For every case:

- no crash: either a result or a ``CrmError`` (never another exception type, never a
  converted Rust panic, whose message says "internal error");
- cleaners keep one output per input and are idempotent (``clean(clean(x)) == clean(x)``);
- results do not depend on the order of the input rows;
- per-customer results do not depend on how customers are split across calls (the rule
  that lets crmkit.spark run them per customer bucket).

``make test`` runs the "ci" profile (a fixed budget, derandomized so every run tries the
same examples); ``make fuzz`` runs the "fuzz" profile for at least ten minutes.
"""

from __future__ import annotations

import datetime as dt
import inspect
import os
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import crmkit
from crmkit import clean, clv

settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("fuzz", max_examples=int(os.environ.get("CRMKIT_FUZZ_EXAMPLES", "1500")), deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("CRMKIT_HYPOTHESIS_PROFILE", "ci"))
# polars renamed assert_frame_equal's rtol to rel_tol (1.32); the floor is 1.28.
TOL = "rel_tol" if "rel_tol" in inspect.signature(assert_frame_equal).parameters else "rtol"

# --- strings ---------------------------------------------------------------------------

SHAPES = [
    "", " ", "\t\n", "　", "😀👍🏽", "مرحبا بالعالم", "שלום", "e\u0301\u0301", "Ｚｈａｎｇ　Ｗｅｉ", "张伟",
    "13800138000", "+86 138-0013-8000", "ZHANG@EXAMPLE.COM ", "2024/02/30", "¥1,234.50", "\x00\x07",
    "北京市朝阳区建国路88号", "广东省深圳市南山区科技园", "x" * 10_000, "中" * 5_000, "=1+2", "<script>alert(1)</script>",
]
text = st.one_of(st.sampled_from(SHAPES), st.text(max_size=60),
                 st.text(alphabet=st.characters(min_codepoint=0x3000, max_codepoint=0x9fff), max_size=20))
texts = st.lists(st.one_of(text, st.none()), min_size=0, max_size=12)


def _ok_error(e: Exception) -> None:
    """The only failure a user may see is a clear crmkit error (not a converted panic)."""
    assert isinstance(e, crmkit.CrmError), f"{type(e).__name__}: {e}"
    assert "internal error" not in str(e), str(e)


STRING_CLEANERS = {
    "text": clean.text,
    "name": clean.name,
    "phone": clean.phone,
    "email": clean.email,
}
OTHER_CLEANERS = {
    "date": clean.date,
    "amount": clean.amount,
    "name_key": clean.name_key,
    "address": clean.address,
    "region": clean.region,
}


@pytest.mark.parametrize("kind", sorted(STRING_CLEANERS))
@given(values=texts)
def test_string_cleaners_never_crash_and_are_idempotent(kind, values):
    cleaner = STRING_CLEANERS[kind]
    s = pl.Series("v", values, dtype=pl.String)
    try:
        once = pl.select(cleaner(pl.lit(s))).to_series()
    except Exception as e:  # noqa: BLE001 - the property is about which exceptions
        _ok_error(e)
        return
    assert once.len() == s.len()
    assert once.null_count() >= s.null_count()
    twice = pl.select(cleaner(pl.lit(once))).to_series()
    assert twice.to_list() == once.to_list(), "cleaning a cleaned value changed it"


@pytest.mark.parametrize("kind", sorted(OTHER_CLEANERS))
@given(values=texts)
def test_other_cleaners_never_crash_and_keep_rows(kind, values):
    cleaner = OTHER_CLEANERS[kind]
    s = pl.Series("v", values, dtype=pl.String)
    try:
        out = pl.select(cleaner(pl.lit(s))).to_series()
    except Exception as e:  # noqa: BLE001
        _ok_error(e)
        return
    assert out.len() == s.len()
    # Row order does not change any row's result.
    rev = pl.select(cleaner(pl.lit(s.reverse()))).to_series().reverse()
    assert rev.to_list() == out.to_list()


# --- order logs ------------------------------------------------------------------------

START = dt.datetime(2020, 1, 1)


@st.composite
def orders(draw, min_rows: int = 0):
    n = draw(st.integers(min_value=min_rows, max_value=40))
    n_customers = draw(st.integers(min_value=1, max_value=8))
    ids = draw(st.lists(st.integers(0, n_customers - 1), min_size=n, max_size=n))
    minutes = draw(st.lists(st.integers(0, 3 * 365 * 24 * 60), min_size=n, max_size=n))
    amounts = draw(st.lists(st.one_of(st.floats(0, 1e6, allow_nan=False), st.sampled_from([0.0, 0.01, 1e9])),
                            min_size=n, max_size=n))
    id_kind = draw(st.sampled_from(["int", "str"]))
    date_kind = draw(st.sampled_from(["datetime", "date", "datetime_tz"]))
    df = pl.DataFrame({
        "order_id": list(range(n)),
        "customer_id": [f"c{i}" for i in ids] if id_kind == "str" else ids,
        "order_date": [START + dt.timedelta(minutes=m) for m in minutes],
        "amount": amounts,
    }, schema={"order_id": pl.Int64, "customer_id": pl.String if id_kind == "str" else pl.Int64,
               "order_date": pl.Datetime("us"), "amount": pl.Float64})
    if date_kind == "date":
        df = df.with_columns(pl.col("order_date").dt.date())
    elif date_kind == "datetime_tz":
        df = df.with_columns(pl.col("order_date").dt.replace_time_zone("Asia/Shanghai"))
    return df


AS_OF = dt.date(2023, 1, 2)


def _run(fn, df):
    try:
        return fn(df)
    except Exception as e:  # noqa: BLE001
        _ok_error(e)
        return None


def _canonical(out: pl.DataFrame, key: str) -> pl.DataFrame:
    return out.sort(key) if key in out.columns else out


PER_CUSTOMER = {
    # name: (function of an order frame, key column, partitionable by customer)
    "rfm": (lambda df: crmkit.rfm(df, as_of=AS_OF), "customer_id", False),
    "clv.summary": (lambda df: clv.summary(df, amount="amount", observation_end=AS_OF), "customer_id", True),
    "profile": (lambda df: crmkit.profile(df, as_of=AS_OF), "customer_id", True),
    "churn.features": (lambda df: crmkit.churn.features(df, cutoff="2022-06-01", btyd=False), "customer_id", True),
    "cohorts": (lambda df: crmkit.cohorts(df), "cohort", False),
    "kpi.compute": (lambda df: crmkit.kpi.compute(df, freq="1mo", as_of=AS_OF), "period_start", False),
}


@pytest.mark.parametrize("name", sorted(PER_CUSTOMER))
@given(df=orders(), seed=st.integers(0, 2**31 - 1))
def test_order_functions_do_not_depend_on_row_order(name, df, seed):
    fn, key, _ = PER_CUSTOMER[name]
    out = _run(fn, df)
    if out is None:
        return
    shuffled = df.sample(fraction=1.0, shuffle=True, seed=seed)
    again = fn(shuffled)
    sort_by = [c for c in out.columns if out.schema[c] != pl.Float64 and not isinstance(out.schema[c], (pl.List,
                                                                                                        pl.Struct))]
    assert_frame_equal(again.sort(sort_by), out.sort(sort_by), check_exact=False, **{TOL: 1e-9})


@pytest.mark.parametrize("name", sorted(n for n, (_, _, part) in PER_CUSTOMER.items() if part))
@given(df=orders(min_rows=2), split=st.integers(1, 7))
def test_per_customer_results_are_partitionable(name, df, split):
    fn, key, _ = PER_CUSTOMER[name]
    whole = _run(fn, df)
    if whole is None:
        return
    cid = pl.col("customer_id").hash(seed=1) % (split + 1) if df.schema["customer_id"] == pl.String else \
        pl.col("customer_id") % (split + 1)
    parts = [p for p in df.with_columns(cid.alias("__part")).partition_by("__part", include_key=False)]
    outs = [o for o in (_run(fn, p) for p in parts) if o is not None]
    if not outs:
        return
    combined = pl.concat(outs, how="diagonal_relaxed")
    # columns that exist only because some partition saw a value (a channel) are not compared
    cols = [c for c in whole.columns if c in combined.columns]
    assert_frame_equal(_canonical(combined.select(cols), key), _canonical(whole.select(cols), key),
                       check_exact=False, check_dtypes=False, **{TOL: 1e-9})


@given(df=orders(min_rows=1))
def test_one_row_and_empty_frames(df):
    for fn, _, _ in PER_CUSTOMER.values():
        _run(fn, df.head(1))
        _run(fn, df.head(0))


@given(values=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=30))
def test_amount_columns_with_nan_and_inf_are_refused_or_used(values):
    n = len(values)
    df = pl.DataFrame({"customer_id": [i % 3 for i in range(n)],
                       "order_date": [START + dt.timedelta(days=i) for i in range(n)], "amount": values})
    for fn, _, _ in PER_CUSTOMER.values():
        out = _run(fn, df)
        if out is not None:
            assert out.height >= 0


@given(df=orders(min_rows=1))
def test_rfm_is_the_same_with_lazy_input(df):
    out = _run(lambda d: crmkit.rfm(d, as_of=AS_OF), df)
    if out is not None:
        assert_frame_equal(crmkit.rfm(df.lazy(), as_of=AS_OF), out)


# --- threads ---------------------------------------------------------------------------

_THREAD_SCRIPT = r"""
import hashlib, io, sys, warnings
warnings.simplefilter("ignore")
import numpy as np, polars as pl, crmkit
from crmkit import clv, forecast as fc, ml
w = crmkit.datasets.generate(n_customers=400, seed=5)
outs = {}
outs["dedupe"] = crmkit.dedupe(w.customers, id="record_id").sort("record_id")
s = clv.summary(w.orders)
bgf = clv.BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
outs["bgnbd"] = pl.DataFrame({"p": [float(v) for v in bgf.params_.values()]})
r = crmkit.rfm(w.orders)
feats, _ = crmkit.scale(r.select("recency_days", "frequency", "monetary"))
outs["kmeans"] = pl.DataFrame({"label": crmkit.KMeans(n_clusters=4, random_state=0).fit(feats).labels_})
x = r.select("recency_days", "frequency", "monetary").cast(pl.Float64)
y = (r["frequency"] > 1).cast(pl.Int64).to_numpy()
gb = ml.GradientBoostingClassifier(max_iter=20, random_state=0).fit(x, y)
outs["gbdt"] = pl.DataFrame({"p": gb.predict_proba(x)[:, 1]})
series = fc.series(w.orders, freq="1w", by="channel")
outs["ets"] = fc.forecast(series, models=[fc.AutoETS(season_length=4)], h=4)
outs["auto"] = fc.auto(series, h=4, season_length=4)
outs["link"] = crmkit.link(w.customers.head(300), w.customers.tail(300), "record_id", "record_id").sort(pl.all())
outs["rules"] = crmkit.basket.association_rules(crmkit.basket.frequent_itemsets(w.items, min_support=0.01),
                                                min_threshold=0.1).sort("antecedents", "consequents")
outs["funnel"] = crmkit.funnel(w.events, ["view", "cart", "purchase"])
outs["churn_features"] = crmkit.churn.features(w.orders, cutoff="2023-01-01").sort("customer_id")
cm = crmkit.churn.ChurnModel(horizon=90, n_cutoffs=2, random_state=0).fit(w.orders)
outs["churn_model"] = cm.score(w.orders).sort("customer_id")
outs["kpi"] = crmkit.kpi.alerts(crmkit.kpi.compute(w.orders, freq="1w"))
outs["logistic"] = pl.DataFrame({"p": ml.LogisticRegression().fit(x, y).predict_proba(x)[:, 1]})
outs["auto_clf"] = pl.DataFrame({"p": ml.AutoClassifier(cv=2, gbdt_params={"max_iter": 10}).fit(x, y).predict_proba(x)[:, 1]})
outs["choose_k"] = crmkit.choose_k(feats.select(pl.all().cast(pl.Float64)).to_numpy(), k=range(2, 5)).scores
outs["pareto"] = pl.DataFrame({"p": [float(v) for v in clv.ParetoNBDFitter().fit(s["frequency"], s["recency"], s["T"]).params_.values()]})
for k in sorted(outs):
    outs[k].rechunk().write_ipc(f"{sys.argv[1]}/{k}.arrow")
"""
# Summed in a thread-dependent order by polars' parallel aggregations: equal to 1e-12
# (relative), not to the bit. Every other result must be bit-identical.
_THREAD_TOLERANT = {"auto", "kpi"}


def test_results_are_the_same_with_one_and_two_threads():
    """Dedupe, link, BG/NBD, Pareto/NBD, k-means and choose_k, gradient boosting,
    logistic regression, AutoClassifier, ETS and forecast.auto, FP-growth rules, funnel,
    churn features and ChurnModel, KPI alerts give bit-identical results whatever the
    number of threads (rayon's and polars')."""
    import tempfile

    dirs = []
    for threads in ("1", "2"):
        env = dict(os.environ, RAYON_NUM_THREADS=threads, POLARS_MAX_THREADS=threads)
        d = tempfile.mkdtemp(prefix=f"crmkit-threads{threads}-")
        r = subprocess.run([sys.executable, "-c", _THREAD_SCRIPT, d], env=env, capture_output=True, text=True,
                           timeout=600)
        assert r.returncode == 0, r.stderr[-3000:]
        dirs.append(d)
    names = sorted(os.listdir(dirs[0]))
    assert len(names) >= 16 and names == sorted(os.listdir(dirs[1]))
    for name in names:
        one, two = (pl.read_ipc(os.path.join(d, name)) for d in dirs)
        exact = name.removesuffix(".arrow") not in _THREAD_TOLERANT
        assert_frame_equal(one, two, check_exact=exact, **({} if exact else {TOL: 1e-12}))


# =======================================================================================
# The whole public API on generated frames of every dtype and shape (issue 17).
# =======================================================================================
#
# Each entry of API below is one public function (or fit + predict of one estimator)
# applied to generated input of one kind; the kinds' generators mix clean frames with
# nulls, NaN/±inf, 0, negatives, 1e300, far past and future dates, naive and zone-aware
# timestamps of every time unit, every integer width, Float32, Decimal, Categorical,
# Enum and String ids, string ids of every shape, duplicated keys, one-row and empty
# frames. Invariants: a result or a CrmError naming a column or argument; the same result
# for the rows shuffled; per-customer results partitionable by customer; no customer
# silently lost (the function's output or its warnings account for every one).

import warnings  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from decimal import Decimal  # noqa: E402
from typing import Any, Callable, Optional  # noqa: E402

from crmkit import basket, churn, experiment, forecast as fc, kpi, metrics, ml  # noqa: E402

INT_DTYPES = [pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64]
ID_KINDS = [*INT_DTYPES, pl.String, pl.Categorical, "enum", "shapes"]
TIME_KINDS = [pl.Date, pl.Datetime("ms"), pl.Datetime("us"), pl.Datetime("ns"), pl.Datetime("us", "Asia/Shanghai"),
              pl.Datetime("ms", "UTC"), pl.Datetime("ns", "America/New_York")]
AMOUNT_KINDS = [pl.Float64, pl.Float32, pl.Int32, pl.Int64, pl.UInt16, pl.Decimal(18, 2)]
# Distinct strings of every shape, used as ids (customers, baskets, users, variants).
ID_SHAPES = ["", " ", "😀👍🏽", "مرحبا", "שלום", "e\u0301", "Ｚｈａｎｇ", "张伟", "x" * 10_000, "=1+2", "<b>", "\t\n", "a b",
             "\u200b", "Ａ１"]
FAR = [dt.datetime(1900, 1, 1), dt.datetime(2199, 12, 31, 23, 59), dt.datetime(1970, 1, 1)]


def _ids(draw, codes: list[int], kind: Any) -> pl.Series:
    if kind == "shapes":
        return pl.Series(codes, dtype=pl.Int64).replace_strict(list(range(len(ID_SHAPES))), ID_SHAPES,
                                                                return_dtype=pl.String)
    if kind in (pl.String, pl.Categorical, "enum"):
        s = pl.Series([f"c{c}" for c in codes], dtype=pl.String)
        if kind == pl.Categorical:
            return s.cast(pl.Categorical)
        if kind == "enum":
            return s.cast(pl.Enum([f"c{c}" for c in range(16)]))
        return s
    return pl.Series(codes, dtype=pl.Int64).cast(kind)


def _times(draw, n: int, kind: Any, dirty: bool, base: dt.datetime = START) -> pl.Series:
    secs = draw(st.lists(st.integers(0, 3 * 365 * 86400), min_size=n, max_size=n))
    vals: list[Optional[dt.datetime]] = [base + dt.timedelta(seconds=s) for s in secs]
    if dirty and n:
        for i in draw(st.lists(st.integers(0, n - 1), max_size=3)):
            vals[i] = draw(st.sampled_from([*FAR, None]))
    s = pl.Series(vals, dtype=pl.Datetime("us"))
    if kind == pl.Date:
        return s.dt.date()
    s = s.cast(pl.Datetime(kind.time_unit))
    if kind.time_zone:
        s = s.dt.replace_time_zone(kind.time_zone, ambiguous="earliest", non_existent="null")
    return s


SPECIAL_FLOATS = [0.0, -0.0, -5.0, 1e300, -1e300, float("nan"), float("inf"), float("-inf"), None, 5e-324]


def _amounts(draw, n: int, kind: Any, dirty: bool) -> pl.Series:
    vals = draw(st.lists(st.floats(0, 5000, allow_nan=False, width=32), min_size=n, max_size=n))
    if dirty and n:
        for i in draw(st.lists(st.integers(0, n - 1), max_size=3)):
            vals[i] = draw(st.sampled_from(SPECIAL_FLOATS))
    s = pl.Series(vals, dtype=pl.Float64)
    if kind == pl.Float64:
        return s
    if kind == pl.Float32:
        return s.cast(pl.Float32)
    # Integers and decimals cannot hold NaN/inf/1e300: those become nulls (still dirty).
    ok = s.is_finite() & (s.abs() < 1e9)
    s = pl.select(pl.when(ok).then(s).otherwise(None)).to_series()
    if kind == pl.UInt16:
        s = s.abs().clip(upper_bound=60000)
    if isinstance(kind, pl.Decimal):
        return pl.Series([None if v is None else Decimal(f"{v:.2f}") for v in s.to_list()], dtype=kind)
    return s.round(0).cast(kind)


@st.composite
def order_logs(draw, min_rows: int = 0, max_rows: int = 30):
    """An order log: order_id, customer_id, order_date, amount, channel, discount, each of
    a drawn dtype; one example in three is dirty (specials, far dates, nulls, duplicates)."""
    n = draw(st.integers(min_rows, max_rows))
    n_customers = draw(st.integers(1, 6))
    dirty = draw(st.integers(0, 2)) == 0
    codes = draw(st.lists(st.integers(0, n_customers - 1), min_size=n, max_size=n))
    id_kind = draw(st.sampled_from(ID_KINDS))
    df = pl.DataFrame({
        "order_id": pl.Series(range(n), dtype=pl.Int64),
        "customer_id": _ids(draw, codes, id_kind),
        "order_date": _times(draw, n, draw(st.sampled_from(TIME_KINDS)), dirty),
        "amount": _amounts(draw, n, draw(st.sampled_from(AMOUNT_KINDS)), dirty),
        "channel": pl.Series(draw(st.lists(st.sampled_from(["web", "app", "store"]), min_size=n, max_size=n)),
                             dtype=pl.String).cast(pl.Enum(["web", "app", "store"])),
        "discount": pl.Series(draw(st.lists(st.sampled_from([0.0, 0.1, 0.5]), min_size=n, max_size=n)), dtype=pl.Float64),
    })
    if dirty and n and draw(st.booleans()):
        df = pl.concat([df, df.head(draw(st.integers(1, n)))])  # duplicated orders, order_id repeats
    if dirty and n and draw(st.booleans()):
        i = draw(st.integers(0, n - 1))
        df = df.with_columns(pl.when(pl.int_range(pl.len()) == i).then(None).otherwise(pl.col("customer_id"))
                             .alias("customer_id"))
    return df


@st.composite
def event_logs(draw):
    n = draw(st.integers(0, 30))
    users = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    dirty = draw(st.integers(0, 2)) == 0
    vocab = ["view", "cart", "purchase", "search"] + (["", "😀", "שלום", " view "] if dirty else [])
    names = draw(st.lists(st.sampled_from(vocab), min_size=n, max_size=n))
    ev = pl.Series(names, dtype=pl.String)
    if draw(st.booleans()):
        ev = ev.cast(pl.Categorical)
    return pl.DataFrame({
        "customer_id": _ids(draw, users, draw(st.sampled_from(ID_KINDS))),
        "session_id": pl.Series([u * 10 + draw(st.integers(0, 2)) for u in users], dtype=pl.Int64),
        "event": ev,
        "timestamp": _times(draw, n, draw(st.sampled_from(TIME_KINDS[1:])), dirty),
    })


@st.composite
def item_logs(draw):
    n = draw(st.integers(0, 40))
    baskets = draw(st.lists(st.integers(0, 9), min_size=n, max_size=n))
    products = draw(st.lists(st.sampled_from(["milk", "bread", "egg", "tea", "😀", "咖啡", "", "x" * 500]),
                             min_size=n, max_size=n))
    p = pl.Series(products, dtype=pl.String)
    if draw(st.booleans()):
        p = p.cast(pl.Categorical)
    return pl.DataFrame({"order_id": _ids(draw, baskets, draw(st.sampled_from(ID_KINDS))), "product": p,
                         "customer_id": pl.Series([b % 4 for b in baskets], dtype=pl.Int64)})


@st.composite
def customer_records(draw):
    n = draw(st.integers(0, 14))
    names = draw(st.lists(st.one_of(st.sampled_from(["张伟", "张 伟", "Zhang Wei", "ZHANG WEI", "李娜", "Li Na", ""]), text,
                                    st.none()), min_size=n, max_size=n))
    phones = draw(st.lists(st.one_of(st.sampled_from(["13800138000", "+86 138-0013-8000", "１３８００１３８０００",
                                                      "12345", ""]), st.none()), min_size=n, max_size=n))
    emails = draw(st.lists(st.one_of(st.sampled_from(["a@b.com", "A@B.COM ", "x@y", "😀@😀.cn"]), st.none()),
                           min_size=n, max_size=n))
    return pl.DataFrame({"record_id": pl.Series(range(n), dtype=draw(st.sampled_from(INT_DTYPES))),
                         "name": pl.Series(names, dtype=pl.String), "phone": pl.Series(phones, dtype=pl.String),
                         "email": pl.Series(emails, dtype=pl.String)})


@st.composite
def xy_frames(draw):
    """Features of several dtypes with specials, and a binary target."""
    n = draw(st.integers(0, 60))
    dirty = draw(st.integers(0, 2)) == 0
    a = draw(st.lists(st.floats(-100, 100, allow_nan=False), min_size=n, max_size=n))
    if dirty and n:
        for i in draw(st.lists(st.integers(0, n - 1), max_size=3)):
            a[i] = draw(st.sampled_from(SPECIAL_FLOATS))
    b = draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n))
    y = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    X = pl.DataFrame({"a": pl.Series(a, dtype=pl.Float64).cast(draw(st.sampled_from([pl.Float64, pl.Float32]))),
                      "b": pl.Series(b, dtype=pl.Int64).cast(draw(st.sampled_from([pl.Int8, pl.Int32, pl.Int64, pl.Float64]))),
                      "c": pl.Series(draw(st.lists(st.sampled_from(["x", "y", "z"]), min_size=n, max_size=n)),
                                     dtype=pl.String).cast(pl.Categorical)})
    return X, np.asarray(y, dtype=np.int64)


@st.composite
def ab_frames(draw):
    n = draw(st.integers(0, 60))
    dirty = draw(st.integers(0, 2)) == 0
    variants = draw(st.lists(st.sampled_from(["control", "treatment"] + (["b😀"] if dirty else [])), min_size=n,
                             max_size=n))
    conv = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    rev = draw(st.lists(st.floats(0, 1000, allow_nan=False), min_size=n, max_size=n))
    if dirty and n:
        for i in draw(st.lists(st.integers(0, n - 1), max_size=3)):
            rev[i] = draw(st.sampled_from(SPECIAL_FLOATS))
    v = pl.Series(variants, dtype=pl.String)
    if draw(st.booleans()):
        v = v.cast(pl.Categorical)
    return pl.DataFrame({"variant": v, "converted": pl.Series(conv, dtype=pl.Int64).cast(draw(st.sampled_from([pl.Int8, pl.Int64,
                                                                                                     pl.Boolean]))),
                         "revenue": pl.Series(rev, dtype=pl.Float64)})


def _series_from(orders: pl.DataFrame) -> pl.DataFrame:
    return fc.series(orders, freq="1w")


def _summary(orders: pl.DataFrame) -> pl.DataFrame:
    return clv.summary(orders, amount="amount", observation_end=AS_OF)


def _fitted_params(model: Any) -> pl.DataFrame:
    return pl.DataFrame({"param": list(model.params_), "value": [float(v) for v in model.params_.values()]})


def _clv_fit(cls: Any) -> Callable[[pl.DataFrame], pl.DataFrame]:
    def run(orders: pl.DataFrame) -> pl.DataFrame:
        s = _summary(orders)
        model = cls().fit(s["frequency"], s["recency"], s["T"])
        out = clv.predict(s, model, horizon=30)
        return out
    return run


def _gamma_gamma(orders: pl.DataFrame) -> pl.DataFrame:
    s = _summary(orders).filter(pl.col("frequency") > 0)
    return _fitted_params(clv.GammaGammaFitter().fit(s["frequency"], s["monetary_value"]))


def _kpi_alerts(orders: pl.DataFrame) -> pl.DataFrame:
    return kpi.alerts(kpi.compute(orders, freq="1w", as_of=AS_OF), holidays=None)


def _forecast(orders: pl.DataFrame) -> pl.DataFrame:
    return fc.forecast(_series_from(orders), models=[fc.Naive(), fc.AutoETS(), fc.CrostonClassic()], h=3)


def _forecast_auto(orders: pl.DataFrame) -> pl.DataFrame:
    return fc.auto(_series_from(orders), h=2, season_length=1, n_windows=1)


def _campaign(orders: pl.DataFrame) -> pl.DataFrame:
    ids = orders.select(pl.col("customer_id").drop_nulls().unique().sort()).to_series()
    camp = pl.DataFrame({"customer_id": ids, "campaign_id": ["c1"] * ids.len(),
                         "group": ["control" if i % 2 else "treatment" for i in range(ids.len())],
                         "sent_at": [dt.datetime(2021, 1, 1)] * ids.len()})
    return experiment.campaign(camp, orders, window="90d")


def _ml(make: Callable[[], Any], proba: bool = True) -> Callable[[tuple[pl.DataFrame, np.ndarray]], pl.DataFrame]:
    def run(xy: tuple[pl.DataFrame, np.ndarray]) -> pl.DataFrame:
        X, y = xy
        model = make().fit(X, y)
        p = model.predict_proba(X)[:, 1] if proba else model.predict(X)
        return X.with_row_index("row").select("row", pl.Series("p", np.asarray(p, dtype=np.float64)))
    return run


def _rules(items: pl.DataFrame) -> pl.DataFrame:
    its = basket.frequent_itemsets(items, min_support=0.1, max_len=3)
    return basket.association_rules(its, min_threshold=0.1)


def _recommend(items: pl.DataFrame) -> pl.DataFrame:
    return basket.recommend(items.select("customer_id", "product"), _rules(items), k=3)


@dataclass
class Api:
    fn: Callable[[Any], Any]
    kind: str  # the generator: orders, events, items, records, xy, ab, opps
    per_customer: Optional[str] = None  # the customer key of a per-customer result (partitionable)
    order_invariant: bool = True
    rel_tol: float = 1e-9


API: dict[str, Api] = {
    "rfm": Api(lambda o: crmkit.rfm(o, as_of=AS_OF), "orders"),
    "rfm_summary": Api(lambda o: crmkit.rfm_summary(crmkit.rfm(o, as_of=AS_OF)), "orders"),
    "segment_customers": Api(lambda o: crmkit.segment_customers(o, k=2, as_of=AS_OF).customers, "orders",
                             rel_tol=1e-6),
    "profile": Api(lambda o: crmkit.profile(o, as_of=AS_OF), "orders", per_customer="customer_id"),
    "tags": Api(lambda o: crmkit.tags(crmkit.profile(o, as_of=AS_OF)), "orders", per_customer="customer_id"),
    "clv.summary": Api(_summary, "orders", per_customer="customer_id"),
    "clv.calibration_and_holdout_data": Api(lambda o: clv.calibration_and_holdout_data(
        o, "customer_id", "order_date", calibration_period_end=dt.date(2022, 1, 1), observation_period_end=AS_OF),
        "orders"),  # not partitionable as is: a part without holdout orders is refused (a whole-log check)
    "clv.BetaGeoFitter": Api(_clv_fit(clv.BetaGeoFitter), "orders", rel_tol=1e-5),
    "clv.ModifiedBetaGeoFitter": Api(_clv_fit(clv.ModifiedBetaGeoFitter), "orders", rel_tol=1e-5),
    "clv.ParetoNBDFitter": Api(_clv_fit(clv.ParetoNBDFitter), "orders", rel_tol=1e-5),
    "clv.GammaGammaFitter": Api(_gamma_gamma, "orders", rel_tol=1e-5),
    "churn.features": Api(lambda o: churn.features(o, cutoff="2022-06-01", btyd=False), "orders",
                          per_customer="customer_id"),
    # data_end: the end of the data is a property of the whole log, so partitions get it given.
    "churn.labels": Api(lambda o: churn.labels(o, cutoff="2022-06-01", horizon=90, data_end=AS_OF), "orders",
                        per_customer="customer_id"),
    "cohorts": Api(lambda o: crmkit.cohorts(o), "orders"),
    "cohort_matrix": Api(lambda o: crmkit.cohort_matrix(o, period="1q"), "orders"),
    "kpi.compute": Api(lambda o: kpi.compute(o, freq="1mo", as_of=AS_OF), "orders"),
    "kpi.alerts": Api(_kpi_alerts, "orders", rel_tol=1e-6),
    "forecast.series": Api(_series_from, "orders"),
    "forecast.forecast": Api(_forecast, "orders", rel_tol=1e-6),
    "forecast.auto": Api(_forecast_auto, "orders", rel_tol=1e-6),
    "experiment.campaign": Api(_campaign, "orders", rel_tol=1e-6),
    "funnel": Api(lambda e: crmkit.funnel(e, ["view", "cart", "purchase"]), "events"),
    "funnel_levels": Api(lambda e: crmkit.funnel_levels(e, ["view", "cart", "purchase"], mode="any"), "events"),
    "paths": Api(lambda e: crmkit.paths(e, max_len=3), "events", order_invariant=False),
    "transitions": Api(lambda e: crmkit.transitions(e, start_end=True), "events", order_invariant=False),
    "next_steps": Api(lambda e: crmkit.next_steps(e, "view"), "events", order_invariant=False),
    "basket.frequent_itemsets": Api(lambda i: basket.frequent_itemsets(i, min_support=0.1, max_len=3), "items"),
    "basket.association_rules": Api(_rules, "items"),
    "basket.recommend": Api(_recommend, "items", per_customer=None),
    "dedupe": Api(lambda r: crmkit.dedupe(r, id="record_id"), "records", order_invariant=False),
    "dedupe_pairs": Api(lambda r: crmkit.dedupe_pairs(r, id="record_id"), "records", order_invariant=False),
    "link": Api(lambda r: crmkit.link(r, r.with_columns(pl.col("name").str.to_uppercase()), "record_id", "record_id"), "records",
                order_invariant=False),
    "clean.customers": Api(lambda r: clean.customers(r.drop("record_id")).data, "records", order_invariant=False),
    "ml.GradientBoostingClassifier": Api(_ml(lambda: ml.GradientBoostingClassifier(max_iter=5, min_samples_leaf=3,
                                                                                   random_state=0)), "xy",
                                         order_invariant=False),
    "ml.GradientBoostingRegressor": Api(_ml(lambda: ml.GradientBoostingRegressor(max_iter=5, min_samples_leaf=3,
                                                                                 random_state=0), proba=False), "xy",
                                        order_invariant=False),
    "ml.LogisticRegression": Api(_ml(lambda: ml.LogisticRegression()), "xy", order_invariant=False),
    "ml.AutoClassifier": Api(_ml(lambda: ml.AutoClassifier(cv=2, gbdt_params={"max_iter": 5})), "xy",
                             order_invariant=False),
    "metrics": Api(lambda xy: pl.DataFrame({"auc": [metrics.roc_auc_score(xy[1], xy[0]["a"].to_numpy())]}), "xy",
                   order_invariant=False),
    "experiment.ab_test": Api(lambda d: experiment.ab_test(d, metric=["converted", "revenue"]), "ab", rel_tol=1e-6),
    "experiment.bayes": Api(lambda d: experiment.bayes(d, metric="revenue"), "ab", rel_tol=1e-6),
    "experiment.sequential": Api(lambda d: experiment.sequential(d), "ab", rel_tol=1e-6),
    "experiment.srm": Api(lambda d: experiment.srm(d), "ab", rel_tol=1e-6),
    "experiment.summarize": Api(lambda d: experiment.summarize(d, metric="revenue"), "ab", rel_tol=1e-6),
}
# The API-wide tests try fewer examples per function in "ci" (about 50 functions x 3
# invariants inside make test); "fuzz" tries CRMKIT_FUZZ_API_EXAMPLES each.
_PROFILE = os.environ.get("CRMKIT_HYPOTHESIS_PROFILE", "ci")
api_settings = settings(max_examples=int(os.environ.get("CRMKIT_FUZZ_API_EXAMPLES", "60")) if _PROFILE == "fuzz" else 4)

GENERATORS = {"orders": order_logs(), "events": event_logs(), "items": item_logs(), "records": customer_records(),
              "xy": xy_frames(), "ab": ab_frames()}


def _input_names(data: Any) -> set[str]:
    frames = data if isinstance(data, tuple) else (data,)
    names = {c for f in frames if isinstance(f, pl.DataFrame) for c in f.columns}
    return names | {"orders", "events", "items", "data", "df", "X", "y", "as_of", "cutoff", "freq", "k", "h",
                    "season_length", "n_windows", "min_support", "steps", "period", "horizon", "window", "control",
                    "variant", "metric", "summary", "frequency", "recency", "T", "monetary_value", "customer",
                    "transactions", "table", "itemsets", "rules", "id", "record_id", "fields", "campaigns", "date",
                    "amount", "empty", "0 rows", "customers"}


def _call(api: Api, data: Any) -> Any:
    """The result, or None after checking that the failure is a clear crmkit error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return api.fn(data)
    except Exception as e:  # noqa: BLE001 - the property is about which exceptions
        _ok_error(e)
        msg = str(e)
        assert any(n in msg for n in _input_names(data) if n), f"the error names no column or argument: {msg}"
        return None


def _shuffle(data: Any, seed: int) -> Any:
    if isinstance(data, tuple):
        X, y = data
        perm = np.random.default_rng(seed).permutation(X.height)
        return X[perm], y[perm]
    return data.sample(fraction=1.0, shuffle=True, seed=seed)


def _sortable(out: pl.DataFrame) -> pl.DataFrame:
    keys = [c for c, t in out.schema.items() if not t.is_float() and not isinstance(t, (pl.List, pl.Struct, pl.Array))
            and t != pl.Null]
    out = out.select(c for c, t in out.schema.items() if not isinstance(t, (pl.List, pl.Struct, pl.Array)))
    return out.sort(keys, nulls_last=True) if keys else out


@pytest.mark.parametrize("name", sorted(API))
@api_settings
@given(data=st.data())
def test_api_gives_a_result_or_a_clear_error(name, data):
    api = API[name]
    frame = data.draw(GENERATORS[api.kind])
    _call(api, frame)


@pytest.mark.parametrize("name", sorted(n for n, a in API.items() if a.order_invariant))
@api_settings
@given(data=st.data(), seed=st.integers(0, 2**31 - 1))
def test_api_does_not_depend_on_row_order(name, data, seed):
    api = API[name]
    frame = data.draw(GENERATORS[api.kind])
    out = _call(api, frame)
    if not isinstance(out, pl.DataFrame):
        return
    again = api.fn(_shuffle(frame, seed))
    assert_frame_equal(_sortable(again), _sortable(out), check_exact=False, **{TOL: api.rel_tol})


@pytest.mark.parametrize("name", sorted(n for n, a in API.items() if a.per_customer))
@api_settings
@given(df=order_logs(min_rows=2), split=st.integers(1, 4))
def test_api_per_customer_results_are_partitionable(name, df, split):
    api = API[name]
    key = api.per_customer
    whole = _call(api, df)
    if whole is None or df["customer_id"].null_count():
        return
    bucket = pl.col("customer_id").cast(pl.String).hash(seed=3) % (split + 1)
    parts = df.with_columns(bucket.alias("__part")).partition_by("__part", include_key=False)
    outs = []
    for part in parts:
        try:
            outs.append(api.fn(part))
        except crmkit.CrmError:
            # A part may be refused as a whole ("no order falls before the cutoff"), but
            # only when the whole's result has none of its customers: nothing is lost.
            mine = part["customer_id"].unique()
            assert not whole[key].is_in(mine.cast(whole[key].dtype, strict=False)).any(), (
                f"{name}: a part was refused although the whole describes some of its customers")
    if not outs:
        assert whole.height == 0
        return
    combined = pl.concat(outs, how="diagonal_relaxed")
    cols = [c for c in whole.columns if c in combined.columns]
    assert_frame_equal(_sortable(combined.select(cols)), _sortable(whole.select(cols)), check_exact=False,
                       check_dtypes=False, **{TOL: 1e-9})


ACCOUNTED = {  # per-customer functions that list every customer they were given
    "clv.summary": _summary,
    "profile": lambda o: crmkit.profile(o, as_of=AS_OF),
    "rfm": lambda o: crmkit.rfm(o, as_of=AS_OF),
}


@pytest.mark.parametrize("name", sorted(ACCOUNTED))
@api_settings
@given(df=order_logs(min_rows=1))
def test_no_customer_is_silently_lost(name, df):
    """Every customer with a usable order appears in the output, or a warning counts the
    rows left out (rows in = rows used + rows reported dropped)."""
    fn = ACCOUNTED[name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = fn(df)
        except Exception as e:  # noqa: BLE001
            _ok_error(e)
            return
    given_ids = set(df["customer_id"].drop_nulls().cast(pl.String).to_list())
    got = set(out["customer_id"].cast(pl.String).to_list())
    assert got <= given_ids, "customers in the output that were not in the input"
    missing = given_ids - got
    if missing:
        said = " ".join(str(w.message) for w in caught)
        assert any(ch.isdigit() for ch in said) and ("drop" in said or "ignored" in said or "left out" in said), (
            f"{len(missing)} customer(s) missing from the output without a warning that counts them: {said!r}")
