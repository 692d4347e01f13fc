"""The gate policy: every threshold with the clause it serves.

The shipped defaults (``data/policy.default.yaml``) hold ``{value, clause, certainty, note}``
per setting; a user's policy file overrides *values* only, as a scalar or ``{value: ...}``.
Unknown keys and out-of-range values are rejected with the dotted key named.

Two top-level keys govern how far a policy may move from the standard (DESIGN.md):
``profile`` (``development``, the default, or ``filing``) and ``deviations`` (``[{setting,
value, reason}]``). A value looser than a default the standard gives (certainty C or S)
must be listed as a deviation with its reason, under either profile; ``filing`` refuses
any value looser than a confirmed (C) default outright, and also refuses waivers of the
duties in ``NON_WAIVABLE_UNDER_FILING``.

Kept as one module: the settings, their defaults and how far a user's policy may depart
from them are one contract, read and reviewed together.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from trainguard.contract import PIKind, read_yaml
from trainguard.exceptions import ContractError, PolicyError

Fraction = float  # documented alias: a share between 0 and 1
PROFILES = ("development", "filing")
FILING = "filing"
# Checks a reviewer's waiver cannot excuse under the filing profile: check -> the clause.
# ``source.licence`` only when the licence is forbidden (not when it is merely unlisted).
NON_WAIVABLE_UNDER_FILING = {
    "pi.consent": "Art. 7(3)",
    "source.licence": "Art. 7(2); TC260-003 5.1 a",
    "harmful.rate": "Art. 7; TC260-003 5.1 a",
}
# Certainties whose numbers come from the standard (standards.md): C confirmed wording,
# S several agreeing summaries. U numbers are trainguard's own choices.
STANDARD_CERTAINTIES = ("C", "S")
# The categories of the ScanCode LicenseDB index that license-expression ships.
LICENCE_CLASSES = (
    "Permissive",
    "Public Domain",
    "Copyleft",
    "Copyleft Limited",
    "Source-available",
    "Proprietary Free",
    "Free Restricted",
    "Commercial",
    "CLA",
    "Patent License",
    "Unstated License",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServicePolicy(_Section):
    commercial: bool
    provider: str = Field(min_length=1, max_length=200)


class LicensePolicy(_Section):
    allow: list[str]
    deny: list[str]
    allow_classes: list[str]
    deny_classes: list[str]
    unknown: Literal["fail", "warn"]

    @field_validator("allow_classes", "deny_classes")
    @classmethod
    def _known_classes(cls, names: list[str]) -> list[str]:
        unknown = sorted(set(names) - set(LICENCE_CLASSES))
        if unknown:
            raise ValueError(
                f"unknown licence class(es) {', '.join(unknown)}; the LicenseDB classes are "
                + ", ".join(LICENCE_CLASSES)
            )
        return names


class SourcePolicy(_Section):
    blocked: list[str]
    require_evidence: bool


class PersonalInfoPolicy(_Section):
    sensitive_kinds: list[PIKind]
    uncovered: Literal["fail", "warn"]


class HarmfulPolicy(_Section):
    max_rate: Fraction = Field(gt=0, lt=1)
    sample_size: int = Field(ge=1, le=10_000_000)
    confidence: Fraction = Field(gt=0.5, lt=1)
    classifier_threshold: Fraction = Field(gt=0, lt=1)
    classifier_training: str
    classifier_min_precision: Fraction = Field(ge=0, le=1)
    classifier_max_false_positive_rate: Fraction = Field(ge=0, le=1)


class IPPolicy(_Section):
    optout_registry: str
    optout_similarity: Fraction = Field(gt=0, le=1)
    copyright_notices: Literal["fail", "warn"]


class QualityPolicy(_Section):
    near_duplicate_similarity: Fraction = Field(gt=0, le=1)
    max_near_duplicate_rate: Fraction = Field(ge=0, le=1)
    max_garbled_rate: Fraction = Field(ge=0, le=1)
    max_empty_rate: Fraction = Field(ge=0, le=1)
    max_truncated_rate: Fraction = Field(ge=0, le=1)
    max_language_mismatch_rate: Fraction = Field(ge=0, le=1)
    min_sources_per_language: int = Field(ge=1)
    max_source_share: Fraction = Field(gt=0, le=1)
    min_domestic_share: Fraction = Field(ge=0, le=1)
    max_domestic_share: Fraction = Field(ge=0, le=1)
    min_lexical_diversity: Fraction = Field(ge=0, le=1)


class CorpusPolicy(_Section):
    automated_sample_fraction: Fraction = Field(gt=0, le=1)
    automated_pass_rate: Fraction = Field(gt=0, le=1)
    manual_sample_size: int = Field(ge=1)
    manual_pass_rate: Fraction = Field(gt=0, le=1)
    manual_review_required: bool


class KeywordPolicy(_Section):
    lexicons: list[str]
    min_terms: int = Field(ge=0)
    min_per_a1_risk: int = Field(ge=0)
    min_per_a2_risk: int = Field(ge=0)


class AnnotationPolicy(_Section):
    spot_check_rate: Fraction = Field(gt=0, le=1)
    min_spot_checks: int = Field(ge=1)
    min_accuracy: Fraction = Field(gt=0, le=1)
    min_assessment_score: Fraction = Field(ge=0, le=1)
    min_kappa: float = Field(ge=-1, le=1)


class ObjectivityPolicy(_Section):
    favourable_label: str = Field(min_length=1)
    min_group_size: int = Field(ge=1)
    min_rate_ratio: Fraction = Field(ge=0, le=1)
    max_parity_gap: Fraction = Field(ge=0, le=1)


class ViolationPolicy(_Section):
    fix_deadline_days: int = Field(ge=1, le=3650)
    request_deadline_working_days: int = Field(ge=1, le=365)
    waiver_max_days: int = Field(ge=1, le=365)
    at_risk_fraction: Fraction = Field(gt=0, lt=1)
    timezone: str = Field(min_length=1)
    weekend_days: list[int]
    holiday_calendar: str
    holidays: list[dt.date]
    extra_working_days: list[dt.date]

    @field_validator("holiday_calendar")
    @classmethod
    def _known_country(cls, code: str) -> str:
        import holidays

        if code and code not in holidays.list_supported_countries():
            raise ValueError(
                f"'{code}' is not a country the holidays library knows (an ISO 3166 code "
                "such as CN; empty for none)"
            )
        return code

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{name}' is not an IANA time zone such as Asia/Shanghai") from None
        return name

    @field_validator("weekend_days")
    @classmethod
    def _weekdays(cls, days: list[int]) -> list[int]:
        if any(not 0 <= day <= 6 for day in days) or len(set(days)) > 6:
            raise ValueError("weekend days are 0 (Monday) to 6 (Sunday), at most six of them")
        return days


class AssessmentPolicy(_Section):
    banks: str
    max_bank_age_days: int = Field(ge=1, le=3650)
    min_generation_questions: int = Field(ge=0)
    min_generation_per_a1_a2_risk: int = Field(ge=0)
    min_generation_per_other_risk: int = Field(ge=0)
    min_should_refuse_questions: int = Field(ge=0)
    min_should_refuse_per_risk: int = Field(ge=0)
    min_should_answer_questions: int = Field(ge=0)
    generation_sample: int = Field(ge=1, le=1_000_000)
    refusal_sample: int = Field(ge=1, le=1_000_000)
    min_generation_pass_rate: Fraction = Field(ge=0, le=1)
    min_refusal_rate: Fraction = Field(ge=0, le=1)
    max_answer_refusal_rate: Fraction = Field(ge=0, le=1)
    confidence: Fraction = Field(gt=0.5, lt=1)
    refusal_patterns: str
    require_labels: bool


class PolicyValues(_Section):
    service: ServicePolicy
    licenses: LicensePolicy
    sources: SourcePolicy
    personal_info: PersonalInfoPolicy
    harmful: HarmfulPolicy
    corpus: CorpusPolicy
    keywords: KeywordPolicy
    ip: IPPolicy
    quality: QualityPolicy
    annotation: AnnotationPolicy
    objectivity: ObjectivityPolicy
    violations: ViolationPolicy
    assessment: AssessmentPolicy


@dataclass(frozen=True)
class SettingInfo:
    """Where a setting comes from: the clause it serves and how sure its number is."""

    clause: str
    certainty: str
    note: str = ""
    looser: str = ""  # which way is looser: higher, lower, warn, disabled, fewer ("" none)

    def is_looser(self, value: Any, standard: Any) -> bool:
        """Whether ``value`` is looser than the ``standard`` value in this setting's sense."""
        if self.looser == "higher":
            return bool(value > standard)
        if self.looser == "lower":
            return bool(value < standard)
        if self.looser == "warn":
            return value == "warn" and standard == "fail"
        if self.looser == "disabled":
            return standard is True and value is False
        if self.looser == "fewer":
            return bool(set(standard) - set(value))
        return False


