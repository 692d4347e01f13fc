"""Standard provenance documents of a model version: W3C PROV and SPDX 3.0.1 (AI, Dataset).

Both are built from the lineage document only (``trainguard.lineage``), with identifiers
derived from MLflow run ids, DVC md5s and source ids, and times from the recorded runs, so
the same model version always yields the same documents.

Kept as one module (about 440 lines): PROV and SPDX map the same lineage fields, side
by side, so a field added to one is seen missing from the other.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

TG = "https://trainguard.dev/ns/prov#"  # our PROV vocabulary (a namespace, not fetched)
SPDX_CONTEXT = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
SPDX_VERSION = "3.0.1"
# The fields the SPDX 3.0.1 AI and Dataset profile conformance clauses require.
AI_REQUIRED = (
    "name",
    "releaseTime",
    "suppliedBy",
    "software_downloadLocation",
    "software_packageVersion",
    "software_primaryPurpose",
)
DATASET_REQUIRED = (
    "name",
    "builtTime",
    "originatedBy",
    "releaseTime",
    "software_downloadLocation",
    "software_primaryPurpose",
    "dataset_datasetType",
)


def _time(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


# One PROV document written top to bottom, entity by entity, as W3C PROV-DM lists them.
def prov_document(lineage: dict[str, Any]) -> Any:  # noqa: C901
    """PROV: datasets, sources and the model as entities; gate, training, remediation and
    annotation as activities; annotators (pseudonyms), the DAG and the user as agents."""
    from prov.model import ProvDocument

    from trainguard.personal_info import pseudonym

    # prov's stubs want invariant dict[QualifiedName | str | Identifier, Any] attributes.
    doc: Any = ProvDocument()
    doc.set_default_namespace(TG)
    doc.add_namespace("tg", TG)
    model, training = lineage["model"], lineage["training_run"]

    agents: dict[str, Any] = {}

    def agent(identifier: str, attributes: dict[str, str]) -> Any:
        if identifier not in agents:  # one record per agent, however many runs it did
            agents[identifier] = doc.agent(identifier, attributes)
        return agents[identifier]

    def agent_for(run: dict[str, Any]) -> list[Any]:
        found = []
        dag = run["tags"].get("trainguard.airflow.dag_id")
        if dag:
            found.append(
                agent(
                    f"tg:airflow/{dag}",
                    {"prov:type": "prov:SoftwareAgent", "prov:label": f"Airflow DAG {dag}"},
                )
            )
        if run.get("user"):
            found.append(
                agent(
                    f"tg:operator/{run['user']}",
                    {"prov:type": "prov:Person", "prov:label": "operator account"},
                )
            )
        return found

    model_entity = doc.entity(
        f"tg:model/{model['name']}/{model['version']}",
        {
            "prov:type": "tg:ModelVersion",
            "prov:label": f"{model['name']} v{model['version']}",
            "tg:uri": model["uri"],
            "tg:registeredAt": model["registered_at"],
        },
    )
    train = doc.activity(
        f"tg:training/{training['run_id']}",
        _time(training["started_at"]),
        _time(training["ended_at"]),
        {
            "prov:type": "tg:Training",
            "prov:label": training["run_name"],
            **{f"tg:param/{k}": str(v) for k, v in training["params"].items()},
        },
    )
    doc.wasGeneratedBy(model_entity, train, _time(training["ended_at"]))
    for who in agent_for(training):
        doc.wasAssociatedWith(train, who)

    dataset_entities = {}
    for dataset in lineage["datasets"]:
        entity = doc.entity(
            f"tg:dataset/{dataset['md5']}",
            {
                "prov:type": "tg:DatasetVersion",
                "prov:label": f"{dataset['path']}@{dataset['rev']}",
                "tg:gitCommit": dataset["commit"],
                "tg:dvcMd5": dataset["md5"],
                "tg:path": dataset["path"],
                "tg:records": dataset["scale"].get("records", 0),
            },
        )
        dataset_entities[dataset["md5"]] = entity
        doc.used(train, entity, _time(training["started_at"]))
        for source in dataset["sources"]:
            source_entity = doc.entity(
                f"tg:source/{source['id']}",
                {
                    "prov:type": "tg:Source",
                    "prov:label": source["id"],
                    "tg:kind": source["kind"],
                    "tg:license": source["license"],
                    "tg:origin": source["origin"],
                    "tg:collectedAt": source["collected_at"],
                    "tg:records": source["records"],
                },
            )
            doc.hadPrimarySource(entity, source_entity)

    for gate in lineage["gate_runs"]:
        activity = doc.activity(
            f"tg:gate/{gate['run_id']}",
            _time(gate["started_at"]),
            _time(gate["ended_at"]),
            {
                "prov:type": "tg:Gate",
                "tg:decision": gate["decision"],
                "tg:policyDigest": gate["policy_digest"],
                "tg:policyProfile": gate["policy_profile"],
                "tg:deviations": len(gate["deviations"]),
                "tg:failedClauses": gate["failed_clauses"],
            },
        )
        for dataset_input in gate["inputs"]:
            if dataset_input["digest"] in dataset_entities:
                doc.used(
                    activity, dataset_entities[dataset_input["digest"]], _time(gate["started_at"])
                )
        decision = doc.entity(
            f"tg:decision/{gate['run_id']}",
            {"prov:type": "tg:GateDecision", "prov:value": gate["decision"]},
        )
        doc.wasGeneratedBy(decision, activity, _time(gate["ended_at"]))
        doc.used(train, decision)
        doc.wasInformedBy(train, activity)
        for who in agent_for(gate):
            doc.wasAssociatedWith(activity, who)
        for waiver in gate["waivers"]:
            reviewer = agent(
                f"tg:reviewer/{waiver['approved_by']}",
                {"prov:type": "prov:Person", "prov:label": "reviewer"},
            )
            waiver_entity = doc.entity(
                f"tg:waiver/{waiver['id']}",
                {
                    "prov:type": "tg:Waiver",
                    "tg:check": waiver["check"],
                    "tg:expiresAt": waiver["expires_at"],
                },
            )
            doc.wasAttributedTo(waiver_entity, reviewer)
            doc.used(activity, waiver_entity)

    annotation = lineage["annotation"]
    if annotation:
        annotate = doc.activity(
            f"tg:annotation/{training['run_id']}",
            None,
            None,
            {"prov:type": "tg:Annotation", "tg:records": annotation["records"]},
        )
        for person in sorted(annotation["annotators"]["trained_on"]):
            annotator = agent(
                f"tg:{pseudonym(person)}",
                {"prov:type": "prov:Person", "prov:label": "annotator (pseudonymous)"},
            )
            doc.wasAssociatedWith(annotate, annotator)
        for entity in dataset_entities.values():
            doc.wasGeneratedBy(entity, annotate)

    for violation in lineage["violations_fixed"]:
        remediation = doc.activity(
            f"tg:remediation/{violation['id']}",
            None,
            None,
            {"prov:type": "tg:Remediation", "tg:violation": violation["id"]},
        )
        doc.wasInformedBy(train, remediation)
    return doc


def _spdx_time(text: str | None) -> str:
    moment = dt.datetime.fromisoformat(text) if text else dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def spdx_document(lineage: dict[str, Any], disclosure: dict[str, Any]) -> dict[str, Any]:
    """SPDX 3.0.1 JSON-LD: an AIPackage trained on DatasetPackages, with their licences."""
    from trainguard.settings import package_version

    model, training = lineage["model"], lineage["training_run"]
    base = f"urn:trainguard:{model['name']}:{model['version']}"
    created = _spdx_time(training["ended_at"])
    info = "_:creationinfo"
    graph: list[dict[str, Any]] = []

    def element(kind: str, local: str, **fields: Any) -> str:
        spdx_id = f"{base}:{local}"
        graph.append({"type": kind, "spdxId": spdx_id, "creationInfo": info, **fields})
        return spdx_id

    tool = f"{base}:tool"
    graph.append(
        {
            "type": "CreationInfo",
            "@id": info,
            "specVersion": SPDX_VERSION,
            "created": created,
            "createdBy": [tool],
        }
    )
    graph.append(
        {
            "type": "SoftwareAgent",
            "spdxId": tool,
            "creationInfo": info,
            "name": f"trainguard {package_version()}",
        }
    )
    supplier = element("Organization", "provider", name=disclosure["provider"])
    licences: dict[str, str] = {}

    def licence(expression: str) -> str:
        if expression not in licences:
            licences[expression] = element(
                "simplelicensing_LicenseExpression",
                f"license:{len(licences)}",
                simplelicensing_licenseExpression=expression,
            )
        return licences[expression]

    relationships: list[tuple[str, str, list[str]]] = []
    dataset_ids = []
    for dataset in disclosure["datasets"]:
        version = dataset["version"]
        sources = dataset["sources"]
        facts = dataset["personal_information"]
        built = _spdx_time(
            next(
                (
                    g["ended_at"]
                    for g in lineage["gate_runs"]
                    if g["run_id"] == dataset["quality"]["gate_run_id"]
                ),
                None,
            )
        )
        dataset_id = element(
            "dataset_DatasetPackage",
            f"dataset:{version['dvc_md5']}",
            name=f"{version['path']}@{version['git_rev']}",
            software_packageVersion=version["git_commit"],
            software_downloadLocation=f"dvc://{version['repo']}#{version['path']}"
            f"@{version['git_commit']}",
            software_primaryPurpose="data",
            builtTime=built,
            releaseTime=built,
            originatedBy=[supplier],
            suppliedBy=supplier,
            verifiedUsing=[
                {
                    "type": "Hash",
                    "algorithm": "md5",
                    "hashValue": version["dvc_md5"].removesuffix(".dir"),
                }
            ],
            comment="md5 is DVC's directory digest (.dir) of the dataset version",
            dataset_datasetType=["text"],
            dataset_datasetSize=int(dataset["scale"].get("bytes", 0)),
            dataset_dataCollectionProcess="; ".join(
                f"{s['id']}: {s['kind']} ({s['origin']}), collected {s['collected_at']}"
                for s in sources
            ),
            dataset_hasSensitivePersonalInformation=_presence(facts["sensitive_kinds_found"]),
            dataset_anonymizationMethodUsed=_pi_handling(facts),
            dataset_knownBias=_known_bias(dataset),
            dataset_intendedUse=f"{dataset['type']['stage']} of a generative text model",
        )
        dataset_ids.append(dataset_id)
        relationships.append(
            (
                dataset_id,
                "hasConcludedLicense",
                [
                    licence(
                        " AND ".join(
                            sorted(
                                {
                                    f"({s['license']})" if " " in s["license"] else s["license"]
                                    for s in sources
                                }
                            )
                        )
                    )
                ],
            )
        )
        source_ids = []
        for source in sources:
            source_id = element(
                "dataset_DatasetPackage",
                f"source:{version['dvc_md5']}:{source['id']}",
                name=source["id"],
                software_primaryPurpose="data",
                software_downloadLocation=str(
                    source["evidence"].get("license_url") or "NOASSERTION"
                ),
                builtTime=built,
                releaseTime=built,
                originatedBy=[supplier],
                dataset_datasetType=["text"],
                dataset_dataCollectionProcess=f"{source['kind']} source ({source['origin']}), "
                f"collected {source['collected_at']}",
                dataset_hasSensitivePersonalInformation=_presence(
                    _sensitive_in(source["quality"].get("pi_found_kinds", ""), facts)
                ),
                dataset_datasetSize=int(source["scale"]["bytes"]),
            )
            source_ids.append(source_id)
            relationships.append((source_id, "hasDeclaredLicense", [licence(source["license"])]))
        relationships.append((dataset_id, "contains", source_ids))

    algorithm = disclosure["foundational_algorithm"]
    ai_id = element(
        "ai_AIPackage",
        "model",
        name=model["name"],
        software_packageVersion=model["version"],
        software_downloadLocation=model["source"] or model["uri"],
        software_primaryPurpose="model",
        releaseTime=_spdx_time(model["registered_at"]),
        builtTime=created,
        suppliedBy=supplier,
        ai_typeOfModel=[str(algorithm["model_class"])],
        ai_hyperparameter=[
            {"type": "DictionaryEntry", "key": key, "value": str(value)}
            for key, value in sorted(algorithm["hyperparameters"].items())
        ],
        ai_informationAboutTraining=(
            f"trained by MLflow run {training['run_id']} on "
            + ", ".join(d["name"] for d in disclosure["datasets"])
            + "; admitted by gate run(s) "
            + ", ".join(g["run_id"] for g in disclosure["gate_decisions"])
        ),
        ai_autonomyType="noAssertion",
        ai_domain=["generative text"],
        ai_standardCompliance=_compliance(disclosure["gate_decisions"]),
        ai_useSensitivePersonalInformation=_presence(
            [
                k
                for d in disclosure["datasets"]
                for k in d["personal_information"]["sensitive_kinds_found"]
            ]
        ),
    )
    relationships.append((ai_id, "trainedOn", dataset_ids))
    relationships.append(
        (
            ai_id,
            "hasConcludedLicense",
            [
                licence(
                    " AND ".join(
                        sorted(
                            {
                                f"({s['license']})" if " " in s["license"] else s["license"]
                                for d in disclosure["datasets"]
                                for s in d["sources"]
                            }
                        )
                    )
                )
            ],
        )
    )
    for index, (source, kind, targets) in enumerate(relationships):
        element(
            "Relationship",
            f"relationship:{index}",
            relationshipType=kind,
            to=targets,
            **{"from": source},
        )
    data_licence = licence("CC0-1.0")  # the licence of this document's own metadata
    element(
        "SpdxDocument",
        "document",
        name=f"provenance of {model['name']} v{model['version']}",
        profileConformance=["core", "software", "simpleLicensing", "ai", "dataset"],
        rootElement=[ai_id],
        element=[g["spdxId"] for g in graph if "spdxId" in g],
        dataLicense=data_licence,
    )
    return {"@context": SPDX_CONTEXT, "@graph": graph}


def _presence(found: list[str]) -> str:
    """SPDX PresenceType from what the gate found: "yes" when anything was found."""
    return "yes" if found else "no"


def _sensitive_in(kinds_text: str, facts: dict[str, Any]) -> list[str]:
    """The sensitive kinds in a source's ``pi_found_kinds`` column ("bank_card 3, ...")."""
    kinds = [item.rsplit(" ", 1)[0] for item in kinds_text.split(", ") if item]
    return [kind for kind in kinds if kind in facts["sensitive_kinds"]]


