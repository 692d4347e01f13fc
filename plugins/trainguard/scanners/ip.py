"""Intellectual property inside records (Art. 7(2)): copyright notices, opt-out registry.

The opt-out / takedown registry is a JSONL file of withdrawn works, one per line:
``{"work_id", "title", "sha256", "signature", "added_at", "reason"}`` where ``sha256`` is
of the squeezed text (squeeze.squeeze) and ``signature`` its 128 MinHash values, so a
record matches a work exactly or, when lightly edited, by estimated similarity. The
registry holds fingerprints only, never the work's text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trainguard.contract import read_text
from trainguard.exceptions import ContractError

if TYPE_CHECKING:
    import pyarrow as pa

# RE2 (Arrow): notices and licence headers that say a text is someone's protected work.
COPYRIGHT_NOTICE = (
    r"(?i)(copyright\s*(?:©|\(c\))?\s*(?:19|20)[0-9]{2}|©\s*(?:19|20)[0-9]{2}"
    r"|all rights reserved|版权所有|著作权所有|未经(?:许可|授权|同意)[，,]?\s*(?:不得|禁止|严禁)"
    r"(?:转载|复制|使用)|spdx-license-identifier:|licensed under the [a-z0-9 .-]+ licen[cs]e)"
)


def copyright_rows(texts: pa.Array | pa.ChunkedArray) -> Any:
    """Boolean mask: rows carrying a copyright notice or licence header."""
    import pyarrow.compute as pc

    return pc.fill_null(pc.match_substring_regex(texts, COPYRIGHT_NOTICE), False)


def fingerprint(squeezed_texts: list[str]) -> tuple[list[str], np.ndarray]:
    from trainguard.scanners.minhash import signatures

    digests = [hashlib.sha256(t.encode()).hexdigest() for t in squeezed_texts]
    return digests, signatures(squeezed_texts)


@dataclass(frozen=True)
class OptOutRegistry:
    work_ids: tuple[str, ...]
    digests: dict[str, str]  # sha256 -> work id
    signatures: np.ndarray  # (works, 128)
    path: str = ""

    @classmethod
    def empty(cls) -> OptOutRegistry:
        return cls((), {}, np.zeros((0, 128), dtype=np.uint32))

    @classmethod
    def load(cls, path: str | Path) -> OptOutRegistry:
        path = Path(path)
        if not path.is_file():
            raise ContractError("opt-out registry not found", file=str(path))
        work_ids, digests, sigs = [], {}, []
        text = read_text(path, expected="the opt-out registry: one JSON object per line")
        for line_no, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                work_id, digest = str(entry["work_id"]), str(entry["sha256"])
                signature = np.asarray(entry["signature"], dtype=np.uint32)
            except (json.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError) as exc:
                raise ContractError(
                    f"invalid registry entry ({type(exc).__name__})",
                    file=str(path),
                    row=line_no,
                    expected="JSON with work_id, sha256, signature[128]",
                ) from None
            if signature.shape != (128,):
                raise ContractError(
                    "signature must have 128 values", file=str(path), row=line_no, field="signature"
                )
            work_ids.append(work_id)
            digests[digest] = work_id
            sigs.append(signature)
        matrix = np.vstack(sigs) if sigs else np.zeros((0, 128), dtype=np.uint32)
        return cls(tuple(work_ids), digests, matrix, str(path))

    def match(self, digests: list[str], sigs: np.ndarray, threshold: float) -> dict[int, str]:
        """Row -> work id for rows equal to, or estimated similar to, a withdrawn work."""
        found: dict[int, str] = {}
        if not self.work_ids:
            return found
        for row, digest in enumerate(digests):
            if digest in self.digests:
                found[row] = self.digests[digest]
        for start in range(0, len(sigs), 4096):
            block = sigs[start : start + 4096]
            similar = (block[:, None, :] == self.signatures[None, :, :]).mean(axis=2)
            rows, works = np.nonzero(similar >= threshold)
            for row, work in zip(rows.tolist(), works.tolist(), strict=True):
                found.setdefault(start + row, self.work_ids[work])
        return found


def registry_entry(work_id: str, text: str, *, title: str = "", reason: str = "") -> dict[str, Any]:
    """A registry line for a withdrawn work (fingerprints only)."""
    import pyarrow as pa

    from trainguard.scanners.squeeze import squeeze

    squeezed = squeeze(pa.array([text])).to_pylist()
    digests, sigs = fingerprint(squeezed)
    return {
        "work_id": work_id,
        "title": title,
        "sha256": digests[0],
        "signature": sigs[0].tolist(),
        "reason": reason,
        "added_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
