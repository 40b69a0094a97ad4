"""Module paths of the flat layout, still importable: each gives its new place with a
``FutureWarning`` that names it.

Before the sub-packages, canvas_data's modules sat side by side (``canvas_data.shards``,
``canvas_data.loaders``, ...). ``import canvas_data.shards`` now gives a module whose names are
those of the modules its code moved to (``canvas_data.pack.shards`` and the modules split from
it). Where an old module's name is now a sub-package (``card``, ``pack``, ``metrics``,
``stylizers``, ``cli``), the package's ``__getattr__`` gives the names the old module had.
An old module whose code moved whole is the new module itself, so a name set on it (a test's
monkeypatch) is set where the code reads it; for one split in several modules it is a module
holding all their names, and a name set on it changes none of them.
``python -m`` needs a real module: ``canvas_data.cli_train`` and ``canvas_data.cli_eval`` are
kept as files for it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

# old module -> the modules its code is in now (searched in this order for a name)
MODULES: dict[str, tuple[str, ...]] = {
    "accuracy": ("metrics.accuracy",),
    "answers": ("metrics.answers",),
    "bundled_photos": ("intake.bundled_photos",),
    "card_loading": ("card.loading",),
    "card_provenance": ("card.provenance",),
    "card_tables": ("card.tables",),
    "classifier": ("classify.classifier",),
    "classifier_eval": ("classify.evaluate",),
    "cli_card": ("cli.card",),
    "cli_common": ("cli.common",),
    "cli_diffusers": ("cli.diffusers_options",),
    "cli_release": ("cli.release",),
    "colour": ("images.colour",),
    "confusion": ("classify.confusion",),
    "croissant": ("card.croissant",),
    "datasheet": ("card.datasheet",),
    "decode": ("images.decode",),
    "decode_cache": ("loading.cache",),
    "dedup": ("intake.dedup",),
    "demo": ("pipeline",),
    "download": ("intake.download",),
    "efficiency": ("metrics.efficiency",),
    "examples": ("loading.examples",),
    "export": ("pack.export",),
    "fid": ("metrics.fid",),
    "fid_inception": ("metrics.fid_inception",),
    "finer_scale": ("metrics.finer_scale",),
    "generate_answers": ("metrics.generate",),
    "heatmap": ("metrics.heatmap",),
    "hf_views": ("loading.hf_views",),
    "hub": ("pack.push",),
    "image_integrity": ("images.integrity",),
    "jpeg": ("images.jpeg",),
    "loaders": ("loading.loaders", "loading.stream"),
    "manifest_schema": ("pack.manifest_schema",),
    "packed": ("pack.packed",),
    "packed_manifest": ("pack.manifest",),
    "parquet_shards": ("pack.parquet", "parquet_read"),
    "photo_matching": ("intake.photo_matching",),
    "photos": ("intake.photos", "intake.photo_checks", "images.normalize"),
    "preview": ("card.preview",),
    "profile": ("metrics.profile",),
    "random_pipelines": ("stylizers.random_pipelines",),
    "release_checkpoint": ("classify.release_checkpoint",),
    "release_import": (
        "intake.release_import",
        "intake.release_rows",
        "intake.pending_rows",
        "intake.release_report",
    ),
    "report_html": ("metrics.report_html",),
    "sequence": ("metrics.sequence",),
    "shard_index": ("pack.shard_index",),
    "shards": ("pack.shards", "pack.shard_plan", "pack.shard_formats", "pack.shard_resume"),
    "storage": ("metrics.storage",),
    "stylize": ("stylizers.runner", "stylizers.photo_pool", "stylizers.paint_items"),
    "summarize": ("metrics.summarize",),
    "tar_samples": ("pack.tar_samples",),
    "tasks": ("loading.tasks",),
    "train_classifier": (
        "classify.train",
        "classify.train_settings",
        "classify.train_examples",
        "classify.train_checkpoints",
    ),
    "transforms": ("loading.transforms",),
    "url_manifest": ("intake.url_manifest",),
    "variants": ("pack.variants",),
    "verify": ("pack.verify",),
    "wds_tar": ("pack.wds_tar",),
    "web_sources": (
        "intake.web_sources",
        "intake.source_slots",
        "intake.download_waves",
        "intake.sources_report",
    ),
}

# sub-package that took an old module's name -> {the old module's public name: its module now}
NAMES: dict[str, dict[str, str]] = {
    "card": {
        **dict.fromkeys(
            ("TEMPLATE", "README", "render_card", "write_card", "rewrite_card"),
            "card.dataset_card",
        ),
        **dict.fromkeys(
            ("features", "features_yaml", "card_metadata", "data_digest"), "card.metadata"
        ),
    },
    "pack": dict.fromkeys(("pack_dataset", "finish_with_card"), "pipeline"),
    "metrics": dict.fromkeys(
        (
            "DOMAINS",
            "SOURCE",
            "Definitions",
            "BENCHMARK",
            "Judged",
            "ConceptAccuracy",
            "Scores",
            "Averaged",
            "concept_accuracy",
            "mean_accuracy",
            "target_domain",
            "unlearning_scores",
            "average_over_targets",
        ),
        "metrics.scores",
    ),  # fmt: skip
    "stylizers": {
        "Stylizer": "stylizers.base",
        **dict.fromkeys(
            ("REGISTRY", "register", "stylizer_class", "get_stylizer"), "stylizers.registry"
        ),
    },
    "cli": dict.fromkeys(
        ("sources", "stylize", "shards", "verify", "demo", "recipes"), "cli.build"
    ),
}


def _warn(old: str, new: str, stacklevel: int) -> None:
    warnings.warn(
        f"{old} is now {new}; the old path will be removed in a later release",
        FutureWarning,
        stacklevel=stacklevel + 1,
    )


def moved_name(package: str, name: str):
    """``getattr`` for a sub-package that took an old module's name (``canvas_data.card``):
    the old module's ``name`` from where it is now, with a ``FutureWarning``.
    ``AttributeError`` for any other name."""
    short = package.removeprefix("canvas_data.")
    where = NAMES.get(short, {}).get(name)
    if where is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    _warn(f"{package}.{name}", f"canvas_data.{where}.{name}", stacklevel=3)
    value = getattr(importlib.import_module(f"canvas_data.{where}"), name)
    setattr(sys.modules[package], name, value)  # found once: one warning per name
    return value


def public_names(module: types.ModuleType) -> list[str]:
    """What ``from module import *`` gives: its ``__all__``, else its names without ``_``."""
    names = getattr(module, "__all__", None)
    return list(names) if names is not None else [n for n in vars(module) if n[0] != "_"]


def merged(module: types.ModuleType, targets: tuple[str, ...]) -> None:
    """Give ``module`` the public names of ``targets`` (the first that has a name wins) and an
    ``__all__``; any other name is looked up in them on use."""
    found = [importlib.import_module(t) for t in targets]
    for target in reversed(found):
        module.__dict__.update({n: getattr(target, n) for n in public_names(target)})
    module.__all__ = sorted({n for target in found for n in public_names(target)})

    def __getattr__(name: str):
        for target in found:
            if hasattr(target, name):
                return getattr(target, name)
        raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")

    module.__getattr__ = __getattr__


class _OldModule(importlib.abc.Loader):
    """``canvas_data.OLD``: the module its code moved to (the same object, so setting a name on
    it sets it there), or, for a module split in several, one that holds all their names."""

    def __init__(self, targets: tuple[str, ...]) -> None:
        self.targets = tuple(f"canvas_data.{t}" for t in targets)

    def create_module(self, spec):
        return None  # a plain module object

    def exec_module(self, module: types.ModuleType) -> None:
        _warn(module.__name__, " and ".join(self.targets), stacklevel=2)
        if len(self.targets) == 1:  # the import statement returns what sys.modules holds
            sys.modules[module.__name__] = importlib.import_module(self.targets[0])
            return
        merged(module, self.targets)
        module.__doc__ = f"Moved to {', '.join(self.targets)}."

    def get_code(self, fullname: str):
        """What ``python -m canvas_data.OLD`` runs: a line saying where it went (old modules
        had nothing to run)."""
        text = f"{fullname} is now {' and '.join(self.targets)}; it has nothing to run"
        return compile(f"import sys; print({text!r}, file=sys.stderr)", fullname, "exec")

    def is_package(self, fullname: str) -> bool:
        return False


class OldModuleFinder(importlib.abc.MetaPathFinder):
    """Finds ``canvas_data.OLD`` for each old module in :data:`MODULES`, and nothing else."""

    def find_spec(self, fullname, path=None, target=None):
        package, _, old = fullname.rpartition(".")
        if package != "canvas_data" or old not in MODULES:
            return None
        return importlib.util.spec_from_loader(fullname, _OldModule(MODULES[old]))


def install() -> None:
    """Add the finder once, after the standard ones (a real module always wins)."""
    if not any(isinstance(f, OldModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(OldModuleFinder())
