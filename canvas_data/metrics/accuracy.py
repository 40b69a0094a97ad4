"""The accuracy stage: classify an answer set with the style and object classifiers and score it.

Images are decoded once, in threads, at the smallest JPEG scale the classifiers need (and resized
there too, when the classifiers share an input size), and handed to each classifier a batch at a
time. The result (per-concept accuracy of both classifiers, UA, IRA and CRA for the target and
the definitions they follow, what was missing, extra or unreadable, and every prediction) is one
JSON file that ``canvas-eval summarize`` reads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm.auto import tqdm

from canvas_data import __version__
from canvas_data.images.decode import decode_image, read_image_file
from canvas_data.metrics.answers import MAX_MISSING_SHARE, THEMES, AnswerScan, scan_answers
from canvas_data.metrics.finer_scale import (
    COMBINATION,
    RULES,
    combination_result,
    parse_combination,
)
from canvas_data.metrics.scores import (
    BENCHMARK,
    OBJECT,
    STYLE,
    Definitions,
    Judged,
    concept_accuracy,
    target_domain,
    unlearning_scores,
)
from canvas_data.taxonomy import OBJECTS_20

RESULT_KIND = "canvas-eval accuracy"


class Predicted(Protocol):
    """A batch's answers: the top class name and its probability, per image."""

    labels: list[str]
    scores: np.ndarray


class ImageClassifier(Protocol):
    """What the accuracy stage needs of a classifier
    (``canvas_data.classify.classifier.Classifier``)."""

    @property
    def classes(self) -> list[str]: ...

    def predict(
        self, images: Sequence[np.ndarray], *, batch_size: int = ..., progress: bool = ...
    ) -> Predicted: ...


def input_size(classifier: ImageClassifier) -> int | None:
    """The classifier's input side in pixels, if it says (images decode at least that large)."""
    return getattr(getattr(classifier, "info", None), "image_size", None)


def _decode(path: Path, min_size: int | None, resize=None) -> np.ndarray | str:
    try:
        image = decode_image(read_image_file(path), min_size=min_size, name=str(path))
        return image if resize is None else resize(image)["image"]
    except (OSError, ValueError) as err:
        return str(err) if str(path) in str(err) else f"{path}: {err}"


def _decoded_batches(
    paths: Sequence[Path], batch_size: int, workers: int, min_size: int | None, resizer=None
) -> Iterator[list[tuple[Path, np.ndarray | str]]]:
    """Batches of ``(path, RGB array or error)``; the next batch decodes while one is used.

    ``resizer``: makes the function that each thread applies to what it decoded (one copy per
    thread, as albumentations pipelines keep state).
    """
    local = threading.local()

    def load(path: Path) -> np.ndarray | str:
        if resizer is not None and not hasattr(local, "resize"):
            local.resize = resizer()
        return _decode(path, min_size, getattr(local, "resize", None))

    with ThreadPoolExecutor(max(1, workers)) as pool:
        starts = range(0, len(paths), batch_size)
        pending = None
        for start in [*starts, None]:
            ahead = None
            if start is not None:
                chunk = paths[start : start + batch_size]
                ahead = (chunk, [pool.submit(load, p) for p in chunk])
            if pending is not None:
                chunk, futures = pending
                yield [(p, f.result()) for p, f in zip(chunk, futures, strict=True)]
            pending = ahead


def _shared_resizer(classifiers: dict[str, ImageClassifier]):
    """The resizer all classifiers share (same input size, ``Classifier``s), else ``None``."""
    found = list(classifiers.values())
    if not found or not all(hasattr(c, "predict_resized") for c in found):
        return None
    if len({input_size(c) for c in found}) != 1:
        return None
    return found[0].resizer


