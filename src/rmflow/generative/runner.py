"""Resumable, sharded sampling jobs shared by ``rmflow generate`` and ``rmflow reward`` (generative).

A job is one category's list of prompts, cut into chunks saved through :class:`rmflow.chunks.ChunkStore`
as they finish. With several inference engines (vLLM, one per group of ``tensor_parallel_size``
GPUs), engine ``rank`` of ``world`` takes the chunks ``i`` with ``i % world == rank``, each engine in
its own process with its own ``CUDA_VISIBLE_DEVICES``; the parent assembles the outputs afterwards.
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rmflow.chunks import ChunkStore, clear_chunks, split
from rmflow.errors import UserError
from rmflow.fingerprint import json_sha256
from rmflow.generative.backend_factory import make_backend, resolve_backend
from rmflow.generative.sampling import Backend, Sample, SamplingSpec, derived_seed
from rmflow.model_loading import load_tokenizer, resolve_checkpoint

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One category's prompts and the chunk store of their results."""

    category: str
    prompts: list[str]
    store: ChunkStore
    chunk_size: int

    @property
    def chunks(self) -> list[Sequence[str]]:
        return split(self.prompts, self.chunk_size)

    @property
    def n_chunks(self) -> int:
        return len(self.chunks)

    def missing(self) -> list[int]:
        return [i for i in range(self.n_chunks) if not self.store.done(i)]


def chunk_size_for(requested: int | None, n_prompts: int, world: int, backend: str) -> int:
    """Prompts per chunk: as requested; vLLM by default takes its whole shard at once; else 256."""
    if requested and requested > 0:
        return requested
    if backend == "vllm":
        return max(1, math.ceil(n_prompts / max(1, world)))
    return 256


def run_job(
    backend: Backend,
    job: Job,
    spec: SamplingSpec,
    summarize: Callable[[Sample], Any],
    rank: int = 0,
    world: int = 1,
) -> dict[str, float]:
    """Sample this engine's missing chunks; save ``[[summarize(sample) per sample] per prompt]`` per chunk.

    Each chunk has its own seed (from ``spec.seed``, the category and the chunk index): with the
    transformers backend a resumed or sharded run draws what an uninterrupted single process draws.
    Returns counts for throughput reporting (prompts, samples, generated tokens, seconds).
    """
    stats = {"prompts": 0, "samples": 0, "tokens": 0, "seconds": 0.0}
    for i, chunk in enumerate(job.chunks):
        if i % world != rank or job.store.done(i):
            continue
        t0 = time.perf_counter()
        samples = backend.generate(list(chunk), spec.with_seed(derived_seed(spec.seed, job.category, i)))
        dt = time.perf_counter() - t0
        job.store.save(i, [[summarize(s) for s in per_prompt] for per_prompt in samples])
        n_tok = sum(len(s.token_ids) for per_prompt in samples for s in per_prompt)
        stats["prompts"] += len(chunk)
        stats["samples"] += len(chunk) * spec.n
        stats["tokens"] += n_tok
        stats["seconds"] += dt
        log.info(
            "%s: chunk %d/%d (%d prompts x %d samples) in %.1fs, %.0f generated tok/s",
            job.category,
            i + 1,
            job.n_chunks,
            len(chunk),
            spec.n,
            dt,
            n_tok / dt if dt > 0 else float("nan"),
        )
    return stats


def collect(job: Job) -> list[Any]:
    """All chunk results of a finished job, in prompt order; an error if an engine left chunks undone."""
    missing = job.missing()
    if missing:
        raise UserError(
            f"{job.category}: {len(missing)} of {job.n_chunks} chunks missing in {job.store.dir} "
            "(an engine failed); rerun the same command to resume"
        )
    return job.store.load_all(job.n_chunks)


