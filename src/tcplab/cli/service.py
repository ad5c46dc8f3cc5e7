"""The experiment service's commands: ``serve``, ``worker``, ``submit``, ``jobs``, ``token``.

``submit`` and ``jobs`` are thin HTTP clients of the API; ``token`` works on the database.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from tcplab.cli._console import emit_json, print_data, print_kv
from tcplab.errors import UsageError

__all__ = ["register"]

jobs_app = typer.Typer(help="List, show, cancel and retry jobs of the experiment service.")
token_app = typer.Typer(help="Create, list and revoke API tokens (in the service database).")

_Db = Annotated[
    str | None,
    typer.Option("--db", help="PostgreSQL URL (default TCPLAB_DATABASE_URL)."),
]
_Url = Annotated[
    str | None,
    typer.Option("--url", help="Service URL (default TCPLAB_API_URL or http://127.0.0.1:8000)."),
]
_Token = Annotated[str | None, typer.Option("--token", help="API token (or TCPLAB_API_TOKEN).")]
_Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``worker``, ``submit``, ``jobs`` and ``token`` to ``app``."""
    app.command("serve")(serve_cmd)
    app.command("worker")(worker_cmd)
    app.command("submit")(submit_cmd)
    app.add_typer(jobs_app, name="jobs")
    app.add_typer(token_app, name="token")


def _settings(db: str | None) -> Any:
    from tcplab.service import load_settings

    settings = load_settings(database_url=db)
    settings.postgres_url()  # one line when it is not PostgreSQL
    return settings


def serve_cmd(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="API processes.")] = 1,
    db: _Db = None,
) -> None:
    """Run the experiment service's HTTP API (uvicorn)."""
    settings = _settings(db)
    from tcplab.service.db import ServiceDB

    service_db = ServiceDB(settings.postgres_url())
    try:
        service_db.migrate()
    finally:
        service_db.close()
    try:
        import uvicorn
    except ImportError as exc:
        from tcplab.errors import MissingDependencyError

        raise MissingDependencyError.for_extra("uvicorn", "service", "tcplab serve") from exc
    if db:
        os.environ["TCPLAB_SERVICE_DATABASE_URL"] = db  # for uvicorn's worker processes
    uvicorn.run(
        "tcplab.service.api:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


def worker_cmd(
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=256, help="Jobs run at once.")
    ] = 1,
    backend: Annotated[
        str, typer.Option("--backend", help="Backend served: local, ray or kubernetes.")
    ] = "local",
    hardware: Annotated[
        list[str] | None,
        typer.Option("--hardware", help="Hardware offered (gpu, fpga); repeatable."),
    ] = None,
    region: Annotated[str | None, typer.Option("--region", help="Region served.")] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option("--metrics-port", min=0, max=65535, help="Serve /metrics here (0: any)."),
    ] = None,
    db: _Db = None,
) -> None:
    """Run jobs from the queue until SIGTERM.

    On SIGTERM or Ctrl-C each running job stops at its next shard boundary and goes back to
    the queue with its finished shards."""
    import asyncio
    import os

    if region and not os.environ.get("TCPLAB_REGION"):
        os.environ["TCPLAB_REGION"] = region  # run.json records the region it was measured from
    settings = _settings(db)
    if metrics_port is not None:
        settings.worker_metrics_port = metrics_port
    for h in hardware or []:
        if h not in ("gpu", "fpga"):
            raise UsageError(f"--hardware {h!r}: use gpu or fpga")
    from tcplab.service.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(
        run_worker(
            settings,
            concurrency=concurrency,
            backend=backend,
            hardware=hardware or [],
            region=region,
        )
    )


