"""Masking personal information as a new dataset version (Art. 7(3) remedy).

Uncovered PI values (or all, with ``mask_all``) are replaced by ``[<kind>]`` in a copy
of the dataset, which is committed as a new DVC revision: a temporary clone checks out the
source revision, the records are rewritten, ``dvc add`` and ``git commit`` record them,
the data is pushed to the DVC remote and the tag to the repository. The original revision
is untouched, so the lineage shows both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def mask_dataset(dataset_dir: Path, *, policy_path: Path | None, mask_all: bool) -> dict[str, int]:
    """Rewrite the shards of ``dataset_dir`` in place with PI masked; returns counts."""
    import pyarrow as pa

    from trainguard.contract import rewrite_shard
    from trainguard.gate.scan import ScanResources
    from trainguard.policy import load_policy
    from trainguard.scanners.pi import scan_pi

    resources = ScanResources.build(dataset_dir, load_policy(policy_path))
    from trainguard.personal_info import mask_text, pi_hmac

    masked = records = 0
    for shard in resources.dataset.shards:
        tables = []
        for _, _, batch in resources.dataset.iter_batches_of(shard):
            columns = {name: batch.column(name) for name in batch.schema.names}
            for name in resources.dataset.text_columns:
                values = columns[name].to_pylist()
                changed = False
                for row, matches in scan_pi(columns[name]).items():
                    spans = [
                        (m.start, m.end, m.kind.value)
                        for m in matches
                        if mask_all
                        or resources.ledger.verdict(
                            m.kind, pi_hmac(m.kind, m.value, resources.hash_key)
                        ).value
                        != "covered"
                    ]
                    if spans:
                        values[row] = mask_text(values[row], spans)
                        masked += len(spans)
                        records += 1
                        changed = True
                if changed:
                    columns[name] = pa.array(values, columns[name].type)
            tables.append(pa.table(columns))
        rewrite_shard(shard, pa.concat_tables(tables))
    return {"masked": masked, "records": records}


def mask_revision(
    repo: Path,
    path: str,
    rev: str,
    *,
    tag: str,
    policy_path: Path | None = None,
    mask_all: bool = False,
    progress: Callable[[str], None] = lambda m: None,
) -> dict[str, Any]:
    """Mask ``path`` at ``rev`` and commit it as tag ``tag``; returns counts and the version."""
    from trainguard.versioning import rewrite_revision

    progress(f"masking {path}@{rev}")
    counts: dict[str, int] = {}

    def rewrite(dataset_dir: Path) -> str:
        counts.update(mask_dataset(dataset_dir, policy_path=policy_path, mask_all=mask_all))
        return (
            f"Mask {counts['masked']} PI value(s) without valid consent in {path} "
            f"(from {rev}; Art. 7(3))"
        )

    masked = rewrite_revision(repo, path, rev, tag=tag, rewrite=rewrite)
    return {**counts, "commit": masked.commit, "md5": masked.md5}
