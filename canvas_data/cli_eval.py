"""Kept so that ``python -m canvas_data.cli_eval`` (and ``torchrun -m``) in existing launch scripts
keeps working, with the names the module had: the command lives in :mod:`canvas_data.cli.eval`."""

import sys

from canvas_data.cli.eval import main
from canvas_data.moved import merged

merged(
    sys.modules[__name__],
    tuple(
        f"canvas_data.cli.{m}"
        for m in ("eval", "eval_generate", "eval_scores", "eval_report", "eval_efficiency")
        + ("eval_answer_set",)
    ),
)

if __name__ == "__main__":
    main()
