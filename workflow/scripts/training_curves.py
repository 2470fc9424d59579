"""Training-loss curves of the trained reward models, for the workflow report.

    python training_curves.py --checkpoints DIR... --names NAME... --output PNG

Reads each checkpoint's training summary (docs/formats.md#training-summary: its ``loss_history`` of
``step`` and ``loss``) and draws one line per model, in the model's style of every other
figure (:mod:`rmflow.styles`). A model without logged losses is listed in the legend as such rather
than failing the report.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rmflow.styles import method_styles
from rmflow.train_summary import SUMMARY_FILE, loss_points


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", nargs="+", required=True)
    parser.add_argument("--names", nargs="+", required=True)
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    if len(args.names) != len(args.checkpoints):
        sys.exit("training_curves: --names and --checkpoints differ in length")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = method_styles(args.names)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name, ckpt in zip(args.names, args.checkpoints, strict=True):
        path = Path(ckpt) / SUMMARY_FILE
        try:
            points = loss_points(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            sys.exit(f"training_curves: {path}: cannot read the loss history ({exc})")
        if points:
            steps = [s for s, _ in points]
            losses = [v for _, v in points]
            every = max(1, len(steps) // 12)
            ax.plot(steps, losses, **styles[name].line(), markersize=4, markevery=every, label=name)
        else:
            ax.plot([], [], **styles[name].line(), label=f"{name} (no logged loss)")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss")
    ax.set_title("Reward-model training")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp, dpi=120)
    tmp.replace(out)


if __name__ == "__main__":
    main()
