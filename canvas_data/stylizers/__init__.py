"""Stylizers: each seed photo painted in each style, into ``WORK/{Style}/{Object}/{idx}.jpg``.

One interface (``base``) and a registry of backends chosen by name (``registry``): the CPU stylizer
runs a recipe's ``procedural`` filter chain (``procedural*``), the GPU one Stable Diffusion img2img
through ``diffusers`` (``diffusers_*``). ``runner`` drives a backend over a workspace: it skips
finished items, splits the work across ranks, and resumes after a kill; ``photo_pool`` paints
seed photos in a process pool; ``paint_items`` claims items (so that several processes can share
a workspace), paints them and writes each output. ``random_pipelines`` saves random-weight
pipelines for tests and benchmarks.
"""
