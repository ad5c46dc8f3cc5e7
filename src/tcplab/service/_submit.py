"""A submission → a job record: the CLI's spec checks (same messages, same YAML paths), plus
the service's own: size, credentials in the spec, backend, and the resource estimate."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tcplab.analyzers import default_registry
from tcplab.experiment import (
    ExperimentSpec,
    SpecError,
    build_plan,
    resolve_inputs,
    select_tools,
    validate_spec,
)
from tcplab.service._backends import backend_names
from tcplab.service._jobs import new_job_id, now
from tcplab.service._models import JobRecord, SubmitRequest, priority_class
from tcplab.service._queue import queue_name
from tcplab.service._resources import estimate_resources
from tcplab.service._settings import ServiceSettings

__all__ = ["CREDENTIAL_KEY", "build_job", "credential_problems", "parse_spec"]

#: parameter names that hold credentials: refused in submitted specs (set them on workers)
CREDENTIAL_KEY = re.compile(
    r"(api[_-]?key|secret|password|passwd|token|credential|authorization|access[_-]?key)", re.I
)


def parse_spec(req: SubmitRequest, max_bytes: int) -> Any:
    """The raw spec of a submission (YAML text parsed safely, or the JSON object).

    Raises:
        SpecError: too large, binary, or not YAML.
    """
    if req.spec_yaml is not None:
        size = len(req.spec_yaml.encode("utf-8", "surrogatepass"))
        text = req.spec_yaml
    else:
        text = json.dumps(req.spec)
        size = len(text.encode())
    if size > max_bytes:
        raise SpecError(
            f"the spec is larger than {max_bytes // 1024} KiB",
            [f"spec: {size:,} bytes > {max_bytes:,} (specs are small YAML documents)"],
        )
    if req.spec_yaml is None:
        return req.spec
    if "\x00" in text:
        raise SpecError("the spec is binary", ["spec_yaml: contains NUL bytes"])
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError("spec_yaml is not valid YAML", [" ".join(str(exc).split())]) from exc


def credential_problems(raw: Any, path: str = "") -> list[str]:
    """Every key of the spec that looks like it holds a credential, with its YAML path."""
    out: list[str] = []
    if isinstance(raw, dict):
        for key, value in raw.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and CREDENTIAL_KEY.search(key) and value not in (None, ""):
                out.append(
                    f"{here}: credentials are not accepted in a submitted spec (they would be "
                    "stored with the job); set them in the workers' environment"
                )
            else:
                out.extend(credential_problems(value, here))
    elif isinstance(raw, list):
        for i, value in enumerate(raw):
            out.extend(credential_problems(value, f"{path}[{i}]"))
    return out


def _absolute(spec: ExperimentSpec, base: Path) -> ExperimentSpec:
    """Relative corpus/labels paths made absolute under ``base`` (``tcplab:`` refs kept)."""
    update: dict[str, str] = {}
    for key in ("corpus", "labels"):
        value = getattr(spec, key)
        if value and not value.startswith("tcplab:") and not Path(value).is_absolute():
            update[key] = str(base / value)
    return spec.model_copy(update=update) if update else spec


def build_job(
    req: SubmitRequest, user: str, settings: ServiceSettings, client_key: str | None
) -> JobRecord:
    """Validate a submission like ``tcplab run`` does before any work, and make its record.

    Raises:
        SpecError: every problem with its YAML path (the API answers 422).
        LabelsError: the labels file the spec names is unusable.
    """
    raw = parse_spec(req, settings.max_spec_bytes)
    problems = credential_problems(raw)
    if problems:
        raise SpecError(f"the spec has {len(problems)} problem(s); nothing was queued", problems)
    if req.backend not in backend_names():
        known = ", ".join(backend_names())
        raise SpecError("unknown backend", [f"backend: unknown {req.backend!r}; known: {known}"])
    spec = _absolute(validate_spec(raw, default_registry().names()), settings.resolved_spec_dir())
    corpus, labels = resolve_inputs(spec, settings.resolved_spec_dir())
    plan = build_plan(spec, select_tools(spec, corpus, labels))
    t = now()
    return JobRecord(
        id=new_job_id(),
        client_key=client_key,
        name=spec.name,
        spec=spec.model_dump(mode="json"),
        spec_hash=spec.spec_hash(),
        priority=req.priority,
        priority_class=priority_class(req.priority),
        resources=estimate_resources(spec, plan.n_trials, req.constraints),
        constraints=req.constraints,
        backend=req.backend,
        queue=queue_name(req.backend, req.constraints),
        submitted_by=user,
        state="queued",
        created_at=t,
        updated_at=t,
        attempts=0,
        max_attempts=settings.max_attempts,
        n_tools=len(plan.tools),
        n_trials=plan.n_trials,
        arms=list(plan.arms),
    )
