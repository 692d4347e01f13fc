"""The dataset-directory contract of DESIGN.md, as typed models and a loader.

``load_dataset`` reads and validates the small files (dataset.yaml, sources.yaml,
consents.csv, annotation/); ``Dataset.validate_records`` streams the record shards in
Arrow batches and checks every row. Any breach raises ``ContractError`` naming the file,
the row (1-based; the line for JSONL) and the field, with what was expected.

Kept as one module (about 900 lines): it is DESIGN.md's dataset contract, its enums,
models and the readers that enforce them, and a provider reads one file to learn what a
dataset must be. Nothing else lives here.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from trainguard.exceptions import ContractError
from trainguard.settings import batch_rows

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    import numpy as np
    import pyarrow as pa


class Stage(enum.StrEnum):
    PRETRAINING = "pretraining"
    FINETUNING = "finetuning"


class SourceKind(enum.StrEnum):
    OPEN_SOURCE = "open_source"
    SELF_COLLECTED = "self_collected"
    COMMERCIAL = "commercial"
    USER_INPUT = "user_input"
    SYNTHETIC = "synthetic"


class Origin(enum.StrEnum):
    DOMESTIC = "domestic"
    FOREIGN = "foreign"


class PIKind(enum.StrEnum):
    RESIDENT_ID = "resident_id"
    MOBILE_PHONE = "mobile_phone"
    LANDLINE_PHONE = "landline_phone"
    EMAIL = "email"
    BANK_CARD = "bank_card"
    PASSPORT = "passport"
    IP_ADDRESS = "ip_address"
    LICENSE_PLATE = "license_plate"
    HEALTH = "health"
    BIOMETRIC = "biometric"


# Sensitive PI needs separate consent (PIPL Art. 28-29; TC260-003 5.1 d).
SENSITIVE_PI_KINDS = frozenset(
    {PIKind.RESIDENT_ID, PIKind.BANK_CARD, PIKind.HEALTH, PIKind.BIOMETRIC}
)

# The evidence each source kind must cite (TC260-003 5.1 c), as DESIGN.md lists it.
REQUIRED_EVIDENCE: dict[SourceKind, tuple[tuple[str, ...], ...]] = {
    SourceKind.OPEN_SOURCE: (("license_url", "license_text"),),  # one of the pair
    SourceKind.SELF_COLLECTED: (("collection_record",), ("robots_txt_respected",)),
    SourceKind.COMMERCIAL: (("contract_ref",), ("contract_sha256",)),
    SourceKind.USER_INPUT: (("authorization_record",),),
    SourceKind.SYNTHETIC: (),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class DatasetManifest(_Strict):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    stage: Stage
    modality: Literal["text"]
    languages: list[str] = Field(min_length=1)
    description: str = ""

    @field_validator("languages")
    @classmethod
    def _iso_codes(cls, languages: list[str]) -> list[str]:
        for code in languages:
            if not (2 <= len(code) <= 3 and code.isalpha() and code.islower()):
                raise ValueError(f"'{code}' is not an ISO 639 language code such as zh or en")
        return languages


class Source(_Strict):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    kind: SourceKind
    license: str
    origin: Origin
    collected_at: dt.date
    contains_personal_info: bool
    description: str = ""
    owner: str = ""
    # Traceability evidence (TC260-003 5.1 c); which ones are required depends on kind.
    license_url: str | None = None
    license_text: str | None = None
    collection_record: str | None = None
    robots_txt_respected: bool | None = None
    contract_ref: str | None = None
    contract_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    authorization_record: str | None = None

    @field_validator("license")
    @classmethod
    def _spdx(cls, expression: str) -> str:
        from trainguard.licenses import parse_licence

        parse_licence(expression)
        return expression

    def missing_evidence(self) -> list[str]:
        missing = []
        for alternatives in REQUIRED_EVIDENCE[self.kind]:
            if all(getattr(self, name) in (None, "") for name in alternatives):
                missing.append(" or ".join(alternatives))
        return missing


class ConsentRow(_Strict):
    subject_ref: str = Field(min_length=1)
    pi_kind: PIKind
    pi_hmac: str = Field(pattern=r"^[0-9a-f]{64}$")
    purposes: frozenset[str]
    sensitive_consent: bool
    granted_at: dt.datetime
    withdrawn_at: dt.datetime | None = None

    @field_validator("purposes", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return frozenset(p.strip() for p in value.split(";") if p.strip())
        return value

    @field_validator("withdrawn_at", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


class AnnotatorRole(enum.StrEnum):
    LABELER = "labeler"
    REVIEWER = "reviewer"


class AnnotatorRow(_Strict):
    annotator_id: str = Field(min_length=1)
    role: AnnotatorRole
    trained_rules_version: str = Field(min_length=1)
    trained_at: dt.datetime
    assessment_score: float = Field(ge=0, le=1)
    assessed_at: dt.datetime


class SpotCheckRow(_Strict):
    record_id: str = Field(min_length=1)
    checker_id: str = Field(min_length=1)
    verdict: Literal["correct", "incorrect"]
    checked_at: dt.datetime


class AnnotationType(enum.StrEnum):
    FUNCTIONAL = "functional"
    SAFETY = "safety"


RULES_SECTIONS = (
    "goals",
    "data format",
    "method",
    "quality indicators",
    "functional rules",
    "safety rules",
)

TEXT_COLUMNS: dict[Stage, tuple[str, ...]] = {
    Stage.PRETRAINING: ("text",),
    Stage.FINETUNING: ("prompt", "response"),
}
ANNOTATION_COLUMNS = (
    "annotation_type",
    "annotator_id",
    "reviewer_id",
    "annotation_batch",
    "rules_version",
)


@dataclass(frozen=True)
class Annotation:
    rules: dict[str, Path]  # rules_version -> file
    annotators: list[AnnotatorRow]
    spot_checks: list[SpotCheckRow]


@dataclass
class RecordStats:
    """What a full pass over the records measured."""

    records: int = 0
    characters: int = 0
    bytes: int = 0
    by_source: Counter[str] = field(default_factory=Counter)
    characters_by_source: Counter[str] = field(default_factory=Counter)
    bytes_by_source: Counter[str] = field(default_factory=Counter)


@dataclass
class Dataset:
    root: Path
    manifest: DatasetManifest
    sources: dict[str, Source]
    shards: list[Path]
    consents: list[ConsentRow] | None
    annotation: Annotation | None
    _stats: RecordStats | None = None

    @property
    def required_columns(self) -> tuple[str, ...]:
        columns = ("record_id", "source_id", *TEXT_COLUMNS[self.manifest.stage])
        if self.manifest.stage is Stage.FINETUNING:
            columns += ANNOTATION_COLUMNS
        return columns

    @property
    def text_columns(self) -> tuple[str, ...]:
        return TEXT_COLUMNS[self.manifest.stage]

    def iter_batches(
        self, columns: list[str] | None = None
    ) -> Iterator[tuple[Path, int, pa.RecordBatch]]:
        """(shard, first row number of the batch, batch) over every shard, streaming."""
        for shard in self.shards:
            yield from _iter_shard(shard, columns)

    def iter_batches_of(
        self, shard: Path, columns: list[str] | None = None
    ) -> Iterator[tuple[Path, int, pa.RecordBatch]]:
        """The batches of one shard (what a mapped shard task reads)."""
        yield from _iter_shard(shard, columns)

    def validate_records(self) -> RecordStats:
        """Check every row; returns counts. Cached: the shards of a version do not change."""
        if self._stats is None:
            self._stats = _validate_records(self)
        return self._stats

    def content_digest(self) -> str:
        """sha256 over every file of the dataset, for datasets not versioned with DVC."""
        digest = hashlib.sha256()
        for path in sorted(p for p in self.root.rglob("*") if p.is_file()):
            relative = path.relative_to(self.root).as_posix()
            digest.update(relative.encode() + b"\0")
            with path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
        return "sha256:" + digest.hexdigest()


# --------------------------------------------------------------------------- loading


def load_dataset(root: str | Path) -> Dataset:
    """Read and validate the small files of a dataset directory (not yet the records)."""
    root = Path(root)
    if not root.is_dir():
        raise ContractError("dataset directory not found", file=str(root))
    manifest = _model_from_yaml(root / "dataset.yaml", DatasetManifest)
    sources = _load_sources(root / "sources.yaml")
    shards = _find_shards(root / "records")
    consents_path = root / "consents.csv"
    consents = _load_csv(consents_path, ConsentRow) if consents_path.exists() else None
    declaring = sorted(s.id for s in sources.values() if s.contains_personal_info)
    if declaring and consents is None:
        raise ContractError(
            f"sources {', '.join(declaring)} declare personal information but there is no "
            "consent ledger",
            file=str(consents_path),
            expected="consents.csv with columns " + ", ".join(ConsentRow.model_fields),
        )
    annotation = None
    if manifest.stage is Stage.FINETUNING:
        annotation = _load_annotation(root / "annotation")
    return Dataset(root, manifest, sources, shards, consents, annotation)


def _model_from_yaml(path: Path, model: type[BaseModel]) -> Any:
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ContractError("must be a YAML mapping", file=str(path), expected="key: value pairs")
    return _validate(model, data, file=str(path))


def _read_yaml(path: Path) -> Any:
    return read_yaml(path)


def read_yaml(path: Path, *, what: str = "required file") -> Any:
    """A YAML file's document, or a ``ContractError`` naming the file (and line).

    Every YAML file trainguard reads goes through here: a missing file, a folder, a
    non-UTF-8 file, bad syntax and an impossible date (``2025-02-30``, which PyYAML builds
    eagerly and would raise as a bare ``ValueError``) are all contract errors.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractError(f"{what} is missing", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ContractError(
            f"not UTF-8 text (invalid byte at offset {exc.start})", file=str(path)
        ) from None
    except OSError as exc:
        raise _unreadable(path, exc) from None
    try:
        return yaml.load(text, Loader=_StrictDateLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "invalid syntax"
        raise ContractError(
            f"malformed YAML: {problem}",
            file=str(path),
            row=mark.line + 1 if mark else None,
        ) from None


class _StrictDateLoader(yaml.SafeLoader):
    """SafeLoader whose impossible dates are YAML errors with a line, not ``ValueError``."""

    def construct_yaml_timestamp(self, node: yaml.Node) -> Any:
        try:
            return super().construct_yaml_timestamp(node)  # type: ignore[arg-type]
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"impossible date {node.value!r} ({exc})", node.start_mark
            ) from None


_StrictDateLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", _StrictDateLoader.construct_yaml_timestamp
)


