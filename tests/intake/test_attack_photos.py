"""Photo file names that are not UTF-8 (legal on Linux) reach every stage: the seed photo's
provenance names the file with the odd bytes escaped, and stylize, shards, verify and export
work on; an unusable photo with such a name is reported and skipped, not a crash."""

from __future__ import annotations

import json
import os

import numpy as np
from click.testing import CliRunner
from conftest import TINY_OBJECTS, write_recipe
from PIL import Image

from canvas_data.cli.build import main


def run(*args):
    result = CliRunner().invoke(main, [*args, "--no-progress"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_photos_with_non_utf8_names_build_verify_and_export(tmp_path):
    recipe = write_recipe(tmp_path, styles=["Monet"], photos_per_object=2)
    photos = tmp_path / "photos"
    rng = np.random.default_rng(0)
    for obj in TINY_OBJECTS:
        folder = photos / obj
        folder.mkdir(parents=True)
        for i in range(2):
            name = os.fsencode(folder) + b"/caf\xe9-\xff%d.jpg" % i  # Latin-1 bytes, not UTF-8
            Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(
                name.decode("utf-8", "surrogateescape"), "JPEG"
            )
        open(os.fsencode(folder) + b"/a-empty-\xff.jpg", "wb").close()
    work, out, export = tmp_path / "work", tmp_path / "uc", tmp_path / "export"

    result = run("sources", "--photos", str(photos), "--work", str(work), "--recipe", str(recipe))
    assert result.exit_code == 0, result.output
    assert "a-empty-" in result.output and "empty file" in result.output
    sidecar = json.loads((work / "Seed_Images" / TINY_OBJECTS[0] / "1.json").read_text("utf-8"))
    assert sidecar["source_path"] == f"{TINY_OBJECTS[0]}/caf\\xe9-\\xff0.jpg"

    assert run("stylize", "--work", str(work), "--workers", "1").exit_code == 0
    result = run("shards", "--work", str(work), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert run("verify", str(out)).exit_code == 0
    assert run("export", str(out), "--out", str(export)).exit_code == 0
    lines = (export / "metadata.jsonl").read_text("utf-8").splitlines()
    assert len(lines) == len(TINY_OBJECTS) * 2 * 2  # photos and Monet, 2 per object
