"""`canvas-eval summarize --html`: one self-contained page, loaded and clicked in a real browser."""

from __future__ import annotations

import base64
import io
import re

import pytest
from browser import BROWSER_ARGS, chromium
from click.testing import CliRunner
from PIL import Image
from test_sequence import STEPS, result, write_steps

from canvas_data.atomic import write_json
from canvas_data.cli.eval import main

# method -> (style UA, FID or None); IRA and CRA are 0.5 everywhere.
METHODS = {"ESD": (0.5, 60.0), "FMN <&>": (0.9, None), "UCE": (0.7, 40.0)}


def make_report(tmp_path):
    files = []
    for method, (ua, fid) in METHODS.items():
        r = {**result(*STEPS[0], method=method), "scores": {"UA": ua, "IRA": 0.5, "CRA": 0.5}}
        files.append(tmp_path / "results" / f"{len(files)}.json")
        write_json(files[-1], r)
        if fid is not None:
            files.append(tmp_path / "results" / f"fid-{len(files)}.json")
            write_json(files[-1], {"kind": "canvas-eval fid", "fid": fid, "method": method})
    profile = tmp_path / "profile.json"
    write_json(profile, {"kind": "canvas-eval profile", "wall_s": 12.5, "peak_gpu_bytes": None,
                         "peak_rss_bytes": 2**30, "method": None})  # fmt: skip
    steps = write_steps(tmp_path / "seq")
    page = tmp_path / "report" / "report.html"
    args = ["summarize", *map(str, files), "--efficiency", f"UCE={profile}", "--sequence",
            *map(str, steps), "--out", str(tmp_path / "table"), "--html", str(page)]  # fmt: skip
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 0, run.output
    assert f"wrote {page}" in run.output
    return page


def test_the_page_is_self_contained(tmp_path):
    html = make_report(tmp_path).read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)  # nothing fetched
    assert "<script>" in html and "<script src" not in html
    uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(uris) == 4  # three heat maps and the curves of the sequence
    for uri in uris:
        with Image.open(io.BytesIO(base64.b64decode(uri))) as im:
            assert im.format == "PNG" and im.width > 300
    assert "FMN &lt;&amp;&gt;" in html and "FMN <&>" not in html


@pytest.mark.skipif(
    chromium() is None, reason="no chromium binary on PATH (apt-get install chromium)"
)
def test_the_page_in_a_browser_shows_the_table_and_sorts_by_a_clicked_header(tmp_path):
    from playwright.sync_api import sync_playwright

    page_file = make_report(tmp_path)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=BROWSER_ARGS)
        try:
            page = browser.new_page()
            errors, requests = [], []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri())

            def column(name):
                heads = page.locator("#methods thead th").all_inner_texts()
                index = [h.rstrip(" ▲▼") for h in heads].index(name)
                cells = page.locator(f"#methods tbody tr td:nth-child({index + 1})")
                return cells.all_inner_texts()

            assert column("method") == ["ESD", "FMN <&>", "UCE"]
            assert column("style UA") == ["50.00", "90.00", "70.00"]
            assert column("FID") == ["60.00", "—", "40.00"]
            assert column("time (s)") == ["—", "—", "12.5"]
            assert column("RSS (GiB)") == ["—", "—", "1.00"]

            page.locator("#methods thead th", has_text="style UA").click()
            assert column("method") == ["ESD", "UCE", "FMN <&>"]
            assert column("style UA") == ["50.00", "70.00", "90.00"]
            header = page.locator("#methods thead th", has_text="style UA")
            assert header.get_attribute("aria-sort") == "ascending"
            header.click()
            assert column("style UA") == ["90.00", "70.00", "50.00"]
            assert header.get_attribute("aria-sort") == "descending"
            page.locator("#methods thead th", has_text="FID").click()
            assert column("method") == ["UCE", "ESD", "FMN <&>"]  # unmeasured last
            page.locator("#methods thead th", has_text="method").click()
            assert column("method") == ["ESD", "FMN <&>", "UCE"]

            # The sequence's own table sorts too, and every image decodes in the browser.
            seq = page.locator("#sequence-0 tbody tr td:nth-child(2)")
            assert seq.all_inner_texts() == ["Van_Gogh", "Monet", "Cats"]
            page.locator("#sequence-0 thead th", has_text="IRA").click()
            assert seq.all_inner_texts() == ["Cats", "Monet", "Van_Gogh"]  # 28.75, 40, 70
            widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
            assert len(widths) == 4 and min(widths) > 300
            assert errors == []
            assert all(u.startswith(("file:", "data:")) for u in requests), requests
        finally:
            browser.close()
