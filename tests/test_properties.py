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
digest = hashlib.sha256()
for k in sorted(outs):
    buf = io.BytesIO(); outs[k].write_ipc(buf); digest.update(k.encode()); digest.update(buf.getvalue())
print(digest.hexdigest())
"""


def test_results_are_the_same_with_one_and_two_threads():
    """Dedupe, BG/NBD, k-means, gradient boosting and ETS give bit-identical results
    whatever the number of threads (rayon's and polars')."""
    digests = []
    for threads in ("1", "2"):
        env = dict(os.environ, RAYON_NUM_THREADS=threads, POLARS_MAX_THREADS=threads)
        r = subprocess.run([sys.executable, "-c", _THREAD_SCRIPT], env=env, capture_output=True, text=True,
                           timeout=600)
        assert r.returncode == 0, r.stderr[-3000:]
        digests.append(r.stdout.strip().splitlines()[-1])
    assert digests[0] == digests[1]
