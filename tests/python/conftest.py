"""Fixtures for the Python tests of the `sessions` package (run by bindings/python/test.sh)."""

import pytest

from _support import ManualClock, make_manager


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture(params=["memory", "python_dict"])
def kind(request):
    """Which store the manager runs on: the Rust in-memory store or a Python DictStore."""
    return request.param


@pytest.fixture
def manager(kind, clock):
    return make_manager(kind, clock)