@dataclass(frozen=True)
class Deviation:
    """A setting looser than the standard, listed with the reason a person gave for it."""

    setting: str
    value: Any
    reason: str
    standard: Any
    clause: str
    certainty: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Policy:
    """The effective policy: validated values plus the clause of every setting."""

    values: PolicyValues
    info: dict[str, SettingInfo]
    source: str
    base_dir: Path | None = None
    profile: str = "development"
    deviations: tuple[Deviation, ...] = ()

    def __getattr__(self, section: str) -> Any:
        # Lets callers write policy.harmful.max_rate; only reached for unknown attributes.
        if section.startswith("_"):
            raise AttributeError(section)
        return getattr(self.values, section)

    def resolve_path(self, value: str) -> Path:
        """A path setting: relative paths are relative to the policy file's folder."""
        path = Path(value)
        if path.is_absolute() or self.base_dir is None:
            return path
        return self.base_dir / path

    def clause(self, key: str) -> str:
        """The clause a dotted setting key serves, e.g. ``clause("harmful.max_rate")``."""
        return self.info[key].clause

    def to_dict(self) -> dict[str, Any]:
        """The effective values by section, with the profile and the deviations."""
        return {**self.values.model_dump(mode="json"), **self.governance()}

    def governance(self) -> dict[str, Any]:
        """What MLflow, lineage and the export carry: the profile and every deviation."""
        return {
            "profile": self.profile,
            "deviations": [deviation.to_dict() for deviation in self.deviations],
        }

    def refuses_waiver(self, finding: Any) -> str | None:
        """Why this policy refuses to let a waiver excuse ``finding`` (None: it does not)."""
        licence = finding.check == "source.licence" and isinstance(finding.threshold, dict)
        verdict = finding.threshold.get("verdict") if licence else None
        return self.refuses_waiver_of(finding.check, licence_verdict=verdict)

    def refuses_waiver_of(self, check: str, *, licence_verdict: str | None = None) -> str | None:
        """Why a waiver of ``check`` is refused; a licence only when its verdict is denied."""
        clause = NON_WAIVABLE_UNDER_FILING.get(check)
        if self.profile != FILING or clause is None:
            return None
        if check == "source.licence" and licence_verdict != "denied":
            return None
        return f"the filing profile does not allow waiving {check} ({clause})"

    @property
    def digest(self) -> str:
        """sha256 of the effective values, profile and deviations: the gate logs it so a
        decision names its policy."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def rows(self) -> list[tuple[str, Any, SettingInfo]]:
        """(dotted key, value, info) for every setting, in file order."""
        values = self.values.model_dump(mode="json")
        return [
            (key, values[key.split(".")[0]][key.split(".")[1]], info)
            for key, info in self.info.items()
        ]


def _read_yaml(path: Path) -> Any:
    try:
        return read_yaml(path, what="policy file")
    except ContractError as exc:
        raise PolicyError(f"cannot read policy file: {exc}") from None


def _default_document() -> dict[str, Any]:
    text = resources.files("trainguard").joinpath("data/policy.default.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def _apply_overrides(values: dict[str, dict[str, Any]], overrides: Any, where: str) -> None:
    if overrides is None:
        return
    if not isinstance(overrides, dict):
        raise PolicyError(f"{where}: a policy is a mapping of sections (service, licenses, ...)")
    for section, settings in overrides.items():
        if section not in values:
            known = ", ".join(values)
            raise PolicyError(f"{where}: unknown policy section '{section}' (known: {known})")
        if not isinstance(settings, dict):
            raise PolicyError(f"{where}: '{section}' must be a mapping of settings")
        for key, override in settings.items():
            dotted = f"{section}.{key}"
            if key not in values[section]:
                known = ", ".join(values[section])
                raise PolicyError(f"{where}: unknown policy key '{dotted}' (known: {known})")
            if isinstance(override, dict):
                extra = set(override) - {"value"}
                if extra or "value" not in override:
                    raise PolicyError(
                        f"{where}: '{dotted}' takes a value or {{value: ...}}; clauses are fixed "
                        f"by the defaults (found keys: {', '.join(sorted(override))})"
                    )
                override = override["value"]
            values[section][key] = override


def load_policy(path: str | Path | None = None) -> Policy:
    """The defaults, overridden by the user's policy file when one is given."""
    document = _default_document()
    values: dict[str, dict[str, Any]] = {}
    info: dict[str, SettingInfo] = {}
    for section, settings in document.items():
        values[section] = {}
        for key, setting in settings.items():
            values[section][key] = setting["value"]
            info[f"{section}.{key}"] = SettingInfo(
                clause=setting["clause"],
                certainty=setting["certainty"],
                note=setting.get("note", ""),
                looser=str(setting.get("looser", "")),
            )
    where = str(path) if path else "default policy"
    standard = PolicyValues.model_validate(values).model_dump(mode="json")
    profile: Any = "development"
    listed: Any = []
    if path is not None:
        document = _read_yaml(Path(path))
        if isinstance(document, dict):
            profile = document.pop("profile", profile)
            listed = document.pop("deviations", None) or []
        _apply_overrides(values, document, where)
    try:
        validated = PolicyValues.model_validate(values)
    except ValidationError as exc:
        problems = [
            f"'{'.'.join(str(p) for p in err['loc'])}': {err['msg']} (got {err.get('input')!r})"
            for err in exc.errors()
        ]
        raise PolicyError(f"{where}: " + "; ".join(problems)) from None
    _check_licence_lists(validated, where)
    if profile not in PROFILES:
        raise PolicyError(
            f"{where}: 'profile' is {profile!r}; expected one of {', '.join(PROFILES)}"
        )
    deviations = _deviations(validated, standard, info, listed=listed, profile=profile, where=where)
    base_dir = Path(path).resolve().parent if path is not None else None
    return Policy(
        values=validated,
        info=info,
        source=where,
        base_dir=base_dir,
        profile=profile,
        deviations=deviations,
    )


