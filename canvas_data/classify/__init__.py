"""The reference classifiers the metrics use: style and object ViTs from ``transformers``.

A classifier is a run folder (``model.safetensors``, ``config.json``, ``classes.json``) over the
release's class orders (``classifier``); ``train`` fine-tunes one with the Trainer and resumes
exactly (a run's settings in ``train_settings``, its examples in ``train_examples``, its
checkpoints in ``train_checkpoints``); ``evaluate`` scores one on a split with a confusion matrix
(``confusion``); ``release_checkpoint`` converts the release's timm checkpoints to the same format.
"""
