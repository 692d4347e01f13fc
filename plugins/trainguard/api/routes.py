"""The routes: the REST API under ``/api/v1`` and the Governance page under ``/ui``.

Every route depends on ``auth.principal`` (Airflow's JWT, checked by its auth manager) and
calls ``auth.require`` for its permission before it reads or writes anything. Routes only
translate HTTP to core calls: filing goes through ``violations.intake.file_violation``,
moves through ``violations.filtering.move``, exports through ``api.export_jobs.ExportJobs``.

Kept as one module (about 550 lines): every route with the permission it requires, so a
security review reads who may do what in one file.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import lru_cache
from typing import Annotated, Any

from fastapi import BackgroundTasks, Depends, FastAPI, Form, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from trainguard.api.auth import Principal, principal, require
from trainguard.api.schemas import (
    ExportIn,
    ExportJob,
    ImpactIn,
    JobId,
    Problem,
    RunId,
    TransitionIn,
    ViolationId,
    ViolationIn,
    ViolationOut,
)
from trainguard.exceptions import LineageError, TrainguardError
from trainguard.settings import env
from trainguard.violations.kinds import ViolationKind, ViolationStatus

log = logging.getLogger(__name__)
Who = Annotated[Principal, Depends(principal)]
# The page has no scripts; only the Airflow UI (same origin) may frame it.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; "
    "script-src 'none'; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@lru_cache(maxsize=1)
def _registry() -> Any:
    from trainguard.violations import Registry

    return Registry()  # one per process: opening upgrades the schema


def _policy() -> Any:
    from trainguard.policy import load_policy

    return load_policy(env("TRAINGUARD_POLICY") or None)


def _jobs() -> Any:
    from trainguard.api.export_jobs import ExportJobs

    return ExportJobs.default()


# --- the REST API ----------------------------------------------------------------------

_errors: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "the body is not JSON (or not a form)"},
    401: {"model": Problem, "description": "not signed in, or the token expired"},
    403: {"model": Problem, "description": "signed in without the role this needs"},
    413: {"model": Problem, "description": "request body too large"},
    422: {"model": Problem, "description": "invalid input: the fields, never their values"},
}


def only_known_parameters(request: Request, known: set[str]) -> None:
    """A misspelt filter (``?stauts=open``) is a 422 naming it, never silently ignored:
    ignoring it would answer a different question than the one asked."""
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        expected = ", ".join(sorted(known))
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": f"unknown query parameter; this endpoint takes {expected}",
                    "type": "extra_forbidden",
                }
                for name in unknown
            ]
        )


def _any_of(values: Any) -> str:
    """A query pattern: one of an enum's values, or empty (a form's "any")."""
    return "^(" + "|".join(v.value for v in values) + ")?$"


PAGE_SIZE = 50  # violations per page of the Governance page
SORT_PATTERN = r"^-?(deadline|reported_at|updated_at|status|kind|owner|id)$"
GATE_PARAMETERS = {"dataset", "limit", "decision", "clause"}
VIOLATION_PARAMETERS = {
    "status",
    "kind",
    "open",
    "owner",
    "model",
    "q",
    "due_within_days",
    "overdue",
    "sort",
    "limit",
    "offset",
}


def api_routes(app: FastAPI) -> None:  # noqa: C901 - one short nested function per route
    v1 = "/api/v1"

    @app.get(f"{v1}/gates", responses=_errors, tags=["gates"])
    def list_gates(
        *,
        who: Who,
        request: Request,
        dataset: Annotated[str | None, Query(max_length=500, pattern=r"^[\w./-]+$")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        decision: Annotated[str | None, Query(pattern=r"^(pass|fail)$")] = None,
        clause: Annotated[str | None, Query(max_length=100)] = None,
    ) -> list[dict[str, Any]]:
        """Gate runs, newest first: decision, failed checks and clauses, models trained.
        Filters: ``dataset`` (path), ``decision`` (pass or fail), ``clause`` (a failed
        finding's clause, e.g. ``Art. 7(3)``)."""
        from trainguard.api.views import gate_history

        only_known_parameters(request, GATE_PARAMETERS)
        require(who, "read", "read gates")
        return gate_history(dataset=dataset, limit=limit, decision=decision, clause=clause)

    @app.get(
        f"{v1}/gates/{{run_id}}", responses={**_errors, 404: {"model": Problem}}, tags=["gates"]
    )
    def get_gate(who: Who, run_id: RunId) -> dict[str, Any]:
        """One gate run with every finding (record ids, never values) and its waivers."""
        from trainguard.api.views import gate_detail

        require(who, "read", "read gates")
        return gate_detail(run_id)

    @app.get(f"{v1}/models", responses=_errors, tags=["models"])
    def list_models(who: Who) -> list[dict[str, Any]]:
        """Registered model versions trained by trainguard, with their gate runs."""
        from trainguard.api.views import model_versions

        require(who, "read", "read models")
        return model_versions()

    @app.get(f"{v1}/sources", responses=_errors, tags=["gates"])
    def list_sources(who: Who) -> list[dict[str, Any]]:
        """Each dataset's sources as its newest gate saw them: licence, evidence, checks."""
        from trainguard.api.views import sources

        require(who, "read", "read sources")
        return sources()

    @app.post(f"{v1}/impact", responses=_errors, tags=["violations"])
    def impact(who: Who, body: ImpactIn) -> dict[str, Any]:
        """Every dataset version and model version (superseded ones marked) whose gated
        data holds the value, work, text or records: ``trainguard impact``."""
        require(who, "read", "run an impact analysis")
        return _impact(body)

    @app.get(f"{v1}/violations", responses=_errors, tags=["violations"])
    def list_violations(
        *,
        who: Who,
        request: Request,
        response: Response,
        status: Annotated[ViolationStatus | None, Query()] = None,
        kind: Annotated[ViolationKind | None, Query()] = None,
        open_only: Annotated[bool, Query(alias="open")] = False,
        owner: Annotated[str | None, Query(max_length=100)] = None,
        model: Annotated[str | None, Query(max_length=300, pattern=r"^[\w.-]+(/[0-9]+)?$")] = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
        due_within_days: Annotated[int | None, Query(ge=0, le=3650)] = None,
        overdue: Annotated[bool, Query()] = False,
        sort: Annotated[str, Query(pattern=SORT_PATTERN)] = "deadline",
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[ViolationOut]:
        """Violations with their deadline, SLA state and hours left, closed ones included
        unless ``open=true``. Filters: ``status``, ``kind``, ``owner``, ``model`` (name or
        name/version), ``q`` (in id, summary, owner), ``due_within_days``, ``overdue``;
        ``sort`` by deadline, reported_at, updated_at, status, kind, owner or id (``-`` for
        descending); ``limit`` and ``offset`` page, and ``X-Total-Count`` says how many match."""
        from trainguard.violations.search import ViolationQuery, search

        only_known_parameters(request, VIOLATION_PARAMETERS)
        require(who, "read", "read violations")
        found = search(
            _registry(),
            ViolationQuery(
                status=status,
                kind=kind,
                open_only=open_only,
                owner=owner,
                model=model,
                text=q,
                due_within_days=due_within_days,
                overdue=overdue,
                sort=sort,
                limit=limit,
                offset=offset,
            ),
        )
        response.headers["X-Total-Count"] = str(found.total)
        return [ViolationOut.model_validate(view) for view in _views(found.violations)]

    @app.get(
        f"{v1}/violations/{{violation_id}}",
        responses={**_errors, 404: {"model": Problem}},
        tags=["violations"],
    )
    def get_violation(who: Who, violation_id: ViolationId) -> ViolationOut:
        """One violation and its event history."""
        require(who, "read", "read violations")
        registry = _registry()
        [view] = _views([registry.get(violation_id)])
        view["events"] = [
            {
                **{
                    key: event[key]
                    for key in ("seq", "action", "from_status", "to_status", "actor")
                },
                "at": str(event["at"]),
            }  # stored as ISO text
            for event in registry.events(violation_id)
        ]
        return ViolationOut.model_validate(view)

    # OpenAPI links: what a created resource's id opens (clients and schemathesis follow them).
    violation_links = {
        "links": {
            "GetViolation": {
                "operationId": "get_violation",
                "parameters": {"violation_id": "$response.body#/id"},
            },
            "TransitionViolation": {
                "operationId": "transition_violation",
                "parameters": {"violation_id": "$response.body#/id"},
            },
        }
    }
    export_links = {
        "links": {
            "GetExport": {
                "operationId": "get_export",
                "parameters": {"job_id": "$response.body#/id"},
            },
            "DownloadExport": {
                "operationId": "download_export",
                "parameters": {"job_id": "$response.body#/id"},
            },
        }
    }

    @app.post(
        f"{v1}/violations",
        status_code=201,
        responses={**_errors, 201: violation_links},
        tags=["violations"],
    )
    def file_violation(who: Who, body: ViolationIn) -> ViolationOut:
        """File a violation (reporters, reviewers). PI values are hashed, texts masked."""
        from trainguard.violations import intake

        require(who, "report", "file violations")
        fields = body.model_dump()
        violation = intake.file_violation(
            _registry(),
            kind=body.kind,
            summary=body.summary,
            reported_by=who.name,
            owner=body.owner,
            policy=_policy(),
            prompt=fields.get("prompt", ""),
            output=fields.get("output", ""),
            pi=[(item["kind"], item["value"]) for item in fields.get("pi", [])],
            pi_hmacs=[(item["kind"], item["hmac"]) for item in fields.get("pi_hmacs", [])],
            work_id=fields.get("work_id", ""),
            work_text=fields.get("work_text", ""),
            source_id=fields.get("source_id", ""),
            finding=fields.get("finding", ""),
            model_name=body.model_name,
            model_version=body.model_version,
        )
        log.info("trainguard API: %s filed %s (%s)", who.name, violation.id, violation.kind)
        return ViolationOut.model_validate(_views([violation])[0])

    @app.post(
        f"{v1}/violations/{{violation_id}}/transitions",
        responses={
            **_errors,
            404: {"model": Problem},
            409: {"model": Problem, "description": "not allowed from its status"},
        },
        tags=["violations"],
    )
    def transition_violation(
        who: Who, violation_id: ViolationId, body: TransitionIn
    ) -> ViolationOut:
        """Move a violation along its lifecycle (reviewers). ``rejected`` needs a reason."""
        from trainguard.violations.filtering import move

        require(who, "review", "transition violations")
        violation = move(_registry(), violation_id, body.to, actor=who.name, reason=body.reason)
        log.info("trainguard API: %s moved %s to %s", who.name, violation.id, body.to)
        return ViolationOut.model_validate(_views([violation])[0])

    @app.post(
        f"{v1}/exports",
        status_code=202,
        responses={**_errors, 404: {"model": Problem}, 202: export_links},
        tags=["exports"],
    )
    def start_export(who: Who, body: ExportIn, background: BackgroundTasks) -> ExportJob:
        """Start writing and signing a model version's provenance bundle (auditors)."""
        job = _start_export(who, body.model_name, body.model_version, background, body.language)
        return ExportJob.model_validate(job)

    @app.get(
        f"{v1}/exports/{{job_id}}", responses={**_errors, 404: {"model": Problem}}, tags=["exports"]
    )
    def get_export(who: Who, job_id: JobId) -> ExportJob:
        """An export job: queued, running, done (with the manifest hash) or failed."""
        require(who, "export", "read exports")
        return ExportJob.model_validate(_jobs().get(job_id))

    @app.get(
        f"{v1}/exports/{{job_id}}/bundle.zip",
        responses={
            **_errors,
            404: {"model": Problem},
            409: {"model": Problem},
            200: {"content": {"application/zip": {}}},
        },
        response_class=FileResponse,
        tags=["exports"],
    )
    def download_export(who: Who, job_id: JobId) -> FileResponse:
        """The signed bundle as a zip (verify with ``trainguard export verify``)."""
        return _download(who, job_id)


def _impact(body: ImpactIn) -> dict[str, Any]:
    from trainguard.violations.impact import find_impact, impact_lookup
    from trainguard.violations.matching import Matcher

    wanted = impact_lookup(
        pi=[(item.kind.value, item.hmac) for item in body.pi or []],
        work_text=body.work_text or "",
        text=body.text or "",
        record_ids=body.record_ids or [],
    )
    return find_impact(Matcher(wanted)).to_dict()


def _views(violations: list[Any]) -> list[dict[str, Any]]:
    from trainguard.api.views import violation_view

    now = dt.datetime.now(dt.UTC)
    at_risk = _policy().violations.at_risk_fraction
    return [violation_view(v, now, at_risk) for v in violations]


def _start_export(
    who: Principal,
    model_name: str,
    version: str,
    background: BackgroundTasks,
    language: str = "",
) -> dict[str, Any]:
    from trainguard.api.views import require_model_version
    from trainguard.export.bundle import signer_from_env

    require(who, "export", "start exports")
    signer_from_env()  # no signing key configured: refuse now, not in the background
    require_model_version(model_name, version)
    jobs = _jobs()
    job = jobs.start(
        model_name, version, requested_by=who.name, language=_page_language(language, None)
    )
    background.add_task(jobs.run, job["id"])
    log.info(
        "trainguard API: %s started export %s of %s v%s", who.name, job["id"], model_name, version
    )
    return job


def _download(who: Principal, job_id: str) -> FileResponse:
    require(who, "export", "download exports")
    path = _jobs().archive(job_id)
    return FileResponse(path, media_type="application/zip", filename=path.name)


# --- the Governance page ---------------------------------------------------------------


Language = Annotated[str, Query(pattern=r"^(en|zh)?$", description="en or zh; empty: the header's")]
AcceptLanguage = Annotated[str | None, Header()]


def _page_language(lang: str, accept_language: str | None) -> str:
    """``?lang=``, else the browser's Accept-Language, else ``[trainguard] language``."""
    from trainguard.i18n import resolve
    from trainguard.settings import option

    return resolve(lang or None, accept_language=accept_language, configured=option("language"))


def page_routes(app: FastAPI) -> None:

    @app.get("/ui", include_in_schema=False)
    def page_redirect() -> RedirectResponse:
        return RedirectResponse("ui/", status_code=307)

    @app.get("/ui/", response_class=HTMLResponse, include_in_schema=False)
    def page(
        *,
        who: Who,
        show: Annotated[str, Query(pattern=r"^(open|all)$")] = "open",
        # A GET form sends its empty fields as "": "any", not an invalid value.
        status: Annotated[str, Query(pattern=_any_of(ViolationStatus))] = "",
        kind: Annotated[str, Query(pattern=_any_of(ViolationKind))] = "",
        owner: Annotated[str | None, Query(max_length=100)] = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
        due_within_days: Annotated[str, Query(pattern=r"^([0-9]{1,4})?$")] = "",
        sort: Annotated[str, Query(pattern=SORT_PATTERN)] = "deadline",
        offset: Annotated[int, Query(ge=0)] = 0,
        lang: Language = "",
        accept_language: AcceptLanguage = None,
    ) -> HTMLResponse:
        """The page; its violations section takes the API's filters from a GET form."""
        from trainguard.api.page import render
        from trainguard.api.views import gate_history, model_versions, sources
        from trainguard.violations.search import ViolationQuery, search

        require(who, "read", "open the Governance page")
        errors: list[str] = []
        filters = {
            "show": show,
            "status": status,
            "kind": kind,
            "owner": owner or "",
            "q": q or "",
            "due_within_days": due_within_days,
            "sort": sort,
        }
        query = ViolationQuery(
            status=status or None,
            kind=kind or None,
            open_only=show == "open" and not status,
            owner=owner or None,
            text=q or None,
            due_within_days=int(due_within_days) if due_within_days else None,
            sort=sort,
            limit=PAGE_SIZE,
            offset=offset,
        )
        found = {"total": 0, "offset": offset, "limit": PAGE_SIZE}

        def violations() -> list[dict[str, Any]]:
            page = search(_registry(), query)
            found["total"] = page.total
            return _views(page.violations)

        def gather(what: str, read: Any) -> Any:
            try:
                return read()
            except TrainguardError as exc:  # show what can be shown; name what cannot
                errors.append(f"{what}: {exc}")
                return []

        return HTMLResponse(
            headers=PAGE_HEADERS,
            content=render(
                user=who.name,
                roles=list(who.roles),
                can_export=who.may("export"),
                can_review=who.may("review"),
                gates=gather("gate history", gate_history),
                models=gather("models", model_versions),
                violations=gather("violations", violations),
                violation_filters=filters,
                violation_count=found,
                sources=gather("sources", sources),
                exports=gather("exports", lambda: _jobs().list()) if who.may("export") else [],
                mlflow_ui=env("TRAINGUARD_MLFLOW_UI_URL"),
                errors=errors,
                language=_page_language(lang, accept_language),
                language_chosen=bool(lang),
            ),
        )

    @app.post("/ui/exports", include_in_schema=False)
    def page_export(
        who: Who,
        background: BackgroundTasks,
        model_name: Annotated[str, Form(max_length=200)],
        model_version: Annotated[str, Form(pattern=r"^[0-9]{1,9}$")],
        lang: Annotated[str, Form(pattern=r"^(en|zh)?$")] = "",
    ) -> RedirectResponse:
        _start_export(who, model_name, model_version, background, lang)
        # Back to the page in the language it was in (the form says which).
        return RedirectResponse(f"./{'?lang=' + lang if lang else ''}#exports", status_code=303)

    @app.post("/ui/violations/{violation_id}/transitions", include_in_schema=False)
    def page_transition(
        who: Who,
        violation_id: ViolationId,
        to: Annotated[str, Form(max_length=20)],
        reason: Annotated[str, Form(max_length=1000)] = "",
    ) -> RedirectResponse:
        from trainguard.violations.filtering import move

        require(who, "review", "transition violations")
        move(_registry(), violation_id, to, actor=who.name, reason=reason)
        log.info("trainguard UI: %s moved %s to %s", who.name, violation_id, to)
        return RedirectResponse("../../#violations", status_code=303)

    @app.get("/ui/exports/{job_id}/download", include_in_schema=False)
    def page_download(who: Who, job_id: JobId) -> FileResponse:
        return _download(who, job_id)

    @app.get("/ui/gates/{run_id}", response_class=HTMLResponse, include_in_schema=False)
    def page_gate(
        who: Who, run_id: RunId, lang: Language = "", accept_language: AcceptLanguage = None
    ) -> HTMLResponse:
        """One gate run: every finding with its source, clause and message."""
        from trainguard.api.page import render_gate
        from trainguard.api.views import gate_detail

        require(who, "read", "read gates")
        return HTMLResponse(
            headers=PAGE_HEADERS,
            content=render_gate(
                gate_detail(run_id),
                env("TRAINGUARD_MLFLOW_UI_URL"),
                _page_language(lang, accept_language),
                language_chosen=bool(lang),
            ),
        )

    @app.get("/ui/gates/{run_id}/data_docs/{path:path}", include_in_schema=False)
    def data_docs(who: Who, run_id: RunId, path: str) -> FileResponse:
        """The gate run's Great Expectations Data Docs, read from its MLflow artifacts."""
        require(who, "read", "read Data Docs")
        # Sandboxed: the pages are GX's, and must not act with the reader's session.
        return FileResponse(
            _data_docs_file(run_id, path),
            headers={
                "Content-Security-Policy": "sandbox allow-scripts allow-popups",
                "X-Content-Type-Options": "nosniff",
            },
        )


def _data_docs_file(run_id: str, path: str) -> Any:
    from pathlib import PurePosixPath

    import mlflow

    from trainguard.tracking import mlflow_errors

    parts = PurePosixPath(path).parts
    if not parts or any(part in ("..", "") or part.startswith("/") for part in parts):
        raise LineageError(f"no Data Docs page {path!r}")
    from trainguard.settings import trainguard_home

    cache = trainguard_home() / "cache" / "data-docs" / run_id
    target = cache.joinpath("data_docs", *parts)
    if not target.is_file():
        with mlflow_errors(f"read the Data Docs of gate run {run_id}"):
            try:
                mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path=f"data_docs/{path}", dst_path=str(target.parent)
                )  # MLflow writes <dst>/<basename>
            except Exception as exc:
                if "RESOURCE_DOES_NOT_EXIST" in str(getattr(exc, "error_code", "")) or isinstance(
                    exc, FileNotFoundError | OSError
                ):
                    raise LineageError(f"no Data Docs page {path!r} in run {run_id}") from None
                raise
    if not target.is_file():
        raise LineageError(f"no Data Docs page {path!r} in run {run_id}")
    return target
