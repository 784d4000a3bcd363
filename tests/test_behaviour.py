"""crmkit.behaviour against brute-force references and pandas."""

from __future__ import annotations

import itertools
import statistics
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import crmkit
from crmkit.errors import CrmError, SchemaError

STEPS = ["view", "cart", "checkout", "purchase"]
EVENTS = STEPS + ["search", "wishlist"]


def random_log(n_users: int, seed: int, *, max_events: int = 9, span: int = 30) -> pl.DataFrame:
    """Small integer timestamps so ties are frequent; rows shuffled (out of order)."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for _ in range(rng.integers(0, max_events + 1)):
            rows.append((u, EVENTS[rng.choice(len(EVENTS), p=[0.3, 0.22, 0.14, 0.1, 0.14, 0.1])], int(rng.integers(0, span))))
    rng.shuffle(rows)
    return pl.DataFrame(rows, schema={"customer_id": pl.Int64, "event": pl.String, "timestamp": pl.Int64}, orient="row")


def _user_events(log: pl.DataFrame, steps: list[str]) -> dict[int, list[tuple[int, int]]]:
    out: dict[int, list[tuple[int, int]]] = {}
    for u, e, t in log.iter_rows():
        if e in steps:
            out.setdefault(u, []).append((t, steps.index(e)))
    return out


def brute_user(ev: list[tuple[int, int]], n: int, window: int, mode: str) -> tuple[int, list]:
    """(level, best time per step) by enumerating every candidate chain."""
    best: list = [None] * n

    def note(j, v):
        if best[j] is None or v < best[j]:
            best[j] = v

    if mode == "ordered":
        def extend(chain):
            t0, tl = ev[chain[0]][0], ev[chain[-1]][0]
            j = len(chain)
            note(j - 1, tl - t0)
            if j == n:
                return
            for k, (t, s) in enumerate(ev):
                if s == j and t >= tl and t - t0 <= window:
                    extend(chain + [k])

        for k, (_, s) in enumerate(ev):
            if s == 0:
                extend([k])
    elif mode == "strict":
        seq = sorted(ev)
        for r in range(1, n + 1):
            for combo in itertools.combinations(range(len(seq)), r):
                if [seq[p][1] for p in combo] != list(range(r)):
                    continue
                if seq[combo[-1]][0] - seq[combo[0]][0] > window:
                    continue
                # no other listed-step event between consecutive matched events
                if any(combo[q + 1] != combo[q] + 1 for q in range(r - 1)):
                    continue
                note(r - 1, seq[combo[-1]][0] - seq[combo[0]][0])
    else:
        by_step = [[t for t, s in ev if s == j] for j in range(n)]
        for r in range(1, n + 1):
            if any(not by_step[j] for j in range(r)):
                break
            for pick in itertools.product(*by_step[:r]):
                span = max(pick) - min(pick)
                if span <= window:
                    note(r - 1, span)
    level = 0
    while level < n and best[level] is not None:
        level += 1
    return level, best


@pytest.mark.parametrize("mode", ["ordered", "strict", "any"])
@pytest.mark.parametrize("seed,window", [(0, 5), (1, 0), (2, 12), (3, 1000)])
def test_funnel_equals_brute_force(mode, seed, window):
    log = random_log(160, seed)
    steps = STEPS
    per_user = _user_events(log, steps)
    expected = {u: brute_user(ev, len(steps), window, mode) for u, ev in per_user.items()}
    levels = crmkit.funnel_levels(log, steps, window=window, mode=mode)
    assert dict(levels.iter_rows()) == {u: lv for u, (lv, _) in expected.items()}
    table = crmkit.funnel(log, steps, window=window, mode=mode)
    assert table["step"].to_list() == steps
    for j, row in enumerate(table.iter_rows(named=True)):
        reached = [b[j] for _, b in expected.values() if b[j] is not None]
        assert row["users"] == len(reached)
        if reached:
            assert row["median_time_to_step"] == pytest.approx(statistics.median(reached))
            assert row["mean_time_to_step"] == pytest.approx(statistics.mean(reached))
        else:
            assert row["median_time_to_step"] is None


def test_funnel_rates_and_bottleneck():
    log = random_log(300, 7)
    t = crmkit.funnel(log, STEPS, window=10)
    users = t["users"].to_list()
    assert t["conversion"].to_list() == pytest.approx([u / users[0] for u in users])
    assert t["step_conversion"].to_list() == pytest.approx([1.0] + [b / a for a, b in zip(users, users[1:])])
    assert t["drop_off"].to_list() == [0] + [a - b for a, b in zip(users, users[1:])]
    rates = [1 - b / a for a, b in zip(users, users[1:])]
    worst = 1 + rates.index(max(rates))
    assert t["is_bottleneck"].to_list() == [j == worst for j in range(len(STEPS))]


def test_funnel_semantics_by_example():
    ts = [datetime(2024, 1, 1) + timedelta(hours=h) for h in (0, 1, 2, 3)]
    log = pl.DataFrame(
        {
            "customer_id": [1, 1, 1, 1],
            "event": ["view", "cart", "search", "purchase"],
            "timestamp": ts,
        }
    )
    lv = lambda df, steps, **kw: crmkit.funnel_levels(df, steps, **kw)["level"].to_list()  # noqa: E731
    assert lv(log, ["view", "cart", "purchase"], window="3h") == [3]  # inclusive window
    assert lv(log, ["view", "cart", "purchase"], window="2h59m") == [2]
    assert lv(log, ["view", "cart", "purchase"], window=timedelta(hours=3)) == [3]
    # strict: 'search' is not a listed step, so it does not break the chain...
    assert lv(log, ["view", "cart", "purchase"], window="1d", mode="strict") == [3]
    # ...but a listed step in between does.
    assert lv(log, ["view", "cart", "purchase", "search"], window="1d", mode="strict") == [2]
    assert lv(log, ["view", "cart", "purchase", "search"], window="1d", mode="ordered") == [3]
    assert lv(log, ["view", "search", "cart"], window="1d", mode="strict") == [1]
    assert lv(log, ["view", "search", "cart"], window="1d", mode="ordered") == [2]
    # ties: equal timestamps may serve consecutive steps, whatever the row order
    tie = pl.DataFrame({"customer_id": [1, 1], "event": ["cart", "view"], "timestamp": [ts[0], ts[0]]})
    assert lv(tie, ["view", "cart"], window="1h") == [2]
    assert lv(tie, ["view", "cart"], window="1h", mode="strict") == [2]
    # out of order in time: ordered fails, any succeeds
    back = pl.DataFrame({"customer_id": [1, 1], "event": ["cart", "view"], "timestamp": [ts[0], ts[1]]})
    assert lv(back, ["view", "cart"], window="1d") == [1]
    assert lv(back, ["view", "cart"], window="1d", mode="any") == [2]
    # Date and Enum columns work
    en = pl.Enum(["view", "cart", "search", "purchase"])
    d = log.with_columns(pl.col("timestamp").dt.date(), pl.col("event").cast(en))
    assert lv(d, ["view", "cart", "purchase"], window="1d") == [3]
    t = crmkit.funnel(log, ["view", "cart", "purchase"], window="1d")
    assert t["median_time_to_step"].to_list() == [timedelta(0), timedelta(hours=1), timedelta(hours=3)]


def test_funnel_by_group_equals_separate_runs():
    log = random_log(200, 4).with_columns((pl.col("customer_id") % 3).alias("country"), (pl.col("timestamp") % 2).alias("device"))
    grouped = crmkit.funnel(log, STEPS, window=8, by=["country", "device"])
    for (c, d), part in log.group_by("country", "device"):
        alone = crmkit.funnel(part, STEPS, window=8)
        mine = grouped.filter((pl.col("country") == c) & (pl.col("device") == d)).drop("country", "device")
        assert_frame_equal(mine, alone, check_exact=False)


def test_funnel_bad_and_edge_input():
    log = random_log(20, 1)
    empty = log.clear()
    t = crmkit.funnel(empty, STEPS, window=5)
    assert t["users"].to_list() == [0, 0, 0, 0] and t["conversion"].null_count() == 4
    assert not t["is_bottleneck"].any()
    absent = crmkit.funnel(log, ["view", "teleport"], window=5)
    assert absent["users"][1] == 0 and absent["conversion"][1] == 0.0
    nobody = crmkit.funnel(log, ["teleport", "view"], window=5)
    assert nobody["users"].to_list()[0] == 0
    single = crmkit.funnel(log.head(1).with_columns(pl.lit("view").alias("event")), STEPS, window=5)
    assert single["users"].to_list() == [1, 0, 0, 0]
    with pytest.raises(CrmError, match="distinct"):
        crmkit.funnel(log, ["view", "view"], window=5)
    with pytest.raises(CrmError, match="non-empty"):
        crmkit.funnel(log, [], window=5)
    with pytest.raises(CrmError, match="mode"):
        crmkit.funnel(log, STEPS, window=5, mode="loose")
    with pytest.raises(CrmError, match="integer"):
        crmkit.funnel(log, STEPS, window="7d")  # integer timestamps need an integer window
    dt = log.with_columns(pl.from_epoch("timestamp", time_unit="s"))
    for bad in ("7 days", "1mo", -3, "x"):
        with pytest.raises(CrmError, match="window"):
            crmkit.funnel(dt, STEPS, window=bad)
    with pytest.raises(SchemaError, match="'ts'"):
        crmkit.funnel(log, STEPS, timestamp="ts", window=5)
    with pytest.raises(SchemaError, match="'timestamp'"):
        crmkit.funnel(log.with_columns(pl.col("timestamp").cast(pl.String)), STEPS, window=5)
    with pytest.raises(SchemaError, match="null"):
        crmkit.funnel(
            pl.DataFrame({"customer_id": [1, None], "event": ["view", "view"], "timestamp": [1, 2]}), STEPS, window=5
        )
    assert crmkit.funnel(dt.lazy(), STEPS, window=None)["users"][0] > 0


def test_pipeline_funnel():
    opp = pl.DataFrame(
        {
            "stage": ["lead", "lead", "qualified", "proposal", "won", "won", "lost", "lost"],
            "amount": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
            "furthest": [None, None, None, None, None, None, "proposal", None],
        }
    )
    t = crmkit.pipeline_funnel(opp, order=["lead", "qualified", "proposal", "won"], lost="lost", reached="furthest")
    assert t["count"].to_list() == [2, 1, 1, 2]
    assert t["amount"].to_list() == [3.0, 3.0, 4.0, 11.0]
    assert t["reached"].to_list() == [8, 5, 4, 2]
    assert t["reached_amount"].to_list() == [36.0, 25.0, 22.0, 11.0]
    assert t["win_rate"].to_list() == pytest.approx([2 / 8, 2 / 5, 2 / 4, 1.0])
    with pytest.raises(CrmError, match="'lost'"):
        crmkit.pipeline_funnel(opp, order=["lead", "qualified", "proposal", "won"])


def pandas_cohorts(orders: pd.DataFrame) -> pd.DataFrame:
    o = orders.copy()
    o["period"] = o["order_date"].dt.to_period("M")
    o["cohort"] = o.groupby("customer_id")["period"].transform("min")
    o["period_index"] = (o["period"] - o["cohort"]).apply(lambda x: x.n)
    g = o.groupby(["cohort", "period_index"]).agg(customers=("customer_id", "nunique"), value=("amount", "sum"))
    return g.reset_index()


def random_orders(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    start = datetime(2023, 1, 1)
    return pl.DataFrame(
        {
            "customer_id": rng.integers(0, n // 4, n),
            "order_date": [start + timedelta(days=int(d), hours=int(h)) for d, h in zip(rng.integers(0, 500, n), rng.integers(0, 24, n))],
            "amount": rng.gamma(2.0, 30.0, n).round(2),
        }
    )


def test_cohorts_equal_pandas():
    orders = random_orders(3000, 3)
    ours = crmkit.cohorts(orders, value="amount")
    ref = pandas_cohorts(orders.to_pandas())
    ref["cohort"] = ref["cohort"].dt.start_time.dt.date
    merged = ours.join(pl.from_pandas(ref), on=["cohort", "period_index"], how="left", suffix="_pd")
    present = merged.filter(pl.col("customers_pd").is_not_null())
    assert present.height == len(ref)
    assert (present["customers"] == present["customers_pd"]).all()
    assert np.allclose(present["value"], present["value_pd"])
    assert (merged.filter(pl.col("customers_pd").is_null())["customers"] == 0).all()
    sizes = ref[ref["period_index"] == 0].set_index("cohort")["customers"]
    for row in ours.filter(pl.col("period_index") == 3).iter_rows(named=True):
        assert row["cohort_size"] == sizes[row["cohort"]]
    # The triangle ends at the last month of the data.
    last = orders["order_date"].max()
    assert ours.group_by("cohort").agg(pl.col("period_index").max()).with_columns(
        ((last.year * 12 + last.month) - (pl.col("cohort").dt.year() * 12 + pl.col("cohort").dt.month())).alias("span")
    ).select((pl.col("period_index") == pl.col("span")).all()).item()


def test_cohorts_weekly_and_matrix():
    orders = random_orders(800, 5)
    week = crmkit.cohorts(orders, period="1w")
    assert (week["cohort"].dt.weekday() == 1).all()  # Monday
    o = orders.to_pandas()
    o["week"] = o["order_date"].dt.to_period("W-SUN")
    o["cohort"] = o.groupby("customer_id")["week"].transform("min")
    o["idx"] = (o["week"] - o["cohort"]).apply(lambda x: x.n)
    ref = o.groupby(["cohort", "idx"])["customer_id"].nunique()
    got = {(r["cohort"], r["period_index"]): r["customers"] for r in week.iter_rows(named=True)}
    for (c, i), v in ref.items():
        assert got[(c.start_time.date(), i)] == v
    m = crmkit.cohort_matrix(orders, period="1w", values="customers")
    assert m.columns[:3] == ["cohort", "cohort_size", "0"]
    assert (m["0"] == m["cohort_size"]).all()
    # Cells past the last week of the data are null, the others are not.
    last_day = orders["order_date"].max().date()
    last_monday = last_day - timedelta(days=last_day.weekday())
    for row in m.iter_rows(named=True):
        span = (last_monday - row["cohort"]).days // 7
        cells = [row[str(i)] for i in range(len(m.columns) - 2)]
        assert all(v is not None for v in cells[: span + 1]) and all(v is None for v in cells[span + 1 :])
    q = crmkit.cohorts(orders, period="1q")
    assert set(q["cohort"].dt.month().unique().to_list()) <= {1, 4, 7, 10}


def test_cohorts_bad_input():
    orders = random_orders(50, 1)
    with pytest.raises(CrmError, match="period"):
        crmkit.cohorts(orders, period="monthly")
    with pytest.raises(SchemaError, match="'date'"):
        crmkit.cohorts(orders, date="date")
    with pytest.raises(SchemaError, match="null"):
        crmkit.cohorts(orders.with_columns(pl.when(pl.col("amount") > 50).then(None).otherwise(pl.col("customer_id")).alias("customer_id")))
    assert crmkit.cohorts(orders.clear()).height == 0
    one = crmkit.cohorts(orders.head(1))
    assert one.rows() == [(date(orders["order_date"][0].year, orders["order_date"][0].month, 1), 0, 1, 1, 1.0)]


def test_paths_and_transitions_equal_python():
    log = random_log(120, 9).with_columns(pl.col("timestamp") * 1000 + pl.int_range(pl.len()) % 1000)  # no ties
    journeys: dict = {}
    for u, e, t in sorted(log.iter_rows(), key=lambda r: (r[0], r[2])):
        journeys.setdefault(u, []).append(e)
    counts: dict = {}
    for seq in journeys.values():
        counts[tuple(seq[:3])] = counts.get(tuple(seq[:3]), 0) + 1
    expected = sorted(counts.items(), key=lambda kv: (-kv[1], "\u001f".join(kv[0])))[:10]
    got = crmkit.paths(log, max_len=3, top=10)
    assert [(tuple(p), c) for p, c in zip(got["path"].to_list(), got["count"].to_list())] == expected
    assert got["share"][0] == pytest.approx(expected[0][1] / len(journeys))
    pairs: dict = {}
    for seq in journeys.values():
        for a, b in zip(seq, seq[1:]):
            pairs[(a, b)] = pairs.get((a, b), 0) + 1
    tr = crmkit.transitions(log)
    assert {(r["from"], r["to"]): r["count"] for r in tr.iter_rows(named=True)} == pairs
    assert tr.group_by("from").agg(pl.col("probability").sum())["probability"].to_list() == pytest.approx([1.0] * tr["from"].n_unique())
    se = crmkit.transitions(log, start_end=True)
    assert se.filter(pl.col("from") == "(start)")["count"].sum() == len(journeys)
    assert se.filter(pl.col("to") == "(end)")["count"].sum() == len(journeys)
    nxt = crmkit.next_steps(log, "cart", k=2)
    assert nxt.height <= 2 and nxt["probability"].to_list() == sorted(nxt["probability"].to_list(), reverse=True)


def test_paths_collapse_and_sessions():
    log = pl.DataFrame(
        {
            "customer_id": [1, 1, 1, 1, 2],
            "session_id": [10, 10, 11, 11, 20],
            "event": ["view", "view", "cart", "view", "view"],
            "timestamp": [1, 2, 3, 4, 1],
        }
    )
    assert crmkit.paths(log, collapse_repeats=True)["path"].to_list() == [["view"], ["view", "cart", "view"]]
    by_session = crmkit.paths(log, session="session_id", collapse_repeats=True)
    assert dict(zip(map(tuple, by_session["path"].to_list()), by_session["count"].to_list())) == {("view",): 2, ("cart", "view"): 1}
    with pytest.raises(CrmError, match="max_len"):
        crmkit.paths(log, max_len=0)


def test_recovers_planted_session_funnel():
    world = crmkit.datasets.generate(n_customers=3_000, seed=5)
    truth = world.truth.funnel
    steps = truth["step"].to_list()
    table = crmkit.funnel(world.events, steps, user="session_id", window=None)
    assert table["step"].to_list() == steps
    assert table["step_conversion"].to_list()[1:] == pytest.approx(truth["step_probability"].to_list()[1:], abs=0.03)
    assert table.filter("is_bottleneck")["step"].to_list() == truth.filter("is_bottleneck")["step"].to_list()
    # Per customer (sessions pooled within 7 days) conversion can only be higher.
    per_customer = crmkit.funnel(world.events, steps, window="7d")
    assert per_customer["conversion"][-1] >= table["conversion"][-1]


def test_empty_logs_give_empty_tables():
    e = pl.DataFrame(schema={"customer_id": pl.Int64, "event": pl.String, "timestamp": pl.Datetime("us")})
    assert crmkit.paths(e).columns == ["path", "length", "count", "share"] and crmkit.paths(e).height == 0
    assert crmkit.transitions(e).height == 0 and crmkit.transitions(e, start_end=True).height == 0
    assert crmkit.next_steps(e, "cart").height == 0
    assert crmkit.funnel(e, ["view", "cart"], by="event").height == 0
    assert crmkit.funnel_levels(e, ["view", "cart"]).height == 0
    assert crmkit.cohort_matrix(pl.DataFrame(schema={"customer_id": pl.Int64, "order_date": pl.Date})).height == 0
    empty_pipeline = crmkit.pipeline_funnel(pl.DataFrame(schema={"stage": pl.String, "amount": pl.Float64}), order=["a", "b"])
    assert empty_pipeline["reached"].to_list() == [0, 0] and empty_pipeline["win_rate"].null_count() == 2


def test_null_timestamps_and_dates_are_named_as_the_user_named_them():
    log = pl.DataFrame({"customer_id": [1, 1, 2], "event": ["view", "cart", "view"], "ts": [1, None, 3]})
    for call in (
        lambda: crmkit.funnel(log, ["view", "cart"], timestamp="ts", window=5),
        lambda: crmkit.paths(log, timestamp="ts"),
        lambda: crmkit.transitions(log.lazy(), timestamp="ts"),
        lambda: crmkit.next_steps(log, "view", timestamp="ts"),
    ):
        with pytest.raises(SchemaError, match=r"column 'ts' in 'events' holds 1 null"):
            call()
    with pytest.raises(SchemaError, match=r"crmkit.next_steps: column 'customer_id'"):
        crmkit.next_steps(log.with_columns(pl.lit(None, pl.Int64).alias("customer_id")), "view", timestamp="ts")
    orders = pl.DataFrame({"cid": [1, 2], "day": [date(2024, 1, 3), None]})
    with pytest.raises(SchemaError, match=r"column 'day' in 'orders' holds 1 null"):
        crmkit.cohorts(orders, customer="cid", date="day")


def test_cohort_table_that_would_explode_is_refused():
    """Daily cohorts over 75 years (birth dates taken for order dates) would ask for
    about 370 million rows."""
    import datetime as dt

    from crmkit.errors import TooLargeError

    n = 27_000
    orders = pl.DataFrame({
        "customer_id": list(range(n)),
        "order_date": [dt.date(1950, 1, 1) + dt.timedelta(days=i) for i in range(n)],
    })
    with pytest.raises(TooLargeError, match="period"):
        crmkit.cohorts(orders, period="1d")
    assert crmkit.cohorts(orders, period="1y").height > 0


def test_probability_alive_grid_that_would_explode_is_refused():
    from crmkit.clv import BetaGeoFitter
    from crmkit.errors import TooLargeError

    m = BetaGeoFitter().fit([0, 2, 1, 5, 3], [0.0, 30.0, 2.0, 35.0, 20.0], [40.0, 40.0, 39.0, 38.0, 37.0])
    with pytest.raises(TooLargeError, match="max_frequency"):
        m.conditional_probability_alive_matrix(max_frequency=100_000, max_recency=1_000)
