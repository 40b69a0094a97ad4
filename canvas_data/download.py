"""Download one URL's bytes with ``requests``: retries with back-off, timeouts, a size cap.

Transient failures (connection errors, read timeouts, 408/429/5xx answers) are retried by
urllib3's ``Retry`` with exponential back-off; everything that still fails raises
:class:`DownloadError` with one short line saying why.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
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
        """GET ``url``; DownloadError if it fails, is not an image type, or is too large."""
        try:
            return self._fetch(url)
        except DownloadError:
            raise
        except requests.RequestException as err:
            raise DownloadError(_request_reason(err, self.options)) from err

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
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=4)
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
            raise DownloadError(f"too slow: not complete after {opts.deadline:g} s")
    length = response.headers.get("Content-Length", "")
    encoded = response.headers.get("Content-Encoding", "identity").lower() != "identity"
    if length.isdigit() and not encoded and len(body) < int(length):
        raise DownloadError(f"incomplete body: {len(body):,} of {int(length):,} bytes")
    return bytes(body)


def _request_reason(err: requests.RequestException, opts: FetchOptions) -> str:
    """One line for a failure of ``requests``, without its long pool and URL preamble."""
    cause = _root_cause(err)
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
    if isinstance(cause, ProtocolError) or isinstance(err, requests.ChunkedEncodingError):
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
