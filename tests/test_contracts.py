"""Input contracts: every kind of bad input gets a crmkit error naming the column."""

import math

import polars as pl
import pytest

import crmkit
from crmkit import _core
from crmkit._validate import (
    as_frame,
    as_lazy,
    require_columns,
    require_no_nulls,
    require_rows,
    require_unique,
)

ORDERS = pl.DataFrame(
    {
        "customer_id": [1, 2, 2],
        "order_date": pl.Series(["2024-01-01", "2024-01-02", "2024-02-01"]).str.to_date(),
        "amount": [10.0, 20.0, 5.5],
    }
)
NEEDS = {"customer_id": "id", "order_date": "temporal", "amount": "numeric"}


def test_errors_are_value_errors():
    assert issubclass(crmkit.CrmError, ValueError)
    for cls in (crmkit.SchemaError, crmkit.TooLargeError, crmkit.ConvergenceError):
        assert issubclass(cls, crmkit.CrmError)


def test_good_input_passes_eager_and_lazy():
    require_columns(ORDERS, NEEDS, function="rfm")
    require_columns(ORDERS.lazy(), NEEDS, function="rfm")


def test_missing_column_names_it_and_suggests_close_names():
    df = ORDERS.rename({"customer_id": "customer"})
    with pytest.raises(crmkit.SchemaError) as e:
        require_columns(df, NEEDS, function="rfm", argument="orders")
    msg = str(e.value)
    assert "'customer_id'" in msg and "not found" in msg and "'orders'" in msg
    assert "did you mean 'customer'" in msg


@pytest.mark.parametrize(
    "column, bad, expected",
    [
        ("amount", pl.Series(["10", "20", "5"]), "numeric"),
        ("order_date", pl.Series(["2024-01-01", "x", "y"]), "date or datetime"),
        ("customer_id", pl.Series([1.0, 2.0, 3.0]), "id column"),
    ],
)
def test_wrong_dtype_says_expected_and_found(column, bad, expected):
    df = ORDERS.with_columns(bad.alias(column))
    with pytest.raises(crmkit.SchemaError) as e:
        require_columns(df, NEEDS, function="rfm")
    msg = str(e.value)
    assert f"'{column}'" in msg and expected in msg and str(bad.dtype) in msg


def test_empty_frame():
    with pytest.raises(crmkit.CrmError, match="empty"):
        require_rows(ORDERS.clear(), function="rfm", argument="orders")


def test_null_and_nan_keys():
    with_null = ORDERS.with_columns(pl.Series("customer_id", [1, None, 2]))
    with pytest.raises(crmkit.SchemaError, match="'customer_id'.*1 null"):
        require_no_nulls(with_null, ["customer_id"], function="rfm")
    with_nan = ORDERS.with_columns(pl.Series("amount", [1.0, math.nan, 2.0]))
    with pytest.raises(crmkit.SchemaError, match="'amount'.*NaN"):
        require_no_nulls(with_nan, ["amount"], function="rfm")


def test_duplicated_ids():
    with pytest.raises(crmkit.SchemaError, match="unique.*1 duplicated"):
        require_unique(ORDERS, "customer_id", function="dedupe")


def test_frames_of_other_kinds():
    assert as_lazy(ORDERS).collect().equals(ORDERS)
    assert as_frame(ORDERS.lazy()).equals(ORDERS)
    assert as_frame(ORDERS.to_pandas()).shape == ORDERS.shape
    with pytest.raises(crmkit.CrmError, match="expected a polars DataFrame or LazyFrame, found list"):
        as_lazy([1, 2, 3], argument="orders")


def test_a_rust_panic_becomes_a_crmkit_error():
    with pytest.raises(crmkit.CrmError, match="internal error"):
        _core._raise_internal_panic()
    # The interpreter is still fine afterwards.
    assert crmkit.datasets.generate(n_customers=5, seed=1).truth.customers.height == 5


def _public_callables():
    import inspect

    import crmkit

    seen = set()
    modules = [crmkit] + [getattr(crmkit, n) for n in crmkit.__all__ if inspect.ismodule(getattr(crmkit, n))]
    for module in modules:
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and not issubclass_safe(obj, Exception):
                if id(obj) not in seen:
                    seen.add(id(obj))
                    yield f"{module.__name__}.{name}", obj


def issubclass_safe(obj, cls):
    return isinstance(obj, type) and issubclass(obj, cls)


def test_every_public_function_has_a_runnable_example():
    """Each public function and class documents itself with a doctest (run by pytest)."""
    missing = [name for name, obj in _public_callables() if ">>>" not in (obj.__doc__ or "")]
    assert not missing, f"public names without a docstring example: {missing}"
