"""A whole download keeps its deadline, however slowly a server drips headers or body.

The server is a local ``http.server`` on 127.0.0.1 that writes one byte at a time, far more often
than the read timeout, for far longer than the deadline. The test does not time the client: it
checks the reason, and that the server saw the client hang up before it had written everything.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from canvas_data.intake.download import DownloadError, Fetcher, FetchOptions

TIMEOUT = 0.5  # seconds per read; the whole download may take 6 x that
DRIP_EVERY = 0.05  # a byte this often: never a read timeout
DRIP_BYTES = 600  # 30 s of dripping: ten times the deadline


@dataclass
class Drips:
    base: str
    cut: dict[str, int] = field(default_factory=dict)  # path -> bytes written when the client left
    done: dict[str, int] = field(default_factory=dict)  # path -> bytes, when it wrote them all


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "*")


@pytest.fixture
def drips() -> Iterator[Drips]:
    stop = threading.Event()
    state = Drips("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path.startswith("/to-"):
                target = {"/to-file": "file:///etc/passwd", "/to-gopher": "gopher://127.0.0.1/1"}
                self.send_response(302)
                self.send_header("Location", target[self.path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path == "/headers":  # a header line that never ends
                head, body = b"HTTP/1.1 200 OK\r\nX-Pad: ", b"a" * DRIP_BYTES
            else:  # proper headers, then a body a byte at a time
                head = (
                    b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n"
                    b"Content-Length: %d\r\n\r\n" % DRIP_BYTES
                )
                body = b"\xff" * DRIP_BYTES
            self.wfile.write(head)
            self.wfile.flush()
            for n in range(len(body)):
                if stop.wait(DRIP_EVERY):
                    return
                try:
                    self.wfile.write(body[n : n + 1])
                    self.wfile.flush()
                except OSError:
                    state.cut.setdefault(self.path, n)
                    return
            state.done[self.path] = len(body)

        def log_message(self, *args) -> None:
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    state.base = f"http://127.0.0.1:{httpd.server_port}"
    try:
        yield state
    finally:
        stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _wait_for_cut(drips: Drips, path: str) -> None:
    """The server notices the hang-up at its next write (a few drips later)."""
    for _ in range(100):
        if path in drips.cut or path in drips.done:
            return
        time.sleep(DRIP_EVERY)


@pytest.mark.parametrize("path", ["/headers", "/body"])
def test_a_dripping_server_is_cut_at_the_deadline(drips, path):
    options = FetchOptions(timeout=TIMEOUT, retries=1, backoff=0.0)
    assert options.deadline == 6 * TIMEOUT
    with Fetcher(options) as fetcher, pytest.raises(DownloadError) as err:
        fetcher.fetch(drips.base + path)
    assert "deadline of 3 s passed" in err.value.reason
    _wait_for_cut(drips, path)
    assert path not in drips.done  # the server never got to write everything
    assert 0 < drips.cut[path] < DRIP_BYTES


def test_the_deadline_holds_for_every_download_of_a_fetcher(drips):
    """A second download on the same thread (and pooled session) gets a deadline of its own."""
    options = FetchOptions(timeout=TIMEOUT, retries=0, max_seconds=1.0)
    with Fetcher(options) as fetcher:
        for _ in range(2):
            with pytest.raises(DownloadError, match="deadline of 1 s passed"):
                fetcher.fetch(drips.base + "/body")


@pytest.mark.parametrize(
    ("path", "scheme"), [("/to-file", "file:///etc/passwd"), ("/to-gopher", "gopher://")]
)
def test_a_redirect_to_another_scheme_gives_its_reason(drips, path, scheme):
    fetcher = Fetcher(FetchOptions(timeout=TIMEOUT, retries=0))
    with fetcher, pytest.raises(DownloadError) as err:
        fetcher.fetch(drips.base + path)
    reason = err.value.reason
    assert reason.startswith("redirected to ") and scheme in reason, reason
    assert "only http and https are fetched" in reason


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1/1", "ftp://x/y.jpg"])
def test_a_url_of_another_scheme_gives_its_reason(url):
    fetcher = Fetcher(FetchOptions(timeout=TIMEOUT, retries=0))
    with fetcher, pytest.raises(DownloadError, match="unsupported URL scheme"):
        fetcher.fetch(url)
