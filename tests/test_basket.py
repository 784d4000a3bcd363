"""crmkit.basket against mlxtend (pinned in requirements-dev.txt) and brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import polars as pl
import pytest
from mlxtend.frequent_patterns import association_rules as mx_rules
from mlxtend.frequent_patterns import fpgrowth as mx_fpgrowth

import crmkit
from crmkit import basket
from crmkit.errors import CrmError, SchemaError, TooLargeError


def random_baskets(n_baskets: int, n_items: int, seed: int, *, planted: bool = True) -> pl.DataFrame:
    """Long (order_id, product) rows with skewed item popularity and a planted bundle."""
    rng = np.random.default_rng(seed)
    popularity = rng.uniform(0.02, 0.35, n_items)
    hits = rng.random((n_baskets, n_items)) < popularity
    if planted:
        bundle = rng.random(n_baskets) < 0.2
        hits[bundle, :3] = True
    b, i = np.nonzero(hits)
    names = np.array([f"p{k:02d}" for k in range(n_items)])
    # Repeat some rows: a basket holding an item twice still counts once.
    rep = rng.random(len(b)) < 0.1
    b = np.concatenate([b, b[rep]])
    i = np.concatenate([i, i[rep]])
    order = rng.permutation(len(b))
    return pl.DataFrame({"order_id": (b[order] + 1000).astype(np.int64), "product": names[i[order]]})


def one_hot(lines: pl.DataFrame) -> pd.DataFrame:
    pairs = lines.unique().to_pandas()
    return pd.crosstab(pairs["order_id"], pairs["product"]).astype(bool)


def as_dict(frame: pl.DataFrame) -> dict[frozenset, float]:
    return {frozenset(s): v for s, v in zip(frame["itemsets"].to_list(), frame["support"].to_list())}


@pytest.mark.parametrize("seed,min_support,max_len", [(1, 0.05, None), (2, 0.02, None), (3, 0.1, 2), (4, 0.01, 3)])
def test_itemsets_equal_mlxtend(seed, min_support, max_len):
    lines = random_baskets(400, 14, seed)
    ours = basket.frequent_itemsets(lines, min_support=min_support, max_len=max_len)
    theirs = mx_fpgrowth(one_hot(lines), min_support=min_support, use_colnames=True, max_len=max_len)
    a, b = as_dict(ours), {frozenset(s): v for s, v in zip(theirs["itemsets"], theirs["support"])}
    assert set(a) == set(b)
    assert len(a) == ours.height  # no duplicates
    for key, value in a.items():
        assert abs(value - b[key]) <= 1e-9
    # Lists are sorted, counts agree with supports.
    assert all(s == sorted(s) for s in ours["itemsets"].to_list())
    n = lines["order_id"].n_unique()
    assert (ours["count"].to_numpy() / n == ours["support"].to_numpy()).all()


def test_itemsets_equal_brute_force():
    lines = random_baskets(60, 7, 11)
    baskets = [set(g) for _, g in lines.unique().to_pandas().groupby("order_id")["product"]]
    items = sorted({x for b in baskets for x in b})
    for min_support in (0.05, 0.2, 0.5):
        expected = {}
        for r in range(1, len(items) + 1):
            for combo in itertools.combinations(items, r):
                c = sum(set(combo) <= b for b in baskets)
                if c / len(baskets) >= min_support:
                    expected[frozenset(combo)] = c / len(baskets)
        assert as_dict(basket.frequent_itemsets(lines, min_support=min_support)) == expected


@pytest.mark.parametrize(
    "metric,threshold",
    [("confidence", 0.3), ("lift", 1.0), ("leverage", 0.0), ("support", 0.05), ("conviction", 1.1), ("zhangs_metric", 0.2)],
)
def test_rules_equal_mlxtend(metric, threshold):
    lines = random_baskets(500, 12, 5)
    n = lines["order_id"].n_unique()
    sets = basket.frequent_itemsets(lines, min_support=0.03)
    ours = basket.association_rules(sets, metric=metric, min_threshold=threshold)
    mx_sets = mx_fpgrowth(one_hot(lines), min_support=0.03, use_colnames=True)
    theirs = mx_rules(mx_sets, num_itemsets=n, metric=metric, min_threshold=threshold)
    assert list(ours.columns) == ["antecedents", "consequents"] + list(theirs.columns[2:])
    assert ours.height == len(theirs) > 0
    key = lambda a, c: (frozenset(a), frozenset(c))  # noqa: E731
    mine = {key(a, c): i for i, (a, c) in enumerate(zip(ours["antecedents"].to_list(), ours["consequents"].to_list()))}
    for row in theirs.itertuples(index=False):
        i = mine[key(row[0], row[1])]
        for col, expected in zip(theirs.columns[2:], row[2:]):
            got = ours[col][i]
            if math.isinf(expected):
                assert math.isinf(got), col
            else:
                assert got == pytest.approx(expected, rel=1e-9, abs=1e-12), col
    # Sorted by the metric.
    assert ours[metric].to_list() == sorted(ours[metric].to_list(), reverse=True)


def test_rules_from_mlxtend_itemsets_table():
    sets = pl.DataFrame({"itemsets": [["a"], ["b"], ["c"], ["a", "b"], ["a", "c"]], "support": [0.5, 0.4, 0.3, 0.2, 0.3]})
    rules = basket.association_rules(sets, metric="confidence", min_threshold=0.0)
    assert rules.height == 4
    row = rules.filter(pl.col("antecedents") == ["c"]).row(0, named=True)
    assert row["consequents"] == ["a"] and row["confidence"] == 1.0 and math.isinf(row["conviction"])


def test_integer_and_categorical_items():
    lines = random_baskets(200, 8, 3)
    as_int = lines.with_columns(pl.col("product").str.slice(1).cast(pl.Int64))
    as_cat = lines.with_columns(pl.col("product").cast(pl.Categorical))
    s_int = basket.frequent_itemsets(as_int, min_support=0.1)
    s_cat = basket.frequent_itemsets(as_cat, min_support=0.1)
    s_str = basket.frequent_itemsets(lines, min_support=0.1)
    assert s_int.schema["itemsets"] == pl.List(pl.Int64)
    assert s_cat.schema["itemsets"] == pl.List(pl.String)
    assert as_dict(s_cat) == as_dict(s_str)
    assert {frozenset(f"p{x:02d}" for x in k): v for k, v in as_dict(s_int).items()} == as_dict(s_str)
    assert basket.association_rules(s_cat, min_threshold=0.5).height == basket.association_rules(s_str, min_threshold=0.5).height


def test_lazy_input_and_custom_columns():
    lines = random_baskets(100, 6, 8).rename({"order_id": "ticket", "product": "sku"})
    a = basket.frequent_itemsets(lines.lazy(), basket="ticket", item="sku", min_support=0.2)
    b = basket.frequent_itemsets(lines, basket="ticket", item="sku", min_support=0.2)
    assert a.equals(b)


def test_chinese_items():
    lines = pl.DataFrame({"order_id": [1, 1, 2, 2, 3], "product": ["牛奶", "面包", "牛奶", "面包", "黄油"]})
    sets = basket.frequent_itemsets(lines, min_support=0.5)
    assert as_dict(sets) == {frozenset(["牛奶"]): 2 / 3, frozenset(["面包"]): 2 / 3, frozenset(["牛奶", "面包"]): 2 / 3}


def test_empty_and_single_basket():
    empty = pl.DataFrame({"order_id": [], "product": []}, schema={"order_id": pl.Int64, "product": pl.String})
    out = basket.frequent_itemsets(empty)
    assert out.height == 0 and out.columns == ["itemsets", "support", "count"]
    assert basket.association_rules(out).height == 0
    one = pl.DataFrame({"order_id": [7, 7], "product": ["x", "y"]})
    assert as_dict(basket.frequent_itemsets(one, min_support=1.0)) == {
        frozenset(["x"]): 1.0,
        frozenset(["y"]): 1.0,
        frozenset(["x", "y"]): 1.0,
    }


def test_huge_basket_is_guarded():
    # One basket of 300 items: at min_support <= 1/n every subset is frequent (2^300).
    big = pl.DataFrame({"order_id": [0] * 300, "product": [f"i{k:03d}" for k in range(300)]})
    other = random_baskets(50, 10, 2)
    lines = pl.concat([big, other])
    with pytest.raises(TooLargeError, match="max_itemsets"):
        basket.frequent_itemsets(lines, min_support=0.001)
    pairs = basket.frequent_itemsets(lines, min_support=0.001, max_len=2)
    assert pairs.filter(pl.col("itemsets").list.len() == 2).height >= 300 * 299 // 2
    with pytest.raises(TooLargeError):
        basket.frequent_itemsets(lines, min_support=0.001, max_len=3, max_itemsets=100_000)


def test_bad_input():
    lines = random_baskets(20, 5, 1)
    with pytest.raises(SchemaError, match="'basket_id'"):
        basket.frequent_itemsets(lines, basket="basket_id")
    with pytest.raises(SchemaError, match="null"):
        basket.frequent_itemsets(pl.DataFrame({"order_id": [1, None], "product": ["a", "b"]}))
    with pytest.raises(SchemaError, match="'product'"):
        basket.frequent_itemsets(pl.DataFrame({"order_id": [1, 2], "product": ["a", None]}))
    for bad in (0, 0.0, -0.1, 1.5, "0.1", None, True):
        with pytest.raises(CrmError, match="min_support"):
            basket.frequent_itemsets(lines, min_support=bad)
    with pytest.raises(CrmError, match="max_len"):
        basket.frequent_itemsets(lines, max_len=0)
    with pytest.raises(CrmError, match="metric"):
        basket.association_rules(basket.frequent_itemsets(lines, min_support=0.2), metric="accuracy")
    incomplete = pl.DataFrame({"itemsets": [["a"], ["a", "b"]], "support": [0.5, 0.3]})
    with pytest.raises(CrmError, match="not among the itemsets"):
        basket.association_rules(incomplete, min_threshold=0.0)
    with pytest.raises(SchemaError, match="'support'"):
        basket.association_rules(pl.DataFrame({"itemsets": [["a"]]}))
    with pytest.raises(CrmError, match="expected a polars DataFrame"):
        basket.frequent_itemsets([1, 2, 3])


def brute_recommend(owned: dict, rules: pl.DataFrame, k: int) -> dict:
    out = {}
    for cust, have in owned.items():
        best: dict = {}
        for a, c, s in zip(rules["antecedents"].to_list(), rules["consequents"].to_list(), rules["confidence"].to_list()):
            if set(a) <= have:
                for item in c:
                    if item not in have:
                        best[item] = max(best.get(item, -1.0), s)
        ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        if ranked:
            out[cust] = ranked
    return out


def test_recommend_equals_brute_force():
    lines = random_baskets(300, 10, 9)
    rules = basket.association_rules(basket.frequent_itemsets(lines, min_support=0.03), min_threshold=0.2)
    rng = np.random.default_rng(0)
    customers = pl.DataFrame(
        {"customer_id": rng.integers(0, 40, 150), "product": [f"p{k:02d}" for k in rng.integers(0, 10, 150)]}
    )
    owned = {c: set(g) for c, g in customers.to_pandas().groupby("customer_id")["product"]}
    assert (rules["lift"] <= 1).any() and (rules["lift"] > 1).any()
    # By default only rules that make the item more likely (lift > 1) recommend.
    for min_lift, usable in ((1.0, rules.filter(pl.col("lift") > 1)), (None, rules), (1.5, rules.filter(pl.col("lift") > 1.5))):
        got = basket.recommend(customers, rules, k=3, min_lift=min_lift)
        expected = brute_recommend(owned, usable, 3)
        result: dict = {}
        for row in got.iter_rows(named=True):
            result.setdefault(row["customer_id"], []).append((row["item"], row["score"]))
            assert row["rank"] == len(result[row["customer_id"]])
            assert set(row["because"]) <= owned[row["customer_id"]]
        assert result == expected, min_lift


def test_recommend_bad_input():
    rules = pl.DataFrame({"antecedents": [["a"]], "consequents": [["b"]], "confidence": [0.9]})
    with pytest.raises(SchemaError, match="'customer_id'"):
        basket.recommend(pl.DataFrame({"cust": [1], "product": ["a"]}), rules)
    with pytest.raises(CrmError, match="'k'"):
        basket.recommend(pl.DataFrame({"customer_id": [1], "product": ["a"]}), rules, k=0)
    with pytest.raises(CrmError, match="'min_lift'"):
        basket.recommend(pl.DataFrame({"customer_id": [1], "product": ["a"]}), rules, min_lift="1")
    none = basket.recommend(pl.DataFrame({"customer_id": [1], "product": ["z"]}), rules)
    assert none.height == 0 and none.columns == ["customer_id", "item", "score", "rank", "because"]


def test_recovers_planted_bundles():
    world = crmkit.datasets.generate(n_customers=2_000, seed=11)
    items = world.items
    n_orders = items["order_id"].n_unique()
    sets = basket.frequent_itemsets(items, basket="order_id", item="product", min_support=0.004)
    support = as_dict(sets)
    rules = basket.association_rules(sets, metric="lift", min_threshold=1.0)
    for bundle, probability in zip(world.truth.bundles["products"].to_list(), world.truth.bundles["probability"].to_list()):
        key = frozenset(bundle)
        assert key in support, f"planted bundle {bundle} not found"
        # Planted in a share `probability` of orders (plus chance co-occurrence).
        assert support[key] >= 0.8 * probability
        assert support[key] * n_orders >= 0.8 * probability * n_orders
        head, last = sorted(bundle)[:-1], sorted(bundle)[-1]
        rule = rules.filter((pl.col("antecedents") == head) & (pl.col("consequents") == [last]))
        assert rule.height == 1 and rule["lift"][0] > 5.0
