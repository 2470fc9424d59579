#!/usr/bin/env bash
# launch.sh GPUS STAGE ARGS...: run an rmflow stage on GPUS devices.
# More than one GPU: one worker process per GPU via `accelerate launch` (training: data parallel;
# scoring: questions sharded across processes). The vLLM backend manages its GPUs itself (tensor
# parallel engines), so it always runs as a single process.
set -euo pipefail
gpus="$1"
shift
if [[ "$gpus" -gt 1 && " $* " != *" --backend vllm "* ]]; then
    exec accelerate launch --num_processes "$gpus" -m rmflow.cli "$@"
fi
exec python -m rmflow.cli "$@"
