"""Pick and build a sampling backend: ``auto``, ``transformers`` or ``vllm``.

Both backend modules import their heavy libraries (torch, transformers, vLLM) inside functions, so
importing this module loads neither.
"""

from __future__ import annotations

import os

from rmflow.errors import UserError
from rmflow.generative.sampling import Backend
from rmflow.generative.transformers_backend import TransformersBackend
from rmflow.generative.vllm_backend import VLLMBackend

BACKENDS = ("auto", "transformers", "vllm")


def vllm_available() -> bool:
    """True if vLLM can be imported."""
    try:
        import vllm  # noqa: F401
    except Exception:
        return False
    return True


def resolve_backend(name: str) -> str:
    """``auto`` -> ``vllm`` when vLLM imports, a GPU is present and this is a single process, else
    ``transformers``. vLLM manages its GPUs itself, so it refuses to run under a multi-process launcher."""
    if name not in BACKENDS:
        raise UserError(f"unknown backend {name!r}; expected one of {', '.join(BACKENDS)}")
    launched = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if name == "vllm":
        if launched:
            raise UserError("--backend vllm runs as one process (it starts one engine per GPU group itself)")
        if not vllm_available():
            raise UserError("--backend vllm: vLLM is not installed (pip install 'rmflow[vllm]')")
        return name
    if name == "transformers" or launched:
        return "transformers"
    import torch

    return "vllm" if torch.cuda.is_available() and vllm_available() else "transformers"


def make_backend(
    name: str,
    model_id: str,
    revision: str | None = None,
    batch_size: int = 8,
    tensor_parallel_size: int = 1,
    seed: int = 42,
    max_model_len: int | None = None,
    device: str | None = None,
    dtype: str | None = None,
    base_model: str | None = None,
) -> Backend:
    """Instantiate a resolved backend name (``transformers`` or ``vllm``)."""
    if name == "vllm":
        return VLLMBackend(
            model_id,
            revision,
            tensor_parallel_size=tensor_parallel_size,
            seed=seed,
            max_model_len=max_model_len,
            dtype=dtype,
            base_model=base_model,
        )
    return TransformersBackend(
        model_id, revision, batch_size=batch_size, device=device, dtype=dtype, base_model=base_model
    )
