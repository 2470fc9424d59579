"""Generative reward models (gORM, gPRM): a causal LM that writes a critique ending in a verdict.

``verdict`` holds the verdict strings, parsing and reward arithmetic (light); ``backends`` and
``vllm_backend`` sample completions with raw logprobs; ``runner`` drives resumable, sharded sampling
jobs. Stage modules: ``generate`` (teacher critiques), ``preprocess`` (filter + balance), ``shorten``,
``train`` (LoRA SFT) and ``reward`` (sampled-verdict scoring).
"""