def _validate(
    model: type[BaseModel],
    data: dict[str, Any],
    *,
    file: str,
    row: int | None = None,
    prefix: str = "",
) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field_name = prefix + ".".join(str(p) for p in error["loc"])
        message = error["msg"]
        if error["type"] == "missing":
            message = "required field is missing"
        elif error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "value_error":
            message = str(error["ctx"]["error"]) if "ctx" in error else message
        raise ContractError(message, file=file, row=row, field=field_name) from None


def _load_sources(path: Path) -> dict[str, Source]:
    data = _read_yaml(path)
    if isinstance(data, dict) and "sources" in data:
        data = data["sources"]
    if not isinstance(data, list) or not data:
        raise ContractError(
            "must list at least one source", file=str(path), expected="a YAML list of sources"
        )
    sources: dict[str, Source] = {}
    for index, entry in enumerate(data):
        label = f"sources[{index}]."
        if not isinstance(entry, dict):
            raise ContractError("each source must be a mapping", file=str(path), field=label[:-1])
        source = _validate(Source, entry, file=str(path), prefix=label)
        if source.id in sources:
            raise ContractError(
                f"duplicate source id '{source.id}'", file=str(path), field=label + "id"
            )
        missing = source.missing_evidence()
        if missing:
            raise ContractError(
                f"a {source.kind.value} source must cite its traceability evidence "
                f"(TC260-003 5.1 c); missing: {', '.join(missing)}",
                file=str(path),
                field=f"sources[{index}] (id {source.id})",
            )
        sources[source.id] = source
    return sources


