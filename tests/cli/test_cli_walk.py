"""Every CLI command through the real console script on hostile inputs.

Each leaf command (enumerated from ``tcplab.cli.main.COMMANDS`` and the groups' subcommands,
so a new command cannot escape the walk) runs with an empty ``TCPLAB_HOME``, missing paths,
a directory where a file is expected, corrupt files (random bytes, truncated Parquet, a CSV
given as a corpus), a symlink loop, an unreadable file, markup-looking names (``[red]x[/red]``,
``[/x]``), broken homes, wrong option values, ``--json`` forms and broken standard streams.

For every case: no traceback, exit 0, 1 or 2 (0 only where the command legitimately succeeds),
and a failure's first stderr line is ``error: ...`` or click's usage message. Markup-looking
data is printed literally wherever it is echoed. Commands that do long work on success (scan
of PATH, quickstart, train-embedding, runs of real specs) are exercised on error paths only.
All cases run in one small pool of subprocesses, each under a timeout that fails its test.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tcplab.cli.main import COMMANDS, load_command

from ..conftest import TCPLAB

TIMEOUT_S = 60
HUGE = "99999999999999999999"
# As root, a mode-000 file is still readable: the case then runs without the capabilities
# that bypass file permissions (dropped from the bounding set, then exec of the script).
DROP_DAC = (
    "import ctypes, os, sys\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH; 24: PR_CAPBSET_DROP\n"
    "    if libc.prctl(24, cap, 0, 0, 0) != 0:\n"
    "        raise OSError(ctypes.get_errno(), 'prctl(PR_CAPBSET_DROP)')\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)
# Unique words inside markup-looking names: whenever one is echoed, its brackets must be too.
MARKED = ("qabsent", "qrandbytes", "qunread", "qxtool")


@dataclasses.dataclass(frozen=True)
class Case:
    """One command line. ``{name}`` placeholders are paths: the world's (see ``world``:
    ``missing``, ``dir``, ``rand``, ``trunc``, ``csv``, ``loop``, ``text``, ``empty``,
    ``unread``, ``corpus``, ``reg``, ``regcsv``, ``labels``...) and the case's own ``home``
    and ``oloop`` (an output path that is a symlink loop)."""

    args: tuple[str | bytes, ...]
    home: str = "empty"  # empty, data, broken, file, loop
    ok: bool = False  # exit 0 is legitimate
    verdict: bool = False  # a non-zero exit whose answer is on stdout (invalid descriptor...)
    echo: str | None = None  # must appear literally in the output
    stdio: str | None = None  # closed-stdin, closed-stdout, full
    unreadable: bool = False  # names the unreadable file (run without DAC capabilities)
    env: dict[str, str] | None = None
    stdin: bytes | None = None  # written to the command's stdin (default: empty)
    exits: tuple[int, ...] = ()  # other documented exit statuses (check: 10, 20, 30)


def c(*args: str | bytes, **kw: Any) -> Case:
    return Case(args, **kw)


def hostile(
    *args: str, kinds: tuple[str, ...] = ("missing", "dir", "rand", "loop"), **kw: Any
) -> list[Case]:
    """One case per hostile path, in place of the ``{X}`` slot of ``args``."""
    return [c(*(a.replace("{X}", "{" + k + "}") for a in args), **kw) for k in kinds]


ABSENT = "[red]qabsent[/red]"
XTOOL = "[red]qxtool[/red]"
RUN = ("run-ok", "--resamples", "10")  # a valid run; few resamples if an option is accepted
REFUSED = "http://127.0.0.1:9"  # nothing listens there: refused at once, no network wait
PG_REFUSED = "postgresql://u:p@127.0.0.1:9/x"
REPO = Path(__file__).resolve().parents[2]
# kubectl never falls back to the user's kubeconfig: a cluster that refuses at once
K8S_ENV = {"KUBECONFIG": "{kubeconfig}"}
S3_ENV = {
    "TCPLAB_S3_ENDPOINT_URL": REFUSED,
    "AWS_ACCESS_KEY_ID": "k",
    "AWS_SECRET_ACCESS_KEY": "s",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _cases_top() -> dict[str, list[Case]]:
    return {
        "quickstart": [  # error paths only: a success scans PATH and runs an experiment
            *hostile("quickstart", "--spec", "{X}", kinds=("missing", "rand")),
            c("quickstart", "--spec", "{unread}", unreadable=True),
            c("quickstart", "--spec", "{spec_bad}", echo=XTOOL),
            c("quickstart", "--limit", "-5"),
            c("quickstart", "--limit", HUGE, "--arms", XTOOL, echo=XTOOL),
            c("quickstart", "--spec", "{spec_nolabels}", home="file"),
        ],
        "analyze": [
            c("analyze", "-a", "tcp", "ls"),
            c("analyze", "-a", "bogus[/x]", "ls", echo="bogus[/x]"),
            c("analyze", "-a", "tcp", XTOOL, "--json", home="data", ok=True, echo=XTOOL),
            c("analyze", "-a", "rules", XTOOL, "nosuch[/x]", home="data", ok=True, echo=XTOOL),
            c("analyze", "-a", "rules", "ls", "--corpus", "{trunc}"),
            c("analyze", "-a", "tcp", "ls", "--registry", "{loop}"),
            c("analyze", "-a", "rules", "ls", "--corpus", "{unread}", unreadable=True),
            c("analyze", "-a", "tcp", "ls", "--concurrency", "-1", home="data"),
            c("analyze", "-a", "rules", "ls", "--registry", "{reg}"),
            c("analyze", "-a", "embedding", "ls", "-p", f"mode={XTOOL}", home="data"),
            c("analyze", "-a", "llm", "ls", home="data"),
        ],
        "train-embedding": [  # error paths only: a success loads the model and trains
            c("train-embedding"),
            c("train-embedding", "--corpus", "{trunc}"),
            c("train-embedding", "--labels", "{rand}", "--corpus", "{corpus}"),
            c("train-embedding", "--labels", "{unread}", "--corpus", "{corpus}", unreadable=True),
            c("train-embedding", "--labels", "{labels}", "--corpus", "{corpus}", "--json"),
            c("train-embedding", "--split", "bogus[/x]", echo="bogus[/x]"),
            c("train-embedding", "--labels", "{labels}", "--corpus", "{corpus}", "--out", "{dir}"),
        ],
        "run": [  # error paths only: a valid spec would run an experiment
            c("run"),
            *hostile("run", "{X}", kinds=("missing", "rand")),
            c("run", "{unread}", unreadable=True),
            c("run", "{spec_bad}", echo=XTOOL),
            c("run", "{spec_nolabels}", echo=ABSENT),
            c("run", "--resume", "garbage", "--no-db", home="broken"),
            c("run", "{spec_nolabels}", "--workers", "-1"),
            c("run", "{spec_nolabels}", "--sample-interval", "nan"),
            c("run", "{spec_nolabels}", "--executor", "bogus[/x]", echo="bogus[/x]"),
            c("run", "--resume", ABSENT, "--db", "nope://[/x]", echo="nope://[/x]"),
            c("run", "--resume", ABSENT, "--artifacts", "s3://", "--out", "{rand}", "--no-db"),
        ],
    }


def _cases_results() -> dict[str, list[Case]]:
    return {
        "report": [
            c("report", ABSENT, echo=ABSENT),
            *[c("report", k, home="broken") for k in ("garbage", "badshard")],
            c(
                "report",
                *RUN,
                "--confidence",
                "2",
                "--alpha",
                "-1",
                "--tost-margin",
                "nan",
                "--usd-per-core-hour",
                "-1",
                home="data",
            ),
            c("report", *RUN, "--reference", XTOOL, "--seed", "-1", home="data", echo=XTOOL),
            c("report", *RUN, "--out", "{rand}/r", "--json", home="data"),
            c("report", "s3://bad[/x]bucket/runs/r", env=S3_ENV),
        ],
        "compare": [
            c("compare", ABSENT, "run-ok", home="data", echo=ABSENT),
            c("compare", "run-ok", "{rand}", home="data"),
            c("compare", "run-ok", "badshard", home="broken"),
            c("compare", "run-ok", *RUN, "--confidence", "7", "--threshold", "nan", home="data"),
            c(
                "compare",
                "run-ok",
                *RUN,
                "--arm",
                XTOOL,
                "--seed",
                HUGE,
                "--fail-on-regression",
                "--json",
                home="data",
                echo=XTOOL,
            ),
        ],
    }


def _cases_store() -> dict[str, list[Case]]:
    return {
        "query": [
            c("query"),
            c("query", "--limit", "-1", home="data"),
            c(
                "query",
                "--since",
                "garbage[/x]",
                "--tool",
                "[/x]",
                "--arm",
                XTOOL,
                "--type",
                "t",
                "--status",
                "s",
                home="data",
                echo="garbage[/x]",
            ),
            c("query", "--db", "nope://[/x]", echo="nope://[/x]"),
            c("query", "--db", "sqlite:///{rand}"),
            c("query", "-f", "table", home="data", ok=True, echo=f"{XTOOL} run"),
        ],
        "sql": [
            c("sql", "select 1"),
            c(
                "sql",
                f"SELECT '{XTOOL}' AS \"[/x]\"",
                "--run",
                "run-ok",
                home="data",
                ok=True,
                echo=XTOOL,
            ),
            c("sql", "select 1", "--run", "{rand}"),
            c("sql", "select count(*) from trials", "--run", "badshard", home="broken"),
            c("sql", 'select * from "nosuch[/x]"', home="data", echo="nosuch[/x]"),
            c("sql", "select 1", "--timeout", "-1", home="data"),
            c("sql", "select 1", "--memory-limit", "bad[/x]", home="data"),
            c("sql", "SELECT '[/x]'", "-f", "json", home="data", stdio="full"),
        ],
    }


def _cases_corpus() -> dict[str, list[Case]]:
    scan = ("corpus", "scan", "--path-dirs", "{dir}")  # never PATH: an empty directory
    out = ("--out", "{home}/c.parquet")
    return {
        "corpus scan": [
            c(*scan, *out, ok=True),
            c(*scan, "--out", "{dir}"),
            c(*scan, *out, "--previous", "{trunc}"),
            c(*scan, *out, "--previous", "{unread}", unreadable=True),
            c(*scan, *out, "--format", "bogus[/x]", echo="bogus[/x]"),
            c(*scan, *out, "--workers", "0"),
            c(*scan, *out, "--workers", HUGE, "--no-reuse", "--allow-help", ok=True),
            c(*scan, home="file"),
            c(*scan, "--reuse", home="broken", ok=True),  # the corrupt corpus is not reused
        ],
        "corpus show": [
            c("corpus", "show", "ls"),
            c("corpus", "show", XTOOL, home="data", ok=True, echo=XTOOL),
            c("corpus", "show", XTOOL, "--json", "--full", home="data", ok=True, echo=XTOOL),
            c("corpus", "show", "[red]qxtoo[/red]", home="data", echo=XTOOL),  # did you mean
            *hostile("corpus", "show", "ls", "--corpus", "{X}", kinds=("dir", "trunc", "text")),
            c("corpus", "show", "ls", "--corpus", "{unread}", unreadable=True),
            c("corpus", "show", "ls", home="broken"),
        ],
    }


def _cases_descriptor() -> dict[str, list[Case]]:
    enc = ("descriptor", "encode", "--command")
    return {
        "descriptor encode": [
            c(*enc, XTOOL, "--risk", "SAFE", ok=True),
            c(*enc, "x", "--risk", "bogus[/x]", echo="bogus[/x]"),
            c(*enc, "x", "--risk", "SAFE", "--capability", XTOOL, echo=XTOOL),
            c(*enc, "x", "--risk", "SAFE", "--exec-ms", "-1", "--memory-mb", "-5"),
            c(*enc, "x", "--risk", "SAFE", "--exec-ms", HUGE),
            c(*enc, "x", "--risk", "SAFE", "--output-kb", HUGE),
            c(*enc, "x", "--risk", "SAFE", stdio="full"),
        ],
        "descriptor decode": [
            c("descriptor", "decode", XTOOL, verdict=True),
            c("descriptor", "decode", "[/x]", "--json", verdict=True),
            c("descriptor", "decode", "[/x]", verdict=True, stdio="closed-stdout"),
            c("descriptor", "decode", b"\xff\xfe"),
        ],
        "descriptor validate": [
            *hostile("descriptor", "validate", "--input", "{X}", kinds=("dir", "loop")),
            c("descriptor", "validate", "--input", "{rand}", verdict=True),
            c("descriptor", "validate", "--input", "{unread}", unreadable=True),
            c("descriptor", "validate", "--input", "-", stdio="closed-stdin"),
            c("descriptor", "validate", "--input", "-", ok=True),  # empty stdin
        ],
    }


def _cases_registry() -> dict[str, list[Case]]:
    out = ("--out", "{home}/r.tcpdb")
    build = ("registry", "build", "--input", "{regcsv}")
    return {
        "registry build": [
            *hostile("registry", "build", "--input", "{X}", *out, kinds=("missing", "rand")),
            c("registry", "build", "--input", "{labels}", *out),  # a CSV of other columns
            c("registry", "build", "--input", "{unread}", *out, unreadable=True),
            c(*build, "--out", "{dir}"),
            c(*build, "--out", "{rand}/x.tcpdb"),
            c(*build, "--out", "{home}/" + XTOOL + ".tcpdb", ok=True, echo=XTOOL),
        ],
        "registry lookup": [
            *hostile("registry", "lookup", "{X}", "ls", kinds=("dir", "rand")),
            c("registry", "lookup", "{reg}", XTOOL, ok=True, echo=XTOOL),
            c("registry", "lookup", "{reg}", "nosuch[/x]", "--json", echo="nosuch[/x]"),
            c("registry", "lookup", "{unread}", "ls", unreadable=True),
        ],
        "registry info": [
            *hostile("registry", "info", "{X}", "--json", kinds=("loop", "empty")),
            c("registry", "info", "{reg}", ok=True),
        ],
        "registry export": [
            c("registry", "export", "{rand}"),
            c("registry", "export", "{reg}", ok=True, echo=XTOOL),
            c("registry", "export", "{reg}", "--allow-invalid", ok=True, stdio="full"),
        ],
    }


def _cases_data() -> dict[str, list[Case]]:
    gen = ("descriptors", "generate", "--corpus", "{corpus}")
    out = ("--out", "{home}/r.tcpdb")
    ev = ("descriptors", "evaluate", "--registry", "{reg}")
    MD = ("missing", "dir")
    return {
        "descriptors generate": [
            c("descriptors", "generate"),
            c("descriptors", "generate", "--corpus", "{trunc}", *out),
            c(*gen, "--out", "{dir}"),
            *hostile(*gen, *out, "--rules", "{X}", kinds=("rand", "loop")),
            c(*gen, *out, "--rules", "{unread}", unreadable=True),
            c(*gen, *out, "--explain", "{dir}"),
            c(*gen, "--out", "{home}/" + XTOOL + ".tcpdb", ok=True, echo=XTOOL),
            c("descriptors", "generate", home="broken"),
            c(*gen, *out, "--generator", "bogus[/x]", echo="bogus[/x]"),
            *hostile(*gen, *out, "--generator", "ordinal", "--train-labels", "{X}", kinds=MD),
            c(*gen, *out, "--threshold", "2"),
            *hostile(*gen, *out, "--generator", "llm", "--llm-config", "{X}", kinds=MD),
            c(*gen, *out, "--max-cost", "-1"),
            c(*gen, *out, "--generator", "knn", "--no-cache"),
            c(*gen, *out, "--no-cache=yes"),
        ],
        "descriptors cv": [
            c("descriptors", "cv"),
            c("descriptors", "cv", "--corpus", "{trunc}"),
            *hostile("descriptors", "cv", "--corpus", "{X}", kinds=("dir", "rand", "loop")),
            c("descriptors", "cv", "--corpus", "{corpus}", "--generator", "x[/x]", echo="x[/x]"),
            c("descriptors", "cv", "--corpus", "{corpus}", "--generator", "ensemble"),
            c("descriptors", "cv", "--corpus", "{corpus}", "--nested", "--json"),
            c("descriptors", "cv", "--corpus", "{corpus}", "--threshold", "-0.5"),
            *hostile(
                "descriptors", "cv", "--corpus", "{corpus}", "--train-labels", "{X}", kinds=MD
            ),
            c("descriptors", "cv", home="broken"),
        ],
        "descriptors evaluate": [
            c("descriptors", "evaluate"),
            c(*ev, "--labels", "{trunc}"),
            *hostile(*ev, "--explain", "{X}", kinds=("dir", "rand")),
            c(*ev, "--labels", "{unread}", unreadable=True),
            c(*ev, "--split", "bogus[/x]", "--json", echo="bogus[/x]"),
            c(*ev, "--labels", "{labels_markup}", "--split", "all", ok=True, echo=XTOOL),
            c("descriptors", "evaluate", home="broken"),
        ],
        "labels check": [
            *hostile("labels", "check", "{X}", kinds=("dir", "rand", "loop", "empty")),
            c("labels", "check", "{labels_bad}", echo="[red]BAD[/red]"),
            c("labels", "check", "{unread}", unreadable=True, echo="Permission denied"),
        ],
        "labels agree": [
            c("labels", "agree", "{rand}", "{labels}"),
            c("labels", "agree", "{labels}", "{labels}", "--json", ok=True),
            c("labels", "agree", "{labels_markup}", "{labels_markup2}", ok=True, echo=XTOOL),
            c("labels", "agree", "{labels}", "{unread}", unreadable=True),
        ],
    }


def _cases_runs() -> dict[str, list[Case]]:
    return {
        "runs list": [
            c("runs", "list", ok=True),
            c("runs", "list", home="data", ok=True, echo=f"{XTOOL} run"),
            c("runs", "list", "--json", home="broken", ok=True),  # damaged runs listed as such
            c("runs", "list", home="file"),
            c("runs", "list", home="loop"),  # a symlink-loop TCPLAB_HOME is refused
        ],
        "runs show": [
            c("runs", "show", ABSENT, echo=ABSENT),
            c("runs", "show", "{rand}"),
            *[
                c("runs", "show", k, home="broken")
                for k in ("garbage", "emptyrun", "noplan", "jsonlist")
            ],
            c("runs", "show", "run-ok", "--json", home="data", ok=True, echo=f"{XTOOL} run"),
        ],
        "runs sync": [
            c("runs", "sync", ABSENT, echo=ABSENT),
            *[c("runs", "sync", k, home="broken") for k in ("garbage", "badshard")],
            c("runs", "sync", "run-ok", "--db", "sqlite:///{rand}", home="data"),
            c("runs", "sync", "run-ok", "--reference-arm", XTOOL, home="data", echo=XTOOL),
        ],
        "runs push": [
            c("runs", "push", "run-ok", "--to", "{home}/art", home="data", ok=True),
            c("runs", "push", "run-ok", "--to", "{rand}", "--force", home="data"),
            c("runs", "push", "run-ok", "--to", "s3://bad[/x]bucket/p", home="data", env=S3_ENV),
            c("runs", "push", "run-ok", "--to", "s3://bucket/p", home="data", env=S3_ENV),
            c("runs", "push", "badshard", "--to", "{home}/art", home="broken"),
        ],
        "runs fetch": [
            c("runs", "fetch", "{dir}"),
            c("runs", "fetch", "s3://bad[/x]bucket/runs/r", env=S3_ENV),
            c("runs", "fetch", "s3://bucket/runs/r", env=S3_ENV),
            c("runs", "fetch", "{missing}", "--to", "{rand}", "--force"),
        ],
        "db upgrade": [
            c("db", "upgrade", ok=True),
            c("db", "upgrade", "--db", "sqlite:///{dir}"),
            c("db", "upgrade", "--db", "sqlite:///{rand}"),
            c("db", "upgrade", "--revision", "bogus[/x]", echo="bogus[/x]"),
        ],
        "db downgrade": [
            c("db", "downgrade", "base", home="data"),  # stdin is not a terminal: needs --yes
            c("db", "downgrade", "base", home="data", stdio="closed-stdin"),
            c("db", "downgrade", "bogus[/x]", "--yes", home="data", echo="bogus[/x]"),
            c("db", "downgrade", "base", "-y", "--db", "sqlite:///{rand}"),
        ],
        "db current": [
            c("db", "current", home="data", ok=True),
            c("db", "current", home="broken"),
            c("db", "current", "--db", "nope://[/x]"),
        ],
    }


def _cases_check() -> dict[str, list[Case]]:
    verdicts = {"exits": (10, 20, 30), "ok": True}  # APPROVE 0, CAUTION, REQUIRE_APPROVAL, REJECT
    events = b'{"tool_name": "Bash", "tool_input": {"command": "[red]qxtool[/red] [/x]"}}'
    return {
        "check": [
            c("check"),
            c("check", "--", XTOOL, "[/x]", echo=XTOOL, **verdicts),
            c("check", XTOOL, "--json", home="data", echo=XTOOL, **verdicts),
            c("check", "ls", "--registry", "{rand}"),
            c("check", "ls", "--registry", "{loop}"),
            c("check", "ls", "--registry", "{unread}", unreadable=True),
            c("check", "--serve", "x"),
            c("check", "--serve", ok=True, stdin=b'{"command": "[/x]"}\nnot json\n\xff\n'),
            c("check", "--serve", stdio="closed-stdin"),
            c("check", "rm -rf /", stdio="full", **verdicts),
            c("check", "--cwd", "{dir}", "--", "git", "status", echo="git status", **verdicts),
            *hostile("check", "--cwd", "{X}", "git status", kinds=("missing", "rand", "loop")),
            c("check", "--explain", "--", XTOOL, "[/x]", echo=XTOOL, **verdicts),
            c("check", "--explain", "--json", "rm -rf /", "--registry", "{rand}"),
            c("check", "--build-registry", "{dir}"),
            c("check", "--build-registry", "{oloop}", ok=True),  # the file replaces the link
            c("check", "--build-registry", "{rand}/k.tcpdb"),
            c("check", "--build-registry", "{home}/k.tcpdb", "--registry", "{rand}"),
            *hostile("check", "--labels", "{X}", kinds=("missing", "rand", "csv", "empty")),
            c("check", "--labels", "{labels}", "--split", "bogus[/x]", echo="bogus[/x]"),
            c("check", "--labels", "{unread}", "--no-details", unreadable=True),
        ],
        "hook": [
            c("hook", "bogus[/x]", echo="bogus[/x]"),
            c("hook", "claude-code", ok=True, stdin=events),
            c("hook", "claude-code", ok=True, stdin=b"\xff[/x]"),
            c("hook", "claude-code", ok=True, stdio="closed-stdin"),
        ],
    }


def _cases_service() -> dict[str, list[Case]]:
    """Error paths only: ``serve`` and ``worker`` run until stopped, the rest need a server."""
    client = ("--url", REFUSED, "--token", "t[/x]", "--json")
    job = ("x[/x]", *client)
    return {
        "serve": [
            c("serve"),  # no PostgreSQL URL
            c("serve", "--port", "99999"),
            c("serve", "--workers", "0"),
            c("serve", "--host", "[/x]", "--db", "sqlite:///{home}/x.sqlite"),
            c("serve", "--db", PG_REFUSED),
        ],
        "worker": [
            c("worker"),
            c("worker", "--concurrency", "0"),
            c("worker", "--metrics-port", "99999"),
            c("worker", "--metrics-port", "0"),  # no PostgreSQL URL
            c(
                "worker",
                "--backend",
                "bogus[/x]",
                "--hardware",
                XTOOL,
                "--region",
                "r",
                "--db",
                PG_REFUSED,
                echo=XTOOL,
            ),
        ],
        "submit": [
            *hostile("submit", "{X}", kinds=("missing", "dir", "rand")),
            c("submit", "{unread}", unreadable=True),
            c("submit", "{spec_bad}", "--priority", "11"),
            c(
                "submit",
                "{spec_bad}",
                *client,
                "--wait",
                "--key",
                "k",
                "--backend",
                "local",
                "--hardware",
                "gpu",
                "--low-latency",
                "--region",
                "r",
            ),
            c("submit", "{spec_bad}", "--url", "not a url[/x]"),
        ],
        "jobs list": [
            c("jobs", "list", "--limit", "0"),
            c("jobs", "list", "--state", XTOOL, *client),
        ],
        "jobs show": [c("jobs", "show", *job)],
        "jobs cancel": [c("jobs", "cancel", *job)],
        "jobs retry": [c("jobs", "retry", *job)],
        "jobs logs": [
            c("jobs", "logs"),
            c("jobs", "logs", *job),
            c("jobs", "logs", XTOOL, "--url", REFUSED, "--token", "t", "--follow"),
            c("jobs", "logs", "x", "-f", "--url", REFUSED),  # no token
            c("jobs", "logs", "x", "--url", "not a url[/x]", "--token", "t", "--json"),
        ],
        "token create": [
            c("token", "create", "--user", XTOOL, "--role", "bogus", "--name", "n", "--json"),
            c("token", "create", "--user", "u", "--db", "sqlite:///{home}/x.sqlite"),
        ],
        "token list": [c("token", "list", "--json"), c("token", "list", "--db", "nope://[/x]")],
        "token revoke": [c("token", "revoke", "x", "--db", PG_REFUSED)],
        **_cases_check(),
        "monitor": [  # never without --once or --count: it refreshes until Ctrl-C
            c("monitor", "--once", ok=True),
            c("monitor", "--once", "--json", home="broken", ok=True),
            c("monitor", "--count", "2", "--interval", "0.1", "--json", home="data", ok=True),
            c("monitor", "--once", "--runs", "{rand}", ok=True),  # not a directory: no runs
            c("monitor", "--interval", "nan", "--once"),
            c("monitor", "--interval", "-1", "--once"),
            c("monitor", "--count", "-1"),
            c("monitor", "--once", "--json", "--runs", "{loop}", ok=True, stdio="full"),
        ],
    }


def _cases_deploy() -> dict[str, list[Case]]:
    """Error paths only for the cluster commands: every kubeconfig is missing, corrupt or names
    a server that refuses at once (never the user's: KUBECONFIG too), so nothing is deployed."""
    k = {"env": K8S_ENV}
    on = ("--overlay", "dev", "--manifests", "{manifests}")
    dead = (*on, "--kubeconfig", "{kubeconfig}")
    plan, apply, verify, destroy = (("deploy", x) for x in ("plan", "apply", "verify", "destroy"))
    render, validate = (("deploy", "terraform", x) for x in ("render", "validate"))
    checkov = (*validate, "-c", "{regions}", "--checkov", "--baseline")
    run_group = ("kube", "run-group", "--task")
    files = ("missing", "dir", "rand", "loop", "text", "empty")
    return {
        "deploy plan": [
            c(*plan),  # no --overlay
            c(*plan, "--overlay", "bogus[/x]", "--manifests", "{manifests}", echo="bogus[/x]", **k),
            *hostile(*plan, *on, "--kubeconfig", "{X}", **k),
            c(*plan, *dead, "--json", "--install-crds", **k),
            c(*plan, *dead, "--context", XTOOL, echo=XTOOL, **k),
            *hostile(*plan, "--overlay", "dev", "--manifests", "{X}", **k),
            c(*plan, "--overlay", "dev", "--manifests", "{home}", **k),
            c(*plan, *dead, "--json", stdio="full", **k),
        ],
        "deploy apply": [
            c(*apply, "--overlay", "dev", "--timeout", "0", **k),
            c(*apply, "--overlay", "dev", "--timeout", "nan", **k),
            c(*apply, *dead, "--install-crds", "--verify", "--url", REFUSED, "--token", "t", **k),
            c(*apply, *on, "--kubeconfig", "{text}", "--context", XTOOL, echo=XTOOL, **k),
            c(*apply, "--overlay", XTOOL, "--manifests", "{rand}", **k),
        ],
        "deploy verify": [
            c(*verify, *dead, "--url", REFUSED, "--token", "t[/x]", "--json", **k),
            c(*verify, *on, "--kubeconfig", "{rand}", "--timeout", "1", **k),
            c(*verify, *dead, "--context", XTOOL, "--timeout", "-1", **k),
            c(*verify, "--overlay", "[/x]", "--manifests", "{manifests}", echo="[/x]", **k),
        ],
        "deploy destroy": [
            c(*destroy, *dead, **k),  # no --yes: a usage error, nothing deleted
            c(*destroy, *dead, "--yes", "--delete-data", **k),
            c(*destroy, *on, "--kubeconfig", "{loop}", "--context", XTOOL, "--yes", **k),
            c(*destroy, "--overlay", "prod", "--manifests", "{dir}", "--yes", **k),
        ],
        "deploy terraform render": [
            c(*render, "-c", "{regions}", "-o", "{home}/tf", "--json", ok=True),
            c(*render),  # no ./deploy/regions.yaml here
            *hostile(*render, "--config", "{X}", "--out", "{home}/tf", kinds=files),
            c(*render, "--config", "{unread}", "-o", "{home}/tf", unreadable=True),
            *hostile(
                *render, "-c", "{regions}", "--out", "{X}", "--force", kinds=("rand", "oloop")
            ),
            c(*render, "-c", "{regions}", "--out", "{rand}/tf"),
            c(*render, "-c", "{regions}", "-o", "{home}/tf", stdio="full"),
        ],
        "deploy terraform validate": [
            c(*validate, "--config", "{regions}", ok=True),
            c(*validate, "--config", "{regions}", "--json", stdio="full"),
            *hostile(*validate, "--config", "{X}", "--json", kinds=("missing", "rand", "text")),
            *hostile(*checkov, "{X}", kinds=files[:5]),
            c(*checkov, "{baseline}", env={"TCPLAB_CHECKOV": "{rand}"}),  # not executable
            c(*checkov, "{baseline}", env={"TCPLAB_CHECKOV": "/bin/echo"}),  # no JSON report
            c(*checkov, "{baseline}", env={"TCPLAB_CHECKOV": "{missing}"}),
        ],
        "kube run-group": [
            c("kube", "run-group"),  # no --task
            *hostile(*run_group, "{X}", kinds=files),
            c(*run_group, "{unread}", unreadable=True),
            c(*run_group, "{task_absent}", echo=ABSENT),
            c(*run_group, "{task_other}", "--index", "-1"),
            c(*run_group, "{task_badspec}", "--index", HUGE),
            c(*run_group, "{task_other}", env={"JOB_COMPLETION_INDEX": "x"}),
        ],
    }


def all_cases() -> dict[str, list[Case]]:
    """Every leaf command's cases."""
    table: dict[str, list[Case]] = {}
    parts = (_cases_top, _cases_results, _cases_corpus, _cases_descriptor, _cases_registry,
             _cases_data, _cases_runs, _cases_service, _cases_store, _cases_deploy)  # fmt: skip
    for part in parts:
        table.update(part())
    return table


def leaf_commands() -> dict[str, Any]:
    """``"group sub"`` (or ``"name"``) -> click command, for every leaf of the CLI."""

    def walk(cmd: Any, path: str) -> Iterator[tuple[str, Any]]:
        subs = getattr(cmd, "commands", None)
        if subs is None:
            yield path, cmd
            return
        for sub_name, sub in subs.items():
            yield from walk(sub, f"{path} {sub_name}")

    found: dict[str, Any] = {}
    for name in COMMANDS:
        found.update(walk(load_command(name), name))
    return found


# -- the world: hostile files, data files, homes --------------------------------------------


def _random_bytes(path: Path, n: int = 4096, seed: int = 7) -> Path:
    import random

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(random.Random(seed).randbytes(n))
    return path


def _good_files(good: Path) -> dict[str, Path]:
    from tcplab.corpus import ToolDoc, write_corpus
    from tcplab.descriptor import encode
    from tcplab.registry import write_registry
    from tcplab.resources import shipped_labels

    good.mkdir()
    rows = [
        ToolDoc(name=name, path=f"/usr/bin/{name}", real_path=None, package=None,
                man_section="1", man_path=None, doc_source="man",
                sections={"NAME": f"{name} - deletes [/x] files", "[red]SEC[/red]": "[/x] text"},
                doc_text=f"{name} - deletes files recursively", doc_sha256="0" * 64)
        for name in (XTOOL, "plaintool")
    ]  # fmt: skip
    corpus = write_corpus(rows, good / "corpus.parquet")
    reg = good / "reg.tcpdb"
    entries = [(n, encode(n, "HIGH_RISK", ["DESTRUCTIVE"])) for n in (XTOOL, "plaintool")]
    write_registry(reg, entries)
    regcsv = good / "reg.csv"
    regcsv.write_text("command,hex\n" + "".join(f"{n},{b.hex()}\n" for n, b in entries))
    labels = Path(shutil.copy(shipped_labels("tcplab-v1.csv"), good / "labels.csv"))
    head = labels.read_text().splitlines()[0]
    files = {"corpus": corpus, "reg": reg, "regcsv": regcsv, "labels": labels}
    for key, level in (("labels_markup", "SAFE"), ("labels_markup2", "CRITICAL"),
                       ("labels_bad", "[red]BAD[/red]")):  # fmt: skip
        files[key] = good / f"{key}.csv"
        files[key].write_text(
            f"{head}\n{XTOOL},{level},,lists [/x] files,[red]me[/red]\nplaintool,SAFE,,x,me\n"
        )
    return files


def _bad_files(bad: Path, corpus: Path) -> dict[str, Path]:
    """Hostile paths; ``[/x]`` in a path is a directory ``...[`` holding ``x]...``."""
    loop = bad / "loop[/x]"
    trunc = bad / "trunc[/x].parquet"
    for path in (loop, trunc):
        path.parent.mkdir(parents=True, exist_ok=True)
    loop.symlink_to(loop.name)
    (bad / "dir[/x]").mkdir(parents=True)
    trunc.write_bytes(corpus.read_bytes()[: corpus.stat().st_size // 2])
    csv = Path(shutil.copy(corpus.parent / "labels.csv", bad / "labels-as-corpus.csv"))
    text = bad / "text.yaml"
    text.write_text("- just\n- a [/x] list\n")
    (bad / "empty.dat").write_bytes(b"")
    return {
        "missing": bad / f"{ABSENT}.dat",
        "dir": bad / "dir[/x]",
        "loop": loop,
        "rand": _random_bytes(bad / "[red]qrandbytes[/red].bin"),
        "trunc": trunc,
        "csv": csv,
        "text": text,
        "empty": bad / "empty.dat",
    }


def _specs(base: Path, labels: Path) -> dict[str, Path]:
    import yaml

    spec = {"spec_version": 1, "name": "walk", "labels": str(labels),
            "tools": {"kind": "labeled"}, "iterations": 1, "warmup": 0, "seed": 1,
            "executor": {"kind": "inline", "workers": 1},
            "arms": [{"name": "a", "analyzer": XTOOL}]}  # fmt: skip
    bad = base / "spec-bad.yaml"
    bad.write_text(yaml.safe_dump(spec))
    spec["arms"] = [{"name": "t", "analyzer": "tcp"}]
    spec["labels"] = str(base / f"{ABSENT}.csv")
    nolabels = base / "spec-nolabels.yaml"
    nolabels.write_text(yaml.safe_dump(spec))
    return {"spec_bad": bad, "spec_nolabels": nolabels}


def _run_dir(runs: Path, run_id: str) -> Path:
    import pyarrow as pa

    from tcplab.experiment import write_run_from_trials
    from tcplab.store._synthetic import run_meta, trial_table

    run_dir = runs / run_id
    table = pa.concat_tables([trial_table(run_id, s, 60, start_seq=s * 60) for s in range(2)])
    write_run_from_trials(run_dir, table, shard_size=60, **run_meta(run_id, name=f"{XTOOL} run"))
    return run_dir


def _deploy_files(base: Path, run: Path) -> dict[str, Path]:
    """A kubeconfig whose server refuses at once, the repository's deploy files, task files."""
    import json

    kubeconfig = base / "kubeconfig.yaml"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n"
        '- {name: c, cluster: {server: "https://127.0.0.1:9", insecure-skip-tls-verify: true}}\n'
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: dead, context: {cluster: c, user: u}}]\ncurrent-context: dead\n"
    )
    record = json.loads((run / "run.json").read_text())
    task = {"job_id": "j", "run_id": record["run_id"], "run_path": str(run), "groups": 2,
            "spec": {"name": XTOOL}, "spec_hash": record["spec_hash"]}  # fmt: skip
    tasks = {
        "task_absent": {**task, "run_path": ABSENT},  # relative to the case's folder
        "task_other": {**task, "spec_hash": "0" * 64},  # not the run's spec
        "task_badspec": task,  # the run's, with a spec that does not validate
    }
    files = {"kubeconfig": kubeconfig}
    for key, doc in tasks.items():
        files[key] = base / f"{key}.json"
        files[key].write_text(json.dumps(doc))
    return files | {
        "manifests": REPO / "deploy" / "kubernetes",
        "regions": REPO / "deploy" / "regions.yaml",
        "baseline": REPO / "deploy" / "terraform" / "checkov-baseline.yaml",
    }


