"""``python -m canvas_data.cli`` (or ``torchrun -m canvas_data.cli``) runs ``canvas-build``."""

from canvas_data.cli.build import main

if __name__ == "__main__":
    main()
