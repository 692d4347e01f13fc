"""The GX suites: they load whole in a fresh process, and their results become findings."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from trainguard.checks.base import Offenders
from trainguard.checks.stats import wilson_interval
from trainguard.findings import Status
from trainguard.gate.decide import LEGALITY_SUITES, suite_parameters
from trainguard.gate.gx import run_gx_gate, suites_dir
from trainguard.gate.reduce import ScanResult
from trainguard.policy import load_policy

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.unit


def test_suites_load_in_a_fresh_process_with_every_expectation() -> None:
    """Custom expectations are registered first, so GX keeps every expectation of each suite."""
    code = (
        "import json, sys\n"
        "from trainguard.gate.gx import load_suite, suites_dir\n"
        "out = {}\n"
        "for path in sorted(suites_dir().glob('*.json')):\n"
        "    suite = load_suite(path.stem)\n"
        "    out[path.stem] = [type(e).__name__ for e in suite.expectations]\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    for path in suites_dir().glob("*.json"):
        document = json.loads(path.read_text())
        assert len(loaded[path.stem]) == len(document["expectations"])
        assert all(e["meta"]["clause"] for e in document["expectations"])
    assert "ExpectSourceHarmfulRateWithinPolicy" in loaded["legality_sources"]


def source_row(source_id: str, **values: object) -> dict[str, object]:
    row: dict[str, object] = {
        "source_id": source_id,
        "records": 100,
        "pi_found": 0,
        "pi_covered": 0,
        "pi_uncovered": 0,
        "pi_uncovered_kinds": "",
        "pi_declared": False,
        "pi_undeclared": 0,
        "harmful_sampled": 100,
        "harmful_flagged": 1,
        "harmful_rate": 0.01,
        "harmful_rate_low": 0.0,
        "harmful_rate_high": 0.05,
        "optout_hits": 0,
        "copyright_notices": 0,
        "near_duplicates": 0,
        "reported_pi": 0,
        "reported_works": 0,
        "reported_outputs": 0,
    }
    row.update(values)
    return row


def corpus_row(**values: object) -> dict[str, object]:
    row: dict[str, object] = {
        "records": 200,
        "automated_sampled": 20,
        "automated_sample_fraction": 0.1,
        "automated_pass_rate": 1.0,
        "lexicon_terms": 20000,
        "lexicon_min_a1": 300,
        "lexicon_min_a2": 200,
        "manual_reviewed": 200,
        "manual_pass_rate": 0.99,
        "manual_review_file": True,
    }
    row.update(values)
    return row


def run(tmp_path: Path, sources: list[dict[str, object]], corpus: dict[str, object]) -> list:
    result = ScanResult(sources, corpus, {"harmful.rate:b": Offenders(["b-1", "b-2"])}, {})
    policy = load_policy()
    return run_gx_gate(
        result.tables(), LEGALITY_SUITES, suite_parameters(policy, 200), policy, tmp_path
    ).findings


def test_passing_tables_give_only_passes(tmp_path: Path) -> None:
    """Within every threshold, every finding passes."""
    findings = run(tmp_path, [source_row("a"), source_row("b")], corpus_row())
    assert findings and all(f.status is Status.PASS for f in findings)


def test_failing_rows_name_source_clause_and_records(tmp_path: Path) -> None:
    """A source over the harmful threshold fails with its clause and record ids."""
    findings = run(
        tmp_path,
        [source_row("a"), source_row("b", harmful_rate=0.2)],
        corpus_row(manual_pass_rate=0.9),
    )
    failed = {(f.check, f.source_id): f for f in findings if f.status is Status.FAIL}
    assert set(failed) == {("harmful.rate", "b"), ("corpus.manual", None)}
    assert failed[("harmful.rate", "b")].clauses == ("Art. 7; TC260-003 5.1 a",)
    assert failed[("harmful.rate", "b")].record_ids == ("b-1", "b-2")
    assert failed[("harmful.rate", "b")].threshold == "<= 0.05"


def test_data_docs_fetch_nothing_from_the_web(tmp_path: Path) -> None:
    """The Data Docs a gate builds read offline: no CDN stylesheet, script or image left,
    trainguard's stylesheet inlined, the validation tables and the failed source kept."""
    from trainguard.gate.data_docs import MARKER, remote_references

    run(tmp_path, [source_row("a"), source_row("b", harmful_rate=0.2)], corpus_row())
    site = tmp_path / "gx" / "uncommitted" / "data_docs" / "local_site"
    pages = list(site.rglob("*.html"))
    assert len(pages) >= 3  # the index and a page per validation
    assert remote_references(site) == []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert MARKER in text and "cdn.jsdelivr.net" not in text and "unpkg.com" not in text
        assert 'content:"\\2717"' in text  # the stylesheet as shipped, escapes intact
    validation = next(p for p in pages if "legality_sources" in p.name and "validations" in str(p))
    assert "expect_column_values_to_be_between" in validation.read_text(encoding="utf-8") or (
        "harmful_rate" in validation.read_text(encoding="utf-8")
    )


def test_wilson_interval_brackets_the_rate() -> None:
    """The 95 % Wilson interval of 200/4000 is about 4.4 %..5.7 %."""
    low, high = wilson_interval(200, 4000, 0.95)
    assert 0.043 < low < 0.045 and 0.056 < high < 0.058
    assert wilson_interval(0, 0, 0.95) == (0.0, 1.0)


def test_suites_dir_holds_the_legality_suites() -> None:
    """Both legality suites live in expectations/."""
    assert {p.stem for p in suites_dir().glob("*.json")} >= {"legality_sources", "legality_corpus"}