def _find_shards(records_dir: Path) -> list[Path]:
    if not records_dir.is_dir():
        raise ContractError("records directory is missing", file=str(records_dir))
    shards = sorted(
        p for p in records_dir.iterdir() if p.suffix in (".parquet", ".jsonl") and p.is_file()
    )
    if not shards:
        raise ContractError(
            "no record shards", file=str(records_dir), expected="*.parquet or *.jsonl files"
        )
    dataset = records_dir.parent.resolve()
    for shard in shards:
        target = shard.resolve()
        # A link may point into the dataset or into a DVC cache (cache.type symlink), whose
        # content DVC versions; anything else is data that no version records.
        if shard.is_symlink() and not (target.is_relative_to(dataset) or _in_dvc_cache(target)):
            raise ContractError(
                f"shard is a link to {target}, outside the dataset and any DVC cache",
                file=str(shard),
                expected="record files inside the dataset directory",
            )
    return shards


def _in_dvc_cache(path: Path) -> bool:
    """``<cache>/files/md5/ab/cdef...``: where DVC keeps what it versions."""
    parts = path.parts
    return len(parts) > 3 and parts[-3] == "md5" and len(parts[-2]) == 2


def read_csv(
    path: Path,
    required: Iterable[str],
    *,
    what: str = "required file",
    expected: str | None = None,
) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) pairs of a UTF-8 CSV whose header has the ``required`` columns.

    Every CSV trainguard reads goes through here, so a missing file, a missing column or
    a non-UTF-8 file is always a ``ContractError`` naming the file (and line).
    """
    required = list(required)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or []]
            missing = [name for name in required if name not in header]
            if missing:
                raise ContractError(
                    f"missing column(s) {', '.join(missing)}",
                    file=str(path),
                    expected=expected or "header " + ",".join(required),
                )
            return [
                (
                    reader.line_num,
                    {key.strip(): (value or "") for key, value in raw.items() if key is not None},
                )
                for raw in reader
            ]
    except FileNotFoundError:
        raise ContractError(f"{what} is missing", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ContractError(
            f"not UTF-8 text (invalid byte at offset {exc.start})", file=str(path)
        ) from None
    except csv.Error as exc:
        # e.g. a field over the csv module's limit (131,072 characters): the line it is on.
        raise ContractError(
            f"malformed CSV ({exc})", file=str(path), row=reader.line_num + 1
        ) from None
    except OSError as exc:
        raise _unreadable(path, exc) from None


def _load_csv(path: Path, model: type[BaseModel]) -> list[Any]:
    columns = list(model.model_fields)
    required = [name for name in columns if model.model_fields[name].is_required()]
    return [
        _validate(model, {k: v for k, v in row.items() if k in columns}, file=str(path), row=line)
        for line, row in read_csv(path, required, expected="header " + ",".join(columns))
    ]


def _load_annotation(directory: Path) -> Annotation:
    rules_dir = directory / "rules"
    if not rules_dir.is_dir():
        raise ContractError(
            "finetuning datasets need annotation rules",
            file=str(rules_dir),
            expected="rules/<rules_version>.md files",
        )
    rules = {path.stem: path for path in sorted(rules_dir.glob("*.md"))}
    if not rules:
        raise ContractError("no rules files", file=str(rules_dir), expected="<rules_version>.md")
    return Annotation(
        rules=rules,
        annotators=_load_csv(directory / "annotators.csv", AnnotatorRow),
        spot_checks=_load_csv(directory / "spot_checks.csv", SpotCheckRow),
    )


# --------------------------------------------------------------------------- records


def _iter_shard(
    shard: Path, columns: list[str] | None
) -> Iterator[tuple[Path, int, pa.RecordBatch]]:
    """(shard, first row, batch), streaming: memory is one block of the shard, or its
    largest record when that is bigger, whatever the shard's size."""
    import pyarrow as pa

    if shard.suffix != ".parquet":
        yield from _iter_jsonl(shard, columns)
        return
    import pyarrow.parquet as pq

    try:
        # pre_buffer off: on it prefetches every row group of the columns read, a shard's worth
        parquet = pq.ParquetFile(shard, pre_buffer=False)
        present = set(parquet.schema_arrow.names)
        wanted = [c for c in columns if c in present] if columns else None
        row = 1
        for batch in parquet.iter_batches(batch_size=batch_rows(), columns=wanted):
            _require_utf8(batch, shard, row)
            yield shard, row, batch
            row += batch.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise ContractError(f"unreadable Parquet shard ({exc})", file=str(shard)) from None


