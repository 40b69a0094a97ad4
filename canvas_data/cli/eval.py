"""``canvas-eval``: the unlearning metrics, from a model's answer set to the benchmark's table."""

from __future__ import annotations

import os
from pathlib import Path

import click

from canvas_data import __version__
from canvas_data.cli.common import (
    NUM_SHARDS,
    PROGRESS,
    SHARD_INDEX,
    CanvasGroup,
    names,
    one_line_errors,
)

SHOWN = 20  # missing, extra or unreadable files printed before "... and N more"

DECODE_WORKERS = click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=min(8, os.cpu_count() or 1),
    show_default="min(8, CPUs)",
    help="Threads that decode images.",
)
DEVICE = click.option(
    "--device",
    default="auto",
    show_default=True,
    help="auto (CUDA if available), cpu, cuda, cuda:N.",
)


def _seeds(ctx, param, value: str | None) -> list[int] | None:
    if not value:
        return None
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"seeds must be integers separated by commas: {value}") from None


def _list(title: str, entries: list[str]) -> None:
    if not entries:
        return
    click.echo(f"{title} ({len(entries)}):", err=True)
    for entry in entries[:SHOWN]:
        click.echo(f"  {entry}", err=True)
    if len(entries) > SHOWN:
        click.echo(f"  ... and {len(entries) - SHOWN} more (all in the result file)", err=True)


