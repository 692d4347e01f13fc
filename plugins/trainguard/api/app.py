"""trainguard's FastAPI app, mounted by the plugin at ``/trainguard`` in Airflow's API server.

``/trainguard/ui/``      the Governance page (framed by the Airflow UI as an external view)
``/trainguard/api/v1/``  gates and findings, violations (file, list, transition), exports
``/trainguard/openapi.json``  the schema of both

Every route depends on ``auth.principal`` (Airflow's JWT, checked by its auth manager);
writes also need a configured role (``auth.require``). Bodies over
``[trainguard] max_request_bytes`` are refused before they are parsed. Validation errors
name the field and never echo the submitted value, so a phone number sent in the wrong
field does not come back in the response.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from functools import lru_cache
from typing import Annotated, Any, Literal

from fastapi import BackgroundTasks, Depends, FastAPI, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from trainguard.api.auth import Principal, Refused, principal, require
from trainguard.exceptions import (
    ContractError,
    ExportError,
    LineageError,
    TrainguardError,
    TransitionNotAllowed,
    ViolationNotFound,
)

log = logging.getLogger(__name__)
DEFAULT_MAX_REQUEST_BYTES = 64 * 1024
Who = Annotated[Principal, Depends(principal)]
# The page has no scripts; only the Airflow UI (same origin) may frame it.
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; "
                                           "script-src 'none'; frame-ancestors 'self'",
                "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
ViolationId = Annotated[str, PathParam(pattern=r"^V-[0-9]{8}-[0-9a-f]{8}$")]
JobId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{16}$")]
RunId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{32}$")]


# --- request and response bodies -------------------------------------------------------

class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


PIKindName = Literal["resident_id", "mobile_phone", "landline_phone", "email", "bank_card",
                     "passport", "ip_address", "license_plate", "health", "biometric"]


class PIValue(_Body):
    kind: PIKindName
    value: str = Field(min_length=1, max_length=200,
                       description="hashed on arrival with the deployment's key, never stored")


class PIHmac(_Body):
    kind: PIKindName
    hmac: str = Field(pattern=r"^[0-9a-f]{64}$", description="trainguard pi-hmac KIND VALUE")


class _ViolationIn(_Body):
    summary: str = Field(min_length=1, max_length=500,
                         description="personal information in it is masked before storing")
    owner: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]+$")
    model_name: str | None = Field(None, min_length=1, max_length=200)
    model_version: str | None = Field(None, pattern=r"^[0-9]{1,9}$")


class HarmfulOutputIn(_ViolationIn):
    """A generated output that breaks Art. 4 (Art. 15: fix within the deadline)."""

    kind: Literal["harmful_output"]
    prompt: str = Field("", max_length=20_000)
    output: str = Field(min_length=1, max_length=20_000, pattern=r"\S")


class PIRequestIn(_ViolationIn):
    """A data subject's request to delete their personal information (Art. 13)."""

    kind: Literal["pi_request"]
    pi: list[PIValue] = Field(default_factory=list, max_length=20)
    pi_hmacs: list[PIHmac] = Field(default_factory=list, max_length=20)


class IPComplaintIn(_ViolationIn):
    """A rights holder's complaint about a work or a source (Art. 13)."""

    kind: Literal["ip_complaint"]
    work_id: str = Field("", max_length=200)
    work_text: str = Field("", max_length=20_000)
    source_id: str = Field("", max_length=200)


class DataFindingIn(_ViolationIn):
    """A problem found in a source's records after training (Art. 15)."""

    kind: Literal["data_finding"]
    source_id: str = Field(min_length=1, max_length=200, pattern=r"\S")
    finding: str = Field("", max_length=200)


ViolationIn = Annotated[HarmfulOutputIn | PIRequestIn | IPComplaintIn | DataFindingIn,
                        Field(discriminator="kind")]


class TransitionIn(_Body):
    to: Literal["triaged", "filtered", "remediating", "verified", "closed", "rejected"]
    reason: str = Field("", max_length=1000)


class ExportIn(_Body):
    model_name: str = Field(min_length=1, max_length=200)
    model_version: str = Field(pattern=r"^[0-9]{1,9}$")


class Problem(BaseModel):
    detail: Any


class Event(BaseModel):
    seq: int
    action: str
    from_status: str | None
    to_status: str | None
    actor: str
    at: str


