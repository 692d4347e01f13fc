"""The floor plan (LAYOUT.md): no import cycles, a small top level, every module in its home."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import trainguard

pytestmark = pytest.mark.unit

PACKAGE = Path(trainguard.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Modules of the package that ``path`` imports anywhere (functions included), except
    under ``if TYPE_CHECKING:``, which never runs."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(child) for child in ast.walk(node)}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1]
                    + ([base] if base else [])
                )
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
    return {module for module in found if module in known and module != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(path, name, known) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_inside_the_package() -> None:
    """No two modules of trainguard import each other, directly or through others."""
    assert _cycles(_graph()) == []


def test_cycle_finder_finds_a_planted_cycle() -> None:
    """The cycle finder is not blind: a planted a -> b -> c -> a is reported."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_core_never_imports_from_the_local_helpers() -> None:
    """Only the CLI and the local helpers themselves use trainguard.local (demo, stack)."""
    allowed = ("trainguard.local", "trainguard.cli")
    offenders = {
        name: sorted(t for t in targets if t.startswith("trainguard.local"))
        for name, targets in _graph().items()
        if not name.startswith(allowed)
    }
    assert {name: targets for name, targets in offenders.items() if targets} == {}


def test_top_level_holds_only_the_shared_modules() -> None:
    """Duties live in folders; the top level keeps the modules every duty shares."""
    top = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert top == [
        "__init__",
        "contract",
        "exceptions",
        "findings",
        "i18n",  # English and Chinese: every message, page and report renders through it
        "licenses",
        "model",
        "personal_info",
        "pipeline",
        "plugin",
        "policy",
        "progress",  # phases and time left of long work: the CLI, the gate, the assessment
        "settings",
        "templating",
        "tracking",
        "versioning",
    ]


def test_only_settings_reads_trainguard_variables_and_options() -> None:
    """No module but settings.py reads a TRAINGUARD_* variable or a [trainguard] option."""
    import re

    readers = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "settings.py":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(
            r'os\.environ(\.get)?[(\[]\s*"TRAINGUARD_|getenv\(\s*"TRAINGUARD_', text
        ) or re.search(r'conf\.get\w*\(\s*"trainguard"', text):
            readers.append(path.relative_to(PACKAGE).as_posix())
    assert readers == []


def test_settings_declare_every_variable_named_in_the_package() -> None:
    """Every TRAINGUARD_* name a module mentions is declared (with its default) in settings."""
    import re

    from trainguard.settings import ENV

    named = set()
    for path in PACKAGE.rglob("*.py"):
        named |= set(re.findall(r'"(TRAINGUARD_[A-Z0-9_]+)"', path.read_text(encoding="utf-8")))
    assert named - set(ENV) == set()


def test_no_html_is_built_from_f_strings() -> None:
    """Pages and reports come from autoescaped Jinja2 templates, never from f-strings."""
    import re

    markup = re.compile(r"""f["'][^"'\n]*<(/?[a-zA-Z][a-zA-Z0-9]*)[ >/]""")
    found = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in PACKAGE.rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if markup.search(line)
    ]
    assert found == []


def test_long_modules_say_why_they_are_kept_whole() -> None:
    """A module over ~400 lines states in its docstring why it is one module."""
    too_long = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if len(text.splitlines()) > 430 and "Kept as one module" not in docstring:
            too_long.append(f"{path.relative_to(PACKAGE)}: {len(text.splitlines())} lines")
    assert too_long == []