# --------------------------------------------------------------------------- engines
def visible_gpus() -> list[str]:
    """GPU ids visible to this process (``CUDA_VISIBLE_DEVICES`` if set, else every device)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g.strip() for g in env.split(",") if g.strip()]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def engine_groups(gpus: Sequence[str], tensor_parallel_size: int) -> list[str]:
    """``CUDA_VISIBLE_DEVICES`` value of each engine: consecutive groups of ``tensor_parallel_size`` GPUs."""
    tp = max(1, tensor_parallel_size)
    if len(gpus) < tp:
        raise UserError(f"--tensor_parallel_size {tp} needs {tp} GPUs, {len(gpus)} visible")
    if len(gpus) % tp:
        log.warning("%d GPUs, tensor parallel %d: %d GPU(s) left idle", len(gpus), tp, len(gpus) % tp)
    return [",".join(gpus[i * tp : (i + 1) * tp]) for i in range(len(gpus) // tp)]


def _engine_main(worker: Callable[[Any, int, int], None], payload: Any, rank: int, groups: list[str]) -> None:
    os.environ["CUDA_VISIBLE_DEVICES"] = groups[rank]
    worker(payload, rank, len(groups))


def run_engines(worker: Callable[[Any, int, int], None], payload: Any, groups: list[str]) -> None:
    """Run ``worker(payload, rank, world)`` once per engine group, each in a spawned process.

    ``worker`` and ``payload`` are pickled. Raises if any engine fails.
    """
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_engine_main, args=(worker, payload, r, groups)) for r in range(len(groups))]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    failed = [r for r, p in enumerate(procs) if p.exitcode != 0]
    if failed:
        raise UserError(f"inference engine(s) {failed} failed; rerun the same command to resume")


# --------------------------------------------------------------------------- stages
class SamplingStage:
    """What a sampling stage (generate, generative reward) tells :func:`execute`.

    Subclasses are module-level and hold only picklable state (the parsed arguments), so they can be
    sent to engine processes. ``args`` must carry ``model_id``, ``revision``, ``backend``,
    ``tensor_parallel_size``, ``chunk_size``, ``max_model_len``, ``seed``, ``output_dir`` and
    ``work_dir`` (None: ``output_dir/.chunks``).
    """

    def __init__(self, args: Any):
        self.args = args
        self.resolved_backend: str = args.backend
        self._settings: dict[str, Any] | None = None

    @property
    def out(self) -> Path:
        return Path(self.args.output_dir)

    @property
    def work(self) -> Path:
        """Where the chunks live until every category is done."""
        return Path(self.args.work_dir) if self.args.work_dir else self.out / ".chunks"

    def batch_size(self) -> int:
        return self.args.per_device_batch_size or 4

    def spec(self) -> SamplingSpec:
        raise NotImplementedError

    def done(self, category: str) -> bool:
        """True if the category's final output exists (it is then skipped)."""
        raise NotImplementedError

    def prompts(self, tokenizer: Any, category: str) -> list[str]:
        raise NotImplementedError

    def summarizer(self, tokenizer: Any) -> Callable[[Sample], Any]:
        """Sample -> the small JSON value kept in chunk files."""
        raise NotImplementedError

    def fingerprint(self) -> dict[str, Any]:
        """Settings and model content that invalidate saved chunks when they change (the prompts, and so
        the data, are added by :meth:`job`)."""
        raise NotImplementedError

    def write(self, category: str, results: list[Any], stats: dict[str, Any]) -> None:
        """Assemble the category's final output from per-prompt results (runs on one process)."""
        raise NotImplementedError

    def job(self, tokenizer: Any, category: str, world: int, backend: str, check: bool) -> Job:
        """The category's job; only one process per run passes ``check`` (drops stale chunks)."""
        prompts = self.prompts(tokenizer, category)
        fingerprint = None
        if check:
            if self._settings is None:  # hashes the model's files: once per run
                self._settings = {
                    **self.fingerprint(),
                    "spec": self.spec().to_dict(),
                    "chunk_size": self.args.chunk_size,
                }
            fingerprint = {**self._settings, "world": world, "prompts": json_sha256(prompts)}
        store = ChunkStore(self.work, category, fingerprint)
        return Job(
            category, prompts, store, chunk_size_for(self.args.chunk_size, len(prompts), world, backend)
        )

    def backend(self, name: str, device: str | None = None) -> Backend:
        a = self.args
        return make_backend(
            name,
            a.model_id,
            a.revision,
            batch_size=self.batch_size(),
            tensor_parallel_size=a.tensor_parallel_size,
            seed=a.seed,
            max_model_len=a.max_model_len,
            device=device,
            dtype=getattr(a, "dtype", None),
            base_model=getattr(a, "base_model", None),
        )