def _require_utf8(batch: pa.RecordBatch, shard: Path, first_row: int) -> None:
    """Parquet does not promise that a string column holds UTF-8; every check assumes it."""
    import pyarrow as pa

    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        try:
            column.validate(full=True)
        except pa.ArrowInvalid:
            index = next(
                i
                for i, value in enumerate(column.cast(pa.large_binary()).to_pylist())
                if value is not None and not _is_utf8(value)
            )
            raise ContractError(
                "string is not valid UTF-8",
                file=str(shard),
                row=first_row + index,
                field=name,
                expected="UTF-8 text",
            ) from None


def _unreadable(path: Path, exc: OSError) -> ContractError:
    """A file the system would not let us read (missing rights, a folder, an I/O error)."""
    return ContractError(f"cannot read it ({exc.strerror or type(exc).__name__})", file=str(path))


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# JSONL is parsed a block of whole lines at a time: a record larger than the block makes
# its block larger (Arrow's own reader refuses a line longer than its block size).
JSONL_BLOCK_BYTES = 8 << 20


def _iter_jsonl(
    shard: Path, columns: list[str] | None
) -> Iterator[tuple[Path, int, pa.RecordBatch]]:
    row = 1
    try:
        handle = shard.open("rb")
    except OSError as exc:
        raise _unreadable(shard, exc) from None
    with handle:
        for first_line, block in _line_blocks(handle, shard):
            table = _parse_jsonl_block(block, shard, first_line)
            del block
            if columns:
                table = table.select([c for c in columns if c in table.column_names])
            for batch in table.to_batches(max_chunksize=batch_rows()):
                yield shard, row, batch
                row += batch.num_rows


