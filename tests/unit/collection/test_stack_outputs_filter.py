"""The outputs contract filters (plugins/filter/stack_outputs.py) and the project's own contract."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible_collections.resumestack.cloud.plugins.filter.stack_outputs import contract_roots, stack_outputs

ROOT = Path(__file__).resolve().parents[3]

CONTRACT = {
    "environment": {"from": "env_name"},
    "vpc_id": {"from": "network_outputs.vpc_id"},
    "sg_db": {"from": "network_outputs.security_group_ids.db"},
    "db_endpoint": {"from": "database_outputs.endpoint"},
    "endpoint": {"from": "aws_connection.endpoint_url"},
}


def test_roots_are_the_first_segment_of_each_source_once_in_order() -> None:
    assert contract_roots(CONTRACT) == ["env_name", "network_outputs", "database_outputs", "aws_connection"]


def test_an_entry_without_a_source_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="'broken'"):
        contract_roots({"broken": {"description": "no from"}})


def test_known_sources_resolve_through_nested_fields() -> None:
    sources = {
        "env_name": "dev",
        "network_outputs": {"vpc_id": "vpc-1", "security_group_ids": {"db": "sg-db"}},
        "aws_connection": {"region": "eu-west-1"},
    }
    assert stack_outputs(CONTRACT, sources) == {"environment": "dev", "vpc_id": "vpc-1", "sg_db": "sg-db"}


def test_unknown_and_null_sources_are_left_out_but_empty_values_are_kept() -> None:
    sources = {"env_name": "dev", "network_outputs": {"vpc_id": None}, "database_outputs": {"endpoint": ""}}
    assert stack_outputs(CONTRACT, sources) == {"environment": "dev", "db_endpoint": ""}


def test_every_entry_of_the_project_contract_names_a_source_and_a_description() -> None:
    contract = yaml.safe_load((ROOT / "group_vars" / "all" / "outputs.yml").read_text())["stack_outputs_contract"]
    assert contract_roots(contract)  # every entry has a source
    assert [key for key, spec in contract.items() if not str(spec.get("description", "")).strip()] == []
    # The sources are facts the roles publish or variables of the run, nothing else.
    allowed = {"env_name", "aws_region", "aws_connection"} | {
        f"{r}_outputs" for r in ("network", "database", "ecs_cluster", "queues", "bastion", "app_deploy")
    }
    assert set(contract_roots(contract)) <= allowed