def _data_home(home: Path, files: dict[str, Path]) -> None:
    from tcplab.store import open_store, sync_run

    (home / "corpus").mkdir(parents=True)
    shutil.copy(files["corpus"], home / "corpus" / "corpus.parquet")
    (home / "registry").mkdir()
    shutil.copy(files["reg"], home / "registry" / "tools.tcpdb")
    run = _run_dir(home / "runs", "run-ok")
    with open_store(f"sqlite:///{home / 'tcplab.sqlite'}") as store:
        sync_run(run, store)


def _broken_home(home: Path, data: Path) -> None:
    for rel in ("corpus/corpus.parquet", "registry/tools.tcpdb", "tcplab.sqlite"):
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        _random_bytes(home / rel)
    (home / "registry" / "tools.explain.jsonl").write_text("{not json [/x]\n")
    runs = home / "runs"
    shutil.copytree(data / "runs" / "run-ok", runs / "run-ok")
    (runs / "garbage").mkdir()
    _random_bytes(runs / "garbage" / "run.json")
    (runs / "emptyrun").mkdir()
    (runs / "jsonlist").mkdir()
    (runs / "jsonlist" / "run.json").write_text("[]")
    shutil.copytree(runs / "run-ok", runs / "noplan")
    (runs / "noplan" / "plan.parquet").unlink()
    shutil.copytree(runs / "run-ok", runs / "badshard")
    shard = runs / "badshard" / "trials" / "shard-000001.parquet"
    shard.write_bytes(shard.read_bytes()[:100])


