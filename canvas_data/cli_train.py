"""Kept so that ``python -m canvas_data.cli_train`` (and ``torchrun -m``) in existing launch scripts
keeps working: the command lives in :mod:`canvas_data.cli.train`."""

from canvas_data.cli.train import main

if __name__ == "__main__":
    main()
