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
