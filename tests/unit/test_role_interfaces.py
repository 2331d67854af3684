"""Each role's variables agree across meta/argument_specs.yml, defaults/main.yml and the README table.

The rule (which file is the source of what) is written in the docstring of scripts/role_docs.py;
the checks live there too, so `scripts/lint.sh` (`role_docs.py --check`) and these tests agree.
The first tests run the checks on the real roles, one kind at a time, and every failure line
names the role and the variable. The last ones build a small role of their own and break it on
purpose, one way at a time, to show that each kind of drift is caught.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_role_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("role_docs", ROOT / "scripts" / "role_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


role_docs = _load_role_docs()
ROLES = role_docs.discover()
ROLE_NAMES = [role.name for role in ROLES]


def _report(drifts: list[object]) -> str:
    return "\n".join(str(d) for d in drifts)


def _drift(role: object, check: str, *kinds: str) -> list[object]:
    return [d for d in getattr(role_docs, check)(role) if d.kind in kinds]


def test_every_role_has_an_argument_spec_defaults_and_a_readme() -> None:
    role_dirs = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks" / "main.yml").exists())
    assert role_dirs == ROLE_NAMES, "every role needs meta/argument_specs.yml"
    missing = [
        f"{role.name}: {rel} is missing"
        for role in ROLES
        for rel in ("defaults/main.yml", "README.md")
        if not (role.path / rel).exists()
    ]
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("role", ROLES, ids=ROLE_NAMES)
def test_every_default_is_in_the_argument_spec(role: object) -> None:
    drifts = _drift(role, "check_declared", "unspecified")
    assert not drifts, _report(drifts)


@pytest.mark.parametrize("role", ROLES, ids=ROLE_NAMES)
def test_every_argument_spec_option_is_in_the_defaults_unless_required_and_commented(role: object) -> None:
    drifts = _drift(role, "check_declared", "undefaulted")
    assert not drifts, _report(drifts)


@pytest.mark.parametrize("role", ROLES, ids=ROLE_NAMES)
def test_every_default_equals_the_argument_spec_default_and_jinja_ones_are_left_out(role: object) -> None:
    drifts = _drift(role, "check_defaults", "default")
    assert not drifts, _report(drifts)


@pytest.mark.parametrize("role", ROLES, ids=ROLE_NAMES)
def test_the_readme_table_is_what_the_generator_renders(role: object) -> None:
    drifts = _drift(role, "check_readme", "readme")
    assert not drifts, _report(drifts) + "\nrun: .venv/bin/python scripts/role_docs.py"


@pytest.mark.parametrize("role", ROLES, ids=ROLE_NAMES)
def test_the_validate_entry_point_is_identical_to_main(role: object) -> None:
    drifts = _drift(role, "check_validate_entry_point", "validate")
    assert not drifts, _report(drifts)


# --- the checks catch drift: a small role of our own, broken one way at a time ----------------

DEFAULTS = """\
---
# present creates; absent deletes.
demo_state: present
demo_name: "{{ project_name }}-demo"
demo_port: 8000
demo_tags: {}
# Required, no default:
# demo_secret_arn: arn:aws:secretsmanager:...
"""

SPEC = """\
---
argument_specs:
  main: &demo_spec
    short_description: A role for the tests
    options:
      demo_state: {type: str, choices: [present, absent], default: present, description: Create or delete.}
      demo_name: {type: str, required: true, description: Prefix of the names.}
      demo_port: {type: int, default: 8000, description: "Port | the listener."}
      demo_tags: {type: dict, default: {}, description: Extra tags.}
      demo_secret_arn: {type: str, required: true, description: The secret.}
  validate: *demo_spec
"""

README = f"""\
# demo

## Role Variables

Prose before the table.

{role_docs.BEGIN}
{role_docs.END}

## Dependencies