@pytest.fixture(scope="module")
def world() -> Iterator[dict[str, Path]]:
    """Every path a case may name."""
    base = Path(tempfile.mkdtemp(prefix="tcplab-walk-"))
    try:
        files = _good_files(base / "good")
        files |= _bad_files(base / "bad", files["corpus"])
        files |= _specs(base, files["labels"])
        homes = base / "homes"
        _data_home(homes / "data", files)
        _broken_home(homes / "broken", homes / "data")
        files |= _deploy_files(base, homes / "data" / "runs" / "run-ok")
        (homes / "file").write_text("not a directory\n")
        (homes / "loop").symlink_to("loop")
        unread = base / "unread" / "[red]qunread[/red].dat"
        unread.parent.mkdir(parents=True)
        shutil.copy(files["corpus"], unread)
        unread.chmod(0)
        files |= {"unread": unread, "homes": homes, "cases": base / "cases"}
        yield files
    finally:
        shutil.rmtree(base, ignore_errors=True)


# -- running the cases ----------------------------------------------------------------------


@dataclasses.dataclass
class Outcome:
    command: str
    case: Case
    argv: list[str | bytes]
    rc: int | None  # None: timed out
    stdout: str
    stderr: str
    seconds: float


def _fill(arg: str | bytes, paths: dict[str, Path]) -> str | bytes:
    if isinstance(arg, bytes):
        return arg
    return re.sub(r"\{(\w+)\}", lambda m: str(paths[m.group(1)]), arg)


