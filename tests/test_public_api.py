"""``from canvas_data import ...`` keeps giving the same names wherever the modules live.

The class orders come at once; the loaders, transforms and classifiers on first use, so that
``import canvas_data`` does not import torch.
"""

from __future__ import annotations

import subprocess
import sys

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


def test_importing_the_package_imports_no_torch():
    code = "import sys, canvas_data; print(sorted({'torch', 'webdataset'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


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
