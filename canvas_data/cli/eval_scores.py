"""``canvas-eval accuracy`` and ``canvas-eval fid``: score an answer set, with the classifiers
(per-concept accuracy, UA, IRA, CRA) or against reference images (FID)."""

from __future__ import annotations

from pathlib import Path

import click

from canvas_data.cli.common import (
    PROGRESS,
    TORCH_THREADS,
    Aliased,
    default_cpus,
    device_option,
    dtype_option,
    one_line_errors,
    out_file,
    set_torch_threads,
)
from canvas_data.cli.eval_answer_set import answer_set, answer_set_options
from canvas_data.metrics.scores import CRA_DEFINITIONS, RELEASE_README, WHOLE_TABLE

SHOWN = 20  # missing, extra or unreadable files printed before "... and N more"

DECODE_THREADS = click.option(
    "--decode-threads",
    "--workers",  # its older spelling, hidden: --workers means processes
    "workers",
    cls=Aliased,
    type=click.IntRange(min=1),
    default=default_cpus(),
    show_default="min(8, CPUs)",
    help="Threads that decode images, beside torch's (--threads).",
)
DEVICE = device_option("Where to run; auto: CUDA if available")


def _list(title: str, entries: list[str]) -> None:
    if not entries:
        return
    click.echo(f"{title} ({len(entries)}):", err=True)
    for entry in entries[:SHOWN]:
        click.echo(f"  {entry}", err=True)
    if len(entries) > SHOWN:
        click.echo(f"  ... and {len(entries) - SHOWN} more (all in the result file)", err=True)


