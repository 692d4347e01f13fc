"""The REST API and the Governance page, against Airflow's real API server (`trainguard ui`)
on the folder `trainguard demo` wrote: authentication through Airflow's auth manager,
roles from configuration, size limits, no PI in any response, exports end to end."""

from __future__ import annotations

import io
import json
import re
import subprocess
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from conftest import GovernanceServer

pytestmark = pytest.mark.integration

API = "/trainguard/api/v1"
PHONE = "13912345678"  # a valid-looking mobile number that must never come back
FINETUNED = "trainguard-demo-finetuned"

# Every write the API offers, with a body that would succeed for the right role.
WRITES = [
    (
        "POST",
        f"{API}/violations",
        {"kind": "data_finding", "summary": "s", "owner": "data", "source_id": "news-crawl"},
    ),
    ("POST", f"{API}/violations/{{violation}}/transitions", {"to": "triaged"}),
    ("POST", f"{API}/exports", {"model_name": FINETUNED, "model_version": "1"}),
]


def _client(
    server: GovernanceServer, user: str | None = None, token: str | None = None
) -> httpx.Client:
    headers = {}
    if user or token:
        headers["Authorization"] = f"Bearer {token or server.token(user or '')}"
    return httpx.Client(base_url=server.base, headers=headers, timeout=60)


def _written(server: GovernanceServer) -> tuple[int, int, int]:
    """Violations, events and export jobs on disk: what a refused request must not change."""
    from trainguard.violations import Registry

    registry = Registry(f"sqlite:///{server.folder / 'violations.db'}")
    jobs = server.folder / "exports" / "jobs"
    return (
        len(registry.list()),
        len(registry.events()),
        len(list(jobs.iterdir())) if jobs.is_dir() else 0,
    )


