"""The dataset card and its companions, written from a packed folder after the shards.

``README.md`` with the YAML (``configs``, ClassLabel features) that makes
``load_dataset(OUT)`` work, its tables, loading examples and build provenance; the datasheet text
it shares with ``croissant.json``; and the contact sheet ``preview.jpg``. The card templates are
files in the separate package data ``canvas_data.cards``.
"""