def _engine_worker(payload: tuple[SamplingStage, list[str]], rank: int, world: int) -> None:
    """One vLLM engine's share of every pending category (runs in its own process)."""
    stage, pending = payload
    backend = stage.backend("vllm")
    summarize = stage.summarizer(backend.tokenizer)
    for cat in pending:
        run_job(
            backend,
            stage.job(backend.tokenizer, cat, world, "vllm", check=False),
            stage.spec(),
            summarize,
            rank,
            world,
        )


def execute(stage: SamplingStage, categories: list[str]) -> None:
    """Run a sampling stage over ``categories``, skipping finished ones, resuming saved chunks.

    vLLM: one engine per ``tensor_parallel_size`` visible GPUs (several engines run as spawned
    processes). transformers: one process, or one per ``accelerate launch`` worker, chunks shared
    round-robin; the main process writes the outputs. The chunks of every category stay in the work
    directory until all are done.
    """
    start = time.perf_counter()
    pending = [c for c in categories if not stage.done(c)]
    if not pending:
        log.info("nothing to do: all %d categories done in %s", len(categories), stage.out)
        clear_chunks(stage.work, categories)
        return
    a = stage.args
    name = stage.resolved_backend = resolve_backend(a.backend)
    log.info("backend %s; %d pending categories", name, len(pending))
    if name == "vllm":
        groups = engine_groups(visible_gpus(), a.tensor_parallel_size)
        if len(groups) > 1:
            tokenizer = load_tokenizer(
                resolve_checkpoint(a.model_id, a.revision, getattr(a, "base_model", None))
            )
            jobs = [stage.job(tokenizer, c, len(groups), name, check=True) for c in pending]
            log.info("%d vLLM engines of %d GPU(s) each", len(groups), a.tensor_parallel_size)
            run_engines(_engine_worker, (stage, pending), groups)
            for job in jobs:
                stage.write(job.category, collect(job), {})
            clear_chunks(stage.work, categories)
            log.info(
                "done: %d categories -> %s (%.1f s)", len(pending), stage.out, time.perf_counter() - start
            )
            return
        rank, world, device, is_main = 0, 1, None, True
        barrier: Callable[[], None] = lambda: None  # noqa: E731
    else:
        from accelerate import PartialState

        state = PartialState()
        rank, world, device, is_main = (
            state.process_index,
            state.num_processes,
            str(state.device),
            state.is_main_process,
        )
        barrier = state.wait_for_everyone
    backend = stage.backend(name, device)
    summarize = stage.summarizer(backend.tokenizer)
    for cat in pending:
        if is_main:  # drops stale chunks once, before anyone writes
            job = stage.job(backend.tokenizer, cat, world, name, check=True)
        barrier()
        if not is_main:
            job = stage.job(backend.tokenizer, cat, world, name, check=False)
        stats = run_job(backend, job, stage.spec(), summarize, rank, world)
        barrier()
        if is_main:
            stage.write(cat, collect(job), stats)
        barrier()
    if is_main:
        clear_chunks(stage.work, categories)
        log.info("done: %d categories -> %s (%.1f s)", len(pending), stage.out, time.perf_counter() - start)
    backend.close()
