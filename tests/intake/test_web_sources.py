"""Seed photos from a URL manifest, served by a local HTTP server on 127.0.0.1 (and no other)."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import error_line, write_recipe
from PIL import Image

from canvas_data.cli.build import main
from canvas_data.intake.dedup import DuplicateIndex, Fingerprint, distance, fingerprint
from canvas_data.intake.download import DownloadError, Fetcher, FetchOptions
from canvas_data.intake.url_manifest import read_manifest
from canvas_data.intake.web_sources import fetch_sources
from canvas_data.recipe import load_recipe
from canvas_data.workspace import seed_photo_path, sidecar_path

FAST = FetchOptions(timeout=0.5, retries=1, backoff=0.0, max_bytes=100_000)
COLUMNS = ("url", "object", "author", "licence", "source_page")


# ---------------------------------------------------------------- photos and the server


def photo(seed: int, size: tuple[int, int] = (160, 120)) -> Image.Image:
    """A smooth random picture; different seeds give pictures far apart in pHash."""
    cells = np.random.default_rng(seed).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    return Image.fromarray(cells).resize(size, Image.BICUBIC)


def encode(img: Image.Image, fmt: str = "JPEG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def near_duplicate(img: Image.Image) -> bytes:
    """The same picture cropped by 5% on every side, resized and re-encoded at low quality."""
    w, h = img.size
    crop = img.crop((w // 20, h // 20, w - w // 20, h - h // 20)).resize((150, 110))
    return encode(crop, quality=60)


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "image/jpeg"
    status: int = 200
    fail_first: int = 0  # answer 500 to this many requests first
    delay: float = 0.0  # seconds before answering (bounded; released at teardown)
    length: bool = True  # send Content-Length (else the body ends when the connection closes)


@dataclass
class Server:
    base: str
    routes: dict[str, Route]
    hits: Counter = field(default_factory=Counter)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch):
    """Requests go straight to 127.0.0.1, whatever proxies the environment names."""
    for name in (
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "*")


@pytest.fixture
def server() -> Iterator[Server]:
    routes: dict[str, Route] = {}
    hits: Counter = Counter()
    lock = threading.Lock()
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            with lock:
                hits[self.path] += 1
                n = hits[self.path]
            route = routes.get(self.path, Route(b"not found", "text/plain", 404))
            if route.delay:
                release.wait(route.delay)
            status = 500 if n <= route.fail_first else route.status
            body = b"server error" if status == 500 and route.fail_first else route.body
            try:
                self.send_response(status)
                self.send_header("Content-Type", route.content_type)
                if route.length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the client gave up (timeout, size cap): nothing to do
                pass

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_port}", routes, hits)
    finally:
        release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def write_manifest(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


def row(url: str, obj: str = "Cats", licence: str | None = "CC BY 4.0", **kw) -> dict:
    return {"url": url, "object": obj, "licence": licence, **kw}


@pytest.fixture
def recipe(tmp_path):
    return load_recipe(write_recipe(tmp_path))


def sidecar(work: Path, obj: str, idx: int) -> dict:
    return json.loads(sidecar_path(seed_photo_path(work, obj, idx)).read_text())


def seeds(work: Path) -> list[str]:
    root = work / "Seed_Images"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.jpg"))


# ---------------------------------------------------------------- the whole stage


@pytest.fixture
def mixed(server, tmp_path) -> tuple[Server, Path]:
    """Good photos, every kind of failure, and duplicates, within and across objects."""
    cat1, cat2 = photo(1), photo(2)
    r = server.routes
    r["/cat1.jpg"] = Route(encode(cat1))
    r["/cat1-copy.jpg"] = Route(encode(cat1))  # the same photo at a second URL
    r["/cat1-crop.jpg"] = Route(near_duplicate(cat1))
    r["/flaky.jpg"] = Route(encode(cat2), fail_first=1)  # 500, then the photo on retry
    r["/slow.jpg"] = Route(encode(photo(3)), delay=5.0)
    r["/huge.jpg"] = Route(b"\xff" * 300_000)
    r["/endless.jpg"] = Route(b"\xff" * 300_000, length=False)
    r["/page.jpg"] = Route(b"<!doctype html><html><body>moved</body></html>")
    r["/cat3.png"] = Route(encode(photo(4), "PNG"), "image/png")
    r["/human1.jpg"] = Route(encode(photo(5)))
    r["/cat2-again.jpg"] = Route(encode(cat2.resize((200, 150)), quality=80))
    r["/human2.jpg"] = Route(encode(photo(6)))
    r["/human3.jpg"] = Route(b"<html></html>", "text/html; charset=utf-8")
    u = server.url
    manifest = write_manifest(
        tmp_path / "photos.csv",
        [
            row(u("/cat1.jpg"), author="Ann", source_page=u("/cat1.html")),  # Cats 1
            row(u("/missing.jpg")),  # Cats 2
            row(u("/flaky.jpg"), author="Bo"),  # Cats 3
            row(u("/slow.jpg")),  # Cats 4
            row(u("/huge.jpg")),  # Cats 5
            row(u("/page.jpg")),  # Cats 6
            row(u("/cat1-copy.jpg")),  # Cats 7
            row(u("/cat1-crop.jpg")),  # Cats 8
            row(u("/cat3.png"), licence="CC0 1.0"),  # Cats 9
            row(u("/endless.jpg")),  # Cats 10
            row(u("/human1.jpg"), "human"),  # Human 1 (object names are case-insensitive)
            row(u("/cat2-again.jpg"), "Human"),  # Human 2
            row(u("/human2.jpg"), "Human", licence=None),  # Human 3
            row(u("/human3.jpg"), "Human"),  # Human 4
            row(u("/cat9.jpg"), "Cars"),
            row(u("/cat1.jpg"), "Human"),
            row("ftp://example.invalid/x.jpg", "Human"),
        ],
    )
    return server, manifest


def run(manifest: Path, work: Path, recipe, **kw):
    kw.setdefault("per_object", 10)
    return fetch_sources(manifest, work, recipe, options=FAST, workers=4, progress=False, **kw)


def test_places_exactly_the_good_unique_photos(mixed, tmp_path, recipe):
    server, manifest = mixed
    work = tmp_path / "work"
    report = run(manifest, work, recipe)

    assert seeds(work) == ["Cats/1.jpg", "Cats/3.jpg", "Cats/9.jpg", "Human/1.jpg"]
    for name in seeds(work):
        with Image.open(work / "Seed_Images" / name) as im:
            assert (im.size, im.mode, im.format) == ((64, 64), "RGB", "JPEG")

    failed = {f.row: f.reason for f in report.failed}
    assert set(failed) == {2, 4, 5, 6, 10, 14}
    assert failed[2] == "HTTP 404 Not Found"
    assert failed[4].startswith("timed out")
    assert failed[5].startswith("too large: 300,000 bytes declared")
    assert failed[10].startswith("too large: more than 100,000 bytes")
    assert failed[6].startswith("not an image")
    assert failed[14] == "content-type 'text/html' is not an image"

    dups = {d.row: (d.duplicate_of, d.kept) for d in report.duplicates}
    assert dups == {
        7: ("Seed_Images/Cats/1", False),
        8: ("Seed_Images/Cats/1", False),
        12: ("Seed_Images/Cats/3", False),  # across objects
    }
    rejected = {r.row: r.reason for r in report.rejected}
    assert rejected[13].startswith("no licence")
    assert rejected[15] == "unknown object 'Cars'"
    assert rejected[16] == "same URL as row 1"
    assert rejected[17] == "not an http(s) URL"

    assert server.hits["/flaky.jpg"] == 2  # one 500, one retry
    assert server.hits["/slow.jpg"] == 2  # timed out twice (retries=1)
    assert report.accepted == {"Cats": 3, "Human": 1}
    assert report.short_objects == {"Cats": 3, "Human": 1}

    summary = report.summary()
    for f in report.failed:
        assert f"row {f.row} {f.url}: {f.reason}" in summary
    assert "3 near-duplicates left out" in summary and "CC0 1.0 (1)" in summary

    meta = sidecar(work, "Cats", 1)
    assert meta["source_url"] == server.url("/cat1.jpg")
    assert (meta["author"], meta["licence"]) == ("Ann", "CC BY 4.0")
    assert meta["source_page"] == server.url("/cat1.html")
    assert (meta["manifest_row"], meta["idx"], meta["source_content_type"]) == (1, 1, "image/jpeg")
    assert sidecar(work, "Cats", 9)["source_format"] == "PNG"

    saved = json.loads((work / "reports" / "sources.json").read_text())
    assert saved["source"] == "manifest"
    assert saved["licences"] == {"CC BY 4.0": 3, "CC0 1.0": 1}
    assert saved["unlicensed"] == 0
    assert [p["key"] for p in saved["photos"]] == [
        "Seed_Images/Cats/1",
        "Seed_Images/Cats/3",
        "Seed_Images/Cats/9",
        "Seed_Images/Human/1",
    ]
    assert {f["row"]: f["reason"] for f in saved["failed"]} == failed
    assert (work / "recipe.yaml").is_file()


def test_a_rerun_downloads_nothing_new_and_retries_failures(mixed, tmp_path, recipe):
    server, manifest = mixed
    work = tmp_path / "work"
    run(manifest, work, recipe)
    before = {n: (work / "Seed_Images" / n).read_bytes() for n in seeds(work)}
    first = Counter(server.hits)
    server.hits.clear()

    report = run(manifest, work, recipe)

    good = ["/cat1.jpg", "/flaky.jpg", "/cat3.png", "/human1.jpg"]
    duplicates = ["/cat1-copy.jpg", "/cat1-crop.jpg", "/cat2-again.jpg"]
    assert all(server.hits[p] == 0 for p in good + duplicates), server.hits
    failing = ["/missing.jpg", "/slow.jpg", "/huge.jpg", "/page.jpg", "/endless.jpg"]
    assert all(server.hits[p] == first[p] for p in failing), server.hits  # retried
    assert report.downloaded == 0 and report.unchanged == 4
    assert {n: (work / "Seed_Images" / n).read_bytes() for n in seeds(work)} == before
    assert {f.row for f in report.failed} == {2, 4, 5, 6, 10, 14}
    assert {d.row for d in report.duplicates} == {7, 8, 12}


def test_per_object_stops_and_idx_stays_with_its_row(server, tmp_path, recipe):
    for i in range(1, 6):
        server.routes[f"/c{i}.jpg"] = Route(encode(photo(10 + i)))
    server.routes["/c2.jpg"].status = 503  # down on the first runs
    server.routes["/c2.jpg"].body = b"unavailable"
    manifest = write_manifest(
        tmp_path / "m.csv", [row(server.url(f"/c{i}.jpg")) for i in range(1, 6)]
    )
    work = tmp_path / "work"

    report = run(manifest, work, recipe, per_object=4)
    assert seeds(work) == ["Cats/1.jpg", "Cats/3.jpg", "Cats/4.jpg", "Cats/5.jpg"]
    assert [f.reason for f in report.failed] == ["HTTP 503 Service Unavailable (after 1 retry)"]
    assert sidecar(work, "Cats", 5)["source_url"] == server.url("/c5.jpg")

    server.hits.clear()
    report = run(manifest, work, recipe, per_object=4)  # full: nothing to fetch
    assert sum(server.hits.values()) == 0
    assert report.failed == [] and report.not_needed == 1

    server.routes["/c2.jpg"] = Route(encode(photo(12)))  # back online
    report = run(manifest, work, recipe, per_object=5)
    assert dict(server.hits) == {"/c2.jpg": 1}
    assert seeds(work) == [f"Cats/{i}.jpg" for i in range(1, 6)]
    assert sidecar(work, "Cats", 2)["source_url"] == server.url("/c2.jpg")
    assert report.downloaded == 1 and report.unchanged == 4


def test_per_object_fetches_only_what_it_needs(server, tmp_path, recipe):
    for i in range(1, 7):
        server.routes[f"/p{i}.jpg"] = Route(encode(photo(20 + i)))
    rows = [row(server.url(f"/p{i}.jpg")) for i in range(1, 7)]
    work = tmp_path / "work"
    report = run(write_manifest(tmp_path / "m.csv", rows), work, recipe, per_object=2)
    assert seeds(work) == ["Cats/1.jpg", "Cats/2.jpg"]
    assert set(server.hits) == {"/p1.jpg", "/p2.jpg"}
    assert report.not_needed == 4 and report.short_objects == {"Human": 0}


def test_flags_keep_duplicates_and_allow_unlicensed(server, tmp_path, recipe):
    server.routes["/a.jpg"] = Route(encode(photo(30)))
    server.routes["/b.jpg"] = Route(encode(photo(30), quality=70))
    server.routes["/c.jpg"] = Route(encode(photo(31)))
    rows = [
        row(server.url("/a.jpg")),
        row(server.url("/b.jpg")),
        row(server.url("/c.jpg"), "Human", None),
    ]
    manifest = write_manifest(tmp_path / "m.csv", rows)
    work = tmp_path / "work"
    report = run(manifest, work, recipe, keep_duplicates=True, allow_unlicensed=True)
    assert seeds(work) == ["Cats/1.jpg", "Cats/2.jpg", "Human/1.jpg"]
    assert [(d.row, d.duplicate_of, d.kept) for d in report.duplicates] == [
        (2, "Seed_Images/Cats/1", True)
    ]
    saved = json.loads((work / "reports" / "sources.json").read_text())
    assert saved["unlicensed"] == 1 and saved["allow_unlicensed"] is True
    assert saved["licences"] == {"CC BY 4.0": 2, "none": 1}
    assert sidecar(work, "Human", 1)["licence"] is None

    server.hits.clear()  # a photo kept once stays, and is still reported
    report = run(manifest, work, recipe, allow_unlicensed=True)
    assert sum(server.hits.values()) == 0 and report.unchanged == 3
    assert [(d.row, d.kept) for d in report.duplicates] == [(2, True)]


def test_a_corrected_licence_updates_the_sidecar_without_downloading(server, tmp_path, recipe):
    server.routes["/a.jpg"] = Route(encode(photo(40)))
    work = tmp_path / "work"
    run(write_manifest(tmp_path / "m.csv", [row(server.url("/a.jpg"))]), work, recipe)
    server.hits.clear()
    fixed = [row(server.url("/a.jpg"), licence="CC BY-SA 4.0", author="Cy")]
    report = run(write_manifest(tmp_path / "m.csv", fixed), work, recipe)
    assert sum(server.hits.values()) == 0 and report.updated == 1
    assert (sidecar(work, "Cats", 1)["licence"], sidecar(work, "Cats", 1)["author"]) == (
        "CC BY-SA 4.0",
        "Cy",
    )


# ---------------------------------------------------------------- the command


def test_cli_downloads_from_a_manifest(server, tmp_path):
    server.routes["/a.jpg"] = Route(encode(photo(50)))
    server.routes["/gone.jpg"] = Route(b"gone", "text/plain", 410)
    manifest = write_manifest(
        tmp_path / "m.csv", [row(server.url("/a.jpg")), row(server.url("/gone.jpg"))]
    )
    work = tmp_path / "work"
    args = ["sources", "--manifest", str(manifest), "--work", str(work)]
    args += ["--recipe", str(write_recipe(tmp_path)), "--per-object", "2", "--timeout", "1"]
    args += ["--retries", "0", "--workers", "2", "--no-progress"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "sources: 1 seed photo for 2 objects (1 downloaded" in result.output
    assert f"row 2 {server.url('/gone.jpg')}: HTTP 410 Gone" in result.output
    assert seed_photo_path(work, "Cats", 1).is_file()


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "exactly one of --photos FOLDER or --manifest FILE"),
        (["--photos", "{tmp}", "--manifest", "{tmp}/m.csv"], "exactly one of"),
        (["--photos", "{tmp}", "--workers", "2"], "--threads only apply with --manifest"),
    ],
)
def test_cli_wants_exactly_one_source(tmp_path, extra, message):
    (tmp_path / "m.csv").write_text("url,object\n")
    args = ["sources", "--work", str(tmp_path / "work")] + [a.format(tmp=tmp_path) for a in extra]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and message in result.output


# ---------------------------------------------------------------- manifests


def test_manifest_formats_read_the_same_rows(tmp_path):
    records = [
        {"URL": "http://127.0.0.1/a.jpg", "Object": "Cats", "License": "CC0", "Author": ""},
        {"URL": "http://127.0.0.1/b.jpg", "Object": "Dogs", "License": None, "Author": " Di  Do"},
    ]
    with open(tmp_path / "m.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["URL", "Object", "License", "Author"])
        writer.writeheader()
        writer.writerows(records)
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "m.parquet")
    read = [read_manifest(tmp_path / f"m.{ext}").rows for ext in ("csv", "jsonl", "parquet")]
    assert read[0] == read[1] == read[2]
    first, second = read[0]
    assert (first.row, first.object, first.licence, first.author) == (1, "Cats", "CC0", None)
    assert (second.row, second.author, second.licence) == (2, "Di Do", None)


def test_manifest_problems(tmp_path):
    (tmp_path / "m.csv").write_text("link,object\nhttp://127.0.0.1/a.jpg,Cats\n")
    with pytest.raises(ValueError, match="no 'url' column"):
        read_manifest(tmp_path / "m.csv")
    (tmp_path / "m.txt").write_text("")
    with pytest.raises(ValueError, match="unknown format .txt"):
        read_manifest(tmp_path / "m.txt")
    (tmp_path / "m.jsonl").write_text('{"url": "http://127.0.0.1/a", "object": "Cats"}\n{oops\n')
    manifest = read_manifest(tmp_path / "m.jsonl")
    assert len(manifest.rows) == 1 and manifest.unreadable[2].startswith("not JSON")


# ---------------------------------------------------------------- pieces


def test_fetcher_names_a_refused_connection(server):
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = closed.server_port
    closed.server_close()
    fetcher = Fetcher(FetchOptions(timeout=0.5, retries=0))
    with fetcher, pytest.raises(DownloadError, match="cannot connect"):
        fetcher.fetch(f"http://127.0.0.1:{port}/a.jpg")


def test_fingerprints_tell_copies_from_different_photos():
    a = photo(1)
    reencoded = Image.open(io.BytesIO(encode(a.resize((320, 240)), quality=50)))
    cropped = Image.open(io.BytesIO(near_duplicate(a)))
    fa = fingerprint(a)
    assert distance(fa, fingerprint(reencoded)) <= 4
    assert distance(fa, fingerprint(cropped)) <= 10
    others = [fingerprint(photo(s)) for s in range(2, 12)]
    assert min(distance(fa, f) for f in others) > 10
    assert Fingerprint.from_json(fa.to_json()) == fa
    index = DuplicateIndex()
    for n, f in enumerate(others):
        index.add(f"other/{n}", f)
    assert index.nearest(fa) is None
    index.add("a", fa)
    assert index.nearest(fingerprint(cropped))[0] == "a"


def test_the_card_credits_web_photos_and_flags_unlicensed_ones(server, tmp_path, recipe):
    from canvas_data.pipeline import pack_dataset

    server.routes["/a.jpg"] = Route(encode(photo(40)))
    server.routes["/c.jpg"] = Route(encode(photo(41)))
    rows = [
        row(server.url("/a.jpg"), author="Ada", source_page="https://example.org/a"),
        row(server.url("/c.jpg"), "Human", None),
    ]
    work = tmp_path / "work"
    run(write_manifest(tmp_path / "m.csv", rows), work, recipe, allow_unlicensed=True)
    out = tmp_path / "uc"
    pack_dataset(work, out, recipe=recipe, progress=False)
    card = (out / "README.md").read_text()
    assert "2 photos were downloaded from the URLs of a manifest" in card
    assert "1 of them have no declared licence" in card
    assert "| `Seed_Images/Cats/1` | Ada | CC BY 4.0 | https://example.org/a |" in card
    assert "| `Seed_Images/Human/1` | - | **none** |" in card


# A manifest with no usable row fails.


def test_sources_from_a_manifest_with_no_usable_row_fails(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("url,object,licence\nfile:///etc/passwd,Cats,CC0\n")
    result = CliRunner().invoke(
        main,
        ["sources", "--manifest", str(manifest), "--work", str(tmp_path / "w"), "--recipe",
         str(write_recipe(tmp_path)), "--no-progress", "--retries", "0"],
    )  # fmt: skip
    assert f"no usable photo in {manifest}" in error_line(result)


def test_rows_beyond_per_object_are_counted_and_listed(server, tmp_path, recipe):
    for i in range(1, 5):
        server.routes[f"/b{i}.jpg"] = Route(encode(photo(40 + i)))
    rows = [row(server.url(f"/b{i}.jpg")) for i in range(1, 5)]
    work = tmp_path / "work"
    report = run(write_manifest(tmp_path / "m.csv", rows), work, recipe, per_object=2)
    assert "2 rows beyond per-object (2) left out" in report.summary()
    listed = json.loads((work / "reports" / "sources.json").read_text())
    assert [r["url"] for r in listed["beyond_per_object"]] == [
        server.url("/b3.jpg"),
        server.url("/b4.jpg"),
    ]
    assert [r["row"] for r in listed["beyond_per_object"]] == [3, 4]