def _line_blocks(handle: Any, shard: Path) -> Iterator[tuple[int, bytes]]:
    """(number of the block's first line, block of whole lines), each checked as UTF-8."""
    line, carry = 1, b""
    while True:
        try:
            chunk = handle.read(JSONL_BLOCK_BYTES)
        except OSError as exc:
            raise _unreadable(shard, exc) from None
        data = carry + chunk
        cut = data.rfind(b"\n") + 1 if chunk else len(data)
        if chunk and cut == 0:  # no line ends in this block yet: a record larger than it
            carry = data
            continue
        block, carry = data[:cut], data[cut:]
        if block.strip():
            try:
                block.decode("utf-8")
            except UnicodeDecodeError as exc:
                column = exc.start - block.rfind(b"\n", 0, exc.start)
                raise ContractError(
                    f"not UTF-8 text (invalid byte at column {column})",
                    file=str(shard),
                    row=line + block.count(b"\n", 0, exc.start),
                    expected="one UTF-8 JSON object per line",
                ) from None
            yield line, block
        line += block.count(b"\n")
        if not chunk:
            return


# A non-blank line that does not start with "{" and end with "}" is not one JSON object.
# Checked before Arrow sees the block: pyarrow's JSON reader crashes the process
# (SIGSEGV, pyarrow 25) on a block whose first value is a bare `null`.
def _stray_line(block: bytes) -> int | None:
    """The offset of the first non-blank line not shaped ``{...}``, or None.

    numpy looks at each line's first and last byte (a regular expression over the block
    ran at 30 MB/s); only lines that fail that look, such as indented ones, are stripped.
    """
    import numpy as np

    data = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(data == ord("\n"))
    if not len(ends) or ends[-1] != len(data) - 1:
        ends = np.r_[ends, len(data)]
    starts = np.r_[0, ends[:-1] + 1]
    lines = ends > starts
    first = data[starts[lines]]
    last = data[ends[lines] - 1]
    suspicious = (first != ord("{")) | (last != ord("}"))
    for index in np.flatnonzero(suspicious):
        start, end = int(starts[lines][index]), int(ends[lines][index])
        line = block[start:end].strip(b" \t\r")
        if line and not (line.startswith(b"{") and line.endswith(b"}")):
            return start
    return None


