"""One style table (rmflow.styles) draws the main curves, the analysis figures and the training curves."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.figure  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from rmflow.analysis import figures  # noqa: E402
from rmflow.styles import FAMILIES, MV_STYLE, label, method_styles  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["dORM-14B", "dPRM-14B", "gORM-14B", "gPRM-14B"]


def colours(ax) -> dict[str, str]:
    return {line.get_label(): to_hex(line.get_color()) for line in ax.get_lines()}


@pytest.fixture
def saved(monkeypatch):
    """Figures saved while the fixture is active (saving still happens)."""
    seen = []
    original = matplotlib.figure.Figure.savefig

    def record(fig, *args, **kwargs):
        seen.append(fig)
        return original(fig, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", record)
    return seen


def test_analysis_figures_use_the_family_styles(tmp_path, saved):
    Ns = [1, 2, 4]
    rows = [["t", n, "majority_vote", "MV", "", "all", "mean", "", 40.0 + n] for n in Ns]
    for k, model in enumerate(MODELS):
        for n in Ns:
            for selection in ("best_of_n", "weighted_vote"):
                for stat, v in (("mean", 41.0), ("ci95_low", 39.0), ("ci95_high", 43.0)):
                    rows.append(["t", n, selection, model, "last", "all", stat, "", v + k + n])
    figures.uncertainty_figure(tmp_path, rows, Ns, dict.fromkeys(MODELS, "last"))
    ax = saved[0].axes[0]
    drawn = colours(ax)
    for model in MODELS:
        assert drawn[f"{model} (last)"] == to_hex(FAMILIES[model[:4]].color)
    assert drawn[label("MV")] == to_hex(MV_STYLE.color)
    assert ax.get_xlabel() == "Number of CoTs (N)" and ax.get_ylabel() == "Task accuracy (%)"


def test_training_curves_use_the_family_styles(tmp_path, saved):
    spec = importlib.util.spec_from_file_location(
        "training_curves", ROOT / "workflow/scripts/training_curves.py"
    )
    curves = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(curves)
    checkpoints = []
    for k, model in enumerate(MODELS):
        ckpt = tmp_path / model
        ckpt.mkdir()
        history = [{"step": s, "loss": 1.0 / (s + k)} for s in range(1, 6)]
        (ckpt / "rmflow_train.json").write_text(json.dumps({"loss_history": history}))
        checkpoints.append(str(ckpt))
    out = tmp_path / "curves.png"
    curves.main(["--checkpoints", *checkpoints, "--names", *MODELS, "--output", str(out)])
    assert out.read_bytes()[:4] == b"\x89PNG"
    drawn = colours(saved[0].axes[0])
    assert drawn == {m: to_hex(FAMILIES[m[:4]].color) for m in MODELS}


def test_second_family_member_differs_by_line_style_only():
    styles = method_styles(["dPRM-14B", "dPRM-8B", "Pass@N"])
    first, second = styles["dPRM-14B"], styles["dPRM-8B"]
    assert (first.color, first.marker) == (second.color, second.marker)
    assert first.linestyle != second.linestyle