def _open_violation(server: GovernanceServer) -> str:
    with _client(server, "engineer") as client:
        response = client.post(
            f"{API}/violations",
            json={
                "kind": "data_finding",
                "summary": "licence text missing",
                "owner": "data",
                "source_id": "news-crawl",
            },
        )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _expired_token(server: GovernanceServer, user: str, role: str) -> str:
    """A token Airflow's own signer made for the server, expired a minute ago."""
    import sys

    code = (
        "from airflow.api_fastapi.app import create_auth_manager\n"
        "from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser\n"
        f"print(create_auth_manager().generate_jwt(SimpleAuthManagerUser(username={user!r},"
        f" role={role!r}), expiration_time_in_seconds=-60))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=server.env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def test_the_schema_is_served_to_signed_in_users(governance_server: GovernanceServer) -> None:
    with _client(governance_server) as anonymous:
        assert anonymous.get("/trainguard/openapi.json").status_code == 401
    with _client(governance_server, "auditor") as client:
        schema = client.get("/trainguard/openapi.json").json()
    assert {
        "/api/v1/gates",
        "/api/v1/violations",
        ("/api/v1/violations/{violation_id}/transitions"),
        "/api/v1/exports",
        "/api/v1/exports/{job_id}/bundle.zip",
    } <= set(schema["paths"])


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_unauthenticated_writes_are_refused_and_write_nothing(
    governance_server: GovernanceServer, method: str, path: str, body: dict[str, Any]
) -> None:
    violation = _open_violation(governance_server)
    before = _written(governance_server)
    with _client(governance_server) as anonymous:
        response = anonymous.request(method, path.format(violation=violation), json=body)
    assert response.status_code == 401 and "not signed in" in response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert _written(governance_server) == before


@pytest.mark.parametrize("token", ["expired", "forged", "garbage"])
@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_expired_and_invalid_tokens_are_refused_and_write_nothing(
    governance_server: GovernanceServer, token: str, method: str, path: str, body: dict[str, Any]
) -> None:
    import jwt

    violation = _open_violation(governance_server)
    if token == "expired":  # admin: the role would allow every write
        value = _expired_token(governance_server, "admin", "admin")
    elif token == "forged":  # right claims, wrong key
        value = jwt.encode(
            {
                "sub": "admin",
                "role": "admin",
                "aud": "apache-airflow",
                "iat": int(time.time()),
                "nbf": int(time.time()),
                "exp": int(time.time()) + 600,
            },
            "not-the-server-secret-" * 4,
            algorithm="HS512",
        )
    else:
        value = "not-a-jwt"
    before = _written(governance_server)
    with _client(governance_server, token=value) as client:
        response = client.request(method, path.format(violation=violation), json=body)
    assert response.status_code == 401, response.text
    expected = "expired" if token == "expired" else "not valid"
    assert expected in response.json()["detail"]
    assert _written(governance_server) == before


@pytest.mark.parametrize(
    ("user", "method", "path", "body"),
    [
        ("auditor", *WRITES[0]),  # auditors read and export; they do not file
        ("auditor", *WRITES[1]),  # ... nor transition
        ("engineer", *WRITES[1]),  # reporters file; only reviewers transition
        ("engineer", *WRITES[2]),  # ... and only auditors export
        ("reviewer", *WRITES[2]),
    ],
)
def test_wrong_roles_are_refused_and_write_nothing(
    governance_server: GovernanceServer, user: str, method: str, path: str, body: dict[str, Any]
) -> None:
    violation = _open_violation(governance_server)
    before = _written(governance_server)
    with _client(governance_server, user) as client:
        response = client.request(method, path.format(violation=violation), json=body)
    assert response.status_code == 403, response.text
    assert f"{user} (roles:" in response.json()["detail"]
    assert "[trainguard]" in response.json()["detail"]  # says which option grants it
    assert _written(governance_server) == before


def test_cookie_writes_from_another_site_are_refused(governance_server: GovernanceServer) -> None:
    """The UI's cookie is sent by the browser wherever a form posts from: check the origin."""
    cookies = {"_token": governance_server.token("auditor")}
    form = {"model_name": FINETUNED, "model_version": "1"}
    before = _written(governance_server)
    with httpx.Client(base_url=governance_server.base, cookies=cookies, timeout=60) as client:
        for origin in ({"Origin": "https://evil.example"}, {}):
            response = client.post("/trainguard/ui/exports", data=form, headers=origin)
            assert response.status_code == 403, response.text
            assert "must come from this site" in response.text
    assert _written(governance_server) == before


def test_bodies_over_the_limit_are_refused(governance_server: GovernanceServer) -> None:
    before = _written(governance_server)
    with _client(governance_server, "engineer") as client:
        big = {"kind": "harmful_output", "summary": "x", "owner": "o", "output": "y" * 70_000}
        declared = client.post(f"{API}/violations", json=big)

        def chunks() -> Any:  # no Content-Length: the limit counts the streamed bytes
            yield b'{"kind": "harmful_output", "summary": "x", "owner": "o", "output": "'
            for _ in range(80):
                yield b"y" * 1000
            yield b'"}'

        streamed = client.post(
            f"{API}/violations", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert declared.status_code == 413 and "over 65536 bytes" in declared.json()["detail"]
    assert streamed.status_code == 413
    assert _written(governance_server) == before


def test_invalid_input_gets_422_naming_fields_without_echoing_values(
    governance_server: GovernanceServer,
) -> None:
    with _client(governance_server, "engineer") as client:
        fields = client.post(
            f"{API}/violations",
            json={
                "kind": "harmful_output",
                "summary": "",
                "owner": "o",
                "extra": PHONE,
                "model_version": PHONE + "x",
            },
        )
        unknown_kind = client.post(
            f"{API}/violations", json={"kind": f"call {PHONE}", "summary": "s", "owner": "o"}
        )
        pi_kind = client.post(
            f"{API}/violations",
            json={
                "kind": "pi_request",
                "summary": "delete me",
                "owner": "privacy",
                "pi": [{"kind": f"phone {PHONE}", "value": PHONE}],
            },
        )
        no_value = client.post(
            f"{API}/violations",
            json={"kind": "pi_request", "summary": "delete me", "owner": "privacy"},
        )
        not_json = client.post(
            f"{API}/violations", content=f"{{{PHONE}", headers={"Content-Type": "application/json"}
        )
    assert fields.status_code == 422
    located = {tuple(error["loc"][1:]) for error in fields.json()["detail"]}
    assert {
        ("harmful_output", "summary"),
        ("harmful_output", "extra"),
        ("harmful_output", "output"),
        ("harmful_output", "model_version"),
    } <= located
    assert unknown_kind.status_code == 422
    assert unknown_kind.json()["detail"][0]["loc"] == ["body"]
    assert "<the value sent>" in unknown_kind.json()["detail"][0]["msg"]
    assert pi_kind.status_code == 422
    assert pi_kind.json()["detail"][0]["loc"] == ["body", "pi_request", "pi", 0, "kind"]
    assert no_value.status_code == 422  # checked past the schema, by the registry's intake
    assert no_value.json()["detail"][0]["loc"] == ["body", "pi"]
    assert "needs at least one value" in no_value.json()["detail"][0]["msg"]
    assert not_json.status_code == 422
    for answer in (fields, unknown_kind, pi_kind, no_value, not_json):
        assert PHONE not in answer.text


def test_a_violation_is_filed_and_moved_without_its_pi_coming_back(
    governance_server: GovernanceServer,
) -> None:
    from trainguard.personal_info import pi_hmac

    with _client(governance_server, "engineer") as engineer:
        filed = engineer.post(
            f"{API}/violations",
            json={
                "kind": "harmful_output",
                "owner": "safety",
                "model_name": FINETUNED,
                "model_version": "1",
                "summary": f"model gave out {PHONE}",
                "prompt": "who to call?",
                "output": f"call {PHONE} now",
            },
        )
        requested = engineer.post(
            f"{API}/violations",
            json={
                "kind": "pi_request",
                "summary": "erase my number",
                "owner": "privacy",
                "pi": [{"kind": "mobile_phone", "value": PHONE}],
            },
        )
    assert filed.status_code == 201, filed.text
    assert requested.status_code == 201, requested.text
    violation = filed.json()
    assert violation["reported_by"] == "engineer" and violation["status"] == "reported"
    assert violation["summary"] == "model gave out [mobile_phone]"
    assert violation["subject"]["output"] == "call [mobile_phone] now"
    assert requested.json()["subject"]["pi"] == [
        {"kind": "mobile_phone", "hmac": pi_hmac("mobile_phone", PHONE)}
    ]
    with _client(governance_server, "reviewer") as reviewer:
        triaged = reviewer.post(
            f"{API}/violations/{violation['id']}/transitions", json={"to": "triaged"}
        )
        filtered = reviewer.post(
            f"{API}/violations/{violation['id']}/transitions", json={"to": "filtered"}
        )
        backwards = reviewer.post(
            f"{API}/violations/{violation['id']}/transitions", json={"to": "triaged"}
        )
        rejected = reviewer.post(
            f"{API}/violations/{violation['id']}/transitions", json={"to": "rejected"}
        )
        shown = reviewer.get(f"{API}/violations/{violation['id']}")
        listed = reviewer.get(f"{API}/violations", params={"status": "filtered"})
    assert triaged.json()["status"] == "triaged" and filtered.json()["status"] == "filtered"
    assert backwards.status_code == 409
    assert "is filtered; it cannot move to triaged" in backwards.json()["detail"]
    assert rejected.status_code == 422 and "needs a reason" in rejected.text
    events = shown.json()["events"]
    assert [(e["to_status"], e["actor"]) for e in events] == [
        ("reported", "engineer"),
        ("triaged", "reviewer"),
        ("filtered", "reviewer"),
    ]
    assert violation["id"] in {v["id"] for v in listed.json()}
    for answer in (filed, requested, triaged, filtered, shown, listed):
        assert PHONE not in answer.text
    # The output filter blocks the reported answer from now on (the same registry).
    from trainguard.violations import Registry
    from trainguard.violations.filtering import check_output

    verdict = check_output(
        f"call {PHONE} now", Registry(f"sqlite:///{governance_server.folder / 'violations.db'}")
    )
    assert not verdict.allowed and violation["id"] in verdict.violations


def test_unknown_ids_are_404(governance_server: GovernanceServer) -> None:
    with _client(governance_server, "admin") as client:
        assert client.get(f"{API}/violations/V-20990101-deadbeef").status_code == 404
        assert (
            client.post(
                f"{API}/violations/V-20990101-deadbeef/transitions", json={"to": "triaged"}
            ).status_code
            == 404
        )
        assert client.get(f"{API}/gates/{'0' * 32}").status_code == 404
        assert client.get(f"{API}/exports/{'0' * 16}").status_code == 404
        assert (
            client.post(
                f"{API}/exports", json={"model_name": FINETUNED, "model_version": "99"}
            ).status_code
            == 404
        )


def test_gates_and_findings_carry_clauses_and_record_ids(
    governance_server: GovernanceServer,
) -> None:
    with _client(governance_server, "auditor") as client:
        gates = client.get(f"{API}/gates", params={"dataset": "datasets/pretraining"}).json()
        failed = next(
            g for g in gates if g["decision"] == "fail" and g["dataset"]["rev"] == "planted"
        )
        # After its remediation the demo gates the pre-fix revision again: refused (Art. 13).
        refused = next(
            g for g in gates if g["decision"] == "fail" and g["dataset"]["rev"] == "clean"
        )
        detail = client.get(f"{API}/gates/{failed['run_id']}").json()
        sources = client.get(f"{API}/sources").json()
        models = client.get(f"{API}/models").json()
    assert {g["dataset"]["path"] for g in gates} == {"datasets/pretraining"}
    assert "Art. 7(3)" in failed["failed_clauses"] and failed["models"] == []
    assert refused["failed_clauses"] == ["Art. 13"] and refused["models"] == []
    assert any(g["decision"] == "pass" and g["models"] for g in gates)
    pi = next(f for f in detail["findings"] if f["check"] == "pi.consent")
    assert pi["status"] == "fail" and pi["record_ids"]
    assert {s["dataset"] for s in sources} == {"datasets/pretraining", "datasets/finetuning"}
    assert all(s["license"] for s in sources)
    assert {(m["name"], m["version"]) for m in models} >= {(FINETUNED, "1"), (FINETUNED, "2")}


def test_filters_sorting_and_paging_and_unknown_parameters_are_422(
    governance_server: GovernanceServer,
) -> None:
    """The demo's violations (and any earlier tests filed): filters, sort, pages and the
    total; a misspelt filter is refused naming it, never ignored."""
    with _client(governance_server, "auditor") as client:
        everything = client.get(f"{API}/violations", params={"limit": 500})
        closed = client.get(f"{API}/violations", params={"status": "closed", "sort": "-id"})
        overdue = client.get(f"{API}/violations", params={"overdue": "true"})
        due = client.get(f"{API}/violations", params={"due_within_days": 7})
        page = client.get(f"{API}/violations", params={"limit": 1, "offset": 1, "sort": "id"})
        found = client.get(f"{API}/violations", params={"q": "TAKEDOWN REQUEST NOBODY"})
        typo = client.get(f"{API}/violations", params={"stauts": "open"})
        bad_sort = client.get(f"{API}/violations", params={"sort": "summary"})
        failed_gates = client.get(f"{API}/gates", params={"decision": "fail", "clause": "Art. 8"})
        gate_typo = client.get(f"{API}/gates", params={"decison": "fail"})
    listed = everything.json()
    assert everything.status_code == 200 and everything.headers["X-Total-Count"] == str(len(listed))
    assert {v["status"] for v in listed} >= {"closed", "reported"}  # closed ones too
    ids = [v["id"] for v in closed.json()]
    assert len(ids) == sum(v["status"] == "closed" for v in listed) >= 2
    assert ids == sorted(ids, reverse=True)
    [late] = found.json()  # the demo's back-dated complaint: "takedown request nobody ..."
    assert late["kind"] == "ip_complaint"
    assert late["id"] in {v["id"] for v in overdue.json()} <= {v["id"] for v in due.json()}
    assert all(v["status"] not in ("closed", "rejected") for v in due.json())
    assert page.headers["X-Total-Count"] == str(len(listed)) and len(page.json()) == 1
    assert page.json()[0]["id"] == sorted(v["id"] for v in listed)[1]
    assert typo.status_code == 422
    assert typo.json()["detail"][0]["loc"] == ["query", "stauts"]
    assert "status" in typo.json()["detail"][0]["msg"]
    assert bad_sort.status_code == 422 and gate_typo.status_code == 422
    gates = failed_gates.json()
    assert gates and all(g["decision"] == "fail" for g in gates)
    assert all(any("Art. 8" in c for c in g["failed_clauses"]) for g in gates)


def test_an_auditor_exports_and_downloads_a_verified_bundle(
    governance_server: GovernanceServer, tmp_path: Path
) -> None:
    from trainguard.export.bundle import verify_bundle

    with _client(governance_server, "auditor") as client:
        started = client.post(
            f"{API}/exports",
            json={"model_name": FINETUNED, "model_version": "2", "language": "zh"},
        )
        assert started.status_code == 202, started.text
        job = started.json()
        for _ in range(120):
            job = client.get(f"{API}/exports/{job['id']}").json()
            if job["state"] in ("done", "failed"):
                break
            time.sleep(1)
        assert job["state"] == "done", job
        download = client.get(f"{API}/exports/{job['id']}/bundle.zip")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.content)) as bundle:
        bundle.extractall(tmp_path)
        for name in bundle.namelist():
            assert PHONE.encode() not in bundle.read(name)
    [folder] = tmp_path.iterdir()
    key = Path(governance_server.env["TRAINGUARD_EXPORT_SIGNING_KEY"])
    assert verify_bundle(folder, public_key=key.with_name(key.name + ".pub")) == []
    assert job["algorithm"] == "ed25519"
    disclosure = json.loads((folder / "disclosure.json").read_text())
    assert disclosure["model"]["version"] == "2"
    # The auditor asked for Chinese: report.html is, the machine-readable files are not.
    report = (folder / "report.html").read_text()
    assert job["language"] == "zh" and '<html lang="zh">' in report
    assert "<h2>证明</h2>" in report and "《办法》第七条" in report


