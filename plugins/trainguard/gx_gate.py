"""The declarative gate: Great Expectations suites over what the scan measured.

The suites in ``expectations/`` state the legality duties as expectations on two small
tables (one row per source; one row for the corpus), with the policy's thresholds passed
as ``$PARAMETER``s and each expectation's clause and severity in its ``meta``. They run
through a GX Checkpoint whose action builds Data Docs; each result becomes findings.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.exceptions import GateError
from trainguard.findings import Finding, Status

if TYPE_CHECKING:
    from trainguard.policy import Policy
    from trainguard.scan import ScanResult

EXPECTATIONS_ENV = "TRAINGUARD_EXPECTATIONS_DIR"
SUITES = {"legality_sources": "sources", "legality_corpus": "corpus"}


def suites_dir() -> Path:
    configured = os.environ.get(EXPECTATIONS_ENV)
    checkout = Path(__file__).resolve().parents[2] / "expectations"
    folder = Path(configured) if configured else checkout
    if not (folder / "legality_sources.json").is_file():
        raise GateError(f"GX suites not found in {folder}; set {EXPECTATIONS_ENV}")
    return folder


def load_suite(name: str) -> Any:
    """A suite from expectations/, after registering trainguard's custom expectations."""
    import great_expectations as gx

    from trainguard.expectations import register

    register()
    document = json.loads((suites_dir() / f"{name}.json").read_text(encoding="utf-8"))
    suite = gx.ExpectationSuite(**document)
    if len(suite.expectations) != len(document["expectations"]):
        # GX drops expectation types it does not know instead of failing.
        raise GateError(f"GX suite {name} lost expectations on load: "
                        f"{len(suite.expectations)} of {len(document['expectations'])} kept")
    return suite


def expectation_parameters(policy: Policy, records: int) -> dict[str, float]:
    return {
        "harmful_max_rate": policy.harmful.max_rate,
        "automated_sample_fraction": policy.corpus.automated_sample_fraction,
        "automated_pass_rate": policy.corpus.automated_pass_rate,
        # The manual check needs the policy's sample size, or every record when fewer.
        "manual_sample_size": min(policy.corpus.manual_sample_size, records),
        "manual_pass_rate": policy.corpus.manual_pass_rate,
        "lexicon_min_terms": policy.keywords.min_terms,
        "lexicon_min_per_a1": policy.keywords.min_per_a1_risk,
        "lexicon_min_per_a2": policy.keywords.min_per_a2_risk,
    }


@dataclass
class GXOutcome:
    findings: list[Finding]
    data_docs: Path | None
    statistics: dict[str, Any]


def run_gx_gate(result: ScanResult, policy: Policy, workdir: Path) -> GXOutcome:
    """Validate the scan's tables with the legality suites through one Checkpoint."""
    import logging

    import great_expectations as gx
    import pandas as pd

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    workdir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(workdir))
    context.variables.progress_bars = {"globally": False}
    datasource = context.data_sources.add_or_update_pandas("trainguard_scan")
    frames = {"sources": pd.DataFrame(result.sources), "corpus": pd.DataFrame([result.corpus])}
    definitions = []
    for suite_name, table in SUITES.items():
        asset = datasource.add_dataframe_asset(table)
        batch = asset.add_batch_definition_whole_dataframe(table)
        suite = context.suites.add_or_update(load_suite(suite_name))
        definitions.append(context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=suite_name, data=batch, suite=suite)))
    parameters = expectation_parameters(policy, int(result.corpus["records"]))
    findings: list[Finding] = []
    evaluated = 0
    # One Checkpoint per table: a run's batch parameters apply to all its definitions.
    for definition in definitions:
        table = SUITES[definition.name]
        checkpoint = context.checkpoints.add_or_update(gx.Checkpoint(
            name=f"trainguard_{definition.name}", validation_definitions=[definition],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")],
            # GX honours the result format of the Checkpoint, not the suite's kwargs; the
            # unexpected rows must be named by source to become per-source findings.
            result_format={"result_format": "COMPLETE",
                           "unexpected_index_column_names": ["source_id"]}
            if table == "sources" else {"result_format": "COMPLETE"},
        ))
        run = checkpoint.run(
            batch_parameters={"dataframe": frames[table]}, expectation_parameters=parameters)
        for validation in run.run_results.values():
            for outcome in validation.results:
                evaluated += 1
                findings += _findings(outcome, table, frames[table], result, policy, parameters)
    docs = workdir / "gx" / "uncommitted" / "data_docs" / "local_site"
    return GXOutcome(findings, docs if (docs / "index.html").exists() else None,
                     {"expectations_evaluated": evaluated})


