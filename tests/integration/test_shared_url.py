"""TRAINGUARD_SHARED_URL on S3: the gate's tasks run on workers that share no filesystem.

A real S3-compatible server (moto's server mode, started here on loopback) holds what the
tasks hand to one another. Every step of ``pretraining_gate`` (list_shards, each shard's
scan, the near-duplicate plan and its mapped stages, the gate) runs in a TRAINGUARD_HOME
of its own, as on a worker of its own; only the S3 bucket and the DVC remote are shared.
The decision must be the one the same steps reach on one machine.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any

import pytest

from trainguard.exceptions import GateError, GateFailed
from trainguard.local.demo_data import PRETRAINING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from trainguard.local.demo_data import DemoRepo

pytestmark = pytest.mark.integration

BUCKET = "trainguard-shared"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a loopback port, with one empty bucket."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in _CREDENTIALS}
    os.environ.update({**_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint})
    try:
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_CREDENTIALS = {  # moto accepts any; botocore needs some
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ENDPOINT_URL": "",
}


def _objects(endpoint: str, prefix: str) -> list[str]:
    import boto3

    listing = boto3.client("s3", endpoint_url=endpoint).list_objects_v2(
        Bucket=BUCKET, Prefix=prefix
    )
    return sorted(o["Key"] for o in listing.get("Contents", []))


def _decided(call: Callable[[], Any]) -> Any:
    """The gate's report, whether it passed or failed."""
    try:
        return call().report
    except GateFailed as failed:
        return failed.report


def _findings(report: Any) -> list[tuple[str, str, str, str]]:
    return sorted((f.check, f.source_id or "", f.status.value, f.message) for f in report.findings)


def _run_every_step(version: Any, policy: str, run_id: str, home: Callable[[str], None]) -> Any:
    """The steps of pretraining_gate in order, each after ``home(step)``."""
    from trainguard import pipeline

    home("list_shards")
    shards = pipeline.list_shards(version, policy_path=policy)
    for shard in shards:
        home(f"scan-{shard}")
        pipeline.scan_version_shard(version, shard, policy_path=policy)
    home("plan")
    groups = pipeline.plan_near_duplicates(version, run_id=run_id, policy_path=policy)
    for stage in ("pairs", "windows"):
        for group in groups:
            home(f"{stage}-{group}")
            pipeline.near_duplicate_stage(version, stage, group, run_id=run_id, policy_path=policy)
    home("gate")
    return _decided(
        lambda: pipeline.gate_version(
            version, stage="pretraining", policy_path=policy, dag_run_id=run_id
        )
    )


def test_workers_that_share_only_an_s3_bucket_decide_as_one_machine(
    small_repo: DemoRepo, s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trainguard.versioning import resolve_version

    version = resolve_version(small_repo.repo, PRETRAINING, "planted")
    policy = str(small_repo.policy)

    one_machine = tmp_path / "one-machine"
    monkeypatch.setenv("TRAINGUARD_HOME", str(one_machine))
    monkeypatch.delenv("TRAINGUARD_SHARED_URL", raising=False)
    reference = _run_every_step(version, policy, "run-local", lambda step: None)

    monkeypatch.setenv("TRAINGUARD_SHARED_URL", f"s3://{BUCKET}/trainguard")
    homes: list[Path] = []

    def own_worker(step: str) -> None:
        homes.append(tmp_path / "workers" / step)
        monkeypatch.setenv("TRAINGUARD_HOME", str(homes[-1]))

    shared = _run_every_step(version, policy, "run-s3", own_worker)

    # The planted revision has near-duplicates, PI and licence findings to agree on.
    assert reference.metrics["scan.near_duplicates"] > 0
    assert reference.failed
    assert _findings(shared) == _findings(reference)
    for name in ("scan.near_duplicates", "scan.pi_found", "records"):
        assert shared.metrics[name] == reference.metrics[name], name
    # The gate used the stages the mapped tasks ran on other "workers", through S3.
    assert shared.metrics["scan.near_duplicate_groups_mapped"] >= 1
    assert reference.metrics["scan.near_duplicate_groups_mapped"] >= 1
    # No worker's folder held another's scans: each scan step wrote only its own shard.
    scan_homes = [h for h in homes if h.name.startswith("scan-")]
    assert len(scan_homes) == len(list((one_machine / "scans").rglob("scan-*.parquet"))) > 1
    for scan_home in scan_homes:
        assert len(list(scan_home.rglob("scan-*.parquet"))) == 1, scan_home
    # S3 keeps every scan and partial for the next run; the run's stage files are gone.
    keys = _objects(s3_endpoint, "trainguard/")
    assert sum(k.endswith(".parquet") and "/shards/scan-" in k for k in keys) == len(scan_homes)
    assert sum("/shards/partial-" in k for k in keys) == len(scan_homes)
    assert not [k for k in keys if "/duplicates/" in k]
    # ... and no worker kept a copy of the stage files either.
    assert not [p for h in homes for p in h.rglob("signatures.u32")]


def test_an_unreachable_shared_url_blocks_the_step_and_names_it(
    small_repo: DemoRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fail closed: nothing listens at the endpoint, so the scan cannot hand on its result."""
    from trainguard import pipeline
    from trainguard.versioning import resolve_version

    monkeypatch.setenv("TRAINGUARD_HOME", str(tmp_path / "worker"))
    monkeypatch.setenv("TRAINGUARD_SHARED_URL", f"s3://{BUCKET}/trainguard")
    for key, value in _CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    version = resolve_version(small_repo.repo, PRETRAINING, "planted")
    shard = pipeline.list_shards(version, policy_path=str(small_repo.policy))[0]
    with pytest.raises(GateError) as blocked:
        pipeline.scan_version_shard(version, shard, policy_path=str(small_repo.policy))
    message = str(blocked.value)
    assert "training blocked" in message
    assert "Art. 7" in message
    assert f"s3://{BUCKET}/trainguard/scans/" in message
    assert "TRAINGUARD_SHARED_URL" in message
    assert "could not push " in message and shard in message


def test_the_pretraining_gate_dag_hands_its_files_on_through_s3(
    small_repo: DemoRepo, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The DAG's operators call the same steps: a real dag.test() run through the bucket."""
    from mlflow import MlflowClient

    from trainguard.local.dagrun import run_dag

    from conftest import WORKDIR

    monkeypatch.setenv("TRAINGUARD_SHARED_URL", f"s3://{BUCKET}/dag")
    run = run_dag(
        "pretraining_gate",
        {
            "repo": str(small_repo.repo),
            "path": PRETRAINING,
            "rev": "planted",
            "model_name": "it-shared-url",
            "policy": str(small_repo.policy),
        },
        log_file=WORKDIR / "task-logs.txt",
    )
    assert run.states_of("gate") == ["failed"]  # the planted findings, not a storage error
    groups = run.states_of("near_duplicate_windows")
    assert groups and set(groups) == {"success"}
    failed = run.xcom("gate", "gate_failed")
    metrics = MlflowClient().get_run(failed["gate_run_id"]).data.metrics
    assert metrics["gate.scan.near_duplicate_groups_mapped"] == len(groups)
    keys = _objects(s3_endpoint, "dag/")
    assert len([k for k in keys if "/shards/scan-" in k]) == len(run.states_of("scan_shard"))
    assert not [k for k in keys if "/duplicates/" in k]
