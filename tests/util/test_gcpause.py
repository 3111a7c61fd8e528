"""``util.gcpause``: the collector is off inside the block and as it was after it,
also when the block raises or is nested."""

from __future__ import annotations

import gc

import pytest

from reconciler.util import gcpause


def test_off_inside_and_restored_after_even_on_error_and_when_nested():
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        with gcpause.paused():
            assert not gc.isenabled()
            with gcpause.paused():
                assert not gc.isenabled()
            assert not gc.isenabled()  # the inner block does not turn it back on early
            raise RuntimeError
    assert gc.isenabled()


def test_left_off_if_it_was_off():
    gc.disable()
    try:
        with gcpause.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
