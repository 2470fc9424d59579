"""Discriminative reward models (dORM, dPRM): a causal LM read at step tags (docs/formats.md#model-inputs).

``features`` builds the step-tagged token sequence shared by training and scoring; ``heads`` projects
hidden states onto the two LM-head rows (``-``, ``+``); ``train`` (settings: ``train_config``) and
``reward`` are the stage modules.
"""