class ViolationOut(BaseModel):
    """A violation as stored: masked texts and HMACs only, never a PI value."""

    id: str
    kind: str
    clause: str
    status: str
    summary: str
    owner: str
    reported_by: str
    reported_at: str
    deadline: str
    model_name: str | None
    model_version: str | None
    subject: dict[str, Any]
    evidence: dict[str, Any]
    updated_at: str
    closed_at: str | None
    sla: Literal["on_time", "at_risk", "overdue", "closed", "rejected"]
    time_left_hours: float
    events: list[Event] | None = None


class ExportJob(BaseModel):
    id: str
    model_name: str
    model_version: str
    state: Literal["queued", "running", "done", "failed"]
    requested_by: str
    requested_at: str
    finished_at: str | None
    error: str | None
    archive: str | None
    manifest_sha256: str | None
    algorithm: str | None
    files: list[str]


# --- plumbing --------------------------------------------------------------------------

def _setting(option: str, default: str) -> str:
    from airflow.configuration import conf

    return conf.get("trainguard", option, fallback=default)


class BodySizeLimit:
    """Refuse (413) a body over the limit, declared or streamed, before the app reads it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = int(_setting("max_request_bytes", str(DEFAULT_MAX_REQUEST_BYTES)))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(send, limit)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > limit:
                await _too_large(send, limit)
                return
        body = b"".join(chunks)
        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _too_large(send: Any, limit: int) -> None:
    import json

    payload = json.dumps({"detail": f"request body over {limit} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


@lru_cache(maxsize=1)
def _registry() -> Any:
    from trainguard.violations import Registry

    return Registry()  # one per process: opening upgrades the schema


def _policy() -> Any:
    from trainguard.policy import load_policy

    return load_policy(os.environ.get("TRAINGUARD_POLICY") or None)


def _jobs() -> Any:
    from trainguard.governance import ExportJobs

    return ExportJobs.default()


def _is_page(request: Request) -> bool:
    return request.url.path.startswith(f"{request.scope.get('root_path', '')}/ui")


def _login_url() -> str:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_url_login(next_url="/plugin/governance")


def _problem(request: Request, status: int, detail: Any,
             headers: dict[str, str] | None = None) -> Any:
    """JSON for API clients; for the Governance page, a page that says what went wrong."""
    if not _is_page(request):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    from trainguard.governance_page import problem

    if isinstance(detail, list):
        detail = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in detail)
    sign_in = _login_url() if status == 401 else None
    return HTMLResponse(problem(status, str(detail), sign_in), status_code=status,
                        headers=headers)


def _field_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Where and what, never the value: Pydantic's "input" and "ctx" are dropped, and a
    message that quotes the input (an unknown ``kind``, say) has it replaced."""
    cleaned = []
    for error in errors:
        message = str(error.get("msg", ""))
        # Pydantic quotes the value itself in few messages: a str input, or the tag of a
        # discriminated union ("Input tag '...' found using 'kind' ...").
        for quoted in (error.get("input"), (error.get("ctx") or {}).get("tag")):
            if isinstance(quoted, str) and quoted and quoted in message:
                message = message.replace(quoted, "<the value sent>")
        cleaned.append({"loc": list(error.get("loc", ())), "msg": message,
                        "type": error.get("type", "")})
    return cleaned


def create_app() -> FastAPI:
    app = FastAPI(
        title="trainguard governance API",
        version="1",
        description=("Gates, violations and provenance exports of trainguard. Every request "
                     "needs an Airflow JWT (Authorization: Bearer, from POST /auth/token); "
                     "writes need a role listed in the [trainguard] section of airflow.cfg."),
        docs_url=None, redoc_url=None, openapi_url=None,
        generate_unique_id_function=lambda route: route.name,
    )
    app.add_middleware(BodySizeLimit)
    # MLflow's artifact reads would each draw a progress bar in the server's log.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Any:
        return _problem(request, exc.status_code, exc.detail, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Any:
        return _problem(request, 422, _field_errors(exc.errors()))

    @app.exception_handler(TrainguardError)
    async def _trainguard(request: Request, exc: TrainguardError) -> Any:
        if isinstance(exc, ViolationNotFound | LineageError):
            return _problem(request, 404, str(exc))
        if isinstance(exc, TransitionNotAllowed | ExportError):
            return _problem(request, 409, str(exc))
        if isinstance(exc, ContractError):
            location = ["body", exc.field] if exc.field else ["body"]
            return _problem(request, 422, [{"loc": location, "msg": str(exc),
                                            "type": "trainguard.contract"}])
        # The registry or MLflow is down, or the deployment lacks a key: not the caller's
        # fault, and nothing was written.
        log.error("trainguard API: %s", exc)
        return _problem(request, 503, str(exc))

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(_: Who) -> JSONResponse:
        return JSONResponse(app.openapi())

    _api_routes(app)
    _page_routes(app)
    return app


# --- the REST API ----------------------------------------------------------------------

_errors: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "the body is not JSON (or not a form)"},
    401: {"model": Problem, "description": "not signed in, or the token expired"},
    403: {"model": Problem, "description": "signed in without the role this needs"},
    413: {"model": Problem, "description": "request body too large"},
    422: {"model": Problem, "description": "invalid input: the fields, never their values"},
}


