"""``rmflow <stage>``: one subcommand per pipeline stage, with the seed's flag names.

Each stage lives in its own module exposing ``add_arguments(parser)`` and ``run(args)``; modules are
imported only when their stage runs, so the light stages never import torch or transformers.
``train`` and ``reward`` dispatch on ``--task_type`` to the discriminative or generative module.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from rmflow.errors import UserError
from rmflow.help_format import DefaultsHelpFormatter
from rmflow.logs import configure
from rmflow.names import TASK_TYPES

#: stage name -> (module, one-line help)
STAGES: dict[str, tuple[str, str]] = {
    "synth": ("rmflow.synth", "write the embedded synthetic datasets (train, train_gORM, train_gPRM, test)"),
    "export": ("rmflow.export", "load a dataset from the hub or a local directory, validate, export JSONL"),
    "init-backbone": ("rmflow.backbone", "build and pre-train the tiny local Qwen2-style backbone"),
    "generate": ("rmflow.generative.generate", "sample teacher critiques for gORM/gPRM training data"),
    "preprocess": ("rmflow.generative.preprocess", "filter and balance teacher critiques"),
    "shorten": ("rmflow.generative.shorten", "shorten critiques to the verdict (optional)"),
    "evaluate": ("rmflow.evaluation.evaluate", "best-of-N and weighted-vote CSVs from reward files"),
    "plot": ("rmflow.plot", "plot a best_of_n / weighted_vote CSV (PDF + PNG + legend)"),
    "analyze": ("rmflow.analysis.cli", "verifier metrics, uncertainty and length analyses"),
    "audit": ("rmflow.audit", "check the provenance of an artifact and its lineage"),
    "provenance": (
        "rmflow.provenance",
        "record the provenance of a finished workflow job (used by the rules)",
    ),
}
#: stages dispatching on --task_type: stage -> (help, {task family: module})
DISPATCH: dict[str, tuple[str, dict[str, str]]] = {
    "train": (
        "train a reward model (dORM/dPRM: token-classification LoRA; gORM/gPRM: SFT LoRA)",
        {"d": "rmflow.discriminative.train", "g": "rmflow.generative.train"},
    ),
    "reward": (
        "score a test set with a reward model, writing [CATEGORY]_reward.json files",
        {"d": "rmflow.discriminative.reward", "g": "rmflow.generative.reward"},
    ),
}


#: stages with no or only small matrix products: OpenBLAS's worker threads would cost CPU time to start
#: and, spinning on the other CPUs after each product, more than they save (the analysis' few products
#: take a third less CPU time on one thread)
ONE_BLAS_THREAD = frozenset({"evaluate", "analyze"})


def _add_dispatch_common(p: argparse.ArgumentParser) -> None:
    """Flags shared by both families of a dispatching stage (family modules must not redefine them)."""
    p.add_argument("--task_type", required=True, choices=TASK_TYPES)
    p.add_argument("--data_path", help="hub id or local directory of {category}.json|jsonl")
    p.add_argument(
        "--model_id", help="model: hub id or local directory (backbone for train, checkpoint for reward)"
    )
    p.add_argument("--output_dir", required=True)
    p.add_argument(
        "--work_dir",
        default=None,
        help="resumable state: checkpoints (train) or chunks (reward), removed when the stage ends "
        "(default: inside --output_dir)",
    )
    p.add_argument("--category", default="all", help="'all' or comma-separated categories")
    p.add_argument("--per_device_batch_size", type=int, default=None)
    p.add_argument("--config", help="YAML preset (train) or settings file")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--revision", default=None, help="hub revision of --model_id / --data_path to pin")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a preset key (YAML value)"
    )


def build_parser(stage: str | None = None) -> argparse.ArgumentParser:
    """The full parser; only ``stage``'s module is imported to add its flags."""
    parser = argparse.ArgumentParser(prog="rmflow", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="stage", required=True, metavar="<stage>")
    for name, (module, help_) in STAGES.items():
        p = sub.add_parser(name, help=help_, description=help_, formatter_class=DefaultsHelpFormatter)
        p.set_defaults(_module=module)
        if stage == name:
            importlib.import_module(module).add_arguments(p)
    for name, (help_, modules) in DISPATCH.items():
        p = sub.add_parser(name, help=help_, description=help_, formatter_class=DefaultsHelpFormatter)
        p.set_defaults(_dispatch=modules)
        if stage == name:
            _add_dispatch_common(p)
            for family, module in modules.items():
                group = p.add_argument_group(f"{family}ORM/{family}PRM")
                importlib.import_module(module).add_arguments(group)
    return parser


def _stage_of(argv: Sequence[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    configure()  # progress lines instead of bars in log files; before any library is imported
    if _stage_of(argv) in ONE_BLAS_THREAD:  # before numpy loads OpenBLAS
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    args = build_parser(_stage_of(argv)).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    module = args._dispatch[args.task_type[0]] if hasattr(args, "_dispatch") else args._module
    try:
        importlib.import_module(module).run(args)
    except UserError as exc:
        return _error(args.stage, str(exc))
    except OSError as exc:  # the environment refused what no check foresaw: still one line naming the file
        return _error(args.stage, os_error_line(exc))
    except MemoryError as exc:
        return _error(args.stage, f"out of memory ({exc or 'an allocation failed'})")
    return 0


def _error(stage: str, message: str) -> int:
    """Print the one error line (text that is not Unicode, e.g. a lone surrogate, escaped); status 2."""
    line = f"rmflow {stage}: error: {message}".encode("utf-8", "backslashreplace").decode("utf-8")
    print(line, file=sys.stderr)
    return 2


def os_error_line(exc: OSError) -> str:
    """``FILE: what went wrong`` (``FILE -> OTHER`` for a rename or link) of an ``OSError``."""
    what = exc.strerror or str(exc)
    if exc.filename is None:
        return what
    files = f"{exc.filename} -> {exc.filename2}" if exc.filename2 is not None else str(exc.filename)
    return f"{files}: {what}"


if __name__ == "__main__":
    sys.exit(main())
