"""Flags of ``rmflow analyze``: the evaluation's flags (shared definitions) plus the analysis' own."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from rmflow.data import check_source
from rmflow.errors import UserError
from rmflow.evaluation.inputs import RewardModel
from rmflow.evaluation.settings import Settings, settings_from_args
from rmflow.evaluation.settings import add_arguments as add_evaluation_arguments

SYNTH_LABELS = "synth"  # --step_labels synth[:SEED]: labels of the synthetic generator


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_evaluation_arguments(p)
    g = p.add_argument_group("analysis")
    g.add_argument(
        "--replicas",
        nargs="*",
        default=[],
        metavar="NAME=DIR",
        help="extra reward set (hub id or directory) of the reward model NAME (one of --model_names), "
        "e.g. another training seed; repeat NAME for several. Results give mean and spread over replicas",
    )
    g.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        metavar="B",
        help="bootstrap resamples of the questions (and sign flips of the paired tests)",
    )
    g.add_argument("--ece_bins", type=int, default=10, help="equal-width bins of the calibration error")
    g.add_argument(
        "--error_threshold",
        type=float,
        default=0.5,
        help="a step whose P(+) is below this is the predicted first error (process metrics)",
    )
    g.add_argument(
        "--step_labels",
        default=None,
        metavar="SOURCE",
        help="step labels of the test CoTs for process metrics: a hub id or directory in the train schema "
        "{q_id, cot_id, labels}, or 'synth[:SEED]' (the synthetic generator's labels, checked against the "
        "test set). Default: the test records' optional step_labels field, when present",
    )
    g.add_argument("--length_buckets", type=int, default=6, help="step-count buckets (quantiles of all CoTs)")
    g.add_argument("--plot_dir", default=None, help="figures (PDF + PNG); default OUTPUT_DIR/plots")
    g.add_argument(
        "--test_name", default=None, help="test-set name in the tables (default: last part of --data_path)"
    )


@dataclass(frozen=True)
class AnalysisSettings:
    """Validated settings: the evaluation's, plus replicas and analysis options."""

    evaluation: Settings
    replicas: dict[str, tuple[RewardModel, ...]]  # model name -> its extra reward sets
    bootstrap: int
    ece_bins: int
    error_threshold: float
    step_labels: str | None
    length_buckets: int
    plot_dir: Path
    test_name: str

    @property
    def output_dir(self) -> Path:
        return self.evaluation.output_dir


def file_stem(name: str) -> str:
    """A model name made safe for a file name."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def parse_replicas(values: list[str], models: tuple[RewardModel, ...]) -> dict[str, tuple[RewardModel, ...]]:
    """``NAME=DIR`` entries -> extra reward sets per model, with the model's strategy."""
    by_name = {m.name: m for m in models}
    out: dict[str, list[RewardModel]] = {}
    for value in values:
        name, sep, source = value.partition("=")
        if not sep or not source:
            raise UserError(f"--replicas: expected NAME=DIR, got {value!r}")
        if name not in by_name:
            raise UserError(
                f"--replicas: {name!r} is not one of --model_names ({', '.join(by_name) or 'none'})"
            )
        check_source(source)
        replicas = out.setdefault(name, [])
        model = by_name[name]
        replicas.append(RewardModel(f"{name} replica {len(replicas) + 1}", source, model.strategy))
    return {name: tuple(r) for name, r in out.items()}


def analysis_settings(args: argparse.Namespace) -> AnalysisSettings:
    """Check the flags; errors are :class:`UserError`."""
    evaluation = settings_from_args(args)
    if args.bootstrap < 10:
        raise UserError(f"--bootstrap must be at least 10, got {args.bootstrap}")
    if args.ece_bins < 1:
        raise UserError(f"--ece_bins must be at least 1, got {args.ece_bins}")
    if args.length_buckets < 1:
        raise UserError(f"--length_buckets must be at least 1, got {args.length_buckets}")
    if not 0.0 < args.error_threshold <= 1.0:
        raise UserError(f"--error_threshold must be in (0, 1], got {args.error_threshold}")
    if args.seed < 0:
        raise UserError(f"--seed must be a non-negative integer (it seeds the bootstrap), got {args.seed}")
    stems: dict[str, str] = {}
    for model in evaluation.models:  # each model's figures are named after it
        other = stems.setdefault(file_stem(model.name), model.name)
        if other != model.name:
            raise UserError(
                f"--model_names {other!r} and {model.name!r} give the same figure name "
                f"length_{file_stem(model.name)} (one would overwrite the other); rename one"
            )
    labels = args.step_labels
    if labels and labels.split(":")[0] != SYNTH_LABELS:
        check_source(labels)
    return AnalysisSettings(
        evaluation=evaluation,
        replicas=parse_replicas(list(args.replicas), evaluation.models),
        bootstrap=args.bootstrap,
        ece_bins=args.ece_bins,
        error_threshold=args.error_threshold,
        step_labels=labels,
        length_buckets=args.length_buckets,
        plot_dir=Path(args.plot_dir) if args.plot_dir else evaluation.output_dir / "plots",
        test_name=args.test_name or Path(str(args.data_path).rstrip("/")).name,
    )
