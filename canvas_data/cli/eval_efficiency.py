"""``canvas-eval profile`` and ``canvas-eval storage``: what unlearning costs, in wall time and
peak memory of its command, and in bytes of the weights it leaves."""

from __future__ import annotations

from pathlib import Path

import click

from canvas_data.cli.common import default_output, one_line_errors, out_file


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=out_file,
    default=None,
    show_default="profile.json here, if no such file is here",
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
def profile(command, out: Path | None, method, interval):
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

    out = out or default_output(Path("profile.json"))  # never over an earlier record
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


@click.command()
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
    callback=out_file,
    default=None,
    show_default="storage.json beside UNLEARNED, if no such file is there",
    help="Result file (JSON).",
)
@one_line_errors
def storage(base, unlearned: Path, method, out: Path | None):
    """Bytes of unlearned weights, and of the tensors that differ from the base.

    Tensors are compared by name, bit for bit; those that differ (or that the base lacks) are
    what the method must store. Only safetensors files are read: pickles are refused.
    """
    from canvas_data.atomic import write_json
    from canvas_data.metrics.efficiency import human_bytes
    from canvas_data.metrics.storage import storage_report

    out = out or default_output(unlearned.absolute().parent / "storage.json")
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
