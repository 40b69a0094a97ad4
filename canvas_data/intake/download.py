"""Download one URL's bytes with ``requests``: retries with back-off, timeouts, a size cap.

Transient failures (connection errors, read timeouts, 408/429/5xx answers) are retried by
urllib3's ``Retry`` with exponential back-off; everything that still fails raises
:class:`DownloadError` with one short line saying why.

The timeout of ``requests`` bounds each read, not the download: a server that drips its headers
or body a byte at a time would keep it alive for ever. A whole download therefore has a deadline
(``FetchOptions.deadline``, 6 x timeout by default), kept by a watchdog timer that shuts down the
sockets of that download when it passes; no new connection is opened after it.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.util.retry import Retry

from canvas_data import __version__

USER_AGENT = f"canvas_data/{__version__} (seed photo download; python-requests)"
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# Answers that may hold an image: image/*, or a generic binary type some hosts use for files.
_BINARY_TYPES = frozenset({"application/octet-stream", "binary/octet-stream"})
_CHUNK = 1 << 16


class DownloadError(Exception):
    """A URL that gave no usable body; ``reason`` is one short human line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class FetchOptions:
    """How hard to try: seconds per connect/read, retries, back-off, and the largest body."""

    timeout: float = 10.0
    retries: int = 3
    backoff: float = 0.5  # seconds; the n-th retry waits backoff * 2 ** (n - 1)
    max_bytes: int = 20_000_000
    max_seconds: float | None = None  # a whole download; default 6 x timeout

    @property
    def deadline(self) -> float:
        return self.max_seconds if self.max_seconds is not None else 6 * self.timeout


@dataclass(frozen=True)
class Download:
    """The body of a successful answer."""

    url: str
    final_url: str
    data: bytes
    content_type: str | None


class _CappedRetry(Retry):
    """``Retry`` that honours a server's Retry-After, but never waits longer than backoff_max."""

    def get_retry_after(self, response):  # noqa: ANN001, ANN201 - urllib3's signature
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, self.backoff_max)


class Fetcher:
    """Thread-safe downloads: one ``requests.Session`` per thread, all with the same policy."""

    def __init__(self, options: FetchOptions) -> None:
        self.options = options
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()

    def fetch(self, url: str) -> Download:
        """GET ``url``; DownloadError if it fails, is not an image type, is too large or too slow.

        The whole download (connects, retries, headers, body) ends by ``options.deadline``
        seconds: past it, its sockets are shut down and the reason says ``deadline``.
        """
        deadline = _Deadline(self.options.deadline)
        try:
            with deadline:
                download = self._fetch(url)
            if deadline.expired:  # a cut connection can look like a short, complete answer
                raise DownloadError(deadline.reason)
            return download
        except DownloadError:
            if deadline.expired:
                raise DownloadError(deadline.reason) from None
            raise
        except requests.RequestException as err:
            if deadline.expired:
                raise DownloadError(deadline.reason) from err
            raise DownloadError(_request_reason(err, self.options, url)) from err

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = _new_session(self.options)
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def _fetch(self, url: str) -> Download:
        opts = self.options
        started = time.monotonic()
        timeout = (opts.timeout, opts.timeout)
        with self._session().get(url, timeout=timeout, stream=True) as response:
            _check_status(response, opts)
            content_type = _content_type(response)
            _check_declared_size(response, opts.max_bytes)
            data = _read_body(response, opts, started)
        return Download(url, response.url, data, content_type)


