"""The declarative gate: Great Expectations suites over what the checks measured.

The suites in ``expectations/`` state the duties as expectations on small tables the scan
and the annotation checks produce (one row per source, per annotation batch, per
annotator, per rules version; one row for the corpus). Each suite names its table in its
``meta``; the policy's thresholds arrive as ``$PARAMETER``s; each expectation's ``meta``
carries its check, clause and severity. Every suite runs through a GX Checkpoint; one
build renders their Data Docs, and each result becomes findings naming the offending entity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard.exceptions import GateError
from trainguard.findings import Finding, Status, amount, beyond
from trainguard.i18n import Text

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from trainguard.checks.base import Offenders
    from trainguard.policy import Policy

EXPECTATIONS_ENV = "TRAINGUARD_EXPECTATIONS_DIR"


@dataclass
class Table:
    """A measured table: its rows, the column naming each row's entity, and offenders."""

    name: str
    rows: list[dict[str, Any]]
    key: str | None = None  # None: a one-row table (the corpus)
    entity: str = "corpus"  # how findings name a row: "source", "batch", "annotator", ...
    # "check:key" -> offending ids: a list, or Offenders (the first ids and their number)
    record_ids: Mapping[str, Sequence[str] | Offenders] = field(default_factory=dict)
    messages: dict[str, Any] = field(default_factory=dict)  # check -> f(row, threshold)


def suites_dir() -> Path:
    from trainguard.settings import env

    configured = env(EXPECTATIONS_ENV)
    # The package's expectations/: a link to the checkout's folder, real files in a wheel.
    bundled = Path(__file__).parents[1] / "expectations"
    folder = Path(configured) if configured else bundled
    if not (folder / "legality_sources.json").is_file():
        raise GateError(f"GX suites not found in {folder}; set {EXPECTATIONS_ENV}")
    return folder


def suite_document(name: str) -> dict[str, Any]:
    return json.loads((suites_dir() / f"{name}.json").read_text(encoding="utf-8"))


def load_suite(name: str) -> Any:
    """A suite from expectations/, after registering trainguard's custom expectations."""
    import great_expectations as gx

    from trainguard.gate.expectations import register

    register()
    document = suite_document(name)
    suite = gx.ExpectationSuite(**document)
    if len(suite.expectations) != len(document["expectations"]):
        # GX drops expectation types it does not know instead of failing.
        raise GateError(
            f"GX suite {name} lost expectations on load: "
            f"{len(suite.expectations)} of {len(document['expectations'])} kept"
        )
    return suite


@dataclass
class GXOutcome:
    findings: list[Finding]
    data_docs: Path | None
    statistics: dict[str, Any]


def run_gx_gate(
    tables: dict[str, Table],
    suites: list[str],
    parameters: dict[str, Any],
    policy: Policy,
    workdir: Path,
) -> GXOutcome:
    """Validate each suite's table through its own Checkpoint; Data Docs for all of them."""
    import logging

    import great_expectations as gx
    import pandas as pd

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    workdir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(workdir))
    context.variables.progress_bars = {"globally": False}  # type: ignore[assignment]
    datasource = context.data_sources.add_or_update_pandas("trainguard")
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    findings: list[Finding] = []
    built: list[Any] = []
    evaluated = 0
    for suite_name in suites:
        table = tables[suite_document(suite_name)["meta"]["table"]]
        if not table.rows:
            continue  # nothing of this kind in the dataset (e.g. no annotation batches)
        frame = pd.DataFrame(table.rows)
        batch = datasource.add_dataframe_asset(suite_name).add_batch_definition_whole_dataframe(
            suite_name
        )
        suite = context.suites.add_or_update(load_suite(suite_name))
        definition = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=suite_name, data=batch, suite=suite)
        )
        checkpoint = context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=f"trainguard_{suite_name}",
                validation_definitions=[definition],
                actions=[],  # Data Docs are built once below, for every validation
                # GX honours the Checkpoint's result format, not the suite kwargs; rows must be
                # named by their key to become per-entity findings.
                result_format={
                    "result_format": "COMPLETE",
                    "unexpected_index_column_names": [table.key],
                }
                if table.key
                else {"result_format": "COMPLETE"},
            )
        )
        run = checkpoint.run(
            batch_parameters={"dataframe": frame}, expectation_parameters=parameters
        )
        for identifier, validation in run.run_results.items():
            built += [identifier, ExpectationSuiteIdentifier(name=suite_name)]
            for outcome in validation.results:
                evaluated += 1
                findings += _findings(outcome, table, frame, policy, parameters)
    if built:
        # What each checkpoint's UpdateDataDocsAction would build (its validation and suite
        # pages, and the index), in one build: the index is rendered once, not per suite.
        context.build_data_docs(resource_identifiers=built, build_index=True)
    docs = workdir / "gx" / "uncommitted" / "data_docs" / "local_site"
    if (docs / "index.html").exists():
        from trainguard.gate.data_docs import make_offline

        make_offline(docs)
    return GXOutcome(
        findings,
        docs if (docs / "index.html").exists() else None,
        {"expectations_evaluated": evaluated},
    )


