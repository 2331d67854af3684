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


def test_every_modules_documentation_parses():
    """ansible-doc (and ansible-lint) read DOCUMENTATION, EXAMPLES and RETURN as YAML: a stray ': ' in
    a description breaks them all."""
    for path in sorted((COLLECTION / "plugins" / "modules").glob("*.py")):
        source = path.read_text()
        for name in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
            text = source.split(f'{name} = r"""', 1)[1].split('"""', 1)[0]
            assert yaml.safe_load(text) is not None or name == "EXAMPLES", f"{path.name}: {name}"
