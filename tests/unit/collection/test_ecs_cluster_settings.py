"""resumestack.cloud.ecs_cluster_settings run for real (ansible CLI) against an in-process moto server."""

from conftest import unique


def describe(aws, name):
    return aws("ecs").describe_clusters(clusters=[name], include=["SETTINGS", "TAGS"])["clusters"][0]


def test_check_mode_reports_the_change_and_changes_nothing(run_module, aws, cluster):
    result = run_module("ecs_cluster_settings", {"cluster": cluster, "container_insights": True}, check=True)
    assert result["changed"] is True
    assert result["diff"]["after"]["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    assert {"name": "containerInsights", "value": "enabled"} not in describe(aws, cluster).get("settings", [])


def test_insights_and_tags_are_set_once_then_left_alone(run_module, aws, cluster):
    args = {"cluster": cluster, "container_insights": True, "tags": {"Project": "resume", "Owner": "ops"}}
    first = run_module("ecs_cluster_settings", args)
    assert first["changed"] is True, first
    remote = describe(aws, cluster)
    assert {"name": "containerInsights", "value": "enabled"} in remote["settings"]
    assert {t["key"]: t["value"] for t in remote["tags"]} == {"Project": "resume", "Owner": "ops"}
    again = run_module("ecs_cluster_settings", args)
    assert again["changed"] is False
    assert again["cluster"]["tags"] == {"Project": "resume", "Owner": "ops"}


def test_tags_are_purged_and_insights_turned_off(run_module, aws, cluster):
    run_module("ecs_cluster_settings", {"cluster": cluster, "container_insights": True, "tags": {"A": "1", "B": "2"}})
    result = run_module("ecs_cluster_settings", {"cluster": cluster, "container_insights": False, "tags": {"A": "1"}})
    assert result["changed"] is True
    remote = describe(aws, cluster)
    assert {t["key"]: t["value"] for t in remote["tags"]} == {"A": "1"}
    assert {"name": "containerInsights", "value": "disabled"} in remote["settings"]


def test_a_missing_cluster_fails_clearly(run_module):
    result = run_module("ecs_cluster_settings", {"cluster": unique("nope"), "container_insights": True})
    assert result.get("failed") is True
    assert "does not exist" in result["msg"]


def test_a_missing_cluster_is_created_with_its_tags_in_the_create_call(run_module, aws):
    name = unique("tagged")
    args = {
        "cluster": name,
        "create": True,
        "capacity_providers": ["FARGATE", "FARGATE_SPOT"],
        "capacity_provider_strategy": [
            {"capacity_provider": "FARGATE", "base": 1, "weight": 1},
            {"capacity_provider": "FARGATE_SPOT", "base": 0, "weight": 3},
        ],
        "container_insights": True,
        "tags": {"Project": "resume"},
    }
    planned = run_module("ecs_cluster_settings", args, check=True)
    assert planned["changed"] is True
    assert aws("ecs").describe_clusters(clusters=[name])["clusters"] == []
    created = run_module("ecs_cluster_settings", args)
    assert created["changed"] is True, created
    remote = describe(aws, name)
    assert {t["key"]: t["value"] for t in remote["tags"]} == {"Project": "resume"}
    assert {"name": "containerInsights", "value": "enabled"} in remote["settings"]
    assert remote["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    assert run_module("ecs_cluster_settings", args)["changed"] is False


def test_the_create_call_carries_the_tags_and_settings():
    """One CreateCluster, tags included: an account whose policies require tags at creation accepts it,
    and a run that dies next leaves no untagged cluster."""
    from ansible_collections.resumestack.cloud.plugins.modules.ecs_cluster_settings import create_request

    params = {
        "cluster": "c",
        "tags": {"Project": "resume"},
        "container_insights": False,
        "capacity_providers": ["FARGATE"],
        "capacity_provider_strategy": [{"capacity_provider": "FARGATE", "base": "1", "weight": "2"}],
    }
    assert create_request(params) == {
        "clusterName": "c",
        "tags": [{"key": "Project", "value": "resume"}],
        "settings": [{"name": "containerInsights", "value": "disabled"}],
        "capacityProviders": ["FARGATE"],
        "defaultCapacityProviderStrategy": [{"capacityProvider": "FARGATE", "base": 1, "weight": 2}],
    }