def _home(case: Case, world: dict[str, Path], case_dir: Path) -> Path:
    if case.home in ("file", "loop"):
        return world["homes"] / case.home
    home = case_dir / "home"
    if case.home == "empty":
        home.mkdir()
    else:
        shutil.copytree(world["homes"] / case.home, home, symlinks=True)
    return home


def _popen_args(case: Case, argv: list[str | bytes]) -> tuple[list[str | bytes], dict[str, Any]]:
    kw: dict[str, Any] = {"stdout": subprocess.PIPE}
    if case.stdin is None:
        kw["stdin"] = subprocess.DEVNULL
    else:
        kw["input"] = case.stdin
    if case.unreadable and os.geteuid() == 0:
        argv = [str(TCPLAB), *argv]
        return [sys.executable, "-c", DROP_DAC, *argv], kw
    if case.stdio == "closed-stdin":
        return ["sh", "-c", 'exec "$0" "$@" <&-', str(TCPLAB), *argv], kw
    if case.stdio == "closed-stdout":
        kw.pop("stdout")
        return ["sh", "-c", 'exec "$0" "$@" >&-', str(TCPLAB), *argv], kw
    return [str(TCPLAB), *argv], kw


def run_case(command: str, index: int, case: Case, world: dict[str, Path]) -> Outcome:
    case_dir = world["cases"] / f"{index:04d}"
    case_dir.mkdir(parents=True)
    home = _home(case, world, case_dir)
    oloop = case_dir / "oloop"  # an output path that is a symlink loop, one per case
    oloop.symlink_to(oloop.name)
    argv = [_fill(a, {**world, "home": home, "oloop": oloop}) for a in case.args]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TCPLAB_", "AWS_"))}
    env.update(TCPLAB_HOME=str(home), COLUMNS="500")
    env.update({k: str(_fill(v, {**world, "home": home})) for k, v in (case.env or {}).items()})
    full, (cmd, kw) = None, _popen_args(case, argv)
    if case.stdio == "full":
        full = kw["stdout"] = open("/dev/full", "w")  # noqa: SIM115
    started = time.monotonic()
    try:
        res = subprocess.run(cmd, stderr=subprocess.PIPE, cwd=case_dir, env=env,
                             timeout=TIMEOUT_S, **kw)  # fmt: skip
        rc, out, err = res.returncode, res.stdout or b"", res.stderr
    except subprocess.TimeoutExpired as exc:
        rc, out, err = None, exc.stdout or b"", exc.stderr or b""
    finally:
        if full is not None:
            full.close()
    text = (out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))
    return Outcome(command, case, argv, rc, *text, time.monotonic() - started)