def _read_spec(path: Path) -> dict[str, Any]:
    """The spec file as a mapping, relative corpus/labels made absolute (like ``tcplab run``)."""
    import yaml

    from tcplab.experiment import MAX_SPEC_BYTES, SpecError

    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"cannot read spec {path}", [f"{path}: {exc.strerror or exc}"]) from exc
    if len(data) > MAX_SPEC_BYTES or b"\x00" in data:
        raise SpecError(f"{path} is not an experiment spec", [f"{path}: too large or binary"])
    try:
        raw = yaml.safe_load(data.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SpecError(f"{path} is not valid YAML", [" ".join(str(exc).split())]) from exc
    if not isinstance(raw, dict):
        raise SpecError("the spec must be a YAML mapping", ["(top level): not a mapping"])
    for key in ("corpus", "labels"):
        value = raw.get(key)
        relative = isinstance(value, str) and not Path(value).is_absolute()
        if relative and not str(value).startswith("tcplab:"):
            raw[key] = str((path.parent / str(value)).resolve())
    return raw


def _show(job: Any, as_json: bool) -> None:
    if as_json:
        emit_json(job.model_dump(mode="json"))
        return
    for key in ("id", "name", "state", "reason", "priority", "submitted_by", "run_id"):
        value = getattr(job, key)
        if value is not None:
            print_kv(key, value)
    print_kv("priority_class", job.priority_class)
    print_kv("attempts", f"{job.attempts} (at most {job.max_attempts})")
    r = job.resources
    print_kv("resources", f"{r.cpu:g} cpu, {r.memory_mib} MiB, {r.gpu} gpu, {r.fpga} fpga")
    if job.progress:
        p = job.progress
        print_kv(
            "progress",
            f"{p.trials_done:,}/{p.trials_total:,} trials, shards {p.shards_done}/{p.shards_total}",
        )
        for arm, a in p.arms.items():
            print_kv(f"  {arm}", f"{a.done:,}/{a.total:,} ({a.failures} failed)")


def submit_cmd(
    spec: Annotated[Path, typer.Argument(help="Experiment spec (YAML).")],
    priority: Annotated[
        int, typer.Option("--priority", min=0, max=10, help="0–10 (9–10 critical, 0–3 low).")
    ] = 5,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the job finishes.")] = False,
    key: Annotated[
        str | None, typer.Option("--key", help="Client key: the same key returns the same job.")
    ] = None,
    backend: Annotated[str, typer.Option("--backend", help="Backend to run on.")] = "local",
    hardware: Annotated[str | None, typer.Option("--hardware", help="gpu or fpga.")] = None,
    low_latency: Annotated[
        bool, typer.Option("--low-latency", help="Ask for low latency.")
    ] = False,
    region: Annotated[str | None, typer.Option("--region", help="Region to run in.")] = None,
    url: _Url = None,
    token: _Token = None,
    as_json: _Json = False,
) -> None:
    """Submit an experiment to the service; prints the job id."""
    from tcplab.service.client import ApiClient

    body = {
        "spec": _read_spec(spec),
        "priority": priority,
        "backend": backend,
        "constraints": {"hardware": hardware, "low_latency": low_latency, "region": region},
        "client_key": key,
    }
    client = ApiClient(url, token)
    try:
        job = client.submit(body)
        if wait:
            while job.state in ("queued", "running"):
                time.sleep(1.0)
                job = client.job(job.id)
    finally:
        client.close()
    if as_json:
        emit_json(job.model_dump(mode="json"))
    else:
        print_data(job.id, job.state, *([job.reason] if job.reason and wait else []))
    if wait and job.state != "succeeded":
        raise typer.Exit(1)


@jobs_app.command("list")
def jobs_list_cmd(
    state: Annotated[str | None, typer.Option("--state", help="queued, running, ...")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="At most.")] = 50,
    url: _Url = None,
    token: _Token = None,
    as_json: _Json = False,
) -> None:
    """Jobs you may see, newest first."""
    from tcplab.service.client import ApiClient

    client = ApiClient(url, token)
    try:
        page = client.jobs(state=state, limit=limit)
    finally:
        client.close()
    if as_json:
        emit_json(page.model_dump(mode="json"))
        return
    for j in page.jobs:
        done = f"{j.progress.trials_done}/{j.progress.trials_total}" if j.progress else "-"
        print_data(j.id, j.state, j.priority_class, j.submitted_by, done, j.name, sep="\t")


def _one(action: str, job_id: str, url: str | None, token: str | None, as_json: bool) -> None:
    from tcplab.service.client import ApiClient

    client = ApiClient(url, token)
    try:
        job = getattr(client, action)(job_id)
    finally:
        client.close()
    _show(job, as_json)