def _api_routes(app: FastAPI) -> None:
    v1 = "/api/v1"

    @app.get(f"{v1}/gates", responses=_errors, tags=["gates"])
    def list_gates(who: Who, dataset: Annotated[str | None, Query(
                       max_length=500, pattern=r"^[\w./-]+$")] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
        """Gate runs, newest first: decision, failed checks and clauses, models trained."""
        from trainguard.governance import gate_history

        require(who, "read", "read gates")
        return gate_history(dataset=dataset, limit=limit)

    @app.get(f"{v1}/gates/{{run_id}}", responses={**_errors, 404: {"model": Problem}},
             tags=["gates"])
    def get_gate(who: Who, run_id: RunId) -> dict[str, Any]:
        """One gate run with every finding (record ids, never values) and its waivers."""
        from trainguard.governance import gate_detail

        require(who, "read", "read gates")
        return gate_detail(run_id)

    @app.get(f"{v1}/models", responses=_errors, tags=["models"])
    def list_models(who: Who) -> list[dict[str, Any]]:
        """Registered model versions trained by trainguard, with their gate runs."""
        from trainguard.governance import model_versions

        require(who, "read", "read models")
        return model_versions()

    @app.get(f"{v1}/sources", responses=_errors, tags=["gates"])
    def list_sources(who: Who) -> list[dict[str, Any]]:
        """Each dataset's sources as its newest gate saw them: licence, evidence, checks."""
        from trainguard.governance import sources

        require(who, "read", "read sources")
        return sources()

    @app.get(f"{v1}/violations", responses=_errors, tags=["violations"])
    def list_violations(
        who: Who,
        status: Annotated[Literal["reported", "triaged", "filtered", "remediating",
                                  "verified", "closed", "rejected"] | None, Query()] = None,
        kind: Annotated[Literal["harmful_output", "data_finding", "pi_request",
                                "ip_complaint"] | None, Query()] = None,
        open_only: Annotated[bool, Query(alias="open")] = False,
    ) -> list[ViolationOut]:
        """Violations with their deadline, SLA state and hours left."""
        require(who, "read", "read violations")
        return _views(_registry().list(status=status, kind=kind, open_only=open_only))

    @app.get(f"{v1}/violations/{{violation_id}}",
             responses={**_errors, 404: {"model": Problem}}, tags=["violations"])
    def get_violation(who: Who, violation_id: ViolationId) -> ViolationOut:
        """One violation and its event history."""
        require(who, "read", "read violations")
        registry = _registry()
        [view] = _views([registry.get(violation_id)])
        view["events"] = [{**{key: event[key] for key in ("seq", "action", "from_status",
                                                          "to_status", "actor")},
                           "at": str(event["at"])}  # stored as ISO text
                          for event in registry.events(violation_id)]
        return view

    # OpenAPI links: what a created resource's id opens (clients and schemathesis follow them).
    violation_links = {"links": {
        "GetViolation": {"operationId": "get_violation",
                         "parameters": {"violation_id": "$response.body#/id"}},
        "TransitionViolation": {"operationId": "transition_violation",
                                "parameters": {"violation_id": "$response.body#/id"}}}}
    export_links = {"links": {
        "GetExport": {"operationId": "get_export", "parameters": {"job_id": "$response.body#/id"}},
        "DownloadExport": {"operationId": "download_export",
                           "parameters": {"job_id": "$response.body#/id"}}}}

    @app.post(f"{v1}/violations", status_code=201, responses={**_errors, 201: violation_links},
              tags=["violations"])
    def file_violation(who: Who, body: ViolationIn) -> ViolationOut:
        """File a violation (reporters, reviewers). PI values are hashed, texts masked."""
        from trainguard.filtering import intake_subject, mask_pi

        require(who, "report", "file violations")
        fields = body.model_dump()
        subject = intake_subject(
            body.kind, prompt=fields.get("prompt", ""), output=fields.get("output", ""),
            pi=[(item["kind"], item["value"]) for item in fields.get("pi", [])],
            pi_hmacs=[(item["kind"], item["hmac"]) for item in fields.get("pi_hmacs", [])],
            work_id=mask_pi(fields.get("work_id", ""))[0],
            work_text=fields.get("work_text", ""), source_id=fields.get("source_id", ""),
            finding=mask_pi(fields.get("finding", ""))[0])
        violation = _registry().report(
            kind=body.kind, summary=mask_pi(body.summary)[0], subject=subject,
            reported_by=who.name, owner=body.owner, policy=_policy(),
            model_name=body.model_name, model_version=body.model_version)
        log.info("trainguard API: %s filed %s (%s)", who.name, violation.id, violation.kind)
        return _views([violation])[0]

    @app.post(f"{v1}/violations/{{violation_id}}/transitions",
              responses={**_errors, 404: {"model": Problem},
                         409: {"model": Problem, "description": "not allowed from its status"}},
              tags=["violations"])
    def transition_violation(who: Who, violation_id: ViolationId, body: TransitionIn
                             ) -> ViolationOut:
        """Move a violation along its lifecycle (reviewers). ``rejected`` needs a reason."""
        from trainguard.filtering import move

        require(who, "review", "transition violations")
        violation = move(_registry(), violation_id, body.to, actor=who.name, reason=body.reason)
        log.info("trainguard API: %s moved %s to %s", who.name, violation.id, body.to)
        return _views([violation])[0]

    @app.post(f"{v1}/exports", status_code=202,
              responses={**_errors, 404: {"model": Problem}, 202: export_links},
              tags=["exports"])
    def start_export(who: Who, body: ExportIn, background: BackgroundTasks) -> ExportJob:
        """Start writing and signing a model version's provenance bundle (auditors)."""
        return _start_export(who, body.model_name, body.model_version, background)

    @app.get(f"{v1}/exports/{{job_id}}", responses={**_errors, 404: {"model": Problem}},
             tags=["exports"])
    def get_export(who: Who, job_id: JobId) -> ExportJob:
        """An export job: queued, running, done (with the manifest hash) or failed."""
        require(who, "export", "read exports")
        return _jobs().get(job_id)

    @app.get(f"{v1}/exports/{{job_id}}/bundle.zip",
             responses={**_errors, 404: {"model": Problem}, 409: {"model": Problem},
                        200: {"content": {"application/zip": {}}}},
             response_class=FileResponse, tags=["exports"])
    def download_export(who: Who, job_id: JobId
                        ) -> FileResponse:
        """The signed bundle as a zip (verify with ``trainguard export verify``)."""
        return _download(who, job_id)


def _views(violations: list[Any]) -> list[dict[str, Any]]:
    from trainguard.governance import violation_view

    now = dt.datetime.now(dt.UTC)
    at_risk = _policy().violations.at_risk_fraction
    return [violation_view(v, now, at_risk) for v in violations]


def _start_export(who: Principal, model_name: str, version: str,
                  background: BackgroundTasks) -> dict[str, Any]:
    from trainguard.export import signer_from_env
    from trainguard.governance import require_model_version

    require(who, "export", "start exports")
    signer_from_env()  # no signing key configured: refuse now, not in the background
    require_model_version(model_name, version)
    jobs = _jobs()
    job = jobs.start(model_name, version, requested_by=who.name)
    background.add_task(jobs.run, job["id"])
    log.info("trainguard API: %s started export %s of %s v%s", who.name, job["id"],
             model_name, version)
    return job


def _download(who: Principal, job_id: str) -> FileResponse:
    require(who, "export", "download exports")
    path = _jobs().archive(job_id)
    return FileResponse(path, media_type="application/zip", filename=path.name)


# --- the Governance page ---------------------------------------------------------------

def _page_routes(app: FastAPI) -> None:

    @app.get("/ui", include_in_schema=False)
    def page_redirect() -> RedirectResponse:
        return RedirectResponse("ui/", status_code=307)

    @app.get("/ui/", response_class=HTMLResponse, include_in_schema=False)
    def page(who: Who) -> HTMLResponse:
        from trainguard.governance import gate_history, model_versions, sources
        from trainguard.governance_page import render

        require(who, "read", "open the Governance page")
        errors: list[str] = []

        def gather(what: str, read: Any) -> Any:
            try:
                return read()
            except TrainguardError as exc:  # show what can be shown; name what cannot
                errors.append(f"{what}: {exc}")
                return []

        return HTMLResponse(headers=PAGE_HEADERS, content=render(
            user=who.name, roles=list(who.roles), can_export=who.may("export"),
            can_review=who.may("review"),
            gates=gather("gate history", gate_history),
            models=gather("models", model_versions),
            violations=gather("violations", lambda: _views(_registry().list(open_only=True))),
            sources=gather("sources", sources),
            exports=gather("exports", lambda: _jobs().list()) if who.may("export") else [],
            mlflow_ui=os.environ.get("TRAINGUARD_MLFLOW_UI_URL", "http://127.0.0.1:5000"),
            errors=errors))

    @app.post("/ui/exports", include_in_schema=False)
    def page_export(who: Who, background: BackgroundTasks,
                    model_name: Annotated[str, Form(max_length=200)],
                    model_version: Annotated[str, Form(pattern=r"^[0-9]{1,9}$")]
                    ) -> RedirectResponse:
        _start_export(who, model_name, model_version, background)
        return RedirectResponse("./#exports", status_code=303)

    @app.post("/ui/violations/{violation_id}/transitions", include_in_schema=False)
    def page_transition(who: Who, violation_id: ViolationId,
                        to: Annotated[str, Form(max_length=20)],
                        reason: Annotated[str, Form(max_length=1000)] = "") -> RedirectResponse:
        from trainguard.filtering import move

        require(who, "review", "transition violations")
        move(_registry(), violation_id, to, actor=who.name, reason=reason)
        log.info("trainguard UI: %s moved %s to %s", who.name, violation_id, to)
        return RedirectResponse("../../#violations", status_code=303)

    @app.get("/ui/exports/{job_id}/download", include_in_schema=False)
    def page_download(who: Who, job_id: JobId
                      ) -> FileResponse:
        return _download(who, job_id)

    @app.get("/ui/gates/{run_id}/data_docs/{path:path}", include_in_schema=False)
    def data_docs(who: Who, run_id: RunId,
                  path: str) -> FileResponse:
        """The gate run's Great Expectations Data Docs, read from its MLflow artifacts."""
        require(who, "read", "read Data Docs")
        # Sandboxed: the pages are GX's, and must not act with the reader's session.
        return FileResponse(_data_docs_file(run_id, path), headers={
            "Content-Security-Policy": "sandbox allow-scripts allow-popups",
            "X-Content-Type-Options": "nosniff"})


def _data_docs_file(run_id: str, path: str) -> Any:
    from pathlib import PurePosixPath

    import mlflow

    from trainguard.tracking import mlflow_errors

    parts = PurePosixPath(path).parts
    if not parts or any(part in ("..", "") or part.startswith("/") for part in parts):
        raise LineageError(f"no Data Docs page {path!r}")
    from trainguard.paths import trainguard_home

    cache = trainguard_home() / "cache" / "data-docs" / run_id
    target = cache.joinpath("data_docs", *parts)
    if not target.is_file():
        with mlflow_errors(f"read the Data Docs of gate run {run_id}"):
            try:
                mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path=f"data_docs/{path}",
                    dst_path=str(target.parent))  # MLflow writes <dst>/<basename>
            except Exception as exc:  # noqa: BLE001 - a missing page is a 404
                if "RESOURCE_DOES_NOT_EXIST" in str(getattr(exc, "error_code", "")) or \
                        isinstance(exc, FileNotFoundError | OSError):
                    raise LineageError(f"no Data Docs page {path!r} in run {run_id}") from None
                raise
    if not target.is_file():
        raise LineageError(f"no Data Docs page {path!r} in run {run_id}")
    return target


app = create_app()