def _severity(meta: dict[str, Any], policy: Policy) -> Status:
    severity = meta.get("severity", "fail")
    if isinstance(severity, dict):
        section, key = severity["policy"].split(".")
        value = getattr(getattr(policy, section), key)
        severity = ("fail" if value else "warn") if isinstance(value, bool) else value
    return Status.FAIL if severity == "fail" else Status.WARN


def _findings(outcome: Any, table: str, frame: Any, result: ScanResult, policy: Policy,
              parameters: dict[str, float]) -> list[Finding]:
    config = outcome.expectation_config
    meta, kwargs = dict(config.meta or {}), dict(config.kwargs)
    check, clause = meta["check"], meta["clause"]
    column = kwargs["column"]
    threshold = _threshold(kwargs, parameters)
    if outcome.exception_info and outcome.exception_info.get("raised_exception"):
        raise GateError(f"GX expectation {config.type} on {column} raised: "
                        f"{outcome.exception_info.get('exception_message')}")
    if outcome.success:
        observed = frame[column].max() if table == "sources" else frame[column].iloc[0]
        return [Finding(check=check, clauses=(clause,), status=Status.PASS,
                        message=f"{column} within {threshold} for every "
                                f"{'source' if table == 'sources' else 'corpus'} row",
                        observed=_plain(observed), threshold=threshold)]
    status = _severity(meta, policy)
    if table == "corpus":
        observed = _plain(frame[column].iloc[0])
        return [Finding(check=check, clauses=(clause,), status=status,
                        message=f"corpus {column} is {observed}, expected {threshold}",
                        observed=observed, threshold=threshold,
                        record_ids=tuple(result.record_ids.get(check, ())))]
    unexpected = outcome.result.get("unexpected_index_list") or []
    if not unexpected:
        # A failed expectation that names no row must still fail the gate (fail closed).
        return [Finding(check=check, clauses=(clause,), status=status,
                        message=f"{column} outside {threshold}; GX named no offending source",
                        threshold=threshold)]
    findings = []
    for row in unexpected:
        source_id = row["source_id"]
        observed = _plain(row[column])
        details = next(s for s in result.sources if s["source_id"] == source_id)
        findings.append(Finding(
            check=check, clauses=(clause,), status=status,
            message=_message(check, column, observed, threshold, details),
            source_id=source_id, observed=observed, threshold=threshold,
            record_ids=tuple(result.record_ids.get(f"{check}:{source_id}", ())),
        ))
    return findings


def _message(check: str, column: str, observed: Any, threshold: Any,
             details: dict[str, Any]) -> str:
    if check == "harmful.rate":
        return (f"harmful rate {observed:.2%} on a random sample of "
                f"{details['harmful_sampled']} ({details['harmful_flagged']} flagged; 95% bound "
                f"{details['harmful_rate_low']:.2%}-{details['harmful_rate_high']:.2%}) "
                f"exceeds {threshold}")
    if check == "pi.consent":
        return (f"{observed} personal-information value(s) without valid consent "
                f"({details['pi_uncovered_kinds']}); {details['pi_covered']} covered")
    if check == "ip.optout":
        return f"{observed} record(s) match works withdrawn in the opt-out registry"
    if check == "ip.copyright":
        return f"{observed} record(s) carry copyright notices or licence headers"
    if check == "quality.duplicates":
        return f"{observed} record(s) nearly duplicate an earlier record"
    if check == "pi.declaration":
        return f"{observed} personal-information value(s) in a source that declares none"
    return f"{column} is {observed}, expected {threshold}"


def _threshold(kwargs: dict[str, Any], parameters: dict[str, float]) -> str:
    def value(raw: Any) -> Any:
        if isinstance(raw, dict) and "$PARAMETER" in raw:
            return parameters[raw["$PARAMETER"]]
        return raw

    low, high = value(kwargs.get("min_value")), value(kwargs.get("max_value"))
    if low is not None and high is not None:
        return f"between {low} and {high}"
    return f"<= {high}" if high is not None else f">= {low}"


def _plain(value: Any) -> Any:
    """numpy scalars to Python numbers, so findings serialise as JSON."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return round(value, 6)
    return value