@jobs_app.command("show")
def jobs_show_cmd(
    job_id: Annotated[str, typer.Argument(help="Job id.")],
    url: _Url = None,
    token: _Token = None,
    as_json: _Json = False,
) -> None:
    """One job with its progress per arm."""
    _one("job", job_id, url, token, as_json)


@jobs_app.command("cancel")
def jobs_cancel_cmd(
    job_id: Annotated[str, typer.Argument(help="Job id.")],
    url: _Url = None,
    token: _Token = None,
    as_json: _Json = False,
) -> None:
    """Cancel a job (a running one stops at its next shard boundary)."""
    _one("cancel", job_id, url, token, as_json)


@jobs_app.command("retry")
def jobs_retry_cmd(
    job_id: Annotated[str, typer.Argument(help="Job id.")],
    url: _Url = None,
    token: _Token = None,
    as_json: _Json = False,
) -> None:
    """Queue a failed or cancelled job again (its run resumes)."""
    _one("retry", job_id, url, token, as_json)


@jobs_app.command("logs")
def jobs_logs_cmd(
    job_id: Annotated[str, typer.Argument(help="Job id.")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until the job finishes.")
    ] = False,
    url: _Url = None,
    token: _Token = None,
    as_json: _Json = False,
) -> None:
    """The lines the workers logged while running a job (every attempt), oldest first."""
    from tcplab.service.client import ApiClient

    client, after, last_look = ApiClient(url, token), 0, False
    try:
        while True:
            page = client.logs(job_id, after=after, limit=1000)
            for line in page.lines:
                if as_json:
                    emit_json(line.model_dump(mode="json"))
                else:
                    stamp = f"{line.ts:%Y-%m-%d %H:%M:%S}"
                    print_data(stamp, line.level, line.worker, line.message, sep="\t")
            after = page.next_after
            if len(page.lines) == 1000:
                continue
            if not follow or last_look:
                break
            # a finished job's last lines land just after its state: look once more
            last_look = page.state in ("succeeded", "failed", "cancelled")
            time.sleep(1.0)
    finally:
        client.close()


def _db(db: str | None) -> Any:
    from tcplab.service.db import ServiceDB

    service_db = ServiceDB(_settings(db).postgres_url())
    service_db.migrate()
    return service_db


@token_app.command("create")
def token_create_cmd(
    user: Annotated[str, typer.Option("--user", help="User the token acts as.")],
    role: Annotated[str, typer.Option("--role", help="viewer, submitter or admin.")] = "submitter",
    name: Annotated[str, typer.Option("--name", help="A label for the token.")] = "",
    db: _Db = None,
    as_json: _Json = False,
) -> None:
    """Create a token; it is printed this once and stored only as a hash."""
    import getpass

    from tcplab.service.db import create_token

    service_db = _db(db)
    try:
        created = create_token(service_db, user, role, name, created_by=getpass.getuser())
    finally:
        service_db.close()
    if as_json:
        emit_json(created.model_dump(mode="json"))
    else:
        print_data(created.token)
        print_data(
            f"token {created.id} for {created.username} ({created.role}); it is shown this once",
            err=True,
        )


@token_app.command("list")
def token_list_cmd(db: _Db = None, as_json: _Json = False) -> None:
    """Every token (never the secret): id, user, role, created, revoked, last used."""
    from tcplab.service.db import list_tokens

    service_db = _db(db)
    try:
        tokens = list_tokens(service_db)
    finally:
        service_db.close()
    if as_json:
        emit_json([t.model_dump(mode="json") for t in tokens])
        return
    for t in tokens:
        revoked = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "live"
        print_data(t.id, t.username, t.role, t.prefix + "…", revoked, t.name, sep="\t")


@token_app.command("revoke")
def token_revoke_cmd(
    token_id: Annotated[str, typer.Argument(help="Token id (tcplab token list).")],
    db: _Db = None,
) -> None:
    """Revoke a token: every request with it is refused from now on."""
    from tcplab.service.db import revoke_token

    service_db = _db(db)
    try:
        record = revoke_token(service_db, token_id)
    finally:
        service_db.close()
    print_data(record.id, "revoked")
