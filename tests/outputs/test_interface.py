"""Every outputs store implements the whole interface (``outputs/base.OutputsStore``): a
method added to it and forgotten by one store fails here, not at a user's first apply."""

from __future__ import annotations

import inspect

import pytest

from reconciler.outputs.base import OutputsStore
from reconciler.outputs.bucket import BucketOutputs
from reconciler.outputs.local import LocalOutputs

MEMBERS = sorted({n for n in vars(OutputsStore) if not n.startswith("_")} | set(OutputsStore.__annotations__))


@pytest.mark.parametrize("store", [LocalOutputs, BucketOutputs], ids=["local", "bucket"])
def test_each_store_has_every_member_of_the_interface(store):
    missing = [n for n in MEMBERS if not hasattr(store, n)]
    assert not missing, f"{store.__name__} lacks {missing}"
    for name in MEMBERS:
        wanted = getattr(OutputsStore, name, None)
        if callable(wanted):
            assert list(inspect.signature(getattr(store, name)).parameters)[:len(
                inspect.signature(wanted).parameters)] == list(inspect.signature(wanted).parameters), name
