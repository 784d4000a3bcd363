"""Model files are data, not code: every crmkit loader reads JSON only (no pickle, no
eval), checks the format, version and contents, and refuses a damaged or hostile
document with a CrmError — never another exception, never a panic — or, when the
change leaves a well-formed model, gives a model that predicts or refuses clearly.

The documents are the real saved models of each kind, mutated by hypothesis: keys
deleted, values replaced by other JSON (null, text, huge or negative numbers, NaN,
nested lists and objects), versions changed.
"""

from __future__ import annotations

import copy
import json
import warnings

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

import crmkit
from crmkit import churn, clv, ml

import test_properties  # noqa: F401  (loads the shared hypothesis profile)


def _ok(e: Exception) -> None:
    assert isinstance(e, crmkit.CrmError), f"{type(e).__name__}: {e}"
    assert "internal error" not in str(e), str(e)


@pytest.fixture(scope="module")
def docs(tmp_path_factory) -> dict:
    """One saved document per model kind, with a function that loads a document and
    uses the model."""
    tmp = tmp_path_factory.mktemp("models")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
    out = {}
    gb = ml.GradientBoostingClassifier(max_iter=5, random_state=0).fit(X, y)
    lr = ml.LogisticRegression().fit(X, y)
    for name, model in (("gbdt", gb), ("logistic", lr)):
        model.save(tmp / f"{name}.json")
        out[name] = (json.loads((tmp / f"{name}.json").read_text()),
                     lambda p: ml.load(p).predict_proba(X))
    f = [0, 2, 1, 0, 5, 3, 0, 1, 4, 2, 6, 1]
    r = [0.0, 30.4, 1.7, 0.0, 35.0, 20.0, 0.0, 12.0, 5.0, 3.0, 8.0, 0.5]
    T = [38.9, 38.9, 38.9, 38.0, 38.0, 37.1, 36.0, 36.0, 38.0, 37.5, 38.2, 36.3]
    clv.BetaGeoFitter(penalizer_coef=0.01).fit(f, r, T).save(tmp / "bgf.json")
    out["bgnbd"] = (json.loads((tmp / "bgf.json").read_text()),
                    lambda p: clv.load(p).conditional_probability_alive(f, r, T))
    km = crmkit.KMeans(n_clusters=3, random_state=0).fit(pl.DataFrame(X, schema=["a", "b", "c"]))
    out["kmeans"] = (json.loads(km.to_json()),
                     lambda p: crmkit.KMeans.from_json(open(p).read()).predict(pl.DataFrame(X, schema=["a", "b", "c"])))
    world = crmkit.datasets.generate(n_customers=500, seed=4, start="2023-06-01", end="2025-07-01")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cm = churn.ChurnModel(horizon=120, n_cutoffs=2).fit(world.orders)
    cm.save(tmp / "churn.json")
    out["churn"] = (json.loads((tmp / "churn.json").read_text()), lambda p: churn.load(p).score(world.orders))
    return out


def _paths(doc, prefix=()):
    """Every (path to a value) in a JSON document."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list) and doc:
        for i in sorted({0, len(doc) // 2, len(doc) - 1}):
            yield from _paths(doc[i], prefix + (i,))


HOSTILE = st.one_of(
    st.none(), st.booleans(), st.integers(-2**63, 2**63), st.sampled_from([1e308, -1e308, 0.0, -1.0, 1e-300]),
    st.text(max_size=20), st.just([]), st.just({}), st.just([[1, 2], [3]]), st.just({"__class__": "os.system"}),
    st.lists(st.integers(), max_size=5), st.just(list(range(10_000))),
)


@pytest.mark.parametrize("kind", ["gbdt", "logistic", "bgnbd", "kmeans", "churn"])
@given(data=st.data())
def test_damaged_model_documents_are_refused_clearly(docs, tmp_path_factory, kind, data):
    doc, use = docs[kind]
    paths = list(_paths(doc))
    where = data.draw(st.sampled_from(paths[1:]))
    action = data.draw(st.sampled_from(["replace", "delete"]))
    bad = copy.deepcopy(doc)
    node = bad
    for k in where[:-1]:
        node = node[k]
    if action == "delete" and isinstance(node, dict):
        del node[where[-1]]
    else:
        node[where[-1]] = data.draw(HOSTILE)
    path = tmp_path_factory.mktemp("bad") / "model.json"
    path.write_text(json.dumps(bad))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            use(path)
    except Exception as e:  # noqa: BLE001 - which exception is the property
        _ok(e)


@pytest.mark.parametrize("kind", ["gbdt", "logistic", "bgnbd", "kmeans", "churn"])
def test_not_json_or_wrong_kind_is_refused(docs, tmp_path, kind):
    _, use = docs[kind]
    for text in ("", "not json", "[]", "null", '{"format": "pickle"}', "\x80\x04\x95"):
        p = tmp_path / "m.json"
        p.write_text(text)
        with pytest.raises(crmkit.CrmError):
            use(p)