def test_the_governance_page_shows_gates_violations_and_sources(
    governance_server: GovernanceServer,
) -> None:
    """Signed in with the UI's cookie, as the Airflow UI frames it."""
    cookies = {"_token": governance_server.token("auditor")}
    with httpx.Client(base_url=governance_server.base, cookies=cookies, timeout=60) as client:
        page = client.get("/trainguard/ui/")
        docs = client.get(
            next(
                f"/trainguard/ui/{href}"
                for href in _hrefs(page.text)
                if href.endswith("/data_docs/index.html")
            )
        )
        traversal = client.get("/trainguard/ui/gates/" + "a" * 32 + "/data_docs/..%2F..%2Fx")
        failed_gate = next(
            href for href in _hrefs(page.text) if re.fullmatch(r"gates/[0-9a-f]{32}", href)
        )
        gate_page = client.get(f"/trainguard/ui/{failed_gate}")
        chinese = client.get("/trainguard/ui/", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        gate_zh = client.get(f"/trainguard/ui/{failed_gate}", params={"lang": "zh"})
        english = client.get(
            "/trainguard/ui/", params={"lang": "en"}, headers={"Accept-Language": "zh-CN"}
        )
        unknown = client.get("/trainguard/ui/", params={"lang": "fr"})
        due_this_week = client.get("/trainguard/ui/", params={"due_within_days": 7})
        closed_too = client.get("/trainguard/ui/", params={"show": "all", "q": "harmful"})
    with httpx.Client(base_url=governance_server.base, timeout=60) as anonymous:
        refused = anonymous.get("/trainguard/ui/")
    assert page.status_code == 200
    text = page.text
    assert "Signed in as <b>auditor</b>" in text
    assert "OVERDUE" in text and "takedown request nobody triaged" in text
    assert "Dataset <code>datasets/pretraining</code>" in text and ">FAIL<" in text
    assert "Art. 7(3)" in text and "/#/experiments/" in text
    assert "Export bundle" in text and "Sources (" in text
    assert PHONE not in text
    assert "script-src 'none'; frame-ancestors 'self'" in page.headers["content-security-policy"]
    assert docs.status_code == 200 and "<html" in docs.text.lower()
    assert docs.headers["content-security-policy"].startswith("sandbox")
    assert traversal.status_code == 404
    assert refused.status_code == 401 and "Sign in to Airflow" in refused.text
    # The history chart links each run to its page: every finding, source and message.
    assert "<svg" in text and "aria-label='gate history of datasets/pretraining" in text
    assert gate_page.status_code == 200 and "data-check=" in gate_page.text
    assert "<h1>Gate <code>datasets/" in gate_page.text and PHONE not in gate_page.text
    # Filters: due this week keeps the overdue complaint; closed ones on request.
    assert "takedown request nobody triaged" in due_this_week.text
    assert "due within 7 days" in due_this_week.text
    assert "closed" in closed_too.text and "harmful" in closed_too.text.lower()
    # Chinese from the browser's Accept-Language, or chosen with ?lang= (which wins).
    assert "<h1>治理</h1>" in chinese.text and "已逾期" in chinese.text
    assert "《办法》第七条第（三）项" in chinese.text and PHONE not in chinese.text
    assert "<h1>闸门 <code>datasets/" in gate_zh.text and "未通过" in gate_zh.text
    assert re.search(r"<td class='text'>[^<]*[\u4e00-\u9fff]", gate_zh.text)  # messages too
    assert "<h1>Governance</h1>" in english.text
    assert unknown.status_code == 422


def _hrefs(text: str) -> list[str]:
    return re.findall(r"href='([^']+)'", text)


def test_a_reviewer_moves_a_violation_from_the_page(governance_server: GovernanceServer) -> None:
    """The page's form posts with the UI cookie from the same origin; auditors may not."""
    violation = _open_violation(governance_server)
    origin = {"Origin": governance_server.base}
    path = f"/trainguard/ui/violations/{violation}/transitions"
    for user, status in (("auditor", 403), ("reviewer", 303)):
        cookies = {"_token": governance_server.token(user)}
        with httpx.Client(base_url=governance_server.base, cookies=cookies, timeout=60) as client:
            response = client.post(path, data={"to": "triaged"}, headers=origin)
            assert response.status_code == status, response.text
            if user == "reviewer":
                assert response.headers["location"] == "../../#violations"
                page = client.get("/trainguard/ui/")
                again = client.post(path, data={"to": "closed"}, headers=origin)
    row = next(line for line in page.text.splitlines() if f"data-violation='{violation}'" in line)
    assert "<td>triaged</td>" in row and "<option>filtered</option>" in row
    assert again.status_code == 409 and "Back to the Governance page" in again.text


def test_an_auditor_runs_impact_analysis_over_every_version(
    governance_server: GovernanceServer,
) -> None:
    """The demo's deleted PI value, by its HMAC: the pre-training revision that held it and
    every model version trained on it, now superseded by the remediation's versions."""
    from trainguard.violations import Registry

    registry = Registry(f"sqlite:///{governance_server.folder / 'violations.db'}")
    [deletion] = [v for v in registry.list(kind="pi_request") if v.status == "closed"]
    wanted = deletion.subject["pi"]
    with _client(governance_server, "auditor") as client:
        response = client.post(f"{API}/impact", json={"pi": wanted})
        assert response.status_code == 200, response.text
        impact = response.json()
        assert impact["complete"] and impact["dataset_versions_scanned"] >= 4
        assert [d["path"] for d in impact["datasets"]] == ["datasets/pretraining"]
        held = {(m["model_name"], m["model_version"], m["superseded"]) for m in impact["models"]}
        assert ("trainguard-demo-pretrained", "1", True) in held
        assert ("trainguard-demo-ngram", "1", True) in held
        assert all(superseded for _, _, superseded in held)  # each retrained since
        # Exactly one thing at a time, named without echoing values.
        both = client.post(f"{API}/impact", json={"pi": wanted, "record_ids": ["r1"]})
        assert both.status_code == 422
        assert wanted[0]["hmac"] not in both.text
    with _client(governance_server) as anonymous:
        assert anonymous.post(f"{API}/impact", json={"record_ids": ["r1"]}).status_code == 401
