"""The apps' dependency order holds: each app imports only from the apps below it.

The order is written down in docs/architecture.md; a change that needs an
upward import should move the code, or invert the dependency with a signal
(labeling.signals), instead of editing this list.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. An app may import from the apps before it, never after.
LAYERS = ["web", "projects", "labeling", "imports", "agreement", "exports"]
# labeling and imports are siblings: neither needs the other.
SIBLINGS = {("imports", "labeling"), ("labeling", "imports")}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _app_files(app: str) -> list[Path]:
    return [p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts]


@pytest.mark.parametrize("app", LAYERS)
def test_app_imports_only_apps_below_it(app):
    allowed = set(LAYERS[: LAYERS.index(app) + 1])
    wrong = []
    for path in _app_files(app):
        for module in _imports(path):
            if module == "annotator":
                wrong.append(f"{path.relative_to(ROOT)} imports the project package annotator")
            elif module in LAYERS and module not in allowed:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}, which builds on {app}")
            elif (app, module) in SIBLINGS:
                wrong.append(f"{path.relative_to(ROOT)} imports its sibling {module}")
    assert not wrong, "\n".join(wrong)


def test_every_app_is_placed_in_the_order():
    from django.conf import settings

    ours = [a for a in settings.INSTALLED_APPS if (ROOT / a.split(".")[0]).is_dir()]
    assert ours == LAYERS


TYPE_NAMES = "text|rating|label|multilabel|preference|ranking"
# A type's name compared with something: `== "rating"`, `in ("label", ...)`, `=== 'text'`.
BRANCH = re.compile(
    rf"""(==|!=)\s*["']({TYPE_NAMES})["']|["']({TYPE_NAMES})["']\s*(==|!=)"""
    rf"""|\bin\s*[(\[{{]\s*["']({TYPE_NAMES})["']"""
)


def test_no_question_type_branches_outside_the_question_modules():
    """A question type's behaviour lives in its module (docs/questions.md), nowhere else."""
    places = [ROOT / d for d in [*LAYERS, "templates", "static"]]
    found = []
    for place in places:
        for path in place.rglob("*"):
            if path.suffix not in {".py", ".html", ".js"} or "migrations" in path.parts:
                continue
            if path.is_relative_to(ROOT / "projects" / "questions"):
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                # input.type is an HTML input's type; `active` names the current tab.
                if BRANCH.search(line) and "input.type" not in line and "active ==" not in line:
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
