"""What a reconcile is asked for: one ``Request``, built once from the command line.

Like Terraform's backend ``Operation``: the flags that change what is planned
(``--target``, ``--replace``, ``--var``, ``--allow-mass-delete``, ``--allow-over-budget``,
``--no-cache``) travel as one object from ``cli`` through ``plan``, ``apply`` and
``watch`` to the recipe (``reconciler.recipe``), and a saved plan (``plan --out``,
``saved_plan``) stores it, so ``apply FILE`` plans again from exactly what was asked.
What comes from the project (``max_delete_share``, ``keep_deleted_outputs``) and from
the state (the render cache, this checkout, the accounts) is added by the recipe when
it plans (``options``), never stored here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from reconciler.model import PlanOptions


@dataclass(frozen=True)
class Request:
    targets: frozenset[str] = frozenset()
    replace: frozenset[str] = frozenset()
    variables: Mapping[str, str] = field(default_factory=dict)  # --var KEY=VALUE (templating)
    allow_mass_delete: bool = False
    allow_over_budget: bool = False  # budget (docs/budget.md): enforced by the recipe, not the planner
    use_cache: bool = True  # False: --no-cache (docs/cache.md)

    def given(self) -> list[str]:
        """The planning flags given, as typed (``apply FILE`` refuses them: the saved plan
        carries its own)."""
        return [flag for flag, value in (("--target", self.targets), ("--replace", self.replace),
                                         ("--var", self.variables), ("--allow-mass-delete", self.allow_mass_delete),
                                         ("--allow-over-budget", self.allow_over_budget)) if value]

    def options(self, config, *, cached: frozenset[str], place: str | None,
                accounts: Mapping[str, str]) -> PlanOptions:
        """The planner's options: this request, the project's settings, and what the
        state and this checkout say (``cached`` is read only when ``use_cache``)."""
        return PlanOptions(targets=self.targets, replace=self.replace, allow_mass_delete=self.allow_mass_delete,
                           max_delete_share=config.max_delete_share, use_cache=self.use_cache,
                           cached=cached if self.use_cache else frozenset(), place=place,
                           allow_over_budget=self.allow_over_budget,
                           keep_deleted_outputs=config.file.keep_deleted_outputs, accounts=accounts)

    def to_json(self) -> dict:
        return {"targets": sorted(self.targets), "replace": sorted(self.replace),
                "variables": dict(sorted(self.variables.items())), "allow_mass_delete": self.allow_mass_delete,
                "allow_over_budget": self.allow_over_budget, "use_cache": self.use_cache}

    @classmethod
    def from_json(cls, doc: dict) -> Request:
        """The request of a saved plan (ValueError, KeyError or TypeError when malformed)."""
        variables = doc["variables"]
        if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
            raise ValueError("variables are not a map of strings")
        return cls(targets=frozenset(_strings(doc["targets"], "targets")),
                   replace=frozenset(_strings(doc["replace"], "replace")), variables=dict(variables),
                   allow_mass_delete=_flag(doc["allow_mass_delete"], "allow_mass_delete"),
                   allow_over_budget=_flag(doc.get("allow_over_budget", False), "allow_over_budget"),
                   use_cache=_flag(doc.get("use_cache", True), "use_cache"))


def _strings(value, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name} is not a list of addresses")
    return value


def _flag(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} is not true or false")
    return value
