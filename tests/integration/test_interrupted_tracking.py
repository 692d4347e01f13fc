"""Issue 18, item 3: nothing half-registered when MLflow goes away mid-write.

A real ``mlflow server`` on the session's tracking store, behind a TCP proxy of this
test's own that, once armed, either forwards one request and loses its answer (the
server did the write, the client never hears of it) or loses the request itself. The
proxy stands in for a network that fails, which cannot be had on demand otherwise.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from conftest import MODEL_NAME, WORKDIR, Stack, clean_env, mlflow_server

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration


class FlakyNetwork:
    """A TCP proxy: arm it with a path and it fails the next request to that path."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.armed: tuple[bytes, str] | None = None
        self.failed: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, path: bytes, mode: str) -> None:
        """``mode``: "lose_answer" (forward, drop the response) or "lose_request"."""
        self.armed = (path, mode)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connection, args=(client,), daemon=True).start()

    def _connection(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream))
        cut = threading.Event()

        def answers() -> None:
            with contextlib.suppress(OSError):
                while data := upstream.recv(65536):
                    if cut.is_set():
                        continue  # the server answered; the client never hears it
                    client.sendall(data)

        threading.Thread(target=answers, daemon=True).start()
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                armed = self.armed
                if armed and armed[0] in data.split(b"\r\n", 1)[0]:
                    self.armed = None
                    self.failed.append(armed[0])
                    cut.set()
                    if armed[1] == "lose_answer":
                        upstream.sendall(data)
                        _forward_rest(client, upstream)  # the body may follow
                        time.sleep(3)  # the server completes the write
                    break
                upstream.sendall(data)
        for end in (client, upstream):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()


def _forward_rest(client: socket.socket, upstream: socket.socket) -> None:
    client.settimeout(1)
    with contextlib.suppress(OSError):
        while data := client.recv(65536):
            upstream.sendall(data)


@pytest.fixture
def flaky_mlflow(monkeypatch: pytest.MonkeyPatch) -> Iterator[FlakyNetwork]:
    with mlflow_server(
        os.environ["MLFLOW_TRACKING_URI"], log=WORKDIR / "mlflow-flaky.log", env=clean_env()
    ) as base:
        network = FlakyNetwork(int(base.rsplit(":", 1)[1]))
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{network.port}")
        # MLflow's own retry would re-send the create (a second version): the lost answer
        # must reach trainguard. Its de-duplication of such versions is tested below too.
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
        yield network
        network.listener.close()


def _versions(client: Any, name: str) -> list[Any]:
    return sorted(client.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version))


def _training_runs(client: Any, request_id: str) -> list[Any]:
    from trainguard.training import REQUEST_TAG

    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments, f"tags.`{REQUEST_TAG}` = '{request_id}'")


def _request(clean_run: Any, model: str) -> Any:
    from trainguard.training import TrainingRequest

    return TrainingRequest(
        model_name=model,
        stage="pretraining",
        dataset=clean_run.xcom("resolve_dataset_version"),
        gate_run_id=clean_run.xcom("gate")["gate_run_id"],
    )


def test_a_lost_create_answer_leaves_one_complete_version_and_a_retry_keeps_it(
    flaky_mlflow: FlakyNetwork, clean_run: Any
) -> None:
    from mlflow import MlflowClient

    from trainguard.exceptions import TrackingError
    from trainguard.training import REQUEST_TAG, train_admitted
    from trainguard.training.responder import train

    model = "it-lost-answer"
    request = _request(clean_run, model)
    flaky_mlflow.arm(b"/model-versions/create", "lose_answer")
    with pytest.raises(TrackingError):
        train_admitted(request, train)
    assert flaky_mlflow.failed == [b"/model-versions/create"]
    client = MlflowClient()
    [created] = _versions(client, model)
    # Created in one call with its lineage: governed and complete, only unannounced.
    assert created.tags[REQUEST_TAG] == request.request_id
    assert created.tags["trainguard.gate_run_id"] == request.gate_run_id
    assert created.tags["trainguard.dataset.digest"] == request.dataset["md5"]
    assert "Lineage:" not in (created.description or "")
    [run] = _training_runs(client, request.request_id)
    assert run.info.status == "FINISHED"

    # MLflow's HTTP retry re-sending the create would have made a second version of the
    # run: the resume keeps the first, removes the other, and finishes its description.
    client.create_model_version(
        model,
        source=created.source,
        run_id=run.info.run_id,
        model_id=created.tags["trainguard.logged_model_id"],
        tags=created.tags,
    )
    assert len(_versions(client, model)) == 2
    registered = train_admitted(request, train)
    assert registered["model_version"] == str(created.version)
    [kept] = _versions(client, model)
    assert kept.version == created.version
    assert f"trainguard lineage {model} {created.version}" in kept.description
    assert len(_training_runs(client, request.request_id)) == 1  # not trained again


