"""The lean HTTP transport against raw responses from a real socket (llm_servers.CannedServer).

Framing the fault server never produces: chunk extensions and trailers, ``100 Continue``,
bodies delimited by the connection close, content given as parts, broken status lines,
short bodies, error events in a stream. Every failure must end as ERROR (never a risk class).
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tcplab.analyzers import Status, ToolInput
from tcplab.analyzers.llm import LLMAnalyzer
from tcplab.analyzers.llm._http import Origin
from tcplab.descriptor import RiskLevel
from tcplab.errors import UsageError
from tests.analyzers.llm_servers import CannedServer, FaultServer

ANSWER = {"risk_level": "HIGH_RISK", "capabilities": ["REQUIRES_ROOT"], "explanation": "x"}
MESSAGE = {"role": "assistant", "content": json.dumps(ANSWER)}
COMPLETION = json.dumps(
    {
        "model": "canned-1",
        "choices": [{"message": MESSAGE, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3},
    }
).encode()


def response(head: str, body: bytes = b"") -> bytes:
    return head.replace("\n", "\r\n").encode() + b"\r\n" + body


def chunked(body: bytes) -> bytes:
    half = len(body) // 2
    return b"%x;ext=1\r\n%s\r\n%x\r\n%s\r\n0\r\nX-Trailer: t\r\n\r\n" % (
        half,
        body[:half],
        len(body) - half,
        body[half:],
    )


def sse(*events: Any) -> bytes:
    return b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"


@pytest.fixture
def canned() -> Iterator[list[CannedServer]]:
    servers: list[CannedServer] = []
    yield servers
    for srv in servers:
        srv.stop()


def ask(servers: list[CannedServer], raw: bytes, **params: Any) -> Any:
    srv = CannedServer(raw).start()
    servers.append(srv)
    opts: dict[str, Any] = {"cache": "off", "max_retries": 0, "timeout_s": 5, "backoff_base": 0.01}
    with LLMAnalyzer(base_url=srv.base_url, model="m", **opts | params) as a:
        return a.analyze(ToolInput(name="tool", sections={"NAME": "tool - x"}))


OK_CASES = {
    "content-length": response(
        f"HTTP/1.1 200 OK\nContent-Type: application/json\nContent-Length: {len(COMPLETION)}\n",
        COMPLETION,
    ),
    "chunked with extensions and trailers": response(
        "HTTP/1.1 200 OK\nContent-Type: application/json\nTransfer-Encoding: chunked\n",
        chunked(COMPLETION),
    ),
    "100 continue first": response("HTTP/1.1 100 Continue\n")
    + response(f"HTTP/1.1 200 OK\nContent-Length: {len(COMPLETION)}\n", COMPLETION),
    "read until close": response("HTTP/1.0 200 OK\nContent-Type: application/json\n", COMPLETION),
    "content as parts": response(
        "HTTP/1.0 200 OK\n",
        json.dumps(
            {"choices": [{"message": {"content": [{"type": "text", "text": json.dumps(ANSWER)}]}}]}
        ).encode(),
    ),
    "stream without a stream request": response(
        "HTTP/1.0 200 OK\nContent-Type: text/event-stream\n",
        sse(
            {"model": "canned-1", "choices": [{"delta": {"content": json.dumps(ANSWER)[:10]}}]},
            {"choices": [{"delta": {"content": json.dumps(ANSWER)[10:]}, "finish_reason": "stop"}]},
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(OK_CASES))
def test_framings_that_carry_a_valid_answer(canned: list[CannedServer], case: str) -> None:
    res = ask(canned, OK_CASES[case])
    assert res.status is Status.OK, res.error
    assert res.risk_level is RiskLevel.HIGH_RISK and res.capabilities == ("REQUIRES_ROOT",)


BAD_CASES = {
    "not http": (b"garbage\r\n\r\n", "malformed response"),
    "body cut short": (
        response("HTTP/1.1 200 OK\nContent-Length: 5000\n", COMPLETION),
        "malformed response",
    ),
    "chunk cut short": (
        response("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n", b"400\r\n" + COMPLETION),
        "malformed response",
    ),
    "bad content-length": (
        response("HTTP/1.1 200 OK\nContent-Length: lots\n", COMPLETION),
        "malformed response",
    ),
    "no choices": (response("HTTP/1.0 200 OK\n", b'{"choices": []}'), "no choices"),
    "error object": (
        response("HTTP/1.0 200 OK\n", b'{"error": {"message": "boom"}}'),
        "error in answer",
    ),
    "error event in a stream": (
        response(
            "HTTP/1.0 200 OK\nContent-Type: text/event-stream\n",
            sse({"error": {"message": "overloaded"}}),
        ),
        "error in answer",
    ),
    "stream without an end": (
        response(
            "HTTP/1.0 200 OK\nContent-Type: text/event-stream\n",
            b'data: {"choices": [{"delta": {"content": "{"}}]}\n\n',
        ),
        "ended before the answer",
    ),
    "closed without a response": (b"", "connection error"),
    "http 404": (response("HTTP/1.1 404 Not Found\nContent-Length: 2\n", b"no"), "HTTP 404"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_broken_answers_are_errors(canned: list[CannedServer], case: str) -> None:
    raw, fragment = BAD_CASES[case]
    res = ask(canned, raw)
    assert res.status is Status.ERROR and fragment in (res.error or ""), res.error
    assert res.risk_level is RiskLevel.UNKNOWN and res.decision.value == "REQUIRE_APPROVAL"


def test_retry_after_ms_is_honoured(canned: list[CannedServer]) -> None:
    raw = response("HTTP/1.1 429 Too Many\nretry-after-ms: 300\nContent-Length: 0\n")
    res = ask(canned, raw, max_retries=1)
    assert res.status is Status.ERROR and res.attempts == 2 and canned[0].requests == 2
    assert res.timing.backoff_wait_ns >= 0.29e9  # not the 10 ms backoff


def test_connection_refused_is_a_transient_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # closed again when the block ends
    opts: dict[str, Any] = {"cache": "off", "max_retries": 1, "backoff_base": 0.01}
    with LLMAnalyzer(base_url=f"http://127.0.0.1:{port}/v1", model="m", **opts) as a:
        res = a.analyze(ToolInput(name="tool"))
    assert res.status is Status.ERROR and res.attempts == 2
    assert "connection error" in (res.error or "")


def test_base_url_must_be_http() -> None:
    assert Origin.parse("https://api.example.com/v1/").path == "/v1"
    assert Origin.parse("http://[::1]:8000/v1").host_header == "[::1]:8000"
    assert Origin.parse("https://h.example/v1").host_header == "h.example"
    with pytest.raises(UsageError, match="http"):
        LLMAnalyzer(base_url="ftp://example.com/v1", model="m", cache="off")


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[FaultServer, Path]]:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = FaultServer(keep_alive=True, tls=ctx).start()
    yield srv, cert
    srv.stop()


def test_https_trusts_the_system_store_and_nothing_else(
    tls_server: tuple[FaultServer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, cert = tls_server
    opts: dict[str, Any] = {"cache": "off", "max_retries": 2, "backoff_base": 0.01}
    with LLMAnalyzer(base_url=server.base_url, model="m", **opts) as a:
        untrusted = a.analyze(ToolInput(name="ok-ls"))
    assert untrusted.status is Status.ERROR and untrusted.attempts == 1  # not retried
    assert "certificate" in (untrusted.error or "")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # OpenSSL's default trust store
    with LLMAnalyzer(base_url=server.base_url, model="m", **opts) as a:
        results = [a.analyze(ToolInput(name=f"ok-{i}")) for i in range(3)]
    assert [r.status for r in results] == [Status.OK] * 3
    assert server.connections == 1  # one kept-alive connection (the refused one had none)