def _error_shape(o: Outcome) -> list[str]:
    """A failure says so in its first stderr line: ``error: ...`` (plus ``  - problem``
    lines) or click's usage message."""
    lines = o.stderr.strip().splitlines()
    if not lines:
        return [] if o.case.verdict and o.stdout.strip() else ["non-zero exit with no message"]
    first = lines[0]
    if first.startswith(("Usage:", "Error:")):
        return []
    if not first.startswith("error: "):
        return [f"first stderr line is not `error: ...`: {first!r}"]
    extra = [line for line in lines[1:] if not line.startswith("  - ")]
    return [f"more than one line of error: {extra[:3]!r}"] if extra else []


def problems(o: Outcome) -> list[str]:
    """What is wrong with one outcome (empty: fine)."""
    if o.rc is None:
        return [f"no answer within {TIMEOUT_S} s (hang)"]
    found = []
    for needle in ("Traceback", "Exception ignored", "Error in sys.excepthook"):
        if needle in o.stderr:
            found.append(f"{needle!r} in stderr")
    if o.rc in o.case.exits:  # a documented verdict status: its answer is on stdout
        found += [] if o.stdout.strip() else [f"exit {o.rc} with nothing on stdout"]
    elif o.rc not in (0, 1, 2):
        found.append(f"exit {o.rc}")
    elif o.rc == 0 and not o.case.ok:
        found.append("exit 0 on a case that must fail")
    elif o.rc != 0:
        found += _error_shape(o)
    both = o.stdout + o.stderr
    for word in MARKED:
        if word in both and f"[red]{word}" not in both:
            found.append(f"markup rendered: {word!r} shown without its [red]...[/red]")
    if o.case.echo is not None and o.rc is not None and o.case.echo not in both:
        found.append(f"{o.case.echo!r} is not echoed literally")
    return found


