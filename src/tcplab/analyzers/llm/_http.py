"""A lean HTTP/1.1 client on asyncio streams, for one OpenAI-compatible server.

Why not the SDK or httpx: on the 2-core reference machine one call costs about 4.5 ms of
client CPU through the official ``openai`` SDK, 2.4 ms through plain ``httpx`` and 0.4 ms
here. At 16 concurrent calls to a 50 ms server the SDK alone needs more than one core,
its event loop falls behind, and the latency it records includes its own queueing
(``bench/bench_llm.py``, ``docs/llm.md``).

It handles ``http`` and ``https`` (the system CA store), keep-alive reuse, ``Content-Length``,
chunked and read-until-close bodies, and HTTP/1.0 servers. It has no proxy, redirect or
HTTP/2 support; the arm's ``transport=sdk`` has those.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import select
import socket
import ssl
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from tcplab.errors import UsageError

__all__ = ["HTTPPool", "HTTPProtocolError", "Origin", "Response"]

_CHUNK = 65536
_NO_BODY = frozenset({204, 304})


class HTTPProtocolError(Exception):
    """The server answered something that is not valid HTTP, or cut the body short."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where requests go: scheme, host, port and the base path (without a trailing ``/``)."""

    scheme: str
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str) -> Origin:
        """The origin of ``url``.

        Raises:
            UsageError: not an ``http`` or ``https`` URL with a host.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"llm analyzer: base_url must be an http(s) URL, not {url!r}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise UsageError(f"llm analyzer: bad port in base_url {url!r}") from exc
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))

    @property
    def host_header(self) -> str:
        """The ``Host`` header value."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


class _Conn:
    __slots__ = ("closing", "reader", "writer")

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        closing: weakref.WeakSet[asyncio.StreamWriter],
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.closing = closing  # the pool's connections still closing (TLS needs turns)

    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.transport.is_closing()

    def close(self) -> None:
        self.writer.close()
        self.closing.add(self.writer)


class Response:
    """Status line and headers of one response; the body is read with :meth:`read` or
    :meth:`chunks`, then :meth:`release` returns the connection to the pool (or closes it).

    Attributes:
        status: the HTTP status code.
        headers: header names in lower case (the last value wins).
    """

    def __init__(
        self, pool: HTTPPool, conn: _Conn, status: int, headers: dict[str, str], keep: bool
    ) -> None:
        self.status = status
        self.headers = headers
        self._pool = pool
        self._conn: _Conn | None = conn
        self._keep = keep
        self._done = False
        if status in _NO_BODY or 100 <= status < 200:
            self._mode, self._remaining = "length", 0
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self._mode, self._remaining = "chunked", 0
        elif "content-length" in headers:
            self._mode, self._remaining = "length", _content_length(headers["content-length"])
        else:
            self._mode, self._remaining, self._keep = "close", 0, False

    async def read(self) -> bytes:
        """The whole body.

        Raises:
            HTTPProtocolError: bad chunk framing, or the body ended before its length.
        """
        return b"".join([part async for part in self.chunks()])

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body in pieces, as they arrive."""
        assert self._conn is not None, "response already released"
        reader = self._conn.reader
        if self._mode == "chunked":
            async for part in _dechunk(reader):
                yield part
        elif self._mode == "length":
            while self._remaining > 0:
                part = await reader.read(min(_CHUNK, self._remaining))
                if not part:
                    raise HTTPProtocolError(f"body cut short: {self._remaining} byte(s) missing")
                self._remaining -= len(part)
                yield part
        else:
            while part := await reader.read(_CHUNK):
                yield part
        self._done = True

    def release(self) -> None:
        """Give the connection back (kept alive only when the body was read to its end)."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._keep and self._done and conn.usable():
            self._pool.put(conn)
        else:
            conn.close()


def _content_length(value: str) -> int:
    try:
        length = int(value.split(",")[0].strip())
    except ValueError as exc:
        raise HTTPProtocolError(f"bad Content-Length {value!r}") from exc
    if length < 0:
        raise HTTPProtocolError(f"bad Content-Length {value!r}")
    return length


