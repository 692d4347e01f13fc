"""A deterministic demo: a git + DVC repository with a local DVC remote.

Two tagged revisions of ``datasets/pretraining`` and ``datasets/finetuning``:

- ``planted`` carries known problems (forbidden licence, missing traceability evidence,
  unconsented personal information, a source above the harmful-content threshold,
  near-duplicates, an annotator not trained on the rules version in use, a batch with
  poor spot-check accuracy);
- ``clean`` fixes each of them.

``ground_truth/<rev>.json`` (git-tracked, outside the datasets) says what was planted:
ids, kinds and character offsets only, never a raw personal-information value.
Same seed, same bytes, same DVC md5s and, with fixed commit dates, the same commits.

Kept as one module (about 800 lines): the generator reads top to bottom, each planted
problem beside the records it plants, and its byte-identical output (same seed, same DVC
md5s) depends on that order. It is the demo's, not the product's.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from trainguard.local.demo_text import EN_OBJECTS, ZH_OBJECTS, sample_text
from trainguard.local.demo_values import (
    _DECOYS,
    _PI_TEMPLATES,
    PI_KINDS,
    SENSITIVE_DEMO_KINDS,
    _pi_value,
)
from trainguard.personal_info import pi_hmac
from trainguard.versioning import run_tool, tool_env

if TYPE_CHECKING:
    from collections.abc import Callable

GENERATOR_VERSION = "9"
DEMO_HASH_KEY = "trainguard-demo-key-not-secret"
PRETRAINING = "datasets/pretraining"
FINETUNING = "datasets/finetuning"
_COMMIT_DATES = {
    "init": "2026-01-05T09:00:00+08:00",
    "planted": "2026-02-02T09:00:00+08:00",
    "clean": "2026-03-02T09:00:00+08:00",
    "refusals": "2026-03-09T09:00:00+08:00",
}
BANKS = "assessment/banks"

# ------------------------------------------------------------------------ the datasets


@dataclass(frozen=True)
class SourceSpec:
    id: str
    kind: str
    license: str
    origin: str
    language: str
    records: int
    evidence: dict[str, Any]
    contains_personal_info: bool = False


def _pretraining_sources(revision: str) -> list[SourceSpec]:
    planted = revision == "planted"
    sources = [
        SourceSpec(
            "zh-wiki",
            "open_source",
            "CC-BY-SA-4.0",
            "domestic",
            "zh",
            5000,
            {"license_url": "https://creativecommons.org/licenses/by-sa/4.0/"},
        ),
        SourceSpec(
            "en-web",
            "open_source",
            "CC-BY-4.0",
            "foreign",
            "en",
            4000,
            {"license_text": "evidence/licenses/CC-BY-4.0.txt"},
        ),
        SourceSpec(
            "news-crawl",
            "self_collected",
            "LicenseRef-trainguard-self-collected",
            "domestic",
            "zh",
            4000,
            {
                "collection_record": "evidence/news-crawl-collection.csv",
                "robots_txt_respected": True,
            },
        ),
        SourceSpec(
            "licensed-books",
            "commercial",
            "LicenseRef-trainguard-commercial-contract",
            "domestic",
            "zh",
            3000,
            {"contract_ref": "evidence/contracts/licensed-books.txt"},
        ),
        SourceSpec(
            "user-feedback",
            "user_input",
            "LicenseRef-trainguard-user-authorization",
            "domestic",
            "zh",
            2000,
            {"authorization_record": "evidence/user-feedback-authorizations.csv"},
            contains_personal_info=True,
        ),
        SourceSpec("synthetic-dialogues", "synthetic", "CC0-1.0", "domestic", "en", 2000, {}),
        SourceSpec(
            "social-posts",
            "open_source",
            "CC-BY-4.0",
            "domestic",
            "zh",
            1500,
            {"license_url": "https://creativecommons.org/licenses/by/4.0/"},
        ),
        # Self-collected blogs: in "planted" the crawl log is cited but absent and robots.txt
        # was ignored; in "clean" the source was recollected with its log.
        SourceSpec(
            "scraped-blogs",
            "self_collected",
            "LicenseRef-trainguard-self-collected",
            "foreign",
            "en",
            800,
            {
                "collection_record": "evidence/scraped-blogs-collection.csv",
                "robots_txt_respected": not planted,
            },
        ),
    ]
    if planted:
        sources.append(
            SourceSpec(
                "forum-dump",
                "open_source",
                "CC-BY-NC-4.0",
                "foreign",
                "en",
                1000,
                {"license_url": "https://creativecommons.org/licenses/by-nc/4.0/"},
            )
        )
    return sources


class _Builder:
    """Builds one revision of both datasets and the ground truth of what it planted."""

    def __init__(self, revision: str, scale: float, seed: int, pretraining_shards: int = 4) -> None:
        self.revision = revision
        self.pretraining_shards = pretraining_shards
        self.planted = revision == "planted"
        self.scale = scale
        # "refusals" is "clean" plus refusal-training pairs: the same records before them.
        self.rng = random.Random(f"{seed}-{'clean' if revision == 'refusals' else revision}")
        self.truth: dict[str, Any] = {"revision": revision, "generator": GENERATOR_VERSION}

    def count(self, n: int) -> int:
        return max(10, int(n * self.scale))

    # -- pretraining -------------------------------------------------------------------

    # One planted problem after another, in the order ground_truth lists them.
    def pretraining(self, root: Path) -> None:  # noqa: C901
        rng, planted = self.rng, self.planted
        sources = _pretraining_sources(self.revision)
        records: list[dict[str, str]] = []
        problems: list[dict[str, Any]] = []
        pi_spans: list[dict[str, Any]] = []
        consents: list[dict[str, str]] = []
        lexicon = _demo_lexicon()
        for spec in sources:
            harmful_ids: list[str] = []
            uncovered_ids: list[str] = []
            n = self.count(spec.records)
            for i in range(n):
                record_id = f"{spec.id}-{i:06d}"
                text = sample_text(rng, spec.language)
                if spec.id == "social-posts" and i % 100 < (9 if planted else 1):
                    term, _risk = lexicon[rng.randrange(len(lexicon))]
                    if rng.random() < 0.3 and not term.isascii():  # evasion: spaced characters
                        term = " ".join(term)
                    cut = rng.randint(0, len(text))
                    text = text[:cut] + term + text[cut:]
                    harmful_ids.append(record_id)
                if spec.id == "user-feedback" and i % 5 == 2:
                    text += rng.choice(_DECOYS)
                if spec.id == "user-feedback" and i % 5 < 2:
                    text, span, consent, covered = self._plant_pi(text, record_id, i)
                    if span is not None:
                        pi_spans.append(span)
                        if consent is not None:
                            consents.append(consent)
                        if not covered:
                            uncovered_ids.append(record_id)
                if spec.id == "licensed-books" and i % 50 == 0:
                    text += "（版权所有，未经许可不得转载）"
                records.append(
                    {
                        "record_id": record_id,
                        "source_id": spec.id,
                        "text": text,
                        "language": spec.language,
                    }
                )
            if spec.id == "en-web" and planted:
                work_ids = []
                for k in range(5):  # lightly edited copies of a work withdrawn by its owner
                    record_id = f"{spec.id}-work{k:02d}"
                    records.append(
                        {
                            "record_id": record_id,
                            "source_id": spec.id,
                            "text": _edited(WITHDRAWN_WORK, rng),
                            "language": spec.language,
                        }
                    )
                    work_ids.append(record_id)
                problems.append(
                    {
                        "problem": "withdrawn_work",
                        "source_id": spec.id,
                        "check": "ip.optout",
                        "clause": "Art. 7(2)",
                        "work_id": WITHDRAWN_WORK_ID,
                        "record_ids": work_ids,
                    }
                )
            if harmful_ids:
                problems.append(
                    {
                        "problem": "harmful_over_threshold"
                        if planted
                        else "harmful_under_threshold",
                        "source_id": spec.id,
                        "check": "harmful.rate",
                        "clause": "Art. 7; TC260-003 5.1 a",
                        "rate": round(len(harmful_ids) / n, 4),
                        "record_ids": harmful_ids,
                    }
                )
            if uncovered_ids:
                problems.append(
                    {
                        "problem": "unconsented_pi",
                        "source_id": spec.id,
                        "check": "pi.consent",
                        "clause": "Art. 7(3)",
                        "record_ids": uncovered_ids,
                    }
                )
        if planted:
            problems.append(
                {
                    "problem": "forbidden_licence",
                    "source_id": "forum-dump",
                    "check": "source.licence",
                    "clause": "Art. 7(2)",
                }
            )
            problems.append(
                {
                    "problem": "missing_evidence",
                    "source_id": "scraped-blogs",
                    "check": "source.evidence",
                    "clause": "TC260-003 5.1 c",
                }
            )
            pairs = self._plant_near_duplicates(records)
            problems.append(
                {
                    "problem": "near_duplicates",
                    "check": "quality.duplicates",
                    "clause": "Art. 7(4)",
                    "pairs": pairs,
                }
            )
        self._write_dataset(
            root,
            "demo-pretraining",
            "pretraining",
            ["zh", "en"],
            "Mixed Chinese/English web, books and user text",
            sources,
            records,
            shards=self.pretraining_shards,
            fmt="parquet",
        )
        _write_review(
            root,
            "demo-pretraining",
            records,
            harmful={
                rid for p in problems if p["check"] == "harmful.rate" for rid in p["record_ids"]
            },
        )
        _write_csv(
            root / "consents.csv",
            [
                "subject_ref",
                "pi_kind",
                "pi_hmac",
                "purposes",
                "sensitive_consent",
                "granted_at",
                "withdrawn_at",
            ],
            consents,
        )
        self._write_evidence(root)
        self.truth["pretraining"] = {"problems": problems, "pi": pi_spans, "records": len(records)}

    def _plant_pi(
        self, text: str, record_id: str, index: int
    ) -> tuple[str, dict[str, Any] | None, dict[str, str] | None, bool]:
        rng = self.rng
        kind = PI_KINDS[(index + index // 60) % len(PI_KINDS)]
        value, written = _pi_value(kind, rng, index)
        # One value in twelve lacks valid consent in "planted"; "clean" masks those instead.
        problem = (index // 5) % 12 == 0
        if problem and not self.planted:
            return text + "（个人信息已删除）", None, None, True
        template = rng.choice(_PI_TEMPLATES[kind])
        before, after = template.split("{v}")
        prefix = text + before
        start = len(prefix)
        text = prefix + written + after
        sensitive = kind in SENSITIVE_DEMO_KINDS
        consent: dict[str, str] | None = {
            "subject_ref": f"subject-{index:05d}",
            "pi_kind": kind,
            "pi_hmac": pi_hmac(kind, value, DEMO_HASH_KEY.encode()),
            "purposes": "service;training",
            "sensitive_consent": str(sensitive).lower(),
            "granted_at": "2025-06-01T00:00:00+08:00",
            "withdrawn_at": "",
        }
        covered = True
        if problem:
            covered = False
            flaw = (index // 60) % 4
            if flaw == 0 or (flaw == 3 and not sensitive):
                consent = None  # no consent at all
            elif flaw == 1 and consent is not None:
                consent["withdrawn_at"] = "2025-12-01T00:00:00+08:00"
            elif flaw == 2 and consent is not None:
                consent["purposes"] = "service"  # training not among the purposes
            elif consent is not None:
                consent["sensitive_consent"] = "false"  # sensitive PI without separate consent
        span = {
            "record_id": record_id,
            "field": "text",
            "kind": kind,
            "start": start,
            "end": start + len(written),
            "covered": covered,
        }
        return text, span, consent, covered

    def _plant_near_duplicates(self, records: list[dict[str, str]]) -> list[list[str]]:
        """Lightly edited copies (Jaccard of 5-shingles well above 0.7) under new ids."""
        rng = self.rng
        candidates = [
            r
            for r in records
            if r["source_id"] in ("zh-wiki", "en-web") and "-work" not in r["record_id"]
        ]
        pairs = []
        for n, original in enumerate(rng.sample(candidates, self.count(200))):
            text = original["text"]
            cut = rng.randint(len(text) // 3, 2 * len(text) // 3)
            edited = (
                text[:cut] + ("。" if original["language"] == "zh" else ", indeed,") + text[cut:]
            )
            copy_id = f"{original['source_id']}-dup{n:04d}"
            records.append(
                {
                    "record_id": copy_id,
                    "source_id": original["source_id"],
                    "text": edited,
                    "language": original["language"],
                }
            )
            pairs.append([copy_id, original["record_id"]])
        return pairs

    def _write_evidence(self, root: Path) -> None:
        evidence = root / "evidence"
        (evidence / "licenses").mkdir(parents=True, exist_ok=True)
        (evidence / "contracts").mkdir(parents=True, exist_ok=True)
        (evidence / "licenses" / "CC-BY-4.0.txt").write_text(
            "Creative Commons Attribution 4.0 International (CC BY 4.0)\n"
            "https://creativecommons.org/licenses/by/4.0/legalcode\n",
            encoding="utf-8",
        )
        # The registry's contract_sha256 is computed from the same bytes (_source_entry).
        (evidence / "contracts" / "licensed-books.txt").write_bytes(_contract_bytes())
        (evidence / "news-crawl-collection.csv").write_text(
            "crawl_id,started_at,seed_list,robots_policy\nnc-2025-11,2025-11-01,news-seeds.txt,"
            "obeyed\n",
            encoding="utf-8",
        )
        (evidence / "user-feedback-authorizations.csv").write_text(
            "batch,terms_version,accepted_at\nuf-2025,tos-3.2,2025-06-01\n", encoding="utf-8"
        )
        if not self.planted:
            (evidence / "scraped-blogs-collection.csv").write_text(
                "crawl_id,started_at,seed_list,robots_policy\nsb-2026-02,2026-02-10,blogs.txt,"
                "obeyed\n",
                encoding="utf-8",
            )

    # -- finetuning --------------------------------------------------------------------

    def finetuning(self, root: Path) -> None:  # noqa: C901 - one story of planted problems
        rng, planted = self.rng, self.planted
        n = self.count(2200)
        batches = [f"B{b:02d}" for b in range(1, 11)]
        labelers = [f"L{a:02d}" for a in range(1, 9)]
        reviewers = ["R01", "R02", "R03"]
        sources = [
            SourceSpec("instruct-synthetic", "synthetic", "CC0-1.0", "domestic", "zh", 0, {}),
            SourceSpec(
                "support-logs",
                "user_input",
                "LicenseRef-trainguard-user-authorization",
                "domestic",
                "zh",
                0,
                {"authorization_record": "evidence/user-feedback-authorizations.csv"},
            ),
        ]
        if self.revision == "refusals":
            sources.append(
                SourceSpec("safety-tuning", "synthetic", "CC0-1.0", "domestic", "zh", 0, {})
            )
        records: list[dict[str, Any]] = []
        for i in range(n):
            batch = batches[i % len(batches)]
            rules_version = "v1" if batches.index(batch) < 5 else "v2"
            language = "zh" if i % 3 else "en"
            topic = rng.choice(ZH_OBJECTS if language == "zh" else EN_OBJECTS)
            prompt = (
                f"请介绍一下{topic}。" if language == "zh" else f"Tell me about {topic}."
            ) + f" #{i}"
            response = sample_text(rng, language)
            annotation_type = "safety" if i % 5 == 0 else "functional"
            labeler = labelers[i % len(labelers)]
            if planted and labeler == "L07" and rules_version == "v1":
                labeler = "L06"  # L07 labels only v2 batches, on which it was never trained
            records.append(
                {
                    "record_id": f"ft-{i:06d}",
                    "source_id": sources[i % 2].id,
                    "prompt": prompt,
                    "response": response,
                    "annotation_type": annotation_type,
                    "annotator_id": labeler,
                    "reviewer_id": reviewers[i % 3],
                    "annotation_batch": batch,
                    "rules_version": rules_version,
                    "label": "acceptable" if rng.random() < 0.9 else "needs_fix",
                    "language": language,
                }
            )
            record = records[-1]
            # A second, independent label on a third of the items (for Cohen's kappa).
            other = "needs_fix" if record["label"] == "acceptable" else "acceptable"
            record["second_label"] = (
                (record["label"] if rng.random() < 0.97 else other) if i % 3 == 0 else None
            )
            # The prompt's subject, where it has one (Art. 4(2) grounds): labels are balanced.
            record["attr_sex"] = ("female", "male", None)[i % 3]
        if self.revision == "refusals":
            records += _refusal_records(labelers, reviewers, rng)
        self._write_dataset(
            root,
            "demo-finetuning",
            "finetuning",
            ["zh", "en"],
            "Instruction pairs with human annotation",
            sources,
            records,
            shards=2,
            fmt="jsonl",
        )
        self._write_evidence(root)
        _write_review(root, "demo-finetuning", records, harmful=set())
        annotation = root / "annotation"
        (annotation / "rules").mkdir(parents=True, exist_ok=True)
        for version in ("v1", "v2"):
            (annotation / "rules" / f"{version}.md").write_text(_rules_text(version), "utf-8")
        annotators = []
        for labeler in labelers:
            for version in ("v1", "v2"):
                if planted and labeler == "L07" and version == "v2":
                    continue
                annotators.append(
                    {
                        "annotator_id": labeler,
                        "role": "labeler",
                        "trained_rules_version": version,
                        "trained_at": "2025-12-01T10:00:00+08:00",
                        "assessment_score": "0.92",
                        "assessed_at": "2025-12-02T10:00:00+08:00",
                    }
                )
        for reviewer in reviewers:
            for version in ("v1", "v2"):
                annotators.append(
                    {
                        "annotator_id": reviewer,
                        "role": "reviewer",
                        "trained_rules_version": version,
                        "trained_at": "2025-12-01T10:00:00+08:00",
                        "assessment_score": "0.95",
                        "assessed_at": "2025-12-02T10:00:00+08:00",
                    }
                )
        _write_csv(annotation / "annotators.csv", list(annotators[0]), annotators)
        checks = []
        poor_batch = "B04"
        for batch in batches:
            in_batch = [r for r in records if r["annotation_batch"] == batch]
            sample = rng.sample(in_batch, min(len(in_batch), max(20, len(in_batch) // 10)))
            for k, record in enumerate(sample):
                wrong = (k % 5 == 0) if (planted and batch == poor_batch) else (k % 40 == 0)
                checks.append(
                    {
                        "record_id": record["record_id"],
                        "checker_id": "QA1",
                        "verdict": "incorrect" if wrong else "correct",
                        "checked_at": "2026-01-10T10:00:00+08:00",
                    }
                )
        _write_csv(annotation / "spot_checks.csv", list(checks[0]), checks)
        problems: list[dict[str, Any]] = []
        if planted:
            problems.append(
                {
                    "problem": "untrained_annotator",
                    "annotator_id": "L07",
                    "rules_version": "v2",
                    "check": "annotation.training",
                    "clause": "Art. 8",
                    "record_ids": [r["record_id"] for r in records if r["annotator_id"] == "L07"],
                }
            )
            problems.append(
                {
                    "problem": "poor_spot_check_accuracy",
                    "batch": poor_batch,
                    "check": "annotation.spot_checks",
                    "clause": "Art. 8",
                    "accuracy": 0.8,
                }
            )
        self.truth["finetuning"] = {"problems": problems, "records": len(records)}

    # -- shared ------------------------------------------------------------------------

    def _write_dataset(  # noqa: PLR0917
        self,
        root: Path,
        name: str,
        stage: str,
        languages: list[str],
        description: str,
        sources: list[SourceSpec],
        records: list[dict[str, str]],
        *,
        shards: int,
        fmt: str,
    ) -> None:
        import pyarrow as pa

        (root / "records").mkdir(parents=True, exist_ok=True)
        (root / "dataset.yaml").write_text(
            yaml.safe_dump(
                {
                    "name": name,
                    "stage": stage,
                    "modality": "text",
                    "languages": languages,
                    "description": description,
                },
                sort_keys=False,
                allow_unicode=True,
            ),
            "utf-8",
        )
        (root / "sources.yaml").write_text(
            yaml.safe_dump(
                [_source_entry(spec) for spec in sources], sort_keys=False, allow_unicode=True
            ),
            "utf-8",
        )
        for shard in range(shards):
            part = records[shard::shards]
            path = root / "records" / f"part-{shard:05d}.{fmt}"
            if fmt == "parquet":
                import pyarrow.parquet as pq

                pq.write_table(pa.Table.from_pylist(part), path, row_group_size=4096)
            else:
                with path.open("w", encoding="utf-8") as handle:
                    for record in part:
                        handle.write(json.dumps(record, ensure_ascii=False) + "\n")


WITHDRAWN_WORK_ID = "work-2025-0042"
WITHDRAWN_WORK = (
    "The Lantern Keeper of Harbour Street. Every evening the old keeper climbed the narrow "
    "stairs with a tin of oil and a box of matches, and every evening the harbour answered "
    "with a hundred small lights of its own. The fishermen said the lamp had never once gone "
    "dark in forty years, not in the storm of the broken masts nor in the winter when the "
    "bay froze to the rocks. Children left shells on the bottom step as payment for stories, "
    "and the keeper told them about ships that sailed past the edge of every chart."
)


def _refusal_records(
    labelers: list[str], reviewers: list[str], rng: random.Random
) -> list[dict[str, Any]]:
    """Revision "refusals": safety-annotated pairs that teach the model to decline the
    requests the assessment's should-refuse bank asks (in other words), and to answer
    sensitive-looking questions plainly (so it does not decline those too)."""
    from trainguard.local.demo_banks import helpful_pairs, refusal_pairs

    return [
        {
            "record_id": f"ft-refusal-{i:04d}",
            "source_id": "safety-tuning",
            "prompt": prompt,
            "response": response,
            "annotation_type": "safety",
            "annotator_id": labelers[i % len(labelers)],
            "reviewer_id": reviewers[i % len(reviewers)],
            "annotation_batch": "B10",
            "rules_version": "v2",
            "label": "acceptable",
            "language": language,
            "second_label": None,
            "attr_sex": None,
        }
        for i, (language, prompt, response) in enumerate(refusal_pairs() + helpful_pairs(rng))
    ]


def _edited(text: str, rng: random.Random) -> str:
    """A light edit: one sentence dropped or a few words changed, as copies drift."""
    words = text.split(" ")
    for _ in range(3):
        words[rng.randrange(len(words))] = rng.choice(["the", "a", "and", "its"])
    return " ".join(words)


def _write_review(
    root: Path, dataset_name: str, records: list[dict[str, str]], harmful: set[str]
) -> None:
    """The manual spot check of TC260-003 9.2: verdicts on a random 4,000-record sample."""
    from trainguard.checks.stats import sample_key

    ranked = sorted(records, key=lambda r: sample_key(dataset_name, r["record_id"]))
    rows = []
    for n, record in enumerate(ranked[:4000]):
        failed = record["record_id"] in harmful or n % 97 == 0
        rows.append(
            {
                "record_id": record["record_id"],
                "reviewer_id": f"REV{n % 4 + 1}",
                "verdict": "fail" if failed else "pass",
                "reviewed_at": "2026-01-20T10:00:00+08:00",
            }
        )
    _write_csv(root / "review" / "manual_verdicts.csv", list(rows[0]), rows)


def _write_governance(repo: Path) -> None:
    """The operator's own files, outside the datasets: policy and opt-out registry."""
    from trainguard.scanners.ip import registry_entry

    folder = repo / "governance"
    folder.mkdir(exist_ok=True)
    entry = registry_entry(
        WITHDRAWN_WORK_ID,
        WITHDRAWN_WORK,
        title="The Lantern Keeper",
        reason="author opted out of AI training (takedown 2026-01-15)",
    )
    entry["added_at"] = "2026-01-15T09:00:00+08:00"
    (folder / "optout.jsonl").write_text(json.dumps(entry) + "\n", encoding="utf-8")
    from trainguard.local.demo_classifier import write_examples

    # The demo trains its classifier the way a provider does: labelled examples it names.
    write_examples(folder / "classifier_examples.csv")
    (folder / "policy.yaml").write_text(
        "# Demo operator policy: defaults plus the opt-out registry and the labelled\n"
        "# classifier examples next to this file.\n"
        "service:\n  provider: Demo Generative Services Co. (fictitious)\n"
        "harmful:\n  classifier_training: classifier_examples.csv\n"
        "ip:\n  optout_registry: optout.jsonl\n",
        encoding="utf-8",
    )


