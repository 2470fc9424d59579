"""Flags of ``rmflow evaluate`` (shared by the reference entry point) and their validation."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from rmflow.categories import resolve_categories
from rmflow.data import check_source
from rmflow.errors import UserError
from rmflow.evaluation.inputs import RewardModel
from rmflow.evaluation.scores import STRATEGIES, default_strategy
from rmflow.names import MV, PASS

DEFAULT_NS = (1, 2, 4, 8, 16)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data_path", required=True, help="test set: hub id or local directory of {category}.json"
    )
    p.add_argument(
        "--reward_dirs",
        nargs="*",
        default=[],
        metavar="R",
        help="reward sets (hub ids or local directories of {category}_reward.json); none: MV and Pass@N only",
    )
    p.add_argument(
        "--model_names",
        nargs="*",
        default=None,
        metavar="M",
        help="row label per reward set (default: dir name)",
    )
    p.add_argument(
        "--strategies",
        nargs="*",
        default=None,
        metavar="S",
        choices=STRATEGIES,
        help="score aggregation per reward set: last|min|max|mean|prod "
        "(default by name prefix: dORM last, dPRM min, gORM/gPRM mean)",
    )
    p.add_argument("--num_runs", type=int, default=100, help="subsampling runs per N")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--output_dir", required=True)
    p.add_argument("--category", default="all", help="'all' or comma-separated categories")
    p.add_argument("--Ns", nargs="+", type=int, default=list(DEFAULT_NS), metavar="N", help="subsample sizes")


@dataclass(frozen=True)
class Settings:
    """Validated evaluation settings."""

    data_path: str
    models: tuple[RewardModel, ...]
    categories: tuple[str, ...]
    Ns: tuple[int, ...]
    num_runs: int
    seed: int
    output_dir: Path

    @property
    def model_names(self) -> list[str]:
        return [m.name for m in self.models]


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Check the flags against each other; errors are :class:`UserError`."""
    dirs = list(args.reward_dirs)
    names = list(args.model_names) if args.model_names is not None else [Path(d).name for d in dirs]
    if len(names) != len(dirs):
        raise UserError(f"--model_names has {len(names)} names for {len(dirs)} --reward_dirs")
    strategies = (
        list(args.strategies) if args.strategies is not None else [default_strategy(n) for n in names]
    )
    if len(strategies) != len(dirs):
        raise UserError(f"--strategies has {len(strategies)} entries for {len(dirs)} --reward_dirs")
    taken = {MV, PASS}
    for name in names:
        if not name or name in taken:
            raise UserError(f"--model_names: {name!r} is empty, repeated or reserved ({MV}, {PASS})")
        taken.add(name)
    if args.num_runs < 1:
        raise UserError(f"--num_runs must be at least 1, got {args.num_runs}")
    if any(n < 1 for n in args.Ns) or len(set(args.Ns)) != len(args.Ns):
        raise UserError(f"--Ns must be distinct positive integers, got {args.Ns}")
    for source in [args.data_path, *dirs]:
        check_source(source)
    return Settings(
        data_path=str(args.data_path),
        models=tuple(RewardModel(n, str(d), s) for n, d, s in zip(names, dirs, strategies, strict=True)),
        categories=tuple(resolve_categories(args.category, args.data_path)),
        Ns=tuple(args.Ns),
        num_runs=args.num_runs,
        seed=args.seed,
        output_dir=Path(args.output_dir),
    )