async def _dechunk(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    try:
        while True:
            line = await reader.readuntil(b"\n")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise HTTPProtocolError(f"bad chunk size line {line[:40]!r}") from exc
            if size == 0:
                while (await reader.readuntil(b"\n")).strip():  # trailers
                    pass
                return
            data = await reader.readexactly(size + 2)
            yield data[:-2]
    except asyncio.IncompleteReadError as exc:
        raise HTTPProtocolError("chunked body cut short") from exc
    except asyncio.LimitOverrunError as exc:
        raise HTTPProtocolError("chunk size line too long") from exc


def _parse_head(block: bytes) -> tuple[str, int, dict[str, str]]:
    lines = block.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/") or not code.isdigit():
        raise HTTPProtocolError(f"bad status line {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise HTTPProtocolError(f"bad header line {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    return version, int(code), headers


def _connected_now(sock: socket.socket) -> bool:
    """Whether a non-blocking connect has completed already (without waiting).

    On loopback the handshake is over when ``connect()`` returns, so the request can go out
    at once instead of a loop turn later.

    Raises:
        OSError: the connection failed.
    """
    poller = select.poll()
    poller.register(sock, select.POLLOUT)
    if not poller.poll(0):
        return False
    error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if error:
        raise OSError(error, os.strerror(error))
    return True


def _keep_alive(version: str, headers: dict[str, str]) -> bool:
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    if version == "HTTP/1.0":
        return "keep-alive" in tokens
    return "close" not in tokens


class HTTPPool:
    """Connections to one origin, reused while the server keeps them alive.

    The arm's concurrency limiter bounds the connections in use; at most ``max_idle`` idle
    ones are kept. Everything runs on the loop of the first request.

    Args:
        origin: where to connect.
        max_idle: idle connections kept for reuse.
    """

    def __init__(self, origin: Origin, *, max_idle: int = 64) -> None:
        self.origin = origin
        self.max_idle = max_idle
        self._idle: list[_Conn] = []
        self._ssl: ssl.SSLContext | None = (
            ssl.create_default_context() if origin.scheme == "https" else None
        )
        self._literal = False
        self._addresses: list[str] = []  # a name is resolved on the first connection
        with contextlib.suppress(ValueError):
            self._addresses = [str(ipaddress.ip_address(origin.host))]
            self._literal = True
        self._closing: weakref.WeakSet[asyncio.StreamWriter] = weakref.WeakSet()
        self.connects = 0

    def put(self, conn: _Conn) -> None:
        """Keep an idle connection for reuse."""
        if len(self._idle) < self.max_idle:
            self._idle.append(conn)
        else:
            conn.close()

    async def close(self) -> None:
        """Close the idle connections and wait (at most 1 s, then abort) until every
        connection is closed, so none is left half-closed when the loop stops."""
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        writers = list(self._closing)
        if not writers:
            return
        waits = asyncio.gather(*(w.wait_closed() for w in writers), return_exceptions=True)
        try:
            await asyncio.wait_for(waits, timeout=1.0)
        except TimeoutError:
            for writer in writers:
                writer.transport.abort()
            await asyncio.sleep(0)  # the aborted transports let go of their sockets

    async def _resolve(self) -> list[str]:
        if not self._addresses:
            loop = asyncio.get_running_loop()
            infos = await loop.getaddrinfo(
                self.origin.host, self.origin.port, type=socket.SOCK_STREAM
            )
            self._addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
            if not self._addresses:
                raise OSError(f"cannot resolve {self.origin.host}")
        return self._addresses

    async def _connect(self, request: bytes) -> _Conn:
        """A new connection with ``request`` already sent.

        Each address of the host is tried in turn (``localhost`` may give ``::1`` first to a
        server listening on 127.0.0.1 only); the one that answered is tried first next time.
        Plain TCP: the request goes out as soon as the handshake is done, before the stream
        objects are built (those loop turns then overlap the server's work).
        """
        addresses = await self._resolve()
        error: OSError | None = None
        for address in list(addresses):
            try:
                if self._ssl is not None:
                    reader, writer = await asyncio.open_connection(
                        address, self.origin.port, ssl=self._ssl, server_hostname=self.origin.host
                    )
                    writer.write(request)
                else:
                    reader, writer = await self._connect_plain(address, request)
            except OSError as exc:
                error = exc
                continue
            if address != addresses[0]:
                addresses.remove(address)
                addresses.insert(0, address)
            self.connects += 1
            return _Conn(reader, writer, self._closing)
        if not self._literal:
            self._addresses = []  # resolve again next time
        assert error is not None
        raise error

    async def _connect_plain(
        self, address: str, request: bytes
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            target = (address, self.origin.port)
            try:
                sock.connect(target)
            except BlockingIOError:
                if not _connected_now(sock):  # a local server has answered already
                    await loop.sock_connect(sock, target)
            await loop.sock_sendall(sock, request)
            return await asyncio.open_connection(sock=sock)
        except BaseException:
            sock.close()
            raise

    def _take_idle(self) -> _Conn | None:
        while self._idle:
            conn = self._idle.pop()
            if conn.usable():
                return conn
            conn.close()
        return None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> Response:
        """Send a POST and read the status line and headers.

        A kept-alive connection that the server closed meanwhile is retried once on a new
        connection (nothing of the response had arrived, so nothing is lost).

        Raises:
            OSError: connection failures (``ConnectionError`` when the server closed it).
            HTTPProtocolError: not a valid HTTP response.
        """
        lines = [f"POST {path} HTTP/1.1", f"Host: {self.origin.host_header}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append(f"Content-Length: {len(body)}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        for retry_stale in (True, False):
            conn = self._take_idle() if retry_stale else None
            reused = conn is not None
            if conn is None:
                conn = await self._connect(request)
            else:
                conn.writer.write(request)
            try:
                return await self._read_head(conn)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                conn.close()
                partial = getattr(exc, "partial", b"")
                if reused and not partial:
                    continue
                if partial:
                    raise HTTPProtocolError("response head cut short") from exc
                raise ConnectionError("server closed the connection without answering") from exc
            except BaseException:
                conn.close()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _read_head(self, conn: _Conn) -> Response:
        await conn.writer.drain()
        while True:
            try:
                block = await conn.reader.readuntil(b"\r\n\r\n")
            except asyncio.LimitOverrunError as exc:
                raise HTTPProtocolError("response headers too long") from exc
            version, status, headers = _parse_head(block[:-4])
            if not 100 <= status < 200:
                return Response(self, conn, status, headers, _keep_alive(version, headers))
