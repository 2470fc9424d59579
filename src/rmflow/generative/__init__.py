"""Generative reward models (gORM, gPRM): a causal LM that writes a critique ending in a verdict.

``verdict`` holds the verdict strings, parsing and reward arithmetic (light). Sampling: ``sampling`` is
the interface (what to sample, what comes back, the ``Backend`` protocol), ``transformers_backend`` and
``vllm_backend`` implement it (loading models with :mod:`rmflow.model_loading`) and ``backend_factory``
picks one; ``runner`` drives resumable, sharded sampling jobs. Stage modules:
``generate`` (teacher critiques), ``preprocess`` (filter + balance), ``shorten``, ``train`` (LoRA SFT)
and ``reward`` (sampled-verdict scoring).
"""
