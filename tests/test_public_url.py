"""URLs are published without credentials or signed-URL secrets: in photo sidecars, the sources
report, the packed tars and the card, whatever the manifest held."""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

import pytest

from canvas_data.public_url import public_url, redact_urls

sys.path.insert(0, str(Path(__file__).parent / "intake"))
from test_web_sources import (  # noqa: E402
    Route,
    encode,
    no_proxies,  # noqa: F401 - autouse fixture
    photo,
    recipe,  # noqa: F401 - fixture
    row,
    run,
    server,  # noqa: F401 - fixture
    write_manifest,
)

SECRETS = ["hunter2", "AKIAEXAMPLE", "SIGSECRET", "TOKSECRET", "GOOGSIG", "AZSIG", "APIKEY9"]

SIGNED = [
    ("https://ann:hunter2@example.com/a.jpg", "https://example.com/a.jpg"),
    (
        "https://b.s3.amazonaws.com/k.jpg?X-Amz-Algorithm=AWS4&X-Amz-Credential=AKIAEXAMPLE"
        "&X-Amz-Signature=SIGSECRET&versionId=7",
        "https://b.s3.amazonaws.com/k.jpg?versionId=7",
    ),
    ("https://h.example/p.jpg?token=TOKSECRET#frag", "https://h.example/p.jpg"),
    (
        "https://storage.googleapis.com/b/o?X-Goog-Signature=GOOGSIG",
        "https://storage.googleapis.com/b/o",
    ),
    (
        "https://a.blob.core.windows.net/c/x.jpg?sv=2020&sig=AZSIG&w=5",
        "https://a.blob.core.windows.net/c/x.jpg?w=5",
    ),
    ("http://u@h.example:8080/x?api_key=APIKEY9&Access_Token=1&KEY=2", "http://h.example:8080/x"),
]


@pytest.mark.parametrize("url, public", SIGNED)
def test_public_url_drops_credentials_and_secret_parameters(url, public):
    assert public_url(url) == public
    assert public_url(public) == public  # plain URLs pass unchanged
    message = f"HTTP 403 for url: {url}, giving up"
    assert redact_urls(message) == f"HTTP 403 for url: {public}, giving up"


def test_downloaded_photos_record_no_secret(server, tmp_path, recipe):  # noqa: F811
    base = server.base.removeprefix("http://")
    queries = [
        "?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=SIGSECRET",
        "?token=TOKSECRET&size=1",
        "?sv=1&sig=AZSIG",
    ]
    rows = []
    for i, query in enumerate(queries, 1):
        server.routes[f"/c{i}.jpg{query}"] = Route(encode(photo(i)))
        rows.append(
            row(
                f"http://ann:hunter2@{base}/c{i}.jpg{query}",
                source_page=f"http://{base}/p?api_key=APIKEY9",
            )
        )
    server.routes["/gone.jpg?X-Goog-Signature=GOOGSIG"] = Route(b"gone", "text/plain", 410)
    rows.append(row(f"http://{base}/gone.jpg?X-Goog-Signature=GOOGSIG"))
    work = tmp_path / "work"
    report = run(write_manifest(tmp_path / "m.csv", rows), work, recipe)
    assert len(report.photos) == 3, report.summary()
    written = [p for p in work.rglob("*") if p.is_file()]
    assert any(p.suffix == ".json" and "Seed_Images" in str(p) for p in written)
    for path in written:
        if path.suffix in (".json", ".yaml", ".txt"):
            text = path.read_text()
            assert not [s for s in SECRETS if s in text], path
    assert "source_url" in (work / "Seed_Images" / "Cats" / "1.json").read_text()

    from canvas_data.pipeline import pack_dataset

    out = tmp_path / "uc"
    pack_dataset(work, out, recipe=recipe, progress=False)
    for tar in (out / "data").glob("*.tar"):
        with tarfile.open(tar) as t:
            for member in t.getmembers():
                data = t.extractfile(member).read()
                assert not [s for s in SECRETS if s.encode() in data], member.name
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".md", ".json", ".csv"):
            assert not [s for s in SECRETS if s in path.read_text()], path
