"""Loading: PyTorch views of a packed folder for training and evaluation.

Map-style and streaming datasets (``loaders``, ``stream``) for the tasks of the benchmark
(``tasks``: style and object classification, text-to-image, edit pairs, style transfer), built one
example at a time (``examples``), with albumentations presets (``transforms``), a disk cache of
decoded pixels (``cache``), and the same views over a ``datasets`` split (``hf_views``).
"""
