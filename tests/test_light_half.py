"""The light half (data, export, evaluation, plotting, analysis, audit, CLI) never imports torch/transformers."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

#: imported with all their submodules (packages) in a fresh interpreter
MODULES = ["rmflow.data", "rmflow.export", "rmflow.evaluation", "rmflow.plot", "rmflow.cli"]
OPTIONAL = ["rmflow.synth", "rmflow.analysis", "rmflow.audit"]


def test_light_modules_do_not_import_heavy_libraries():
    present = []
    for name in OPTIONAL:
        if importlib.util.find_spec(name) is None:
            print(f"skipping {name}: module not present")
        else:
            present.append(name)
    code = (
        "import importlib, pkgutil, sys\n"
        f"for name in {MODULES + present!r}:\n"
        "    module = importlib.import_module(name)\n"
        "    for sub in pkgutil.walk_packages(getattr(module, '__path__', []), name + '.'):\n"
        "        importlib.import_module(sub.name)\n"
        "heavy = sorted(m for m in ('torch', 'transformers') if m in sys.modules)\n"
        "print('heavy:', heavy)\n"
        "sys.exit(1 if heavy else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "heavy: []" in proc.stdout
