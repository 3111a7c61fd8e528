"""The request a plan, apply or watch is asked for: the planner's options made from it
and the project, the flags ``apply FILE`` refuses, and its saved form."""

from __future__ import annotations

import pytest

from reconciler.config import load_config
from reconciler.planning.request import Request


def test_options_join_the_request_the_project_and_the_state(tmp_path):
    (tmp_path / "reconciler.yaml").write_text("max_delete_share: 0.5\nkeep_deleted_outputs: true\n")
    config = load_config(tmp_path)
    request = Request(targets=frozenset({"a/"}), replace=frozenset({"a/b"}), allow_mass_delete=True)
    options = request.options(config, cached=frozenset({"f"}), place="here", accounts={"xingyun": "me"})
    assert (options.targets, options.replace, options.allow_mass_delete) == ({"a/"}, {"a/b"}, True)
    assert (options.max_delete_share, options.keep_deleted_outputs) == (0.5, True)
    assert (options.cached, options.place, dict(options.accounts)) == ({"f"}, "here", {"xingyun": "me"})
    no_cache = Request(use_cache=False).options(config, cached=frozenset({"f"}), place=None, accounts={})
    assert no_cache.cached == frozenset() and not no_cache.use_cache


def test_given_names_the_planning_flags_as_typed():
    assert Request().given() == []
    assert Request(targets=frozenset({"a"}), variables={"k": "v"}, allow_over_budget=True).given() == [
        "--target", "--var", "--allow-over-budget"]


def test_the_saved_form_round_trips_and_refuses_what_is_not_a_request():
    request = Request(targets=frozenset({"a", "b"}), replace=frozenset({"a"}), variables={"city": "上海"},
                      allow_mass_delete=True, allow_over_budget=True, use_cache=False)
    assert Request.from_json(request.to_json()) == request
    with pytest.raises(ValueError, match="targets"):
        Request.from_json({**request.to_json(), "targets": "a"})
    with pytest.raises(ValueError, match="variables"):
        Request.from_json({**request.to_json(), "variables": {"k": 1}})