def _new_session(opts: FetchOptions) -> requests.Session:
    retry = _CappedRetry(
        total=opts.retries,
        connect=opts.retries,
        read=opts.retries,
        status=opts.retries,
        other=0,
        redirect=5,
        backoff_factor=opts.backoff,
        backoff_max=max(opts.backoff * 2**opts.retries, opts.backoff),
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET"}),
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    session = requests.Session()
    adapter = _WatchedAdapter(max_retries=retry, pool_connections=4, pool_maxsize=4)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "image/*,*/*;q=0.5"
    return session


def _check_status(response: requests.Response, opts: FetchOptions) -> None:
    if response.status_code < 400:
        return
    reason = f"HTTP {response.status_code} {response.reason or ''}".strip()
    if response.status_code in RETRY_STATUSES:
        reason += _after_retries(opts)
    raise DownloadError(reason)


def _content_type(response: requests.Response) -> str | None:
    """The media type; DownloadError for an answer that declares a non-image type."""
    declared = response.headers.get("Content-Type")
    if not declared:
        return None
    media = declared.split(";", 1)[0].strip().lower()
    if media.startswith("image/") or media in _BINARY_TYPES:
        return media
    raise DownloadError(f"content-type {media or declared!r} is not an image")


def _check_declared_size(response: requests.Response, max_bytes: int) -> None:
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise DownloadError(f"too large: {int(length):,} bytes declared, the cap is {max_bytes:,}")


def _read_body(response: requests.Response, opts: FetchOptions, started: float) -> bytes:
    """The body, read in chunks: stops at the size cap and at the whole-download deadline."""
    body = bytearray()
    for chunk in response.iter_content(_CHUNK):
        body += chunk
        if len(body) > opts.max_bytes:
            raise DownloadError(f"too large: more than {opts.max_bytes:,} bytes")
        if time.monotonic() - started > opts.deadline:
            raise DownloadError(_deadline_reason(opts.deadline))
    length = response.headers.get("Content-Length", "")
    encoded = response.headers.get("Content-Encoding", "identity").lower() != "identity"
    if length.isdigit() and not encoded and len(body) < int(length):
        raise DownloadError(f"incomplete body: {len(body):,} of {int(length):,} bytes")
    return bytes(body)


def _request_reason(err: requests.RequestException, opts: FetchOptions, url: str = "") -> str:
    """One line for a failure of ``requests``, without its long pool and URL preamble."""
    cause = _root_cause(err)
    if isinstance(err, requests.exceptions.InvalidSchema):
        named = re.search(r"for '([^']*)'", str(err))  # the URL no adapter serves
        target = named[1] if named else (err.request.url if err.request is not None else url)
        if target != url:
            return f"redirected to {_scheme(target)} URL {target}: only http and https are fetched"
        return f"unsupported URL scheme ({_scheme(url)}): only http and https are fetched"
    tries = _after_retries(opts)
    if isinstance(cause, NewConnectionError):  # a subclass of ConnectTimeoutError: test it first
        return f"cannot connect: {_after_colon(cause)}{tries}"
    if isinstance(cause, ConnectTimeoutError) or isinstance(err, requests.ConnectTimeout):
        return f"connection timed out after {opts.timeout:g} s{tries}"
    if isinstance(cause, ReadTimeoutError) or isinstance(err, requests.ReadTimeout):
        return f"timed out: no answer within {opts.timeout:g} s{tries}"
    if isinstance(err, requests.TooManyRedirects):
        return "too many redirects"
    if isinstance(err, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)):
        return f"invalid URL ({err})"
    if isinstance(err, requests.exceptions.SSLError):
        return f"TLS error: {_after_colon(cause or err)}"
    if isinstance(cause, ProtocolError) or isinstance(
        err, requests.exceptions.ChunkedEncodingError
    ):
        return f"connection broken: {_after_colon(cause or err)}"
    return f"{type(err).__name__}: {_after_colon(cause or err)}"


def _after_retries(opts: FetchOptions) -> str:
    n = opts.retries
    return f" (after {n} {'retry' if n == 1 else 'retries'})" if n else ""


def _root_cause(err: BaseException) -> BaseException | None:
    """The urllib3 error under a ``requests`` one (MaxRetryError's reason, unwrapped)."""
    cause = err.args[0] if err.args else None
    while isinstance(cause, MaxRetryError):
        cause = cause.reason
    return cause if isinstance(cause, BaseException) else None


def _after_colon(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text.rsplit(": ", 1)[-1] if ": " in text else text or type(err).__name__


def _scheme(url: str) -> str:
    return url.split(":", 1)[0].lower() + ":" if ":" in url else "no scheme"


def _deadline_reason(seconds: float) -> str:
    return f"too slow: deadline of {seconds:g} s passed before the download was complete"


# ---------------------------------------------------------------- the whole-download deadline

_CURRENT = threading.local()  # the deadline of the download this thread runs


class _Deadline:
    """A watchdog for one download: when ``seconds`` pass, shut down every socket it used."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    @property
    def reason(self) -> str:
        return _deadline_reason(self.seconds)

    def __enter__(self) -> _Deadline:
        _CURRENT.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        _CURRENT.deadline = None
        with self._lock:
            self._sockets.clear()

    def watch(self, sock: socket.socket | None) -> None:
        """Shut ``sock`` down when the deadline passes (at once if it has)."""
        if sock is None:
            return
        with self._lock:
            if not self.expired:
                self._sockets.append(sock)
                return
        _shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    """Wake any thread blocked on ``sock``: its reads return end-of-file."""
    with contextlib.suppress(OSError):  # already closed: nothing is waiting on it
        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's, also for TLS


def _current_deadline() -> _Deadline | None:
    return getattr(_CURRENT, "deadline", None)


class _WatchedConnectionMixin:
    """A urllib3 connection whose socket is handed to the current download's deadline."""

    def connect(self) -> None:
        deadline = _current_deadline()
        if deadline is not None and deadline.expired:
            raise ConnectTimeoutError(self, deadline.reason)
        super().connect()  # type: ignore[misc]

    def getresponse(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201 - urllib3's signature
        deadline = _current_deadline()
        if deadline is not None:
            deadline.watch(getattr(self, "sock", None))
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_WatchedConnectionMixin, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedConnectionMixin, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _WatchedAdapter(HTTPAdapter):
    """``HTTPAdapter`` whose connections (direct or through an HTTP proxy) keep the deadline."""

    def init_poolmanager(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_WATCHED_POOLS)

    def proxy_manager_for(self, proxy, **kwargs):  # noqa: ANN001, ANN003, ANN201
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = dict(_WATCHED_POOLS)
        return manager