def _require_object(line: str, shard: Path, line_no: int) -> dict[str, Any]:
    import json

    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ContractError(
            f"invalid JSON ({exc.msg})",
            file=str(shard),
            row=line_no,
            expected="one JSON object per line",
        ) from None
    if not isinstance(value, dict):
        raise ContractError(
            "not a JSON object", file=str(shard), row=line_no, expected="one JSON object per line"
        )
    return value


def _parse_jsonl_block(block: bytes, shard: Path, first_line: int) -> pa.Table:
    import io

    import pyarrow as pa
    import pyarrow.json as pj

    stray = _stray_line(block)
    if stray is not None:
        end = block.find(b"\n", stray)
        _require_object(
            block[stray : end if end >= 0 else len(block)].decode("utf-8"),
            shard,
            first_line + block.count(b"\n", 0, stray),
        )
    try:
        return pj.read_json(
            io.BytesIO(block), read_options=pj.ReadOptions(block_size=len(block) + 1)
        )
    except pa.ArrowException:
        pass
    # Arrow's message does not say which line is wrong; find it for the user.
    types: dict[str, tuple[str, int]] = {}
    for offset, line in enumerate(block.decode("utf-8").split("\n")):
        line_no = first_line + offset
        if not line.strip():
            continue
        value = _require_object(line, shard, line_no)
        for key, item in value.items():
            kind = type(item).__name__
            if item is None:
                continue
            first = types.setdefault(key, (kind, line_no))
            if first[0] != kind:
                raise ContractError(
                    f"a {kind} where line {first[1]} has a {first[0]}",
                    file=str(shard),
                    row=line_no,
                    field=key,
                    expected="each field to keep one type (strings for ids and text)",
                )
    raise ContractError(
        "Arrow cannot read these lines as one table",
        file=str(shard),
        row=first_line,
        expected="one JSON object per line, each field keeping one type",
    )


# One pass over every record, checking each contract rule in turn (DESIGN.md).
class _RecordIds:
    """Every record id's 64-bit hash, in corpus order: 8 bytes a record, where a dict of the
    ids took about 200 (2 GB at 10^7 records). Duplicates are found by one sort at the end;
    only the records whose hashes collide are read back and compared exactly."""

    def __init__(self) -> None:
        self.hashes: list[np.ndarray] = []
        self.batches: list[tuple[int, Path, int]] = []  # (first position, shard, first row)
        self.size = 0

    def add(self, shard: Path, first_row: int, record_ids: pa.Array | pa.ChunkedArray) -> None:
        import numpy as np

        self.batches.append((self.size, shard, first_row))
        ids = record_ids.to_pylist()
        self.hashes.append(np.fromiter(map(hash, ids), dtype=np.int64, count=len(ids)))
        self.size += len(ids)

    def where(self, position: int) -> tuple[Path, int]:
        """(shard, row) of the record at ``position`` in corpus order."""
        import bisect

        first, shard, first_row = self.batches[
            bisect.bisect_right([b[0] for b in self.batches], position) - 1
        ]
        return shard, first_row + position - first

    def raise_on_duplicate(self, dataset: Dataset) -> None:
        """ContractError at the earliest record whose id an earlier record already had."""
        import numpy as np

        if not self.hashes:
            return
        hashes = np.concatenate(self.hashes)
        self.hashes = []
        order = np.argsort(hashes, kind="stable")
        equal = hashes[order[1:]] == hashes[order[:-1]]
        if not equal.any():
            return
        suspects = np.union1d(order[1:][equal], order[:-1][equal])
        positions: dict[str, list[int]] = {}  # each suspect id's positions, in order
        position = 0
        for _, _, batch in dataset.iter_batches(["record_id"]):
            lo, hi = np.searchsorted(suspects, [position, position + batch.num_rows])
            picked = suspects[lo:hi]
            ids = batch.column("record_id").take(picked - position).to_pylist()
            for record_id, at in zip(ids, picked.tolist(), strict=True):
                positions.setdefault(record_id, []).append(at)
            position += batch.num_rows
        repeated = [(at[1], at[0], rid) for rid, at in positions.items() if len(at) > 1]
        if not repeated:
            return  # different ids whose hashes collide
        duplicate, first, record_id = min(repeated)
        first_shard, first_row = self.where(first)
        shard, row = self.where(duplicate)
        raise ContractError(
            f"duplicate record_id '{record_id}' (first seen in {first_shard.name} row {first_row})",
            file=str(shard),
            row=row,
            field="record_id",
            expected="unique record ids across all shards",
        )