def _describe(o: Outcome, found: list[str]) -> str:
    tail = "\n      ".join(o.stderr.strip().splitlines()[-6:])
    return (f"  tcplab {' '.join(map(str, o.argv))}  [home={o.case.home}"
            f"{', ' + o.case.stdio if o.case.stdio else ''}] exit {o.rc}: "
            f"{'; '.join(found)}\n      {tail}")  # fmt: skip


WORKERS = max(2, min(6, (os.cpu_count() or 2) + 1))


def _snapshot(base: Path) -> dict[str, tuple[str, int, int]]:
    """Every shared input of the walk: kind, size, mode (cases write under cases/ only)."""
    found = {}
    for d, dirs, names in os.walk(base):
        dirs[:] = [x for x in dirs if not (d == str(base) and x == "cases")]
        for name in [*dirs, *names]:
            st = os.lstat(os.path.join(d, name))
            found[os.path.relpath(os.path.join(d, name), base)] = (
                oct(st.st_mode),
                st.st_size if not os.path.isdir(os.path.join(d, name)) else 0,
                st.st_mtime_ns if os.path.isfile(os.path.join(d, name)) else 0,
            )
    return found


@dataclasses.dataclass
class Walk:
    by_command: dict[str, list[Outcome]]
    inputs_changed: list[str]


