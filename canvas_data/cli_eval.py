"""Kept so that ``python -m canvas_data.cli_eval`` (and ``torchrun -m``) in existing launch scripts
keeps working: the command lives in :mod:`canvas_data.cli.eval`."""

from canvas_data.cli.eval import main

if __name__ == "__main__":
    main()