def _severity(meta: dict[str, Any], policy: Policy) -> Status:
    severity = meta.get("severity", "fail")
    if isinstance(severity, dict) and "profile" in severity:  # e.g. fails only when filing
        severity = severity["profile"].get(policy.profile, "fail")
    elif isinstance(severity, dict):
        section, key = severity["policy"].split(".")
        value = getattr(getattr(policy, section), key)
        severity = ("fail" if value else "warn") if isinstance(value, bool) else value
    return Status.FAIL if severity == "fail" else Status.WARN


def _findings(
    outcome: Any, table: Table, frame: Any, policy: Policy, parameters: dict[str, Any]
) -> list[Finding]:
    config = outcome.expectation_config
    meta, kwargs = dict(config.meta or {}), dict(config.kwargs)
    check, clause = meta["check"], meta["clause"]
    column = str(kwargs.get("column") or kwargs.get("column_A"))
    threshold = _threshold(kwargs, parameters)
    if outcome.exception_info and outcome.exception_info.get("raised_exception"):
        raise GateError(
            f"GX expectation {config.type} on {column} raised: "
            f"{outcome.exception_info.get('exception_message')}"
        )
    if outcome.success:
        observed = frame[column].max() if table.key else frame[column].iloc[0]
        return [
            Finding(
                check=check,
                clauses=(clause,),
                status=Status.PASS,
                message=Text(
                    "{column} within {threshold} for every {entity}",
                    {"column": column, "threshold": threshold, "entity": table.entity},
                ),
                observed=_plain(observed),
                threshold=threshold,
            )
        ]
    status = _severity(meta, policy)
    if table.key is None:
        observed = _plain(frame[column].iloc[0])
        describe = table.messages.get(check)
        return [
            Finding(
                check=check,
                clauses=(clause,),
                status=status,
                message=(
                    describe(table.rows[0], threshold)
                    if describe
                    else _sentence(column, observed, threshold, entity=table.entity)
                ),
                observed=observed,
                threshold=threshold,
                record_ids=tuple(table.record_ids.get(check, ())),
                record_count=len(table.record_ids.get(check, ())),
            )
        ]
    key_column = str(table.key)  # a keyed table (checked above): rows name their entity
    unexpected = outcome.result.get("unexpected_index_list") or []
    if not unexpected:
        # A failed expectation that names no row must still fail the gate (fail closed).
        return [
            Finding(
                check=check,
                clauses=(clause,),
                status=status,
                message=Text(
                    "{column} outside {threshold}; GX named no offending row",
                    {"column": column, "threshold": threshold},
                ),
                threshold=threshold,
            )
        ]
    findings = []
    for row in unexpected:
        key = row[key_column]
        details = next(r for r in table.rows if r[key_column] == key)
        observed = _plain(details[column])
        describe = table.messages.get(check)
        message = (
            describe(details, threshold) if describe else _sentence(column, observed, threshold)
        )
        findings.append(
            Finding(
                check=check,
                clauses=(clause,),
                status=status,
                message=message,
                source_id=key if table.entity == "source" else None,
                entity=None if table.entity == "source" else f"{table.entity} {key}",
                observed=observed,
                threshold=threshold,
                record_ids=tuple(table.record_ids.get(f"{check}:{key}", ())),
                record_count=len(table.record_ids.get(f"{check}:{key}", ())),
            )
        )
    return findings


def _threshold(kwargs: dict[str, Any], parameters: dict[str, Any]) -> str:
    def value(raw: Any) -> Any:
        if isinstance(raw, dict) and "$PARAMETER" in raw:
            return parameters[raw["$PARAMETER"]]
        return raw

    if "column_B" in kwargs:
        return f">= {kwargs['column_B']}"
    if "value_set" in kwargs:
        return f"in {sorted(value(kwargs['value_set']))}"
    low, high = value(kwargs.get("min_value")), value(kwargs.get("max_value"))
    if low is not None and high is not None:
        return f"between {low} and {high}"
    return f"<= {high}" if high is not None else f">= {low}"


def _sentence(measure: str, observed: Any, threshold: str, *, entity: str = "") -> Text:
    """A finding without its own message, said as one: "corpus near duplicate rate 1.02%
    is above the 0.5% limit" (a measure named *_rate or *_share is a percentage). The
    measure is a column name, shown as written in every language."""
    percent = measure.endswith(("_rate", "_share", "accuracy"))
    named = f"{entity} {measure}" if entity else measure
    return Text(
        "{measure} {value} is {beyond}",
        {
            "measure": named.replace("_", " "),
            "value": amount(observed, percent=percent),
            "beyond": beyond(threshold, percent=percent),
        },
    )


def _plain(value: Any) -> Any:
    """numpy scalars to Python numbers, so findings serialise as JSON."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return round(value, 6)
    return value
