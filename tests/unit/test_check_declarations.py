"""Each duty declares its checks with their clauses, and the GX suites agree with them."""

from __future__ import annotations

import json
import re
from importlib import import_module
from pathlib import Path

import pytest

from trainguard.gate.gx import suites_dir

pytestmark = pytest.mark.unit

DUTIES = [
    "consent",
    "harmful",
    "ip",
    "quality",
    "reported",
    "objectivity",
    "annotation",
    "assessment",
]


def _declarations() -> list[tuple[str, str, str]]:
    """(module, check id, clause) for every CHECKS entry of every duty module."""
    found = []
    for duty in DUTIES:
        module = import_module(f"trainguard.checks.{duty}")
        found += [(duty, check, clause) for check, clause in module.CHECKS.items()]
    return found


def _suite_checks() -> list[tuple[str, str, str]]:
    """(suite, check id, clause) for every expectation in expectations/*.json."""
    found = []
    for path in sorted(suites_dir().glob("*.json")):
        for expectation in json.loads(path.read_text(encoding="utf-8"))["expectations"]:
            found.append((path.stem, expectation["meta"]["check"], expectation["meta"]["clause"]))
    return found


def test_every_suite_check_matches_exactly_one_declaration() -> None:
    """Each expectation's check id and clause are declared by exactly one duty module."""
    declared = _declarations()
    for suite, check, clause in _suite_checks():
        owners = [module for module, c, cl in declared if (c, cl) == (check, clause)]
        assert len(owners) == 1, f"{suite}: {check} ({clause}) is declared by {owners}"


def test_every_declared_check_is_in_a_suite() -> None:
    """No duty declares a check that no suite evaluates."""
    in_suites = {check for _, check, _ in _suite_checks()}
    assert {check for _, check, _ in _declarations()} - in_suites == set()


def test_a_check_id_has_one_home() -> None:
    """No check id is declared by two modules."""
    ids = [check for _, check, _ in _declarations()]
    assert len(ids) == len(set(ids))


def test_duty_messages_describe_declared_checks_only() -> None:
    """A duty's finding messages are keyed by its own declared check ids."""
    for duty in ["consent", "harmful", "ip", "quality", "reported"]:
        module = import_module(f"trainguard.checks.{duty}")
        assert set(module.MESSAGES) <= set(module.CHECKS), duty
        assert set(getattr(module, "CORPUS_MESSAGES", {})) <= set(module.CHECKS), duty


def test_registry_checks_are_decided_in_python_not_in_a_suite() -> None:
    """The source-registry checks are declared apart and are the only ones sources.py files."""
    from trainguard.checks import sources

    in_suites = {check for _, check, _ in _suite_checks()}
    assert set(sources.REGISTRY_CHECKS).isdisjoint(in_suites)
    filed = set(re.findall(r'check="([a-z_.]+)"', Path(sources.__file__).read_text()))
    assert filed == set(sources.REGISTRY_CHECKS)


def test_a_planted_mismatch_would_be_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The matcher is not blind: a clause changed in a declaration leaves a suite check
    without its owner."""
    from trainguard.checks import ip

    monkeypatch.setitem(ip.CHECKS, "ip.optout", "Art. 99")
    with pytest.raises(AssertionError, match=r"ip\.optout"):
        test_every_suite_check_matches_exactly_one_declaration()


def test_the_readme_table_names_every_check_and_its_module() -> None:
    """Each declared check appears in README's clause table with the module that owns it."""
    from trainguard.checks import assessment, sources

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    rows = {
        m.group(2): (m.group(1), m.group(3))
        for m in re.finditer(
            r"^\| (.+?) \| `([a-z_.]+)` \| `(checks/[a-z_]+\.py)` \|$", readme, re.MULTILINE
        )
    }
    declared = {check: (clause, f"checks/{duty}.py") for duty, check, clause in _declarations()}
    declared |= {
        check: (clause, "checks/sources.py") for check, clause in sources.REGISTRY_CHECKS.items()
    }
    declared |= {
        check: (clause, "checks/assessment.py") for check, clause in assessment.INPUT_CHECKS.items()
    }
    assert rows == declared


def test_docs_link_only_to_files_in_the_repository() -> None:
    """Every relative link in README.md, docs/ and bench/README.md resolves to a file."""
    root = Path(__file__).resolve().parents[2]
    pages = [root / "README.md", root / "bench" / "README.md", *(root / "docs").glob("*.md")]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)", page.read_text(encoding="utf-8")):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(root)} -> {target}")
    assert broken == []