def answer_set_options(fn):
    """The options that say which answers make the set."""
    options = [
        click.option(
            "--themes",
            callback=names,
            default=None,
            help="Comma-separated themes (styles, Seed_Images). Default: the "
            "benchmark's 50 styles and Seed_Images.",
        ),
        click.option(
            "--objects",
            callback=names,
            default=None,
            help="Comma-separated objects. Default: all 20.",
        ),
        click.option(
            "--seeds",
            callback=_seeds,
            default=None,
            help="Comma-separated seeds. Default: 188,288,588,688,888 (accuracy: the seeds "
            "present).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _set(themes, objects, seeds) -> dict:
    from canvas_data.metrics.answers import SEEDS, THEMES
    from canvas_data.taxonomy import OBJECTS_20

    return {"themes": themes or THEMES, "objects": objects or OBJECTS_20, "seeds": seeds or SEEDS}


@click.group(cls=CanvasGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="canvas-eval")
def main() -> None:
    """Score (unlearned) text-to-image models on UnlearnCanvas.

    \b
    Stages, in order:
      generate   a model's answer set: {Theme}_{Object}_seed{seed}.jpg
      accuracy   classify it: per-concept accuracy, UA, IRA, CRA for the target
      summarize  many results into the benchmark's table (+ heat maps, sequences, HTML)
      fid        standard FID of an answer set against reference images
      profile    wall time and peak memory of an unlearning command
      storage    bytes of unlearned weights and of their difference from the base
    """


@main.command()
@click.option(
    "--model", required=True, help="diffusers text-to-image checkpoint: a local folder or a Hub id."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Answer folder to write (flat, or one folder per theme with --per-theme-folders).",
)
@click.option("--revision", default=None, help="Hub revision (branch, tag or commit) of --model.")
@click.option(
    "--unet",
    default=None,
    help="A fine-tuned or unlearned UNet replacing the model's: a diffusers UNet folder, "
    "or a state-dict file (.safetensors, .bin, .pt, .pth, .ckpt) with diffusers keys.",
)
@answer_set_options
@click.option(
    "--steps", type=click.IntRange(min=1), default=100, show_default=True, help="Scheduler steps."
)
@click.option(
    "--guidance-scale",
    type=float,
    default=9.0,
    show_default=True,
    help="Classifier-free guidance scale.",
)
@click.option(
    "--resolution",
    type=click.IntRange(min=8),
    default=512,
    show_default=True,
    help="Image side in pixels (a multiple of 8).",
)
@click.option(
    "--scheduler",
    default="DDIMScheduler",
    show_default=True,
    help="Any diffusers scheduler class, built from the checkpoint's scheduler config.",
)
@click.option(
    "--prompt",
    default=None,
    help="Prompt: `release` (the release's unlearned-model samplers: 'A {object} image in "
    "{theme} style.', photos in 'Seed Images style.'), `release-fmn` (its FMN sampler: "
    "underscores kept, no period), `release-compvis` ('Photo style.'), `release-diffusers` "
    "('photo style', no period), or a template with {object}, {theme}, {theme_name}, "
    "{article}. Default: the canonical caption ('An Architectures image in Van Gogh style', "
    "photos in 'photo style').",
)
@click.option("--negative-prompt", default=None, help="Negative prompt for every image.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Images per pipeline call. Default: 8 on a GPU, 1 on the CPU.",
)
@click.option(
    "--device",
    default="auto",
    show_default=True,
    help="auto (this rank's GPU, LOCAL_RANK, if CUDA is available, else the CPU), cuda, "
    "cuda:N, mps, cpu.",
)
@click.option(
    "--dtype",
    default="auto",
    show_default=True,
    help="auto (float16 on a GPU, float32 on the CPU), float32, float16, bfloat16.",
)
@click.option(
    "--jpeg-quality",
    type=click.IntRange(1, 100),
    default=95,
    show_default=True,
    help="JPEG quality of the written images.",
)
@click.option(
    "--safety-checker/--no-safety-checker",
    default=False,
    show_default=True,
    help="Keep the checkpoint's safety checker (flagged images are reported, not "
    "written). Off by default, as in the release's sampling.",
)
@click.option(
    "--per-theme-folders",
    is_flag=True,
    help="Write OUT/{Theme}/{Theme}_{Object}_seed{seed}.jpg instead of a flat folder.",
)
@NUM_SHARDS
@SHARD_INDEX
@PROGRESS
@one_line_errors
def generate(out, themes, objects, seeds, num_shards, shard_index, progress, **settings):
    """Generate a model's answer set: every theme x object x seed, from its prompt.

    Defaults are the benchmark's: DDIM, 100 steps, guidance 9, 512 px, seeds 188 288 588 688
    888. Images that exist are skipped, so a killed run resumes where it stopped. Under torchrun
    or accelerate launch each rank generates its share (RANK of WORLD_SIZE) on its own GPU
    (LOCAL_RANK). With HF_HUB_OFFLINE=1 a Hub id must already be in the Hugging Face cache.
    """
    from canvas_data.metrics.generate import GenerateSettings, generate_answers
    from canvas_data.work_share import share_from_env

    share = share_from_env(num_shards, shard_index)
    report = generate_answers(
        out,
        GenerateSettings(**settings),
        **_set(themes, objects, seeds),
        num_shards=share[0],
        shard_index=share[1],
        progress=progress,
    )
    for name, reason in report.failed:
        click.echo(f"failed {name}: {reason}", err=True)
    click.echo(report.summary())
    if report.failed:
        raise SystemExit(1)


@main.command()
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
    "--cra-on-all-images",
    is_flag=True,
    help="CRA is the mean of the other classifier's whole per-concept table (the target's "
    "images too; Seed_Images too for an object target). Default: the images that do not "
    "involve the target, the 50 styles.",
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
@DECODE_WORKERS
@DEVICE
@click.option(
    "--dtype",
    default="auto",
    show_default=True,
    help="auto (float16 on a GPU, float32 on the CPU), float32, float16, bfloat16.",
)
@PROGRESS
@one_line_errors
def accuracy(
    answers,
    style_classifier,
    object_classifier,
    target,
    ira_includes_photos,
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
    from canvas_data.classify.classifier import load_classifier
    from canvas_data.metrics.accuracy import evaluate_answers

    _quiet_transformers()
    sources, loaded = {}, {}
    for task, run in (("style", style_classifier), ("object", object_classifier)):
        loaded[task] = load_classifier(run, device=device, dtype=dtype)
        sources[task] = {"run": str(run), "classes": loaded[task].classes}
    chosen = _set(themes, objects, seeds)
    result = evaluate_answers(
        answers,
        loaded["style"],
        loaded["object"],
        target=target,
        method=method,
        themes=chosen["themes"],
        objects=chosen["objects"],
        seeds=seeds,  # None: the seeds present
        ira_includes_photos=ira_includes_photos,
        cra_on_all_images=cra_on_all_images,
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
        for name in ("hit", "ira", "cra"):
            if name in result["definitions"]:
                click.echo(f"  {name.upper()}: {result['definitions'][name]}")


_STEPS = "\0"  # joins the files of one --sequence into one option value


class _SequenceCommand(click.Command):
    """Reads `--sequence R1 R2 ...`: the files after --sequence, up to the next option, are the
    steps of one sequence, in order."""

    def parse_args(self, ctx, args):
        rewritten, i = [], 0
        while i < len(args):
            if args[i] == "--":
                rewritten += args[i:]
                break
            if args[i] != "--sequence":
                rewritten.append(args[i])
                i += 1
                continue
            j = i + 1
            while j < len(args) and not args[j].startswith("-"):
                j += 1
            if j == i + 1:
                raise click.UsageError("--sequence needs the result file of every step", ctx)
            rewritten += ["--sequence", _STEPS.join(args[i + 1 : j])]
            i = j
        return super().parse_args(ctx, rewritten)


@main.command(cls=_SequenceCommand)
@click.argument(
    "results",
    nargs=-1,
    required=False,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for table.md, table.csv, table.json and heatmap-{method}.png (and "
    "sequence-{method}.md/.csv/.json/.png).",
)
@click.option(
    "--sequence",
    "sequences",
    multiple=True,
    metavar="R1 R2 ...",
    help="Results of one sequential-unlearning run, one per step, in step order (every file "
    "up to the next option). Repeat for more runs.",
)
@click.option(
    "--efficiency",
    "efficiency",
    multiple=True,
    metavar="METHOD=FILE",
    help="A `canvas-eval profile` or `storage` result of METHOD. Repeatable. Such results "
    "can also be given as RESULTS (their --method, else their folder names the method).",
)
@click.option(
    "--html",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the report: one self-contained HTML page with the table (sortable), "
    "heat maps and curves.",
)
@one_line_errors
def summarize(results, out, sequences, efficiency, html):
    """Turn many results into the benchmark's table.

    RESULTS are files written by `canvas-eval accuracy` (one per unlearned model and target) and,
    optionally, by `canvas-eval fid`, `profile` and `storage`. Rows are methods (each result's
    --method, else the name of its folder); UA, IRA and CRA are averaged over style targets and,
    apart, over object targets; FID is the mean of the method's FID results; time, memory and
    storage columns appear when profile or storage results are given.

    With --sequence R1 R2 ..., the results of one model's sequential unlearning (step k has
    forgotten the targets of steps 1..k): after each step, UA of every target forgotten so far,
    IRA and CRA of what is not forgotten (see sequence-{method}.json for the definition).
    """
    from canvas_data.metrics.efficiency import parse_assignment
    from canvas_data.metrics.summarize import summarize as write_summary

    written = write_summary(
        list(results),
        out,
        sequences=[[Path(f) for f in s.split(_STEPS)] for s in sequences],
        efficiency=[parse_assignment(e) for e in efficiency],
        html=html,
    )
    for key, path in written.items():
        if key == "markdown" or key.endswith(" md"):
            click.echo(path.read_text())
    for path in written.values():
        click.echo(f"wrote {path}")


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("profile.json"),
    show_default=True,
    help="Result file (JSON).",
)
@click.option("--method", default=None, help="The unlearning method (the row in the summary).")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.001),
    default=0.05,
    show_default=True,
    help="Seconds between two memory polls.",
)
@one_line_errors
def profile(command, out, method, interval):
    """Run an unlearning COMMAND and record its wall time and peak memory.

    \b
    canvas-eval profile --method ESD --out results/ESD/profile-Van_Gogh.json -- \\
        python train_esd.py --concept Van_Gogh

    Peak GPU memory of the command's processes comes from NVML (the [gpu] extra, nvidia-ml-py);
    without NVML or a GPU it is null, and the peak RSS of the process tree (psutil) is recorded
    in every case. The record is written even when the command fails; the command's exit code
    is passed through.
    """
    import json

    from canvas_data.atomic import write_json
    from canvas_data.metrics.profile import profile_command, shell_exit_code

    try:  # a place for the record, before a long run
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"{out}: cannot write the record there ({err.strerror})") from None
    record = profile_command(list(command), interval=interval, method=method)
    try:
        write_json(out, record)
    except OSError as err:  # the measurement is not lost: it goes to stderr
        click.echo(json.dumps(record), err=True)
        raise ValueError(f"{out}: cannot write the record ({err.strerror})") from None
    gpu = record["peak_gpu_bytes"]
    gpu = "—" if gpu is None else f"{gpu / 2**30:.2f} GiB"
    click.echo(
        f"exit code {record['exit_code']}, {record['wall_s']:.1f} s, peak GPU memory {gpu}, "
        f"peak RSS {record['peak_rss_bytes'] / 2**30:.2f} GiB ({record['device']})",
        err=True,
    )
    click.echo(f"wrote {out}", err=True)
    raise SystemExit(shell_exit_code(record["exit_code"]))


@main.command()
@click.option(
    "--base",
    type=click.Path(exists=True, path_type=Path),
    required=True,
    help="The model before unlearning: a diffusers folder (its unet/ is taken), a UNet "
    "folder or a .safetensors file.",
)
@click.option(
    "--unlearned",
    type=click.Path(exists=True, path_type=Path),
    required=True,
    help="The unlearned weights: a UNet folder, a diffusers folder or a .safetensors file.",
)
@click.option("--method", default=None, help="The unlearning method (the row in the summary).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("storage.json"),
    show_default=True,
    help="Result file (JSON).",
)
@one_line_errors
def storage(base, unlearned, method, out):
    """Bytes of unlearned weights, and of the tensors that differ from the base.

    Tensors are compared by name, bit for bit; those that differ (or that the base lacks) are
    what the method must store. Only safetensors files are read: pickles are refused.
    """
    from canvas_data.atomic import write_json
    from canvas_data.metrics.efficiency import human_bytes
    from canvas_data.metrics.storage import storage_report

    record = storage_report(base, unlearned, method=method)
    try:
        write_json(out, record)
    except OSError as err:
        raise ValueError(f"{out}: cannot write the record ({err.strerror})") from None
    click.echo(
        f"unlearned weights {human_bytes(record['unlearned_bytes'])}, of which "
        f"{record['changed_tensors']} of {record['tensors']} tensors differ from the base: "
        f"{human_bytes(record['diff_bytes'])}"
    )
    click.echo(f"wrote {out}")


@main.command()
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
    default=None,
    help="Also keep the reference statistics in this .npz file, to pass "
    "as --reference for the next models.",
)
@click.option("--method", default=None, help="The unlearning method (the row in the summary).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
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
@DECODE_WORKERS
@DEVICE
@PROGRESS
@one_line_errors
def fid(
    answers,
    reference,
    inception,
    save_reference_stats,
    method,
    out,
    batch_size,
    workers,
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

    result = compute_fid(
        answers,
        reference,
        weights=inception,
        device=device,
        batch_size=batch_size,
        workers=workers,
        save_reference=save_reference_stats,
        progress=progress,
    )
    result["method"] = method
    out = out or answers / "fid.json"
    write_json(out, result)
    _list("unreadable", [e["reason"] for e in result["unreadable"]])
    n = result["images"]
    click.echo(f"FID {result['fid']:.3f} ({n['answers']} answers, {n['reference']} reference)")
    click.echo(f"wrote {out}")


if __name__ == "__main__":
    main()
