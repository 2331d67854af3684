"""Every module of resumestack.cloud is in its action group, so the plays' module_defaults
(group/resumestack.cloud.aws: region, endpoint, keys) reach it: a module left out fails on AWS
with "requires a region" (or, worse, talks to the default endpoint)."""

from pathlib import Path

import yaml

COLLECTION = Path(__file__).resolve().parents[3] / "collections" / "ansible_collections" / "resumestack" / "cloud"


def test_every_module_is_in_the_aws_action_group():
    group = yaml.safe_load((COLLECTION / "meta" / "runtime.yml").read_text())["action_groups"]["aws"]
    listed = {entry for entry in group if isinstance(entry, str)}
    modules = {p.stem for p in (COLLECTION / "plugins" / "modules").glob("*.py") if not p.stem.startswith("_")}
    assert modules, "no module found: the scan would pass vacuously"
    assert modules - listed == set()