@click.command()
@click.option(
    "--answers",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Answer folder: {Theme}_{Object}_seed{seed}.jpg (or _seed_{seed}; .jpg, .jpeg, .png), "
    "flat or in one folder per theme; or a method folder that holds one answer set per target "
    "in a folder named after it (the release's layout), read with --target.",
)
@click.option(
    "--style-classifier",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Run folder of the style classifier (`canvas-train style` or "
    "`canvas-train import-release`).",
)
@click.option(
    "--object-classifier",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Run folder of the object classifier.",
)
@click.option(
    "--target",
    default=None,
    help="The theme or object the model was made to forget: UA, IRA and CRA are "
    "computed for it; ANSWERS/TARGET is read when it holds the answer set. Or a combination "
    "Style:Object (Van_Gogh:Cats): UA, SC, OC and UP. Leave out for a model before unlearning.",
)
@click.option(
    "--combination-rule",
    type=click.Choice(["both", "style", "object"]),
    default="both",
    show_default=True,
    help="For a Style:Object target, what makes an image a hit: both classifiers right, or "
    "the style (object) classifier alone. The result also holds all three.",
)
@click.option(
    "--ira-includes-photos",
    is_flag=True,
    help="IRA of a style target also averages Seed_Images (photos). Default: the other 49 "
    "styles only, as the benchmark's maintainers define it.",
)
@click.option(
    "--cra-definition",
    type=click.Choice(list(CRA_DEFINITIONS)),
    default=RELEASE_README,
    show_default=True,
    help="Which CRA: release-readme, the other classifier on the images that do not involve "
    "the target (the release README's wording); all-images, on every image, for an object "
    "target over the 50 styles without Seed_Images (what public users of the release publish: "
    "SAeUron's avg_accuracy scripts); whole-table, the plain mean of the release's "
    "accuracy.py table (every image, every theme).",
)
@click.option(
    "--cra-on-all-images",
    is_flag=True,
    hidden=True,
    help="Old spelling of --cra-definition whole-table.",
)
@click.option(
    "--allow-missing",
    is_flag=True,
    help="Score what is there even when more than 5% of the expected images is missing.",
)
@click.option(
    "--method",
    default=None,
    help="The unlearning method, a row of the summary table. Default: the name of "
    "the folder the result file is in.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=out_file,
    default=None,
    help="Result file (JSON). Default: accuracy.json in the folder the answers were read from.",
)
@answer_set_options
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Images per classifier call.",
)
@DECODE_THREADS
@TORCH_THREADS
@DEVICE
@dtype_option("Classifier weights and activations")
@PROGRESS
@one_line_errors
def accuracy(
    answers,
    style_classifier,
    object_classifier,
    target,
    ira_includes_photos,
    cra_definition,
    cra_on_all_images,
    allow_missing,
    combination_rule,
    method,
    out,
    themes,
    objects,
    seeds,
    batch_size,
    workers,
    threads,
    device,
    dtype,
    progress,
):
    """Classify an answer set and score it: per-concept accuracy, UA, IRA and CRA.

    Missing files, extra files (names outside the answer set, second copies, images in the
    wrong theme folder) and unreadable images are listed; the rest is scored. Without --seeds,
    the seeds present are expected. More than 5% missing stops with one line unless
    --allow-missing.
    """
    from canvas_data.atomic import write_json
    from canvas_data.classify.run_info import ClassifierInfo
    from canvas_data.metrics.accuracy import check_answer_set, evaluate_answers
    from canvas_data.metrics.scores import Definitions
    from canvas_data.out_paths import check_out

    if cra_on_all_images:
        if cra_definition not in (RELEASE_README, WHOLE_TABLE):
            raise click.UsageError(
                f"--cra-on-all-images is --cra-definition {WHOLE_TABLE}; it contradicts "
                f"--cra-definition {cra_definition}"
            )
        cra_definition = WHOLE_TABLE
    definitions = Definitions(ira_includes_photos, cra_definition)
    if out is None:  # the default: accuracy.json beside the answers of the target, else in them
        check_out(answers / target if target and (answers / target).is_dir() else answers)
    chosen = answer_set(themes, objects, seeds)
    check_answer_set(  # before torch is imported: a typo fails in a second
        ClassifierInfo.read(style_classifier).classes,
        ClassifierInfo.read(object_classifier).classes,
        chosen["themes"],
        chosen["objects"],
        target,
        combination_rule,
    )
    _quiet_transformers()
    set_torch_threads(threads, workers=workers)  # the decode threads run beside torch
    sources, loaded = {}, {}
    from canvas_data.classify.classifier import load_classifier

    for task, run in (("style", style_classifier), ("object", object_classifier)):
        loaded[task] = load_classifier(run, device=device, dtype=dtype)
        sources[task] = {"run": str(run), "classes": loaded[task].classes}
    result = evaluate_answers(
        answers,
        loaded["style"],
        loaded["object"],
        target=target,
        method=method,
        themes=chosen["themes"],
        objects=chosen["objects"],
        seeds=seeds,  # None: the seeds present
        definitions=definitions,
        allow_missing=allow_missing,
        combination_rule=combination_rule,
        batch_size=batch_size,
        workers=workers,
        progress=progress,
        sources=sources,
    )
    out = out or Path(result["answers"]) / "accuracy.json"
    write_json(out, result)
    _list("missing", result["missing"])
    _list("extra", [f"{e['path']}: {e['reason']}" for e in result["extra"]])
    _list("unreadable", [e["reason"] for e in result["unreadable"]])
    _report_accuracy(result)
    click.echo(f"wrote {out}")


def _quiet_transformers() -> None:
    """No per-tensor loading bars from transformers: one bar per stage is enough."""
    try:
        import transformers
    except ImportError:
        return
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def _report_accuracy(result: dict) -> None:
    images = result["images"]
    click.echo(
        f"{images['classified']} of {images['expected']} answer images classified "
        f"({images['missing']} missing, {images['extra']} extra, "
        f"{images['unreadable']} unreadable) from {result['answers']} ({result['layout']}); "
        f"seeds {','.join(map(str, result['seeds']))}"
    )
    for task in ("style", "object"):
        table = result[f"{task}_accuracy"]
        values = [v["accuracy"] for v in table.values() if v["accuracy"] is not None]
        mean = f"{100 * sum(values) / len(values):.2f}%" if values else "—"
        click.echo(f"{task} accuracy, mean over {len(values)} concepts: {mean}")
    if result["scores"]:
        cells = [
            f"{k} {'—' if v is None else f'{100 * v:.2f}%'}" for k, v in result["scores"].items()
        ]
        click.echo(f"target {result['target']} ({result['domain']}): " + ", ".join(cells))
        counts = result.get("images_per_score") or {}
        if counts:
            click.echo("images per score: " + ", ".join(f"{k} {n}" for k, n in counts.items()))
        for name in ("hit", "ira", "cra"):
            if name in result["definitions"]:
                click.echo(f"  {name.upper()}: {result['definitions'][name]}")