def classify_files(
    paths: Sequence[Path],
    classifiers: dict[str, ImageClassifier],
    *,
    batch_size: int = 64,
    workers: int = 4,
    progress: bool = True,
) -> tuple[dict[Path, dict[str, tuple[str, float]]], list[tuple[Path, str]]]:
    """Classify image files with every classifier, in batches.

    Returns, per readable file, ``{name: (class, probability)}`` for each classifier, and the
    files that could not be decoded with the reason. When the classifiers share an input size,
    the decoding threads also resize, and normalising happens on the classifiers' device.
    """
    sizes = [s for s in map(input_size, classifiers.values()) if s]
    min_size = max(sizes) if sizes else None
    resizer = _shared_resizer(classifiers)
    answers: dict[Path, dict[str, tuple[str, float]]] = {}
    unreadable: list[tuple[Path, str]] = []
    bar = tqdm(total=len(paths), unit="img", desc="classify", disable=not progress)
    for batch in _decoded_batches(list(paths), batch_size, workers, min_size, resizer):
        good = [(p, im) for p, im in batch if not isinstance(im, str)]
        unreadable += [(p, im) for p, im in batch if isinstance(im, str)]
        if good:
            images = [im for _, im in good]
            stacked = np.stack(images) if resizer is not None else None
            per_file: list[dict[str, tuple[str, float]]] = [{} for _ in good]
            for name, classifier in classifiers.items():
                if stacked is not None:
                    out = classifier.predict_resized(stacked)
                else:
                    out = classifier.predict(images, batch_size=len(images), progress=False)
                for row, label, score in zip(per_file, out.labels, out.scores, strict=True):
                    row[name] = (label, float(score))
            answers.update(zip((p for p, _ in good), per_file, strict=True))
        bar.update(len(batch))
    bar.close()
    return answers, unreadable


def check_answer_set(
    style_classes: Sequence[str],
    object_classes: Sequence[str],
    themes: Sequence[str],
    objects: Sequence[str],
    target: str | None,
    combination_rule: str = "both",
) -> tuple[str, str] | None:
    """Check what an answer set asks of the classifiers before any is loaded: a known target
    and combination rule, a class for every theme and object. Returns the ``Style:Object`` pair
    of a combination target (else ``None``). ``ValueError`` (one line) otherwise."""
    pair = parse_combination(target, themes, objects) if target else None
    if combination_rule not in RULES:
        raise ValueError(f"unknown combination rule {combination_rule!r}; use {', '.join(RULES)}")
    if target and not pair:
        target_domain(target, themes, objects)
    _check_classes(style_classes, themes, STYLE)
    _check_classes(object_classes, objects, OBJECT)
    return pair


def _check_classes(classes: Sequence[str], names: Sequence[str], what: str) -> None:
    lacking = [n for n in names if n not in set(classes)]
    if lacking:
        more = f" and {len(lacking) - 5} more" if len(lacking) > 5 else ""
        raise ValueError(
            f"the {what} classifier has no class for {', '.join(lacking[:5])}{more} (it has "
            f"{len(classes)}: {', '.join(classes[:5])}, ...); pass "
            f"--styles/--objects to score a smaller answer set"
        )


