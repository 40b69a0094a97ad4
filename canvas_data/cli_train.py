"""Kept so that ``python -m canvas_data.cli_train`` (and ``torchrun -m``) in existing launch scripts
keeps working, with the names the module had: the command lives in :mod:`canvas_data.cli.train`."""

import sys

from canvas_data.cli.train import main
from canvas_data.moved import merged

merged(sys.modules[__name__], ("canvas_data.cli.train", "canvas_data.cli.train_options"))

if __name__ == "__main__":
    main()