def _pi_handling(facts: dict[str, Any]) -> list[str]:
    """How the data's personal information was handled, as the gate found it."""
    if not facts["values_found"]:
        return ["none needed: the gate found no personal information"]
    kinds = ", ".join(f"{kind} {count}" for kind, count in facts["found_by_kind"].items())
    covered = facts["values_found"] - facts["values_without_consent"]
    statement = (
        f"personal information found ({kinds}) matched by keyed HMAC-SHA256 against the "
        f"consent ledger: {covered} of {facts['values_found']} value(s) with valid consent"
    )
    if facts["sources_with_consent_waived"]:
        statement += (
            f"; the rest admitted by waiver for {', '.join(facts['sources_with_consent_waived'])}"
        )
    return [statement]


def _compliance(gate_decisions: list[dict[str, Any]]) -> list[str]:
    """What the admitting gates checked, qualified by their waivers and deviations."""
    statements = []
    for gate in gate_decisions:
        qualifiers = [f"profile {gate['policy_profile']}"]
        qualifiers += [f"{len(gate['waived'])} waived finding(s)"] if gate["waived"] else []
        qualifiers += (
            [f"{len(gate['deviations'])} deviation(s) from the standard"]
            if gate["deviations"]
            else []
        )
        statements.append(
            "Measures for the Management of Generative AI Services (draft, April 2023) and "
            f"TC260-003: gate {gate['decision']} ({gate['run_id']}; {', '.join(qualifiers)})"
        )
    return statements


def _known_bias(dataset: dict[str, Any]) -> list[str]:
    corpus = dataset["quality"]["corpus"]
    notes = []
    if "largest_source_share" in corpus:
        notes.append(f"largest source holds {corpus['largest_source_share']:.1%} of records")
    if "domestic_share" in corpus:
        notes.append(f"domestic sources hold {corpus['domestic_share']:.1%} of records")
    languages = dataset["type"]["records_by_detected_language"]
    if languages:
        total = sum(languages.values()) or 1
        notes.append(
            "records by detected language: "
            + ", ".join(f"{lang} {count / total:.1%}" for lang, count in sorted(languages.items()))
        )
    return notes or ["no bias measures recorded"]
