"""``canvas-eval``: the unlearning metrics, from a model's answer set to the benchmark's table.

The group is here; its commands are in sibling modules: ``eval_generate`` (generate),
``eval_scores`` (accuracy, fid), ``eval_report`` (summarize) and ``eval_efficiency`` (profile,
storage), with the answer-set options in ``eval_answer_set``.
"""

from __future__ import annotations

import click

from canvas_data import __version__
from canvas_data.cli.common import CONTEXT, CanvasGroup


@click.group(cls=CanvasGroup, context_settings=CONTEXT)
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
      style-transfer  the style-transfer benchmark: generate outputs, score them
    """


# Commands defined in other modules (which import from cli.common, never from here) register
# below: `from canvas_data.cli.x import command` then `main.add_command(command)`.
# --- registered commands ---
from canvas_data.cli.eval_generate import generate  # noqa: E402

main.add_command(generate)
from canvas_data.cli.eval_scores import accuracy, fid  # noqa: E402

main.add_command(accuracy)
main.add_command(fid)
from canvas_data.cli.eval_report import summarize  # noqa: E402

main.add_command(summarize)
from canvas_data.cli.eval_efficiency import profile, storage  # noqa: E402

main.add_command(profile)
main.add_command(storage)
from canvas_data.cli.eval_transfer import style_transfer  # noqa: E402

main.add_command(style_transfer)


if __name__ == "__main__":
    main()
