"""Violation-registry filing throughput under concurrency: PostgreSQL against SQLite.

    python bench/registry.py [--workers 8] [--reports 25] [--pg postgresql+psycopg://...]

Each of ``--workers`` processes files ``--reports`` harmful-output reports (intake masking
included) into one registry; every report appends to the single hash chain. The same run
does it on PostgreSQL (a fresh database on the local server, dropped afterwards) and on
SQLite (the embedded default, a temporary file), then audits each chain. The last line is
the RESULT line.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def _file(url: str, worker: int, count: int) -> float:
    from trainguard.policy import load_policy
    from trainguard.violations import Registry
    from trainguard.violations.intake import intake_subject

    registry, policy = Registry(url), load_policy(None)
    started = time.perf_counter()
    for index in range(count):
        subject = intake_subject(
            "harmful_output",
            prompt=f"prompt {worker} {index}",
            output=f"reported output {worker} {index}",
        )
        registry.report(
            kind="harmful_output",
            summary=f"report {worker}-{index}",
            subject=subject,
            reported_by=f"user-{worker}",
            owner="safety",
            policy=policy,
        )
    registry.engine.dispose()
    return time.perf_counter() - started


def run(url: str, workers: int, reports: int) -> dict[str, float]:
    from trainguard.violations import Registry

    Registry(url).engine.dispose()  # migrate once, outside the timing
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_file, [url] * workers, range(workers), [reports] * workers))
    wall = time.perf_counter() - started
    registry = Registry(url)
    stored, problems = len(registry.list()), registry.audit()
    registry.engine.dispose()
    assert stored == workers * reports and not problems, (stored, problems)
    return {"wall_s": wall, "reports_s": stored / wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--reports", type=int, default=25)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    from sqlalchemy import create_engine, text

    name = f"trainguard_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{args.pg}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        pg = run(f"{args.pg}/{name}", args.workers, args.reports)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    with tempfile.TemporaryDirectory() as scratch:
        lite = run(f"sqlite:///{Path(scratch) / 'violations.db'}", args.workers, args.reports)
    total = args.workers * args.reports
    print(f"{total} reports from {args.workers} processes, one hash chain, audited intact")
    print(f"  PostgreSQL  {pg['wall_s']:6.2f} s  {pg['reports_s']:7.1f} reports/s")
    print(f"  SQLite      {lite['wall_s']:6.2f} s  {lite['reports_s']:7.1f} reports/s")
    print(
        f"RESULT registry_pg_reports_s={pg['reports_s']:.1f} "
        f"registry_sqlite_reports_s={lite['reports_s']:.1f} "
        f"ratio={pg['reports_s'] / lite['reports_s']:.2f} reports={total}"
    )


if __name__ == "__main__":
    main()
