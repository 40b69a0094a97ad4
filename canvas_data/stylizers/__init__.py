"""Stylizers: each seed photo painted in each style, into ``WORK/{Style}/{Object}/{idx}.jpg``.

One interface (``base``) and a registry of backends chosen by name (``registry``): the CPU stylizer
runs a recipe's ``procedural`` filter chain (``procedural*``), the GPU one Stable Diffusion img2img
through ``diffusers`` (``diffusers_*``). ``runner`` drives a backend over a workspace: it skips
finished items, splits the work across ranks, and resumes after a kill; ``photo_pool`` paints
seed photos in a process pool; ``paint_items`` claims items (so that several processes can share
a workspace), paints them and writes each output. ``random_pipelines`` saves random-weight
pipelines for tests and benchmarks.
"""


def __getattr__(name: str):
    """The names the flat layout's ``canvas_data.stylizers`` module had, from where they are now,
    with a ``FutureWarning`` (see ``canvas_data.moved``)."""
    from canvas_data.moved import moved_name

    return moved_name(__name__, name)
