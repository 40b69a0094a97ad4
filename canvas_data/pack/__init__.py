"""Packing: a workspace into a dataset folder, and that folder read back.

WebDataset tar shards (and Parquet) per split with ``manifest.json`` (``shards``: what to pack in
``shard_plan``, each shard's formats in ``shard_formats``, one shard as a resumable unit of work in
``shard_resume``); the recipe's pack-time variants (the 50- or 60-style head, a subset, a
resolution). The packed folder
is read back as untrusted input: its file layout and manifest schema (``manifest``), tar members
keyed ``{Style}/{Object}/{idx}`` only, random access by offset (``shard_index``), cheap indexes
for the card (``packed``). ``verify`` re-hashes and decodes, ``export`` writes the release's
layout again, ``push`` uploads to the Hub. Nothing here imports the card: the command runs the
card after the shards (``canvas_data.pipeline.pack_dataset``).
"""