def evaluate_answers(
    answers: Path,
    style_classifier: ImageClassifier,
    object_classifier: ImageClassifier,
    *,
    target: str | None = None,
    method: str | None = None,
    themes: Sequence[str] = THEMES,
    objects: Sequence[str] = OBJECTS_20,
    seeds: Sequence[int] | None = None,
    definitions: Definitions = BENCHMARK,
    allow_missing: bool = False,
    combination_rule: str = "both",
    batch_size: int = 64,
    workers: int = 4,
    progress: bool = True,
    sources: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Classify the answer set in ``answers`` and score it; returns the result as a dict.

    ``answers``: a folder with the set flat or in theme folders, or (given ``target``) a folder
    that holds it in a folder named after the target, as the release's scripts lay it out (see
    ``canvas_data.metrics.answers``). ``target``: the concept the model was made to forget (a theme
    or an object), for UA, IRA and CRA, or a ``Style:Object`` combination, for UA, SC, OC and UP
    under ``combination_rule`` (``canvas_data.metrics.finer_scale``); ``None`` reports accuracies
    only (a model before unlearning). For a combination target, the finer-scale images of its
    cell (``{Style}_{Object}_fine_seed{seed}.jpg``, ``generate --extra-seeds``) are added to its
    UA; the result's ``fine_seeds`` says which were found. ``seeds``: the seeds expected; ``None``
    takes those present. ``definitions``: which IRA and CRA (``metrics.scores.Definitions``: the
    benchmark's by default, or a named CRA definition); the result's ``definitions`` says which
    were used, and ``images_per_score`` how many images each score rests on. ``method`` names the
    model's unlearning
    method in the table. ``sources`` describes the classifiers (run folders).

    Errors (``ValueError``, one line): an unknown target, classifiers without the set's classes,
    more than 5% of the expected images missing unless ``allow_missing``.
    """
    pair = check_answer_set(
        style_classifier.classes, object_classifier.classes, themes, objects, target,
        combination_rule,
    )  # fmt: skip
    domain = COMBINATION if pair else target_domain(target, themes, objects) if target else None
    scan = scan_answers(
        answers, themes, objects, seeds, target=target, fine_cells=[pair] if pair else ()
    )
    if not allow_missing:
        scan.check(MAX_MISSING_SHARE)
    by_path = {path: answer for answer, path in [*scan.found.items(), *scan.fine.items()]}
    predicted, unreadable = classify_files(
        list(by_path),
        {STYLE: style_classifier, OBJECT: object_classifier},
        batch_size=batch_size,
        workers=workers,
        progress=progress,
    )
    judged, fine, rows = [], [], []
    for path, said in predicted.items():
        a = by_path[path]
        (fine if a.fine else judged).append(
            Judged(a.theme, a.obj, a.seed, said[STYLE][0], said[OBJECT][0])
        )
        rows.append(
            {
                "file": path.relative_to(scan.folder).as_posix(),
                "theme": a.theme,
                "object": a.obj,
                "seed": a.seed,
                **({"fine": True} if a.fine else {}),
                "style_pred": said[STYLE][0],
                "style_prob": round(said[STYLE][1], 6),
                "object_pred": said[OBJECT][0],
                "object_prob": round(said[OBJECT][1], 6),
            }
        )
    style = concept_accuracy(judged, STYLE, themes)
    objs = concept_accuracy(judged, OBJECT, objects)
    combination, per_score = None, None
    if pair:
        combination = combination_result([*judged, *fine], *pair, combination_rule, definitions)
        scores, described = combination["scores"], combination.pop("definitions")
        per_score = combination.pop("images_per_score")
        combination = {"style": pair[0], "object": pair[1], **combination}
    else:
        plain = unlearning_scores(judged, themes, objects, target, definitions) if target else None
        scores, described = (plain.as_dict() if plain else None), definitions.describe()
        per_score = dict(plain.images) if plain else None
    return {
        "kind": RESULT_KIND,
        "toolkit_version": __version__,
        "method": method,
        "target": target,
        "domain": domain,
        "scores": scores,
        "images_per_score": per_score,
        "definitions": described,
        **({"combination": combination} if combination else {}),
        **({"fine_seeds": _fine_record(pair, scan, len(fine))} if pair else {}),
        "style_accuracy": {c: _acc_dict(a) for c, a in style.items()},
        "object_accuracy": {c: _acc_dict(a) for c, a in objs.items()},
        "answers": str(scan.folder),
        "layout": scan.layout,
        "themes": list(themes),
        "objects": list(objects),
        "seeds": scan.seeds,
        "seeds_found": {str(s): n for s, n in scan.seeds_found.items()},
        "images": {
            "expected": scan.expected,
            "classified": len(judged),
            **({"fine": len(fine)} if pair else {}),  # finer-scale images of the target's cell
            "missing": len(scan.missing),
            "extra": len(scan.extra),
            "unreadable": len(unreadable),
        },
        "missing": [a.file_name for a in scan.missing],
        "extra": [{"path": _rel(p, scan), "reason": r} for p, r in scan.extra],
        "unreadable": [{"path": _rel(p, scan), "reason": r} for p, r in unreadable],
        "classifiers": sources or {},
        "predictions": rows,
    }


def _fine_record(pair: tuple[str, str], scan: AnswerScan, classified: int) -> dict[str, Any]:
    """What the finer-scale images of a combination target's cell added (``generate
    --extra-seeds``)."""
    return {
        "cell": f"{pair[0]}:{pair[1]}",
        "seeds": sorted(a.seed for a in scan.fine),
        "found": len(scan.fine),
        "classified": classified,
        "used_for": "UA (the target's cell) only; SC, OC, UP and the per-concept tables rest on "
        "the standard set",
    }


def _acc_dict(a) -> dict[str, Any]:
    return {"n": a.n, "hits": a.hits, "accuracy": a.accuracy}


def _rel(path: Path, scan: AnswerScan) -> str:
    return path.relative_to(scan.folder).as_posix()