@click.command()
@click.option(
    "--answers",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Folder of generated images (searched at any depth).",
)
@click.option(
    "--reference",
    type=click.Path(exists=True, path_type=Path),
    required=True,
    help="Folder of reference images (any depth; e.g. a copy of the dataset), or an "
    ".npz file written by --save-reference-stats.",
)
@click.option(
    "--inception",
    default=None,
    help="Inception file: pytorch-fid's weights-only pt_inception-2015-12-05-6726825d.pth "
    "(preferred: read with torch.load(weights_only=True), no code runs), or NVIDIA's TorchScript "
    "inception-2015-12-05.pt (a program, not just weights: loading it runs its code, so use "
    "only a copy from NVIDIA's URL). Default: $CANVAS_INCEPTION, else the first of these two "
    "in ~/.cache/canvas_data/.",
)
@click.option(
    "--save-reference-stats",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=out_file,
    default=None,
    help="Also keep the reference statistics in this .npz file, to pass "
    "as --reference for the next models.",
)
@click.option(
    "--target",
    default=None,
    help="The style or object the model forgot: its images are left out of both the answers "
    "and the reference, as the release's fid.py --forget-theme does. Default: every image.",
)
@click.option("--method", default=None, help="The unlearning method (the row in the summary).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=out_file,
    default=None,
    help="Result file (JSON). Default: ANSWERS/fid.json.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=2),
    default=50,
    show_default=True,
    help="Images per Inception call.",
)
@DECODE_THREADS
@TORCH_THREADS
@DEVICE
@PROGRESS
@one_line_errors
def fid(
    answers,
    reference,
    inception,
    save_reference_stats,
    target,
    method,
    out,
    batch_size,
    workers,
    threads,
    device,
    progress,
):
    """Standard FID of an answer set against reference images.

    torchmetrics' FrechetInceptionDistance on the 2048-d features of the FID Inception network,
    read from a local file (nothing is downloaded); every image is resized to 299 x 299 with
    Pillow's bicubic filter. Not comparable with the release's FID (see the README).

    The TorchScript file is a program: torch.jit.load runs the code it holds, so load only a
    file you trust (its sha256 is in the result). The pytorch-fid state dict is weights only.
    """
    from canvas_data.atomic import write_json
    from canvas_data.metrics.fid import compute_fid
    from canvas_data.out_paths import check_out

    if out is None:
        check_out(answers / "fid.json", file=True)
    set_torch_threads(threads, workers=workers)  # the decode threads run beside torch
    result = compute_fid(
        answers,
        reference,
        weights=inception,
        device=device,
        batch_size=batch_size,
        workers=workers,
        save_reference=save_reference_stats,
        target=target,
        progress=progress,
    )
    result["method"] = method
    out = out or answers / "fid.json"
    write_json(out, result)
    _list("unreadable", [e["reason"] for e in result["unreadable"]])
    n = result["images"]
    click.echo(f"FID {result['fid']:.3f} ({n['answers']} answers, {n['reference']} reference)")
    if result["target"]:
        gone = result["left_out"]
        ref = "" if gone["reference"] is None else f" and {gone['reference']} reference images"
        click.echo(f"left out the {gone['answers']} answers{ref} of {result['target']}")
    click.echo(f"wrote {out}")
