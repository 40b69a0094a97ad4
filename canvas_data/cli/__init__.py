"""The console commands, thin click layers over the library: one module per command.

``build`` is ``canvas-build`` (its ``card`` and ``release`` subcommands and the ``[diffusers]``
options in sibling modules), ``train`` is ``canvas-train`` (its shared options in
``train_options``), ``eval`` is ``canvas-eval`` (its commands in the ``eval_*`` sibling modules);
``common`` holds the shared options and the group that prints every error as one line.
``python -m canvas_data.cli`` (and ``torchrun -m canvas_data.cli``) runs ``canvas-build``.
"""