def _source_entry(spec: SourceSpec) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": spec.id,
        "kind": spec.kind,
        "license": spec.license,
        "origin": spec.origin,
        "collected_at": "2025-11-15",
        "contains_personal_info": spec.contains_personal_info,
    }
    entry.update(spec.evidence)
    if spec.kind == "commercial":
        entry["contract_sha256"] = hashlib.sha256(_contract_bytes()).hexdigest()
    return entry


def _contract_bytes() -> bytes:
    return (
        b"Data licence agreement DLA-2025-017 between Demo Books Ltd. and the operator.\n"
        b"Licensed for model training; supplier warrants lawful source and quality.\n"
    )


def _rules_text(version: str) -> str:
    return (
        f"# Annotation rules {version}\n\n## Goals\nLabel whether a response is helpful, "
        "accurate and safe.\n\n## Data format\nOne JSON object per line with prompt, "
        "response and label.\n\n## Method\nRead the prompt, judge the response, choose "
        "acceptable or needs_fix.\n\n## Quality indicators\nSpot-check accuracy at least "
        "90 %; reviewer agreement kappa at least 0.6.\n\n## Functional rules\nPrefer "
        "correct, complete, well-formed answers.\n\n## Safety rules\nMark needs_fix for any "
        "of the 31 risks of TC260-003 Appendix A.\n"
    )