None.
"""


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    role = tmp_path / "roles" / "demo"
    for rel, text in {"defaults/main.yml": DEFAULTS, "meta/argument_specs.yml": SPEC, "README.md": README}.items():
        (role / rel).parent.mkdir(parents=True, exist_ok=True)
        (role / rel).write_text(text)
    assert role_docs.main(["--roles-dir", str(role.parent)]) == 0
    return role


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} not once in {path}"
    path.write_text(text.replace(old, new))


def test_the_generator_fills_the_markers_and_keeps_the_other_prose(demo: Path) -> None:
    readme = (demo / "README.md").read_text()
    assert readme.startswith("# demo\n\n## Role Variables\n\nProse before the table.\n\n" + role_docs.BEGIN)
    assert readme.endswith(role_docs.END + "\n\n## Dependencies\n\nNone.\n")
    assert "| `demo_port` | int |  | `8000` | Port \\| the listener. |" in readme
    assert '| `demo_name` | str | yes | `"{{ project_name }}-demo"` | Prefix of the names. |' in readme
    assert "| `demo_state` | str |  | `present` | Create or delete. One of `present`, `absent`. |" in readme
    assert "| `demo_secret_arn` | str | yes |  | The secret. |" in readme
    assert role_docs.all_drift(role_docs.discover(demo.parent)) == []


BREAKAGES = {
    "a_default_changed": ("defaults/main.yml", "demo_port: 8000", "demo_port: 8001", "default", "demo_port"),
    "a_default_quoted": ("defaults/main.yml", "demo_port: 8000", 'demo_port: "8000"', "default", "demo_port"),
    "a_default_not_in_the_spec": (
        "defaults/main.yml",
        "demo_tags: {}",
        "demo_tags: {}\ndemo_extra: 1",
        "unspecified",
        "demo_extra",
    ),
    "a_spec_option_not_in_defaults": ("defaults/main.yml", "demo_tags: {}\n", "", "undefaulted", "demo_tags"),
    "a_required_variable_not_even_commented": (
        "defaults/main.yml",
        "# demo_secret_arn: arn:aws:secretsmanager:...\n",
        "",
        "undefaulted",
        "demo_secret_arn",
    ),
    "a_jinja_default_repeated_in_the_spec": (
        "meta/argument_specs.yml",
        "demo_name: {type: str, required: true,",
        'demo_name: {type: str, default: "{{ project_name }}-demo",',
        "default",
        "demo_name",
    ),
    "a_spec_description_changed": (
        "meta/argument_specs.yml",
        "description: Extra tags.",
        "description: More tags.",
        "readme",
        "demo_tags",
    ),
    "a_readme_row_edited_by_hand": ("README.md", "| `8000` |", "| `8080` |", "readme", "demo_port"),
    "a_validate_entry_point_missing": (
        "meta/argument_specs.yml",
        "  validate: *demo_spec\n",
        "",
        "validate",
        "meta/argument_specs.yml",
    ),
    "a_validate_entry_point_not_main": (
        "meta/argument_specs.yml",
        "  validate: *demo_spec\n",
        "  validate:\n    short_description: A role for the tests\n    options: {}\n",
        "validate",
        "meta/argument_specs.yml",
    ),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_each_kind_of_drift_is_reported_with_role_and_variable(demo: Path, breakage: str) -> None:
    rel, old, new, kind, subject = BREAKAGES[breakage]
    _edit(demo / rel, old, new)
    drifts = role_docs.all_drift(role_docs.discover(demo.parent))
    assert any(d.kind == kind and d.role == "demo" and d.subject == subject for d in drifts), _report(drifts)
    assert all(str(d).startswith("demo: ") for d in drifts)


def test_check_mode_names_the_drift_and_writes_nothing(demo: Path) -> None:
    _edit(demo / "meta" / "argument_specs.yml", "description: Extra tags.", "description: More tags.")
    _edit(demo / "defaults" / "main.yml", "demo_port: 8000", "demo_port: 8001")
    before = {p: p.read_bytes() for p in demo.rglob("*") if p.is_file()}
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "role_docs.py"), "--check", "--roles-dir", str(demo.parent)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    assert "demo: demo_tags: " in run.stderr and "demo: demo_port: " in run.stderr, run.stderr
    assert {p: p.read_bytes() for p in demo.rglob("*") if p.is_file()} == before
