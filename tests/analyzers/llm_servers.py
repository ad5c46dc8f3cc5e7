"""A real OpenAI-compatible test server (``/v1/chat/completions``, JSON and SSE) with faults.

The scenario of each request is chosen by the tool name in the prompt (``Tool: NAME``): the
part before the first ``-`` picks the behaviour, an optional number after it says for how many
attempts the fault lasts (``flaky429-2-ls``: two 429 answers, then a valid one).

==============  ===============================================================================
``ok``          a valid answer (also any unknown prefix); level CRITICAL when the name ends in
                ``rm``, else SAFE
``fence``       a valid answer inside a Markdown code fence, with prose around it
``garbage``     prose without JSON                        → PARSE_FAILURE
``badlevel``    JSON with ``risk_level: EXTREME``          → PARSE_FAILURE
``refuse``      a ``refusal`` field                        → REFUSED
``filter``      ``finish_reason: content_filter``          → REFUSED
``nousage``     a valid answer without usage
``r429``        always 429, ``Retry-After: 0``
``flaky429-N``  429 (``Retry-After: 0``) N times, then valid
``ra-N``        429 with ``Retry-After: 1`` N times, then valid
``e500``        always 500;  ``flaky500-N``: 500 N times, then valid
``e400``        400 (not retried)
``hang``        no answer for ``hang_s`` (past the client's timeout); ``flakyhang-N``: N times
``trunc``       HTTP 200 whose body (JSON or SSE) is cut in the middle
==============  ===============================================================================

Every answer carries ``X-Server-Latency-Ns``: the server's own time for the request, from when
its handler took the connection (first request) or received the request line (later requests
on a kept-alive connection) to the response headers; it includes ``latency_s``. With
``keep_alive=True`` the server speaks HTTP/1.1 with persistent connections and sends streams
chunked; by default it speaks HTTP/1.0, one request per connection, streams read to the close.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["CannedServer", "FaultServer"]

TOOL_RE = re.compile(r"Tool: (\S+)")


class _Server(ThreadingHTTPServer):
    # listen() runs in the constructor, so the backlog must be a class attribute: the
    # default (5) overflows with 16 new connections at once, and dropped SYNs come back
    # after a 1 s retransmission timeout (seen as 1 s latency outliers).
    request_queue_size = 1024
    daemon_threads = True
    accepted: dict[Any, int]

    def process_request(self, request: Any, client_address: Any) -> None:
        self.accepted[request] = time.perf_counter_ns()  # right after accept()
        super().process_request(request, client_address)


def _answer(tool: str) -> dict[str, Any]:
    if tool.endswith("rm"):
        return {
            "risk_level": "CRITICAL",
            "capabilities": ["DESTRUCTIVE", "FILE_MODIFICATION"],
            "explanation": "removes files irreversibly",
        }
    return {"risk_level": "SAFE", "capabilities": [], "explanation": "only reads"}


class FaultServer:
    """The server, on 127.0.0.1 and an ephemeral port.

    Args:
        latency_s: delay before the first byte of every answer (artificial service time).
        hang_s: how long ``hang`` requests stay silent.
        model: the model name in responses.
        fingerprint: the ``system_fingerprint`` in responses.
        keep_alive: HTTP/1.1 with persistent connections (chunked streams).
        tls: serve HTTPS with this server-side context.
    """

    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        hang_s: float = 3.0,
        model: str = "fault-model-2024-01-01",
        fingerprint: str = "fp_fault_1",
        keep_alive: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.latency_s = latency_s
        self.hang_s = hang_s
        self.model = model
        self.fingerprint = fingerprint
        self.keep_alive = keep_alive
        self.tls = tls is not None
        self.connections = 0
        self._open: set[socket.socket] = set()
        self.attempts: Counter[str] = Counter()
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        server = _Server(("127.0.0.1", 0), self._handler_class())
        server.accepted = {}
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (``https://localhost:PORT/v1`` with TLS)."""
        if self.tls:
            return f"https://localhost:{self.port}/v1"
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FaultServer:
        """Start serving (returns self)."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hanging requests, stop serving and close the socket."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def drop_connections(self) -> None:
        """Close every open connection from the server's side (as an idle timeout would)."""
        with self._lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def reset(self) -> None:
        """Forget attempt counts and recorded requests."""
        with self._lock:
            self.attempts.clear()
            self.requests.clear()
            self.peak_in_flight = 0

    # -- behaviour -------------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.0: one request per connection
            protocol_version = "HTTP/1.1" if owner.keep_alive else "HTTP/1.0"
            disable_nagle_algorithm = True  # no 40 ms Nagle + delayed-ACK stalls
            started_ns = 0
            connected_ns: int | None = None

            def setup(self) -> None:
                accepted = getattr(self.server, "accepted", {}).pop(self.request, None)
                self.connected_ns = accepted or time.perf_counter_ns()
                super().setup()
                with owner._lock:
                    owner.connections += 1
                    owner._open.add(self.request)

            def finish(self) -> None:
                with owner._lock:
                    owner._open.discard(self.request)
                super().finish()

            def parse_request(self) -> bool:
                # the clock starts when the connection was accepted (its first request) or
                # when the request line arrived (later requests on a kept-alive connection)
                self.started_ns = self.connected_ns or time.perf_counter_ns()
                self.connected_ns = None
                return super().parse_request()

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def do_GET(self) -> None:
                if self.path.rstrip("/") in ("/v1/models", "/health"):
                    owner._send_json(self, 200, {"object": "list", "data": [{"id": owner.model}]})
                else:
                    owner._send_json(self, 404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with owner._lock:
                    owner.in_flight += 1
                    owner.peak_in_flight = max(owner.peak_in_flight, owner.in_flight)
                try:
                    owner._serve(self, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with owner._lock:
                        owner.in_flight -= 1

        return Handler

    @staticmethod
    def _respond(
        h: BaseHTTPRequestHandler, code: int, headers: dict[str, str], data: bytes = b""
    ) -> None:
        """Status line, headers and ``data`` in one write, the server's latency taken last."""
        lines = [f"{h.protocol_version} {code} {h.responses[code][0]}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        started = getattr(h, "started_ns", 0)
        if started:
            lines.append(f"X-Server-Latency-Ns: {time.perf_counter_ns() - started}")
        h.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)
        h.wfile.flush()

    @staticmethod
    def _send_json(
        h: BaseHTTPRequestHandler, code: int, obj: Any, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(obj).encode()
        head = {"Content-Type": "application/json", "Content-Length": str(len(data))}
        FaultServer._respond(h, code, head | (headers or {}), data)

    def _serve(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        text = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
        match = TOOL_RE.search(text)
        tool = match.group(1) if match else "unknown"
        parts = tool.split("-")
        kind = parts[0]
        times = int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else 1
        with self._lock:
            self.attempts[tool] += 1
            attempt = self.attempts[tool]
            self.requests.append({"tool": tool, "attempt": attempt, **body})
        faulty = attempt <= times if kind.startswith("flaky") or kind == "ra" else True
        err = {"error": {"message": f"simulated {kind}", "type": "test"}}
        if kind in ("r429", "flaky429") and faulty:
            return self._send_json(h, 429, err, {"Retry-After": "0"})
        if kind == "ra" and faulty:
            return self._send_json(h, 429, err, {"Retry-After": "1"})
        if kind in ("e500", "flaky500") and faulty:
            return self._send_json(h, 500, err)
        if kind == "e400":
            return self._send_json(h, 400, err)
        if kind in ("hang", "flakyhang") and faulty:
            self._stopping.wait(self.hang_s)
            return self._send_json(h, 504, err)
        if self.latency_s:
            self._stopping.wait(self.latency_s)
        self._answer(h, body, kind, tool)

    def _answer(
        self, h: BaseHTTPRequestHandler, body: dict[str, Any], kind: str, tool: str
    ) -> None:
        content: str | None = json.dumps(_answer(tool))
        refusal = None
        finish = "stop"
        if kind == "fence":
            content = f"Sure! Here it is:\n```json\n{content}\n```\nHope that helps."
        elif kind == "garbage":
            content = "I think this tool is probably fine, honestly."
        elif kind == "badlevel":
            content = json.dumps({"risk_level": "EXTREME", "capabilities": []})
        elif kind == "refuse":
            content, refusal = None, "I can't help with that."
        elif kind == "filter":
            content, finish = "", "content_filter"
        usage = (
            None
            if kind == "nousage"
            else {
                "prompt_tokens": 1000,
                "completion_tokens": 100,
                "total_tokens": 1100,
            }
        )
        base = {
            "id": f"chatcmpl-{tool}",
            "created": int(time.time()),
            "model": self.model,
            "system_fingerprint": self.fingerprint,
        }
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if refusal:
                message["refusal"] = refusal
            obj = {
                **base,
                "object": "chat.completion",
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            }
            if usage:
                obj["usage"] = usage
            if kind == "trunc":
                data = json.dumps(obj).encode()[:40]
                head = {"Content-Type": "application/json", "Content-Length": str(len(data))}
                self._respond(h, 200, head, data)
                return
            return self._send_json(h, 200, obj)
        stream_usage = usage if (body.get("stream_options") or {}).get("include_usage") else None
        self._stream(h, base, kind, content, refusal, finish, stream_usage)

    def _stream(
        self,
        h: BaseHTTPRequestHandler,
        base: dict[str, Any],
        kind: str,
        content: str | None,
        refusal: str | None,
        finish: str,
        usage: dict[str, int] | None,
    ) -> None:
        """The answer as server-sent events (chunked when connections are kept alive)."""
        chunked = self.keep_alive
        head = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        if chunked:
            head["Transfer-Encoding"] = "chunked"
        self._respond(h, 200, head)

        def send(data: bytes) -> None:
            h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            h.wfile.flush()

        def event(choices: list[dict[str, Any]], **extra: Any) -> None:
            chunk = {**base, "object": "chat.completion.chunk", "choices": choices, **extra}
            send(f"data: {json.dumps(chunk)}\n\n".encode())

        event([{"index": 0, "delta": {"role": "assistant", "content": ""}}])
        if kind == "trunc":
            cut = b'data: {"id": "x", "choices": [{"index": 0, "del\n\n'
            if chunked:  # a chunk announced longer than what is sent
                h.wfile.write(b"%x\r\n%s" % (len(cut) + 100, cut))
                h.wfile.flush()
            else:
                send(cut)
            h.close_connection = True  # cut the stream: no last chunk
            return
        if refusal:
            event([{"index": 0, "delta": {"refusal": refusal}}])
        text = content or ""
        for i in range(0, len(text), 24):
            event([{"index": 0, "delta": {"content": text[i : i + 24]}}])
        event([{"index": 0, "delta": {}, "finish_reason": finish}])
        if usage:
            event([], usage=usage)
        send(b"data: [DONE]\n\n")
        if chunked:
            h.wfile.write(b"0\r\n\r\n")


class CannedServer:
    """Answers every request with the same raw bytes, then closes the connection.

    For HTTP framing cases the fault server cannot produce (chunk extensions, ``100
    Continue``, bodies without a length, broken status lines).
    """

    def __init__(self, response: bytes) -> None:
        self.response = response
        self.requests = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = int(self._sock.getsockname()[1])
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> CannedServer:
        """Start serving (returns self)."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._stopping.set()
        self._thread.join(timeout=10)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data and (part := conn.recv(65536)):
                    data += part
                head, _, body = data.partition(b"\r\n\r\n")
                match = re.search(rb"(?i)content-length: *(\d+)", head)
                while match and len(body) < int(match.group(1)) and (part := conn.recv(65536)):
                    body += part
                self.requests += 1
                conn.sendall(self.response)
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_WR)


if __name__ == "__main__":  # a server in its own process (bench/bench_llm.py)
    import sys

    srv = FaultServer(
        latency_s=float(sys.argv[1]) if len(sys.argv) > 1 else 0.0,
        keep_alive=len(sys.argv) > 2 and sys.argv[2] == "keep-alive",
    ).start()
    print(srv.port, flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    srv.stop()