def _deviations(
    values: PolicyValues,
    standard: dict[str, dict[str, Any]],
    info: dict[str, SettingInfo],
    *,
    listed: Any,
    profile: str,
    where: str,
) -> tuple[Deviation, ...]:
    """Every setting looser than the standard, each matched to its listed reason."""
    reasons = _listed_deviations(listed, info, where)
    effective = values.model_dump(mode="json")
    problems, deviations = [], []
    for key, setting in info.items():
        if setting.certainty not in STANDARD_CERTAINTIES:
            continue
        section, name = key.split(".")
        value, default = effective[section][name], standard[section][name]
        if not setting.is_looser(value, default):
            continue
        shown = f"'{key}' = {json.dumps(value, ensure_ascii=False)}"
        against = (
            f"the standard's {json.dumps(default, ensure_ascii=False)} ({setting.clause}, "
            f"certainty {setting.certainty})"
        )
        if profile == FILING and setting.certainty == "C":
            problems.append(f"profile filing refuses {shown}, looser than {against}")
            continue
        listed_value, reason = reasons.pop(key, (None, ""))
        if not reason:
            problems.append(
                f"{shown} is looser than {against}: list it under 'deviations:' as "
                f"{{setting: {key}, value: ..., reason: ...}}"
            )
        elif listed_value != value:
            problems.append(
                f"deviations: '{key}' lists value {json.dumps(listed_value)} but the policy "
                f"sets {json.dumps(value)}"
            )
        else:
            deviations.append(
                Deviation(key, value, reason, default, setting.clause, setting.certainty)
            )
    problems += [
        f"deviations: '{key}' is not looser than the standard; remove the entry"
        for key in sorted(reasons)
    ]
    if problems:
        raise PolicyError(f"{where}: " + "; ".join(problems))
    return tuple(deviations)


