"""The project cites only documents it holds: no external spec, and every ``docs/...#anchor`` resolves."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORMATS = ROOT / "docs" / "formats.md"
EXTERNAL = re.compile(r"\bSP" r"EC\b")  # split so that this file does not cite it either
CITATION = re.compile(r"(docs/[\w./-]+\.md|(?<![\w/])formats\.md)(?:#([\w-]+))?")


def project_files() -> list[Path]:
    """Tracked and untracked-but-not-ignored files (a walk of the tree when git is unavailable)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        files = [ROOT / p for p in out.split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "results", ".snakemake", "__pycache__"}
        files = [p for p in ROOT.rglob("*") if not skip & set(p.relative_to(ROOT).parts)]
    return [p for p in files if p.is_file()]


def text_of(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None  # binary files cite nothing


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation other than ``-`` and ``_`` dropped, spaces -> ``-``."""
    out = set()
    for heading in re.findall(r"^#{1,6} (.+)$", re.sub(r"```.*?```", "", markdown, flags=re.S), re.M):
        out.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return out


def test_no_file_outside_docs_cites_an_external_spec():
    offenders = []
    for path in project_files():
        rel = path.relative_to(ROOT)
        if rel.parts[0] == "docs":
            continue
        text = text_of(path)
        for lineno, line in enumerate((text or "").splitlines(), 1):
            if EXTERNAL.search(line):
                offenders.append(f"{rel}:{lineno}: {line.strip()}")
    assert not offenders, "cite docs/formats.md, README.md or config/README.md instead:\n" + "\n".join(
        offenders
    )


def test_every_docs_citation_resolves():
    known = anchors(FORMATS.read_text(encoding="utf-8"))
    citations, broken = 0, []
    for path in project_files():
        text = text_of(path)
        if text is None:
            continue
        for match in CITATION.finditer(text):
            doc, anchor = match.groups()
            target = FORMATS if doc == "formats.md" else ROOT / doc
            citations += 1
            if not target.is_file():
                broken.append(f"{path.relative_to(ROOT)}: {match.group(0)} (no such document)")
            elif anchor and anchor not in anchors(target.read_text(encoding="utf-8")):
                broken.append(f"{path.relative_to(ROOT)}: {match.group(0)} (no such heading)")
    assert citations > 20  # the code cites the formats document throughout
    assert not broken, "\n".join(broken)
    assert {"test", "reward-files", "scores-and-answers", "evaluation-tables"} <= known


def test_formats_links_within_the_document_resolve():
    text = FORMATS.read_text(encoding="utf-8")
    links = re.findall(r"\]\(#([\w-]+)\)", text)
    assert len(links) >= 10
    assert set(links) <= anchors(text)
    for rel in re.findall(r"\]\(((?!#|https?:)[^)#]+)\)", text):
        assert (FORMATS.parent / rel).exists(), rel
