"""Figure writing: PDF fonts, worker count, the forked rendering path."""

from __future__ import annotations

from pathlib import Path

import pytest

from rmflow.analysis import figures, render


def test_pdf_text_outside_cp1252_embeds_the_font(tmp_path: Path) -> None:
    rows = [["t", "gORM-\u03b2", "mean", "all", b, b / 2, (b + 1) / 2, 10, 0.1 + b / 2, 0.5] for b in (0, 1)]
    ascii_rows = [[r[0], "gORM-b", *r[2:]] for r in rows]
    (tmp_path / "b").mkdir()
    (pdf, _), (plain, _) = (
        figures.reliability_figure(d, r, {r[0][1]: "mean"})
        for d, r in ((tmp_path, rows), (tmp_path / "b", ascii_rows))
    )
    assert b"DejaVu" in pdf.read_bytes() and b"/Helvetica" not in pdf.read_bytes()
    assert b"/Helvetica" in plain.read_bytes() and b"DejaVu" not in plain.read_bytes()


@pytest.mark.parametrize(
    ("cpus", "load", "tasks", "expected"),
    [(4, 0.3, 12, 4), (4, 2.9, 12, 2), (4, 3.7, 12, 1), (2, 2.1, 12, 1), (32, 0.0, 12, 8), (4, 0.0, 2, 2)],
)
def test_workers_take_the_idle_cpus(
    monkeypatch: pytest.MonkeyPatch, cpus: int, load: float, tasks: int, expected: int
) -> None:
    monkeypatch.setattr(render.os, "sched_getaffinity", lambda pid: set(range(cpus)), raising=False)
    monkeypatch.setattr(render.os, "getloadavg", lambda: (load, load, load))
    assert render.workers(tasks) == expected


@pytest.mark.parametrize("n", [1, 2])
def test_render_in_process_and_in_workers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, n: int) -> None:
    monkeypatch.setattr(render, "workers", lambda tasks: n)
    tasks = [
        (figures.process_figure, (tmp_path, [], ["all"], "No step labels.")),
        (figures.comparisons_figure, (tmp_path, [], 16)),
    ]
    paths = render.render(tasks)
    assert paths == [
        tmp_path / f"{name}.{ext}" for name in ("process", "comparisons") for ext in ("pdf", "png")
    ]
    assert all(p.stat().st_size > 1000 for p in paths)