@pytest.fixture(scope="module")
def walk(world: dict[str, Path]) -> Walk:
    """Run every case once, in a small pool of real console-script subprocesses."""
    base = world["homes"].parent
    before = _snapshot(base)
    jobs = [(name, case) for name, cases in all_cases().items() for case in cases]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = [
            pool.submit(run_case, name, i, case, world) for i, (name, case) in enumerate(jobs)
        ]
        done = [f.result() for f in futures]
    if os.environ.get("TCPLAB_WALK_TIMES"):  # where the walk's time goes (never asserted)
        for o in sorted(done, key=lambda o: -o.seconds)[:40]:
            print(f"{o.seconds:6.1f} s  {o.command}: {' '.join(map(str, o.argv))}")
    by_command: dict[str, list[Outcome]] = {}
    for o in done:
        by_command.setdefault(o.command, []).append(o)
    after = _snapshot(base)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return Walk(by_command, changed)


def test_the_walk_covers_every_command_and_option() -> None:
    leaves, table = leaf_commands(), all_cases()
    assert set(table) == set(leaves), "add cases for the new command(s) to this walk"
    for name, cmd in leaves.items():
        used = {a for case in table[name] for a in case.args if isinstance(a, str)}
        for param in cmd.params:
            if param.param_type_name == "option":  # --x or its --no-x form
                assert used & {*param.opts, *param.secondary_opts}, (
                    f"{name}: no case uses {param.opts}"
                )


@pytest.mark.parametrize("command", sorted(all_cases()))
def test_command_fails_cleanly_on_hostile_input(command: str, walk: Walk) -> None:
    bad = [(o, found) for o in walk.by_command[command] if (found := problems(o))]
    assert not bad, f"{len(bad)} bad case(s) of `tcplab {command}`:\n" + "\n".join(
        _describe(o, found) for o, found in bad
    )


def test_the_walk_leaves_its_shared_inputs_alone(walk: Walk) -> None:
    """No case may change what the others read (a command that writes where it must not)."""
    assert walk.inputs_changed == []
