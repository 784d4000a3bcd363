import pytest

import crmkit


@pytest.fixture(scope="session")
def world():
    """A small generated world shared by the tests that only read it."""
    return crmkit.datasets.generate(n_customers=3_000, seed=2024)
