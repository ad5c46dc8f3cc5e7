"""The read path made for load (docs/service.md, "Load"): tokens cached while revocations are
heard and refused as soon as one is revoked, the job list without specs in keyset pages, the
read pool surviving a dropped connection, the run summary computed once per version of its
run. Real PostgreSQL, a real `tcplab serve`, a real (small) run."""

from __future__ import annotations

import base64
import time
from typing import Any

import psycopg
import pytest

from .conftest import Stack, fake_spec, wait_for


def _revoke_silently(stack: Stack, token_id: str) -> None:
    """Mark a token revoked in the table without the notification (what a lost NOTIFY would
    leave): only the cache's time limit can refuse it then."""
    from tcplab.service._db import psycopg_conninfo

    with psycopg.connect(psycopg_conninfo(stack.url), autocommit=True) as conn:
        conn.execute("UPDATE api_tokens SET revoked_at = now() WHERE id = %s", (token_id,))


def test_token_cache_never_outlives_its_ttl_and_revocation_empties_it(stack: Stack) -> None:
    from tcplab.service._tokens import TokenCache, create_token, revoke_token

    clock = [1000.0]
    cache = TokenCache(stack.db, ttl_s=5.0, clock=lambda: clock[0])
    first = create_token(stack.db, "tia", "viewer")
    # not listening yet: nothing is cached, a silent revocation is seen at once
    assert cache.authenticate(first.token) is not None
    _revoke_silently(stack, first.id)
    assert cache.authenticate(first.token) is None
    cache.start()
    try:
        wait_for("the listener", lambda: cache.listening, timeout=10)
        second = create_token(stack.db, "tom", "viewer")
        assert cache.authenticate(second.token) is not None  # read, then cached
        _revoke_silently(stack, second.id)
        assert cache.authenticate(second.token) is not None  # from memory (no notification)
        clock[0] += 5.01
        assert cache.authenticate(second.token) is None  # the TTL bounds a lost notification
        third = create_token(stack.db, "ted", "viewer")
        assert cache.authenticate(third.token) is not None
        revoke_token(stack.db, third.id)  # notifies: the cache is emptied at once
        wait_for("the revocation", lambda: cache.authenticate(third.token) is None, timeout=2)
        assert cache.authenticate("tcplab_unknown") is None
        assert cache.authenticate("not-a-token") is None
    finally:
        cache.close()
    assert not cache.listening


def test_revoked_token_is_refused_by_the_server_despite_a_long_cache(stack: Stack) -> None:
    from tcplab.service._tokens import create_token, revoke_token

    stack.serve(TCPLAB_SERVICE_TOKEN_CACHE_SECONDS="60")
    made = create_token(stack.db, "rita", "admin")
    with stack.client(made.token) as http:
        for _ in range(3):  # read once, then answered from the cache
            assert http.get("/whoami").status_code == 200
        revoke_token(stack.db, made.id)
        t0 = time.monotonic()
        wait_for("the 401", lambda: http.get("/whoami").status_code == 401, timeout=5)
        assert time.monotonic() - t0 < 5  # the notification, not the 60 s cache, refused it
        assert http.get("/jobs").status_code == 401


def _page_all(http: Any, **params: Any) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        body = http.get("/jobs", params={**params, **({"cursor": cursor} if cursor else {})})
        assert body.status_code == 200, body.text
        page = body.json()
        seen += page["jobs"]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


