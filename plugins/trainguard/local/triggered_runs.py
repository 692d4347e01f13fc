"""Run the DAG runs other DAGs trigger, while ``dag.test()`` runs the triggering DAG.

``dag.test()`` executes one DAG run in-process without a scheduler, so a run that a
``TriggerDagRunOperator`` creates (optimization training of a team's own training DAG)
would stay queued forever while the trigger waits for it. ``run_dag`` starts this module
as a second process beside it: it picks up queued runs from the metadata database and
executes them with the same minimal loop ``dag.test()`` uses (Airflow's own task runner,
real task instances and XComs), until its parent exits. A real deployment's scheduler
does this job; only the embedded demo and tests need it.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

POLL_SECONDS = 1.0


def _run_existing(dag_run: Any, dag: Any, session: Any) -> str:
    """Execute a queued DAG run to its end, as ``dag.test()`` executes a new one."""
    from airflow.models.dagbag import DBDagBag
    from airflow.sdk.definitions.dag import _run_task
    from airflow.utils.state import DagRunState, TaskInstanceState

    dag_run.dag = DBDagBag().get_dag_for_run(dag_run, session=session)
    dag_run.state = DagRunState.RUNNING
    session.commit()
    parent = os.getppid()
    while dag_run.state == DagRunState.RUNNING and os.getppid() == parent:
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
            time.sleep(POLL_SECONDS)
        for ti in scheduled:
            _run_task(ti=ti, task=dag.task_dict[ti.task_id], run_triggerer=True)
    return str(dag_run.state)


def _stop(signum: int, frame: Any) -> None:  # noqa: ARG001 - a signal handler
    # Never close the SQLite connections on the way out: the last connection a process
    # closes checkpoints and deletes the WAL file, which the parent still has open and
    # keeps writing to, unseen by anyone else (a hang observed in CI).
    os._exit(0)


def serve(parent_pid: int) -> None:
    """Execute queued DAG runs until the parent process is gone."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from sqlalchemy import select

    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    while os.getppid() == parent_pid:
        # Airflow's task runner replaces the SIGTERM handler while it runs a task; between
        # runs, SIGTERM (the parent's DAG run ended) stops this process at once.
        signal.signal(signal.SIGTERM, _stop)
        with create_session() as session:
            queued = session.scalars(
                select(DagRun).where(DagRun.state == DagRunState.QUEUED).order_by(DagRun.id)
            ).all()
            for dag_run in queued:
                dag = bag.get_dag(dag_run.dag_id)
                if dag is None:
                    continue  # not in this folder: a scheduler elsewhere may own it
                print(f"[triggered run] {dag_run.dag_id} {dag_run.run_id}: start", flush=True)
                state = _run_existing(dag_run, dag, session)
                print(f"[triggered run] {dag_run.dag_id} {dag_run.run_id}: {state}", flush=True)
        time.sleep(POLL_SECONDS)
    os._exit(0)  # the parent is gone; exit without closing connections (see _stop)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
