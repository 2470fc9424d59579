"""Two-way (``-``, ``+``) head on top of a causal LM, batching and the training loss (torch).

Only the two LM-head rows of the candidate tokens are used: logits at a step tag are
``h @ W[[-, +]].T`` for the final-norm hidden state ``h``, so the full-vocabulary logits are never
materialised; ``softmax`` over these two equals the softmax over the two entries of the full logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from rmflow.discriminative.features import IGNORE, SpecialIds


def head_rows(model: Any, ids: SpecialIds) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The LM-head weight rows (2, hidden) of ``-`` and ``+`` and their bias (or None)."""
    lm_head = model.get_output_embeddings()
    index = torch.tensor([ids.negative, ids.positive], device=lm_head.weight.device)
    bias = getattr(lm_head, "bias", None)
    return lm_head.weight.index_select(0, index), None if bias is None else bias.index_select(0, index)


def two_way_logits(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """(N, 2) logits of hidden states (N, hidden), computed in float32."""
    logits = hidden.float() @ weight.float().T
    return logits if bias is None else logits + bias.float()


def positive_probability(logits2: torch.Tensor) -> torch.Tensor:
    """P(+) from (N, 2) logits: the softmax over (``-``, ``+``), second entry."""
    return torch.softmax(logits2, dim=-1)[:, 1]


def two_way_loss(logits2: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the two logits, summed over labelled positions and divided by their number."""
    n = targets.numel()
    if n == 0:
        return logits2.sum() * 0.0
    return F.cross_entropy(logits2, targets.long(), reduction="sum") / n


def final_hidden(
    model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, **kw: Any
) -> torch.Tensor:
    """Last hidden states after the final norm, through the model's own forward.

    Calls the top-level module (so wrappers such as DDP see the forward) with ``logits_to_keep=1``:
    the LM head runs on one position per sequence only.
    """
    out = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        output_hidden_states=True,
        logits_to_keep=1,
        use_cache=False,
        **kw,
    )
    return out.hidden_states[-1]


def decoder_hidden(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Last hidden states after the final norm from the decoder body alone (no LM head at all).

    Left-padded batches get position ids counted from each sequence's first real token, so a padded
    sequence scores like the same sequence alone.
    """
    position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
    out = model.get_decoder()(
        input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False
    )
    return out.last_hidden_state


def pad_batch(
    sequences: Sequence[Sequence[int]], pad_id: int, side: str, labels: Sequence[Sequence[int]] | None = None
) -> dict[str, torch.Tensor]:
    """Pad to the longest sequence on ``side`` ('left' or 'right'): input_ids, attention_mask (+ labels)."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    lab = torch.full((len(sequences), width), IGNORE, dtype=torch.long) if labels is not None else None
    for i, seq in enumerate(sequences):
        n = len(seq)
        sl = slice(width - n, width) if side == "left" else slice(0, n)
        ids[i, sl] = torch.tensor(seq, dtype=torch.long)
        mask[i, sl] = 1
        if lab is not None:
            lab[i, sl] = torch.tensor(labels[i], dtype=torch.long)
    batch = {"input_ids": ids, "attention_mask": mask}
    if lab is not None:
        batch["labels"] = lab
    return batch


class RightPadCollator:
    """Training collator: right padding, labels padded with -100."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        return pad_batch(
            [f["input_ids"] for f in features], self.pad_id, "right", labels=[f["labels"] for f in features]
        )