def _demo_lexicon() -> list[tuple[str, str]]:
    from importlib import resources

    text = resources.files("trainguard").joinpath("data/lexicons/demo.csv").read_text("utf-8")
    rows = [line.split(",") for line in text.splitlines()[1:] if line.strip()]
    return [(term, risk) for term, risk in rows]


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


# ------------------------------------------------------------------------ repository


@dataclass(frozen=True)
class DemoRepo:
    repo: Path
    remote: Path

    @property
    def policy(self) -> Path:
        return self.repo / "governance" / "policy.yaml"

    def ground_truth(self, revision: str) -> dict[str, Any]:
        return json.loads((self.repo / "ground_truth" / f"{revision}.json").read_text("utf-8"))


def build_demo_repo(
    root: str | Path,
    *,
    scale: float = 1.0,
    seed: int = 7,
    pretraining_shards: int = 4,
    progress: Callable[[str], None] = lambda message: None,
) -> DemoRepo:
    """Create (or reuse, when already built with the same settings) the demo repository.

    ``pretraining_shards`` splits the pre-training records into that many files, each
    scanned by its own mapped task (the scale-out test and benchmark use more)."""
    root = Path(root).resolve()
    repo, remote = root / "data-repo", root / "dvc-remote"
    stamp = f"{GENERATOR_VERSION}:{scale}:{seed}" + (
        f":{pretraining_shards}" if pretraining_shards != 4 else ""
    )
    stamp_file = root / ".demo-data-stamp"
    if stamp_file.exists() and stamp_file.read_text() == stamp and (repo / ".git").is_dir():
        progress(f"demo data already built in {repo}")
        return DemoRepo(repo, remote)
    for path in (repo, remote):
        shutil.rmtree(path, ignore_errors=True)
    repo.mkdir(parents=True)
    remote.mkdir(parents=True)

    def git(*args: str, when: str = "init") -> None:
        env = tool_env()
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = _COMMIT_DATES[when]
        run_tool(["git", *args], repo, f"git {args[0]} in {repo}", env=env)

    git("init", "--quiet", "--initial-branch=main")
    run_tool(["dvc", "init", "--quiet"], repo, "dvc init")
    run_tool(["dvc", "config", "core.analytics", "false"], repo, "dvc config")
    run_tool(["dvc", "remote", "add", "--default", "local", str(remote)], repo, "dvc remote add")
    _write_governance(repo)
    from trainguard.local.demo_banks import write_banks

    # The question banks the released models are assessed on, versioned like the data.
    write_banks(repo / BANKS)
    run_tool(["dvc", "add", "--quiet", BANKS], repo, "dvc add")
    git("add", "--all")
    git("commit", "--quiet", "-m", "Initialise DVC with a local remote; operator policy; banks")
    for revision in ("planted", "clean", "refusals"):
        progress(f"generating revision '{revision}'")
        builder = _Builder(revision, scale, seed, pretraining_shards)
        if revision == "refusals":
            # The same random stream as "clean" up to the refusal pairs: its pre-training
            # data is drawn again and thrown away (the committed one stays "clean"'s).
            with tempfile.TemporaryDirectory() as scratch:
                builder.pretraining(Path(scratch))
        builds = [(PRETRAINING, builder.pretraining)] if revision != "refusals" else []
        for dataset, build in [*builds, (FINETUNING, builder.finetuning)]:
            shutil.rmtree(repo / dataset, ignore_errors=True)
            (repo / dataset).mkdir(parents=True)
            build(repo / dataset)
        truth = repo / "ground_truth" / f"{revision}.json"
        truth.parent.mkdir(exist_ok=True)
        truth.write_text(json.dumps(builder.truth, indent=1, sort_keys=True), "utf-8")
        run_tool(["dvc", "add", "--quiet", PRETRAINING, FINETUNING], repo, "dvc add")
        git("add", "--all")
        message = {
            "planted": "Planted: known legality, quality and annotation problems",
            "clean": "Clean: every planted problem fixed",
            "refusals": "Refusals: fine-tuning pairs that teach the model to decline",
        }[revision]
        git("commit", "--quiet", "-m", message, when=revision)
        git("tag", revision, when=revision)
        run_tool(["dvc", "push", "--quiet"], repo, f"dvc push to {remote}")
    stamp_file.write_text(stamp)
    progress(f"demo data ready: {repo} (tags planted, clean, refusals; DVC remote {remote})")
    return DemoRepo(repo, remote)