def test_a_run_cut_off_before_registration_is_registered_not_retrained(
    flaky_mlflow: FlakyNetwork, clean_run: Any
) -> None:
    """A training whose registration never reached MLflow, and a dead attempt left
    RUNNING: the next attempt ends the dead run and registers the finished one."""
    from mlflow import MlflowClient

    from trainguard.exceptions import TrackingError
    from trainguard.training import REQUEST_TAG, train_admitted
    from trainguard.training.contract import INTERRUPTED_TAG
    from trainguard.training.responder import train

    model = "it-lost-request"
    request = _request(clean_run, model)
    flaky_mlflow.arm(b"/registered-models/create", "lose_request")
    with pytest.raises(TrackingError):
        train_admitted(request, train)
    client = MlflowClient()
    assert _versions(client, model) == []
    [finished] = _training_runs(client, request.request_id)
    # A worker SIGKILLed in the middle of a later try leaves its run RUNNING.
    dead = client.create_run(
        finished.info.experiment_id, tags={REQUEST_TAG: request.request_id}
    ).info.run_id

    registered = train_admitted(request, train)
    [version] = _versions(client, model)
    assert registered["model_version"] == str(version.version) == "1"
    assert version.run_id == finished.info.run_id
    assert version.tags["trainguard.gate_run_id"] == request.gate_run_id
    runs = {r.info.run_id: r for r in _training_runs(client, request.request_id)}
    assert set(runs) == {finished.info.run_id, dead}  # no new training
    assert runs[dead].info.status == "FAILED"
    assert INTERRUPTED_TAG in runs[dead].data.tags


def test_a_gate_run_cut_off_after_its_decision_decides_nothing(
    flaky_mlflow: FlakyNetwork, stack: Stack, clean_run: Any
) -> None:
    """The end of a passing gate run is lost: it stays RUNNING tagged decision=pass.
    Readers pass it over, and a training request naming it is refused."""
    from mlflow import MlflowClient

    from trainguard.exceptions import GateError, TrainingRefused
    from trainguard.pipeline import gate_version
    from trainguard.tracking import latest_gate_run
    from trainguard.training import TrainingRequest, admit
    from trainguard.versioning import DatasetVersion

    version = DatasetVersion.from_dict(clean_run.xcom("resolve_dataset_version"))
    before = latest_gate_run(version)
    flaky_mlflow.arm(b"/runs/update", "lose_request")
    with pytest.raises(GateError, match="fail closed"):
        gate_version(version, stage="pretraining", policy_path=str(stack.demo.policy))
    client = MlflowClient()
    [cut] = client.search_runs(
        [client.get_run(before["run_id"]).info.experiment_id],
        "tags.`trainguard.kind` = 'gate'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    assert cut.info.run_id != before["run_id"]
    assert cut.info.status == "RUNNING"
    assert cut.data.tags["trainguard.decision"] == "pass"
    assert latest_gate_run(version) == before
    request = TrainingRequest(
        model_name=MODEL_NAME,
        stage="pretraining",
        dataset=version.to_dict(),
        gate_run_id=cut.info.run_id,
    )
    with pytest.raises(TrainingRefused, match="is not a passing gate run"):
        admit(request)