def _listed_deviations(
    listed: Any, info: dict[str, SettingInfo], where: str
) -> dict[str, tuple[Any, str]]:
    """``deviations:`` as {setting: (value, reason)}, every entry checked."""
    if not isinstance(listed, list):
        raise PolicyError(f"{where}: 'deviations' is a list of {{setting, value, reason}}")
    reasons: dict[str, tuple[Any, str]] = {}
    for number, entry in enumerate(listed, start=1):
        at = f"{where}: deviations entry {number}"
        if not isinstance(entry, dict) or set(entry) != {"setting", "value", "reason"}:
            found = ", ".join(sorted(map(str, entry))) if isinstance(entry, dict) else entry
            raise PolicyError(
                f"{at}: expected exactly the keys setting, value, reason (found {found})"
            )
        key, reason = entry["setting"], entry["reason"]
        if key not in info:
            raise PolicyError(f"{at}: unknown policy key '{key}'")
        if not isinstance(reason, str) or not reason.strip():
            raise PolicyError(f"{at}: '{key}' needs a reason (who decided, and why)")
        reasons[key] = (entry["value"], reason.strip())
    return reasons


def _check_licence_lists(values: PolicyValues, where: str) -> None:
    from trainguard.licenses import unknown_licence_symbols

    for key in ("allow", "deny"):
        unknown = unknown_licence_symbols(getattr(values.licenses, key))
        if unknown:
            raise PolicyError(
                f"{where}: 'licenses.{key}' names unknown licence(s) {', '.join(unknown)} "
                "(expected SPDX identifiers or LicenseRef-...)"
            )