def test_job_list_is_lean_and_keyset_pages_cover_every_job_once(stack: Stack) -> None:
    stack.serve()
    with stack.client(stack.token("kim")) as http, stack.client(stack.token("lee")) as other:
        ids = [
            http.post("/jobs", json={"spec": fake_spec(n_tools=2)}).json()["id"] for _ in range(7)
        ]
        other.post("/jobs", json={"spec": fake_spec(n_tools=2)})
        first = http.get("/jobs", params={"limit": 3}).json()
        assert first["schema_version"] == 2 and first["total"] == 7 and len(first["jobs"]) == 3
        assert all("spec" not in j and j["spec_hash"] for j in first["jobs"])
        detail = http.get(f"/jobs/{first['jobs'][0]['id']}").json()
        assert detail["spec"]["name"] == "svc"  # the detail keeps the spec
        listed = _page_all(http, limit=3)
        assert [j["id"] for j in listed] == ids[::-1]  # newest first, each once
        by_offset = http.get("/jobs", params={"limit": 3, "offset": 3}).json()["jobs"]
        assert [j["id"] for j in by_offset] == [j["id"] for j in listed[3:6]]
        # a job submitted between two pages does not shift the next page
        page1 = http.get("/jobs", params={"limit": 4}).json()
        newer = http.post("/jobs", json={"spec": fake_spec(n_tools=2)}).json()["id"]
        page2 = http.get("/jobs", params={"limit": 4, "cursor": page1["next_cursor"]}).json()
        assert [j["id"] for j in page1["jobs"] + page2["jobs"]] == ids[::-1]
        assert page2["next_cursor"] is None and page2["total"] == 8
        assert newer not in {j["id"] for j in page2["jobs"]}
        nul = base64.urlsafe_b64encode(b"2026-01-01T00:00:00+00:00|job\x00").decode()
        for bad in ("nonsense", "bm9uc2Vuc2U", "x" * 401, nul):
            r = http.get("/jobs", params={"cursor": bad})
            assert r.status_code == 422 and r.json()["error"]["type"] in (
                "UsageError",
                "RequestValidationError",
            ), r.text
        with stack.client(stack.token("ann", "admin")) as admin:
            odd = admin.get("/jobs", params={"submitted_by": "a\x00b"})
            assert odd.status_code == 200 and odd.json()["jobs"] == [], odd.text
            for path in ("/jobs/a%00b", "/runs/a%00b", "/runs/a%00b/trials"):
                assert admin.get(path).status_code == 404, path
        past = http.get("/jobs", params={"offset": 100}).json()
        assert past["jobs"] == [] and past["total"] == 8 and past["next_cursor"] is None


def test_read_pool_replaces_a_connection_the_server_dropped(stack: Stack) -> None:
    from tcplab.service._jobs import job_page

    assert job_page(stack.db).total == 0
    with psycopg.connect(stack.url.split("?")[0], autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND usename = current_user "
            "AND application_name = '' AND query NOT ILIKE '%LISTEN%' AND state = 'idle' "
            "AND backend_type = 'client backend' AND datname = current_database() "
            "AND query ILIKE '%FROM jobs%'"
        ).fetchone()
    assert killed is not None and killed[0] >= 1, "the pooled read connection was not found"
    assert job_page(stack.db).total == 0  # the dead connection is replaced, the read retried


@pytest.mark.parametrize("limit", [1, 50])
def test_empty_list(stack: Stack, limit: int) -> None:
    from tcplab.service._jobs import job_page

    page = job_page(stack.db, limit=limit)
    assert page == ([], 0, None)


def test_run_summary_is_computed_once_per_version_of_run_json(tmp_path: Any) -> None:
    import json
    import os

    import yaml

    from tcplab.analyzers import default_registry
    from tcplab.experiment import InlineExecutor, load_spec, prepare_run, run_experiment
    from tcplab.service._routes import _cached_summary

    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(fake_spec(n_tools=4)))
    spec = load_spec(spec_path, default_registry().names())
    run_dir, _meta, _plan = prepare_run(spec, tmp_path, tmp_path / "runs")
    assert run_experiment(run_dir, executor=InlineExecutor()).status == "completed"
    first = _cached_summary("r1", "job-1", str(run_dir))
    again = _cached_summary("r1", "job-1", str(run_dir))
    assert again is first  # the same bytes: nothing read, computed or serialized again
    body = json.loads(first)
    assert body["job_id"] == "job-1" and body["n_trials"] == 8 and len(body["arms"]) == 2
    record = run_dir / "run.json"
    changed = json.loads(record.read_text()) | {"warnings": ["edited for the test"]}
    tmp = run_dir / "run.json.tmp"
    tmp.write_text(json.dumps(changed))
    os.replace(tmp, record)  # how the run records a change: a new file
    fresh = _cached_summary("r1", "job-1", str(run_dir))
    assert fresh is not first and json.loads(fresh)["warnings"] == ["edited for the test"]
