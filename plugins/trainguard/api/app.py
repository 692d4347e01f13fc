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

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse

from trainguard.api.auth import Refused
from trainguard.api.routes import Who, api_routes, page_routes
from trainguard.exceptions import (
    ContractError,
    ExportError,
    LineageError,
    TrainguardError,
    TransitionNotAllowed,
    ViolationNotFound,
)
from trainguard.settings import int_option, quiet_mlflow_progress

log = logging.getLogger(__name__)


class BodySizeLimit:
    """Refuse (413) a body over the limit, declared or streamed, before the app reads it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = int_option("max_request_bytes")
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
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _is_page(request: Request) -> bool:
    return request.url.path.startswith(f"{request.scope.get('root_path', '')}/ui")


def _login_url() -> str:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_url_login(next_url="/plugin/governance")


def _problem(
    request: Request, status: int, detail: Any, headers: Mapping[str, str] | None = None
) -> Any:
    """JSON for API clients; for the Governance page, a page that says what went wrong."""
    if not _is_page(request):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    from trainguard.api.page import problem

    if isinstance(detail, list):
        detail = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in detail)
    sign_in = _login_url() if status == 401 else None
    return HTMLResponse(problem(status, str(detail), sign_in), status_code=status, headers=headers)


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
        cleaned.append(
            {"loc": list(error.get("loc", ())), "msg": message, "type": error.get("type", "")}
        )
    return cleaned


def create_app() -> FastAPI:
    app = FastAPI(
        title="trainguard governance API",
        version="1",
        description=(
            "Gates, violations and provenance exports of trainguard. Every request "
            "needs an Airflow JWT (Authorization: Bearer, from POST /auth/token); "
            "writes need a role listed in the [trainguard] section of airflow.cfg."
        ),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        generate_unique_id_function=lambda route: route.name,
    )
    app.add_middleware(BodySizeLimit)
    # MLflow's artifact reads would each draw a progress bar in the server's log.
    quiet_mlflow_progress()

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Any:
        return _problem(request, exc.status_code, exc.detail, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Any:
        return _problem(request, 422, _field_errors(list(exc.errors())))

    @app.exception_handler(TrainguardError)
    async def _trainguard(request: Request, exc: TrainguardError) -> Any:
        if isinstance(exc, ViolationNotFound | LineageError):
            return _problem(request, 404, str(exc))
        if isinstance(exc, TransitionNotAllowed | ExportError):
            return _problem(request, 409, str(exc))
        if isinstance(exc, ContractError):
            location = ["body", exc.field] if exc.field else ["body"]
            return _problem(
                request, 422, [{"loc": location, "msg": str(exc), "type": "trainguard.contract"}]
            )
        # The registry or MLflow is down, or the deployment lacks a key: not the caller's
        # fault, and nothing was written.
        log.error("trainguard API: %s", exc)
        return _problem(request, 503, str(exc))

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(_: Who) -> JSONResponse:
        return JSONResponse(app.openapi())

    api_routes(app)
    page_routes(app)
    return app


app = create_app()
