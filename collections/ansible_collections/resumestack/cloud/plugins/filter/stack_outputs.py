"""Filters over an outputs contract (``group_vars/all/outputs.yml``): output key -> ``{from: <root>.<field>...}``.

``contract | resumestack.cloud.stack_output_roots``: the variables the contract reads, each once.
``contract | resumestack.cloud.stack_outputs(sources)``: output key -> value, for every output whose
source is defined (not null) in ``sources`` (root name -> value: the roots a run defines, taken
from ``vars``); the others are left out, so a caller can combine the result over the values
published earlier.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def contract_roots(contract: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The variables a contract reads, each once, in the contract's order."""
    roots: list[str] = []
    for key, spec in contract.items():
        source = spec.get("from") if isinstance(spec, Mapping) else None
        if not isinstance(source, str) or not source:
            raise ValueError(f"stack output {key!r} has no 'from'")
        root = source.split(".", 1)[0]
        if root not in roots:
            roots.append(root)
    return roots


def stack_outputs(contract: Mapping[str, Mapping[str, Any]], sources: Mapping[str, Any]) -> dict[str, Any]:
    contract_roots(contract)  # every entry names its source
    resolved: dict[str, Any] = {}
    for key, spec in contract.items():
        root, *path = str(spec["from"]).split(".")
        value = sources.get(root)
        for part in path:
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is not None:
            resolved[key] = value
    return resolved


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"stack_outputs": stack_outputs, "stack_output_roots": contract_roots}
