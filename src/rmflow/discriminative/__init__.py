"""Discriminative reward models (dORM, dPRM): a causal LM read at step tags (docs/formats.md#model-inputs).

``features`` builds the step-tagged token sequence shared by training and scoring; ``heads`` projects
hidden states onto the two LM-head rows (``-``, ``+``); ``train`` and ``reward`` are the stage modules.
"""

from __future__ import annotations

from rmflow.cli_args import add_once

__all__ = ["add_once"]  # still imported from here by the two train modules
