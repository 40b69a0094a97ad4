"""``from canvas_data import ...`` keeps giving the same names wherever the modules live.

The class orders come at once; the loaders, transforms and classifiers on first use, so that
``import canvas_data`` does not import torch.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

import canvas_data

PUBLIC = {
    # names and class orders (canvas_data.taxonomy)
    "OBJECTS_20", "SEED_STYLE", "STYLES_50", "STYLES_51", "STYLES_60", "STYLES_61", "Taxonomy",
    "caption", "parse_caption", "__version__",
    # loaders (canvas_data.loading)
    "load", "style_classification", "object_classification", "text_to_image", "edit_pairs",
    "style_transfer", "CanvasDataset", "CanvasStream",
    "train_transform", "classifier_eval_transform", "make_transform", "ImageTransform",
    # pictures, random access, classifiers
    "decode_image", "ShardIndex", "load_classifier", "Classifier",
}  # fmt: skip


def test_the_public_names_are_the_same():
    assert set(canvas_data.__all__) == PUBLIC


@pytest.mark.parametrize("name", sorted(PUBLIC - {"__version__"}))
def test_each_public_name_resolves_to_an_object_of_canvas_data(name):
    value = getattr(canvas_data, name)
    module = getattr(value, "__module__", None) or canvas_data.__name__
    assert module.startswith("canvas_data"), (name, module)
    exec(f"from canvas_data import {name}", {})


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        canvas_data.no_such_name  # noqa: B018


HEAVY = ("torch", "albumentations", "webdataset", "datasets")
IMPORTS_AFTER = """
    import json, sys
    import canvas_data
    commands = json.loads(sys.argv[1])
    if commands:
        from click.testing import CliRunner
        from canvas_data.cli.build import main
    for args in commands:
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (args, result.output)
    print(json.dumps(sorted(set(sys.argv[2:]) & set(sys.modules))))
"""
# what a fresh process does -> (the `canvas-build` commands it runs, the heavy packages it must
# not import); {work}, {recipe}, {out} and {tmp} stand for the shared tiny workspace, its recipe,
# its packed folder and a new folder. `verify` may load the card's `datasets` features.
LIGHT = {
    "import canvas_data": ([], HEAVY),
    "canvas-build --help": ([["--help"]], HEAVY),
    "canvas-build verify": ([["verify", "{out}", "--no-progress"]], HEAVY[:3]),
    "canvas-build shards": (
        [["shards", "--work", "{work}", "--out", "{tmp}/uc", "--recipe", "{recipe}"]],
        HEAVY,
    ),
}


@pytest.mark.parametrize("what", LIGHT)
def test_what_needs_no_tensors_imports_no_heavy_package(what, tiny_packed, tmp_path):
    """Importing the package, ``--help``, ``verify`` and ``shards`` import neither torch nor
    albumentations or webdataset (the tars are written and read with ``tarfile``), and all but
    ``verify`` not ``datasets`` either."""
    work = tiny_packed.parent / "work"
    names = {"work": work, "recipe": work.parent / "tiny.yaml", "out": tiny_packed, "tmp": tmp_path}
    commands, heavy = LIGHT[what]
    commands = [[arg.format(**names) for arg in args] for args in commands]
    code = textwrap.dedent(IMPORTS_AFTER)
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(commands), *heavy], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
    if what == "canvas-build shards":
        assert (tmp_path / "uc" / "samples.csv").is_file()
        assert (tmp_path / "uc" / "preview.jpg").is_file()


def test_no_sub_package_hides_a_public_name():
    """Importing a sub-package sets it as an attribute of ``canvas_data``: none may be named
    like a public name (``canvas_data.load`` is the function, the loaders live in ``loading``)."""
    import importlib
    import pkgutil
    import types

    for info in pkgutil.walk_packages(canvas_data.__path__, "canvas_data."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    for name in sorted(PUBLIC):
        assert not isinstance(getattr(canvas_data, name), types.ModuleType), name
