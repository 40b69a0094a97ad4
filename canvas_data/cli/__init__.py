"""The console commands, thin click layers over the library: one module per command.

``build`` is ``canvas-build`` (its ``card`` and ``release`` subcommands and the ``[diffusers]``
options in sibling modules), ``train`` is ``canvas-train`` (its shared options in
``train_options``), ``eval`` is ``canvas-eval`` (its commands in the ``eval_*`` sibling modules);
``common`` holds the shared options and the group that prints every error as one line.
``python -m canvas_data.cli`` (and ``torchrun -m canvas_data.cli``) runs ``canvas-build``.
"""


def main() -> None:
    """``canvas-build``: what the console script of an install made before the commands moved
    into this package runs (``canvas_data.cli:main``); new installs run ``cli.build:main``."""
    from canvas_data.cli.build import main as build_main

    build_main()


def __getattr__(name: str):
    """The commands the flat layout's ``canvas_data.cli`` module had, from ``cli.build``, with a
    ``FutureWarning`` (see ``canvas_data.moved``)."""
    from canvas_data.moved import moved_name

    return moved_name(__name__, name)
