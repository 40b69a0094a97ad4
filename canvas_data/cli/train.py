"""``canvas-train``: train, import, evaluate and apply the style and object classifiers."""

from __future__ import annotations

from pathlib import Path

import click

from canvas_data import __version__
from canvas_data.cli.common import (
    CONTEXT,
    PROGRESS,
    TORCH_THREADS,
    CanvasGroup,
    one_line_errors,
    out_folder,
    set_torch_threads,
    styles_option,
)
from canvas_data.cli.train_options import (
    BATCH,
    DATA,
    DEVICE,
    DTYPE,
    OUT,
    RUN,
    WORKERS,
    needs_training_stack,
    require_training_stack,
    training_options,
)
from canvas_data.errors import InputError, one_line, reading


@click.group(cls=CanvasGroup, context_settings=CONTEXT)
@click.version_option(__version__, prog_name="canvas-train")
def main() -> None:
    """Train, import and apply the reference classifiers of the UnlearnCanvas metrics.

    \b
      style           fine-tune a ViT to tell styles apart (61-way by default)
      object          fine-tune a ViT to tell objects apart (20-way)
      import-release  convert a released timm checkpoint into a run folder
      evaluate        score a run folder on a split of a packed dataset
      predict         classify image files with a run folder
    """


def _train(task: str, spec: str, data: Path, out: Path, backbone: str | None, **opts) -> None:
    """Check the arguments (without torch), then train."""
    from canvas_data.classify.run_info import DEFAULT_BACKBONE
    from canvas_data.classify.train_settings import TrainSettings, resolve_classes

    if isinstance(spec, str) and "," in spec:  # --objects: names separated by commas
        spec = [s.strip() for s in spec.split(",") if s.strip()]
    if isinstance(spec, list) and len(spec) == 1:
        spec = spec[0]
    spec = "dataset" if spec == "all" else spec  # `all`: the build's taxonomy
    order, classes = resolve_classes(task, spec, data)
    resume, progress = opts.pop("resume"), opts.pop("progress")
    set_torch_threads(opts.pop("threads"), workers=opts["workers"])
    settings = TrainSettings(
        task=task, classes=classes, order=order, backbone=backbone or DEFAULT_BACKBONE, **opts
    )
    require_training_stack()
    from canvas_data.classify.train import train_classifier

    result = train_classifier(
        data, out, settings, resume=resume, progress=progress, echo=click.echo
    )
    if result.evaluation is None:
        click.echo(f"{out}: stopped at step {result.global_step} of {result.max_steps}")
        return
    ev = result.evaluation
    best = ev.extra["training"]["best_checkpoint"]
    click.echo(
        f"{out}: top-1 {100 * ev.top1:.1f}% on {len(ev.true)} {ev.split} images "
        f"({len(ev.classes)} classes, best {best}); wrote model.safetensors, config.json, "
        "classes.json, metrics.json, confusion.png"
    )


@main.command()
@DATA
@OUT
@styles_option(
    "Head classes: `dataset` or `all` (the build's taxonomy: the release's 61-way order for a "
    "release build), `built` (the styles that have training images), alone `60` (the "
    "release's 61-way head) or `50` (its 51-way head), or comma-separated style names.",
    default="dataset",
    heads=True,
    words=("dataset", "built"),
    dest="spec",
)
@training_options
@TORCH_THREADS
@one_line_errors
def style(data: Path, out: Path, spec: str, backbone: str | None, **opts) -> None:
    """Fine-tune the style classifier on DATA into the run folder OUT."""
    _train("style", spec, data, out, backbone, **opts)


@main.command("object")
@DATA
@OUT
@click.option(
    "--objects",
    "spec",
    default="dataset",
    show_default=True,
    help="Head classes: `dataset` (the build's taxonomy: the release's 20 objects for a "
    "release build), `built` (the objects that have training images), `20` (the release's "
    "order), or comma-separated object names.",
)
@training_options
@TORCH_THREADS
@one_line_errors
def object_(data: Path, out: Path, spec: str, backbone: str | None, **opts) -> None:
    """Fine-tune the object classifier on DATA into the run folder OUT."""
    _train("object", spec, data, out, backbone, **opts)


