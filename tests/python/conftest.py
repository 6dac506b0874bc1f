"""Fixtures for the Python tests of the `sessions` package (run by bindings/python/test.sh)."""

import pytest

from _support import ManualClock, fast_paths, make_manager


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


@pytest.fixture(params=fast_paths())
def fast_path(request):
    """`SessionManager.validate` through one implementation of the fast path: the
    compiled extension (sessions._fastpath) or the ctypes fallback (sessions._fast)."""
    from sessions import _fast

    if request.param == "extension":
        assert _fast._extension is not None, "sessions._fastpath did not load"
    before = _fast.PATH
    _fast.use(request.param)
    yield request.param
    _fast.use(before)
