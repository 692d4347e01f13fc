"""Run a trainguard DAG in-process with Airflow's ``dag.test()`` (demo and tests).

This is Airflow's own single-process executor path: real task instances, XComs and
states in the metadata database, without a scheduler. The environment must already be
configured (``trainguard.embedded.apply_embedded_env``) before this module is imported.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainguard.exceptions import TrainguardError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

_DB_READY = False


@dataclass
class DagRunResult:
    dag_id: str
    run_id: str
    state: str
    task_states: dict[str, str]
    xcoms: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Runs its tasks triggered without waiting (model_assessment), run after it ended.
    triggered: list[DagRunResult] = field(default_factory=list)

    def xcom(self, task_id: str, key: str = "return_value") -> Any:
        return self.xcoms.get(task_id, {}).get(key)

    def states_of(self, task_id: str) -> list[str]:
        """States of a task's instances (one per mapped index, or one)."""
        return [
            state
            for key, state in sorted(self.task_states.items())
            if key == task_id or key.startswith(f"{task_id}[")
        ]

    def summary(self) -> str:
        """'task state' per task, mapped instances counted: 'scan_shard 4x success'."""
        from collections import Counter

        parts = []
        for task in dict.fromkeys(key.split("[")[0] for key in sorted(self.task_states)):
            mapped = task not in self.task_states
            for state, count in sorted(Counter(self.states_of(task)).items()):
                parts.append(f"{task} {count}x {state}" if mapped else f"{task} {state}")
        return ", ".join(parts)


def ensure_metadata_db() -> None:
    """Create or upgrade Airflow's metadata database (idempotent, once per process)."""
    global _DB_READY
    if not _DB_READY:
        from airflow.utils import db

        db.initdb()
        _DB_READY = True


@contextlib.contextmanager
def _output_to(log_file: Path | None) -> Iterator[None]:
    """Send everything written to fds 1 and 2 (Airflow's task logs) to ``log_file``."""
    if log_file is None:
        yield
        return
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log_file.open("ab") as handle:
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _run_existing(dag_run: Any, dag: Any, session: Any) -> str:
    """Execute a queued DAG run to its end, with the minimal loop ``dag.test()`` uses for
    a new one (Airflow's own task runner, real task instances and XComs)."""
    from airflow.models.dagbag import DBDagBag
    from airflow.sdk.definitions.dag import _run_task
    from airflow.utils.state import DagRunState, TaskInstanceState

    dag_run.dag = DBDagBag().get_dag_for_run(dag_run, session=session)
    dag_run.state = DagRunState.RUNNING
    session.commit()
    while dag_run.state == DagRunState.RUNNING:
        session.expire_all()
        schedulable, _ = dag_run.update_state(session=session)
        for ti in schedulable:
            ti.try_number += 1
            ti.state = TaskInstanceState.SCHEDULED
        session.commit()
        scheduled = [
            ti
            for ti in dag_run.get_task_instances(session=session)
            if ti.state == TaskInstanceState.SCHEDULED
        ]
        if not scheduled and dag_run.state == DagRunState.RUNNING:
            break  # nothing can run in this process (a sensor waiting on the world)
        for ti in scheduled:
            _run_task(ti=ti, task=dag.task_dict[ti.task_id], run_triggerer=True)
    return str(dag_run.state)


def _run_queued(bag: Any) -> list[tuple[str, str, str]]:
    """Run every queued DAG run of this folder's DAGs (the ones a task just triggered);
    (DAG id, run id, final state) of each."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from sqlalchemy import select

    with create_session() as session:
        queued = session.scalars(
            select(DagRun).where(DagRun.state == DagRunState.QUEUED).order_by(DagRun.id)
        ).all()
        finished = []
        for dag_run in queued:
            dag = bag.get_dag(dag_run.dag_id)
            if dag is not None:
                state = _run_existing(dag_run, dag, session)
                finished.append((dag_run.dag_id, dag_run.run_id, state))
        return finished


@contextlib.contextmanager
def _triggered_runs_inline(bag: Any) -> Iterator[None]:
    """Run the DAG runs a task triggers, in this process, before its wait resumes.

    ``dag.test()`` has no scheduler: a run that ``TriggerDagRunOperator`` creates (the
    optimization training a remediation triggers) would stay queued while the trigger
    waits. The embedded configuration makes the trigger deferrable, and ``dag.test()``
    runs a deferred task's trigger in line (``_run_inline_trigger``); this runs the queued
    runs first, one after the other, so the trigger finds them finished. One process
    only: a second process on the same SQLite database is not safe. A real deployment's
    scheduler and triggerer do all of this themselves.
    """
    from airflow.sdk.definitions import dag as dag_module

    original = dag_module._run_inline_trigger

    def run_then_wait(trigger: Any, task_sdk_ti: Any) -> Any:
        _run_queued(bag)
        return original(trigger, task_sdk_ti)

    dag_module._run_inline_trigger = run_then_wait
    try:
        yield
    finally:
        dag_module._run_inline_trigger = original


def run_dag(dag_id: str, conf: dict[str, Any], *, log_file: Path | None = None) -> DagRunResult:
    """Parse the DAG from the configured dags folder and run it once with ``conf``."""
    from airflow.dag_processing.dagbag import DagBag

    with _output_to(log_file):
        ensure_metadata_db()
        bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
        if bag.import_errors:
            problems = "; ".join(f"{k}: {v.splitlines()[-1]}" for k, v in bag.import_errors.items())
            raise TrainguardError(f"DAG files failed to import: {problems}")
        dag = bag.get_dag(dag_id)
        if dag is None:
            raise TrainguardError(f"no DAG '{dag_id}' in {bag.dag_folder}")
        with _triggered_runs_inline(bag):
            dag_run = dag.test(run_conf=conf)
        # A trigger that does not wait leaves its run queued; a scheduler would start it.
        triggered = _run_queued(bag)
    result = _result(dag_id, dag_run)
    result.triggered = [_result(dag_id, run) for dag_id, run in _runs(triggered)]
    return result


def _runs(finished: list[tuple[str, str, str]]) -> list[tuple[str, Any]]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    found = []
    with create_session() as session:
        for dag_id, run_id, _ in finished:
            run = session.query(DagRun).filter_by(dag_id=dag_id, run_id=run_id).one()
            run.get_task_instances(session=session)  # loaded while the session is open
            found.append((dag_id, run))
            session.expunge(run)
    return found


def _result(dag_id: str, dag_run: Any) -> DagRunResult:
    return DagRunResult(
        dag_id=dag_id,
        run_id=dag_run.run_id,
        state=str(dag_run.state),
        task_states={
            ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]": str(ti.state)
            for ti in dag_run.get_task_instances()
        },
        xcoms=_xcoms(dag_id, dag_run.run_id),
    )


def _xcoms(dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    found: dict[str, dict[str, Any]] = {}
    with create_session() as session:
        rows = (
            session.query(XComModel)
            .filter(XComModel.dag_id == dag_id, XComModel.run_id == run_id)
            .all()
        )
        for row in rows:
            found.setdefault(row.task_id, {})[row.key] = XComModel.deserialize_value(row)
    return found
