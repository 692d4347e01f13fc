"""Who is asking, and may they: Airflow's JWT, checked by Airflow's auth manager.

Airflow 3 mounts plugin FastAPI apps without its own authentication, so every route of
trainguard's app depends on ``principal``. The token comes from ``Authorization: Bearer``
(API clients, ``POST /auth/token``) or from the ``_token`` cookie the Airflow UI sets at
login (the Governance page, framed by the UI). Writes made with the cookie must also come
from the same origin, so another site cannot make a signed-in browser file or move
anything.

Roles come from the ``[trainguard]`` section of airflow.cfg (or
``AIRFLOW__TRAINGUARD__REVIEWER_ROLES`` and friends) and name the auth manager's roles:

=================  =====================  =========================================
option             default                may
=================  =====================  =========================================
reporter_roles     user, op, admin        file violations; read
reviewer_roles     op, admin              file and transition violations; read
auditor_roles      viewer, admin          read; start and download exports
=================  =====================  =========================================

An authenticated user with none of these roles is refused everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import HTTPException, Request

COOKIE = "_token"  # airflow.api_fastapi.auth.managers.base_auth_manager.COOKIE_NAME_JWT_TOKEN
DEFAULT_ROLES = {
    "reporter_roles": "user, op, admin",
    "reviewer_roles": "op, admin",
    "auditor_roles": "viewer, admin",
}
PERMISSIONS = {
    "report": ("reporter_roles", "reviewer_roles"),
    "review": ("reviewer_roles",),
    "export": ("auditor_roles",),
    "read": ("reporter_roles", "reviewer_roles", "auditor_roles"),
}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Principal:
    name: str
    roles: tuple[str, ...]

    def may(self, permission: str) -> bool:
        allowed = set()
        for option in PERMISSIONS[permission]:
            allowed |= configured_roles(option)
        return bool(allowed & {role.lower() for role in self.roles})


def configured_roles(option: str) -> set[str]:
    from trainguard.settings import option as configured

    value = configured(option)
    return {role.strip().lower() for role in value.split(",") if role.strip()}


def user_roles(user: Any) -> tuple[str, ...]:
    """Role names of any auth manager's user: ``role`` (simple) or ``roles`` (FAB)."""
    role = getattr(user, "role", None)
    if isinstance(role, str) and role:
        return (role,)
    names = []
    for item in getattr(user, "roles", None) or ():
        name = getattr(item, "name", item)
        if isinstance(name, str):
            names.append(name)
    return tuple(names)


class Refused(HTTPException):
    """401 or 403 with a message; the app renders it as JSON or as the sign-in page."""


async def principal(request: Request) -> Principal:
    """The signed-in Airflow user, or 401 (no, bad or expired token)."""
    from airflow.api_fastapi.app import get_auth_manager
    from jwt import ExpiredSignatureError, InvalidTokenError

    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    via_cookie = not (scheme.lower() == "bearer" and credentials.strip())
    token = request.cookies.get(COOKIE) if via_cookie else credentials.strip()
    if not token:
        raise Refused(
            401,
            "not signed in: send an Airflow token (Authorization: Bearer, "
            "from POST /auth/token) or sign in to the Airflow UI",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        user = await get_auth_manager().get_user_from_token(token)
    except ExpiredSignatureError:
        raise Refused(
            401,
            "the Airflow token has expired: sign in again",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None
    except InvalidTokenError:
        raise Refused(
            401,
            "the Airflow token is not valid here",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None
    if via_cookie and request.method not in SAFE_METHODS and not _same_origin(request):
        raise Refused(
            403,
            "a write signed in with the UI cookie must come from this site "
            "(Origin or Referer does not match)",
        )
    return Principal(name=user.get_name(), roles=user_roles(user))


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer") or ""
    host = request.headers.get("host", "")
    return bool(origin) and urlsplit(origin).netloc == host


def require(who: Principal, permission: str, action: str) -> None:
    """403 unless one of ``who``'s roles grants ``permission``."""
    if not who.may(permission):
        options = " or ".join(f"[trainguard] {o}" for o in PERMISSIONS[permission])
        raise Refused(
            403,
            f"{who.name} (roles: {', '.join(who.roles) or 'none'}) may not "
            f"{action}: it needs a role listed in {options}",
        )
