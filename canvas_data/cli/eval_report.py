"""``canvas-eval summarize``: many results into the benchmark's table, heat maps, sequential
unlearning curves and the HTML report."""

from __future__ import annotations

from pathlib import Path

import click

from canvas_data.cli.common import one_line_errors, out_file, out_folder

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


@click.command(cls=_SequenceCommand)
@click.argument(
    "results",
    nargs=-1,
    required=False,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    callback=out_folder,
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
    callback=out_file,
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
    storage columns appear when profile or storage results are given. Results of
    `canvas-eval style-transfer score` get their own table, style-transfer.md and .csv.

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
