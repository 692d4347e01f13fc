"""What handing the gate's files on through S3 costs (TRAINGUARD_SHARED_URL).

    python bench/shared_url.py [--scale 1.0] [--shards 4]

Runs the steps of ``pretraining_gate`` in order as the operators call them (list_shards,
each shard's scan, the near-duplicate plan, its mapped pairs and windows groups, the
gate) on the demo's "planted" revision, three ways on the same data in the same run:

1. ``one disk``: one TRAINGUARD_HOME, no URL (the baseline: a volume every worker shares);
2. ``one disk + S3``: the same, with TRAINGUARD_SHARED_URL on an S3 server (moto's server
   mode, a process of its own on loopback): what the pushes and pulls add;
3. ``no shared disk``: every step in a TRAINGUARD_HOME of its own, as on a worker of its
   own, with S3: what a deployment with no shared disk pays in all (each step also
   fetches the version from the DVC remote into its own home, and trains or loads the
   classifier there).

The S3 server runs on this machine, so the figures are of the client's work and of the
copies, not of a network. Prints seconds per step, the bytes in the bucket, and that the
decisions agree; the last line is the RESULT line.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BUCKET = "trainguard-bench"


def _endpoint() -> tuple[Any, str]:
    """moto's S3 server in a process of its own (a thread would share this one's GIL)."""
    import subprocess
    import urllib.request

    import boto3

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)  # noqa: S310
            break
        except OSError:
            time.sleep(0.1)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
        }
    )
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    return server, endpoint


def _bucket_bytes(endpoint: str, prefix: str) -> int:
    import boto3

    pages = boto3.client("s3", endpoint_url=endpoint).get_paginator("list_objects_v2")
    return sum(
        o["Size"]
        for page in pages.paginate(Bucket=BUCKET, Prefix=prefix)
        for o in page.get("Contents", [])
    )


def _steps(version: Any, policy: str, run_id: str, home: Any) -> tuple[dict[str, float], Any]:
    """Every step in order, each after ``home(step)``; seconds by kind of step."""
    from trainguard import pipeline
    from trainguard.exceptions import GateFailed

    seconds: dict[str, float] = {}

    def timed(kind: str, name: str, call: Any) -> Any:
        home(name)
        start = time.perf_counter()
        try:
            return call()
        finally:
            seconds[kind] = seconds.get(kind, 0.0) + time.perf_counter() - start

    shards = timed("list_shards", "list", lambda: pipeline.list_shards(version, policy_path=policy))
    for shard in shards:
        timed(
            "scan_shard",
            f"scan-{shard}",
            lambda s=shard: pipeline.scan_version_shard(version, s, policy_path=policy),
        )
    groups = timed(
        "plan",
        "plan",
        lambda: pipeline.plan_near_duplicates(version, run_id=run_id, policy_path=policy),
    )
    for stage in ("pairs", "windows"):
        for group in groups:
            timed(
                stage,
                f"{stage}-{group}",
                lambda s=stage, g=group: pipeline.near_duplicate_stage(
                    version, s, g, run_id=run_id, policy_path=policy
                ),
            )

    def gate() -> Any:
        try:
            return pipeline.gate_version(
                version, stage="pretraining", policy_path=policy, dag_run_id=run_id
            ).report
        except GateFailed as failed:
            return failed.report

    report = timed("gate", "gate", gate)
    return seconds, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved; medians printed")
    args = parser.parse_args()
    import statistics

    from trainguard.local.demo_data import DEMO_HASH_KEY, PRETRAINING, build_demo_repo
    from trainguard.local.embedded import apply_embedded_env
    from trainguard.versioning import resolve_version

    workdir = Path(tempfile.mkdtemp(prefix="trainguard-shared-url-"))
    apply_embedded_env(workdir / "embedded")
    os.environ["TRAINGUARD_HASH_KEY"] = DEMO_HASH_KEY
    demo = build_demo_repo(workdir / "demo", scale=args.scale, pretraining_shards=args.shards)
    version = resolve_version(demo.repo, PRETRAINING, "planted")
    policy = str(demo.policy)
    server, endpoint = _endpoint()
    results: dict[str, tuple[dict[str, float], Any]] = {}
    rounds: dict[str, list[dict[str, float]]] = {}
    try:
        ways = {
            "one disk": (None, lambda step: None),
            "one disk + S3": (f"s3://{BUCKET}/one-disk", lambda step: None),
            "no shared disk": (
                f"s3://{BUCKET}/no-shared-disk",
                # A fresh folder per step and round: nothing fetched or trained is reused.
                lambda step: os.environ.update(
                    {"TRAINGUARD_HOME": str(workdir / "w" / f"{time.monotonic_ns()}-{step}")}
                ),
            ),
        }
        # Round 0 warms the process (imports, GX, MLflow) and is not counted.
        for round_ in range(args.rounds + 1):
            for number, (way, (url, home)) in enumerate(ways.items()):
                os.environ["TRAINGUARD_HOME"] = str(workdir / f"home-{round_}-{number}")
                os.environ.pop("TRAINGUARD_SHARED_URL", None)
                if url:
                    os.environ["TRAINGUARD_SHARED_URL"] = f"{url}-{round_}"
                seconds, report = _steps(version, policy, f"bench-{round_}-{number}", home)
                print(f"round {round_} {way}: {sum(seconds.values()):.1f} s", file=sys.stderr)
                if round_:
                    rounds.setdefault(way, []).append(seconds)
                    results[way] = (seconds, report)
        for way, measured in rounds.items():
            medians = {k: statistics.median(r[k] for r in measured) for k in measured[0]}
            results[way] = (medians, results[way][1])
        in_bucket = _bucket_bytes(endpoint, "one-disk-1/")
    finally:
        server.terminate()
        server.wait()

    records = results["one disk"][1].records
    kinds = list(results["one disk"][0])
    print(
        f"\n{records:,} records in {args.shards} shards (demo scale {args.scale}), "
        f"seconds, medians of {args.rounds} interleaved rounds after a warm-up:"
    )
    print(f"{'step':>14} " + " ".join(f"{way:>15}" for way in results))
    for kind in [*kinds, "total"]:
        row = [
            sum(r[0].values()) if kind == "total" else r[0].get(kind, 0.0) for r in results.values()
        ]
        print(f"{kind:>14} " + " ".join(f"{value:>15.1f}" for value in row))

    def decided(report: Any) -> list[tuple[str, str, str]]:
        return sorted((f.check, f.source_id or "", f.status.value) for f in report.findings)

    same = all(decided(r[1]) == decided(results["one disk"][1]) for r in results.values())
    totals = {way: sum(r[0].values()) for way, r in results.items()}
    print(f"bytes kept in the bucket (scans and partials): {in_bucket / 1e6:.1f} MB; same={same}")
    print(
        f"RESULT records={records} one_disk_s={totals['one disk']:.1f} "
        f"one_disk_s3_s={totals['one disk + S3']:.1f} "
        f"no_shared_disk_s={totals['no shared disk']:.1f} bucket_mb={in_bucket / 1e6:.1f} "
        f"same={same}"
    )


if __name__ == "__main__":
    main()