@main.command("import-release")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--task",
    type=click.Choice(["style", "object"]),
    required=True,
    help="What the checkpoint classifies.",
)
@click.option(
    "--styles",
    type=click.Choice(["50", "60"]),
    default=None,
    help="Style heads: 60 for the 61-way head, 50 for the 51-way one. Default: from the size "
    "of the checkpoint's head.",
)
@click.option(
    "--heads",
    type=click.IntRange(min=1),
    default=None,
    help="Attention heads (not stored in the weights). Default: width / 64, as "
    "timm's ViTs (16 for ViT-L).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    callback=out_folder,
    required=True,
    help="Run folder: model.safetensors, config.json, classes.json.",
)
@one_line_errors
@needs_training_stack
def import_release(
    checkpoint: Path, task: str, styles: str | None, heads: int | None, out: Path
) -> None:
    """Convert a released classifier CHECKPOINT (timm ViT, `model_state_dict`) into a run
    folder OUT. Read with weights_only=True: nothing but tensors is unpickled."""
    from canvas_data.classify.release_checkpoint import import_release as convert

    info = convert(checkpoint, task, out, styles=int(styles) if styles else None, heads=heads)
    click.echo(
        f"{out}: {len(info.classes)}-way {task} classifier ({info.order} order), "
        f"{info.image_size} px, from {checkpoint.name}"
    )


@main.command()
@RUN
@DATA
@click.option("--split", default="test", show_default=True, help="The split to score.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    callback=out_folder,
    default=None,
    help="Where metrics.json and confusion.png go. Default: RUN.",
)
@BATCH
@DEVICE
@DTYPE
@WORKERS
@TORCH_THREADS
@PROGRESS
@one_line_errors
@needs_training_stack
def evaluate(
    run: Path,
    data: Path,
    split: str,
    out: Path | None,
    batch_size: int,
    device: str,
    dtype: str,
    workers: int,
    threads: int | None,
    progress: bool,
) -> None:
    """Score the classifier in RUN on a split of DATA: metrics.json and confusion.png."""
    from canvas_data.classify.classifier import load_classifier
    from canvas_data.classify.evaluate import evaluate_classifier
    from canvas_data.out_paths import check_out

    check_out(out or run)  # before the scoring, not after it
    set_torch_threads(threads, workers=workers)
    classifier = load_classifier(run, device=device, dtype=dtype)
    ev = evaluate_classifier(
        classifier, data, split=split, batch_size=batch_size, workers=workers, progress=progress
    )
    ev.extra["data"] = str(data)
    metrics, png = ev.write(out or run)
    top1 = f"top-1 {100 * ev.top1:.1f}% on {len(ev.true)} {split} images"
    click.echo(f"{top1}; wrote {metrics}, {png}")


@main.command()
@RUN
@click.argument(
    "images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Classes to print per image, most probable first.",
)
@BATCH
@DEVICE
@DTYPE
@TORCH_THREADS
@PROGRESS
@one_line_errors
@needs_training_stack
def predict(
    run: Path,
    images: tuple[Path, ...],
    top: int,
    batch_size: int,
    device: str,
    dtype: str,
    threads: int | None,
    progress: bool,
) -> None:
    """Classify IMAGES with the classifier in RUN: one line per image, `path<TAB>class<TAB>prob`.

    A file that cannot be read is named on stderr with the reason, the rest are classified, and
    the command then exits with 1.
    """
    from canvas_data.classify.classifier import load_classifier

    set_torch_threads(threads)
    classifier = load_classifier(run, device=device, dtype=dtype)
    unreadable = 0
    for start in range(0, len(images), batch_size):  # decoded a batch at a time
        good = []
        for path in images[start : start + batch_size]:
            try:
                good.append((path, _read_image(path, classifier.info.image_size)))
            except (OSError, InputError) as err:
                click.echo(one_line(err), err=True)
                unreadable += 1
        if not good:
            continue
        found = classifier.predict([im for _, im in good], batch_size=batch_size)
        for (path, _), ranked in zip(good, found.top(top), strict=True):
            click.echo("\t".join([str(path), *(f"{name}\t{p:.4f}" for name, p in ranked)]))
    if unreadable:
        click.echo(f"{unreadable} of {len(images)} images could not be read", err=True)
        raise SystemExit(1)


def _read_image(path: Path, min_size: int):
    """An image file as an RGB array; ``ValueError`` or ``OSError`` naming the file."""
    from canvas_data.images.decode import decode_image

    with reading(path, "an image"):
        return decode_image(path.read_bytes(), min_size=min_size, name=str(path))


if __name__ == "__main__":
    main()
