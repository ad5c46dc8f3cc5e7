"""The API on a real uvicorn server: auth on every route (enumerated from the app), roles,
idempotent submit, the CLI's spec errors as 422, size limits, the committed OpenAPI schema."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tcplab.analyzers import default_registry
from tcplab.experiment import SpecError, validate_spec

from .conftest import Stack, fake_spec

ROOT = Path(__file__).resolve().parents[2]


def _routes() -> list[tuple[str, str]]:
    """(method, path with parameters filled) of every route of the app."""
    from tcplab.service import load_settings
    from tcplab.service.api import create_app

    app = create_app(load_settings(database_url="postgresql://unused@127.0.0.1/unused"))
    out: list[tuple[str, str]] = []

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            included = getattr(route, "original_router", None)
            if included is not None:  # FastAPI's wrapper of include_router(prefix=...)
                walk(included.routes, prefix + route.include_context.prefix)
                continue
            assert getattr(route, "path", None), f"a route of unknown kind: {route!r}"
            path = re.sub(r"\{[^}]+\}", "x", prefix + route.path)
            out.extend((m, path) for m in sorted(route.methods or {"GET"}) if m != "HEAD")

    walk(app.routes, "")
    return out


def test_every_route_but_health_refuses_missing_wrong_and_revoked_tokens(api: Stack) -> None:
    from tcplab.service._auth import PUBLIC_PATHS
    from tcplab.service._tokens import create_token, revoke_token

    revoked = create_token(api.db, "mallory", "admin")
    revoke_token(api.db, revoked.id)
    routes = _routes()
    api_routes = [(m, p) for m, p in routes if p.startswith("/api/v1/") or p == "/metrics"]
    assert len(api_routes) >= 10
    guarded = [(m, p) for m, p in api_routes if p not in PUBLIC_PATHS]
    for method, path in guarded:
        for headers in (
            {},
            {"Authorization": "Bearer tcplab_wrong"},
            {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
            {"Authorization": f"Bearer {revoked.token}"},
        ):
            r = httpx.request(method, api.base + path, headers=headers, json={}, timeout=30)
            assert r.status_code == 401, (method, path, headers, r.text)
            assert r.json()["error"]["type"] == "Unauthorized"
    for path in sorted(PUBLIC_PATHS):
        assert httpx.get(api.base + path, timeout=30).status_code == 200, path
    _pages_need_a_session(api, [r for r in routes if r not in api_routes], revoked.token)


def _pages_need_a_session(api: Stack, pages: list[tuple[str, str]], revoked: str) -> None:
    """Every dashboard page but login, logout and static files sends a caller without a
    valid session cookie to the login page (and does nothing else)."""
    from tcplab.service._web import COOKIE

    public = {"/login", "/logout", "/static/x"}
    guarded = [(m, p) for m, p in pages if p not in public]
    assert len(guarded) >= 10, guarded
    for method, path in guarded:
        for cookie in ({}, {COOKIE: "tcplab_wrong"}, {COOKIE: revoked}):
            with httpx.Client(base_url=api.base, cookies=cookie, timeout=30) as http:
                r = http.request(method, path, data={"spec_yaml": "x", "username": "eve"})
            assert r.status_code == 303, (method, path, cookie, r.text)
            assert r.headers["location"] == f"/login?next={path}"


def _submit(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/jobs", json={"spec": fake_spec(n_tools=2), **body})


def test_roles(api: Stack) -> None:
    alice, bob = api.client(api.token("alice")), api.client(api.token("bob"))
    viewer, admin = api.client(api.token("vera", "viewer")), api.client(api.token("ada", "admin"))
    with alice, bob, viewer, admin:
        a_job = _submit(alice).json()["id"]
        b_job = _submit(bob).json()["id"]
        assert viewer.post("/jobs", json={"spec": fake_spec()}).status_code == 403
        assert {j["submitted_by"] for j in bob.get("/jobs").json()["jobs"]} == {"bob"}
        assert bob.get("/jobs", params={"submitted_by": "alice"}).json()["jobs"] == []
        assert bob.get(f"/jobs/{a_job}").status_code == 404  # as if it did not exist
        assert bob.post(f"/jobs/{a_job}/cancel").status_code == 404
        seen = {j["id"] for j in viewer.get("/jobs", params={"limit": 500}).json()["jobs"]}
        assert {a_job, b_job} <= seen
        assert viewer.get(f"/jobs/{a_job}").status_code == 200
        assert viewer.post(f"/jobs/{a_job}/cancel").status_code == 403
        assert admin.post(f"/jobs/{b_job}/cancel").json()["state"] == "cancelled"
        assert alice.post(f"/jobs/{a_job}/cancel").json()["cancel_requested_by"] == "alice"
        assert alice.get("/whoami").json()["role"] == "submitter"


def test_idempotent_submit(api: Stack) -> None:
    with api.client(api.token("ida")) as http, api.client(api.token("other")) as other:
        first = _submit(http, client_key="nightly-1")
        again = _submit(http, client_key="nightly-1")
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json()["id"] == again.json()["id"]
        header = http.post(
            "/jobs", json={"spec": fake_spec(n_tools=2)}, headers={"Idempotency-Key": "nightly-1"}
        )
        assert header.status_code == 200 and header.json()["id"] == first.json()["id"]
        changed = http.post("/jobs", json={"spec": fake_spec(n_tools=3), "client_key": "nightly-1"})
        assert changed.status_code == 409, changed.text
        theirs = _submit(other, client_key="nightly-1")
        assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
        assert http.get("/jobs").json()["total"] == 1


def _cli_problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as err:
        validate_spec(raw, default_registry().names())
    return list(err.value.problems)


def test_spec_errors_are_422_with_the_clis_yaml_paths(api: Stack) -> None:
    bad = fake_spec(iterations=0)
    bad["arms"].append({"name": "c", "analyzer": "gtp4"})
    with api.client(api.token("sam")) as http:
        r = http.post("/jobs", json={"spec": bad})
        assert r.status_code == 422
        assert r.json()["error"]["problems"] == _cli_problems(bad)
        assert any(p.startswith("arms[2].analyzer: unknown 'gtp4'") for p in _cli_problems(bad))
        as_yaml = http.post("/jobs", json={"spec_yaml": "spec_version: 1\nname: [unclosed"})
        assert as_yaml.status_code == 422 and as_yaml.json()["error"]["type"] == "SpecError"
        big = http.post("/jobs", json={"spec": fake_spec(n_tools=3000, iterations=1000)})
        assert big.status_code == 422
        assert big.json()["error"]["problems"][0].startswith("limits.max_trials: 3,000 tools")
        secret = fake_spec()
        secret["arms"][0]["params"] = {"api_key": "sk-live-123"}
        r = http.post("/jobs", json={"spec": secret})
        assert r.status_code == 422 and "sk-live" not in r.text
        assert r.json()["error"]["problems"][0].startswith("arms[0].params.api_key: credentials")
        neither = http.post("/jobs", json={"priority": 11})
        assert neither.status_code == 422 and neither.json()["error"]["problems"]
        ok = http.post("/jobs", json={"spec_yaml": json.dumps(fake_spec()), "priority": 0})
        assert ok.status_code == 201 and ok.json()["priority_class"] == "low"


def test_request_and_spec_size_limits(api: Stack) -> None:
    with api.client(api.token("zed")) as http:
        huge = http.post("/jobs", content=b"x" * (3 * 1024 * 1024))
        assert huge.status_code == 413 and huge.json()["error"]["type"] == "RequestTooLarge"
        spec = "spec_version: 1\nname: big\n" + "#" * (1536 * 1024)
        r = http.post("/jobs", json={"spec_yaml": spec})
        assert r.status_code == 422 and "larger than 1024 KiB" in r.json()["error"]["message"]


def test_filters_and_readiness(api: Stack) -> None:
    with api.client(api.token("fay")) as http:
        _submit(http, priority=10)
        _submit(http, priority=2)
        crit = http.get("/jobs", params={"priority_class": "critical"}).json()["jobs"]
        assert [j["priority"] for j in crit] == [10]
        assert http.get("/jobs", params={"state": "bogus"}).status_code == 422
    ready = httpx.get(f"{api.base}/api/v1/health/ready", timeout=30).json()
    assert ready == {"status": "ready", "problems": []}


def test_committed_openapi_matches_the_app() -> None:
    from tcplab.service.api import openapi_text

    committed = (ROOT / "docs" / "openapi.json").read_text()
    assert committed == openapi_text(), (
        'docs/openapi.json is stale: python -c "from tcplab.service.api import openapi_text; '
        "open('docs/openapi.json', 'w').write(openapi_text())\""
    )