def _validate_records(dataset: Dataset) -> RecordStats:  # noqa: C901
    import pyarrow as pa
    import pyarrow.compute as pc

    stats = RecordStats()
    seen = _RecordIds()
    known_sources = pa.array(sorted(dataset.sources))
    required = dataset.required_columns
    for shard, first_row, batch in dataset.iter_batches():
        names = batch.schema.names
        missing = [c for c in required if c not in names]
        if missing:
            raise ContractError(
                f"missing column(s) {', '.join(missing)}",
                file=str(shard),
                expected="columns " + ", ".join(required),
            )
        for name in required:
            column = batch.column(name)
            if not (
                pa.types.is_string(column.type)
                or pa.types.is_large_string(column.type)
                or pa.types.is_null(column.type)
            ):
                raise ContractError(
                    f"wrong column type {column.type}",
                    file=str(shard),
                    field=name,
                    expected="string",
                )
            if column.null_count:
                index = pc.index(pc.is_null(column), True).as_py()
                raise ContractError(
                    "missing value",
                    file=str(shard),
                    row=first_row + index,
                    field=name,
                    expected="a non-empty string",
                )
        record_ids = batch.column("record_id")
        empty = pc.equal(pc.utf8_length(record_ids), 0)
        if pc.any(empty).as_py():
            raise ContractError(
                "empty record_id",
                file=str(shard),
                row=first_row + pc.index(empty, True).as_py(),
                field="record_id",
                expected="a unique non-empty string",
            )
        source_ids = batch.column("source_id")
        unknown = pc.invert(pc.is_in(source_ids, value_set=known_sources))
        if pc.any(unknown).as_py():
            index = pc.index(unknown, True).as_py()
            raise ContractError(
                f"unknown source_id '{source_ids[index].as_py()}'",
                file=str(shard),
                row=first_row + index,
                field="source_id",
                expected="an id listed in sources.yaml ("
                + ", ".join(sorted(dataset.sources))
                + ")",
            )
        seen.add(shard, first_row, record_ids)
        counts = pc.value_counts(source_ids)
        for entry in counts.to_pylist():
            stats.by_source[entry["values"]] += entry["counts"]
        stats.records += batch.num_rows
        sizes: dict[str, Any] = {"source_id": source_ids}
        for name in dataset.text_columns:
            column = batch.column(name)
            sizes[f"{name}.chars"] = pc.utf8_length(column)
            sizes[f"{name}.bytes"] = pc.binary_length(column)
        per_source = (
            pa.table(sizes)
            .group_by("source_id")
            .aggregate([(column, "sum") for column in sizes if column != "source_id"])
            .to_pylist()
        )
        for row in per_source:
            source = row["source_id"]
            for name in dataset.text_columns:
                chars, size = row[f"{name}.chars_sum"] or 0, row[f"{name}.bytes_sum"] or 0
                stats.characters_by_source[source] += chars
                stats.bytes_by_source[source] += size
                stats.characters += chars
                stats.bytes += size
    seen.raise_on_duplicate(dataset)
    if not stats.records:
        raise ContractError(
            "the record shards hold no records",
            file=str(dataset.root / "records"),
            expected="at least one record with " + ", ".join(required),
        )
    return stats


def rewrite_shard(shard: Path, table: pa.Table) -> None:
    """Replace a shard's records with ``table``, in the shard's own format.

    The file is unlinked first: DVC may hard-link cache files, and writing through the
    link would change the cached copy of the previous version.
    """
    import json

    import pyarrow.parquet as pq

    shard.unlink()
    if shard.suffix == ".parquet":
        pq.write_table(table, shard)
        return
    with shard.open("w", encoding="utf-8") as handle:
        for row in table.to_pylist():
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_text(path: Path, *, field: str | None = None, expected: str = "a UTF-8 text file") -> str:
    """A text file's content, or a ``ContractError`` naming the file (and the option)."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(
            f"cannot read it ({type(exc).__name__})", file=str(path), field=field, expected=expected
        ) from None
