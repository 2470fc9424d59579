"""``rmflow plot``: files, panels, legend entries, styles and CSV errors."""

from __future__ import annotations

import csv

import pytest

from rmflow.categories import CATEGORIES
from rmflow.cli import main
from rmflow.errors import UserError
from rmflow.evaluation.report import header
from rmflow.plot import FAMILY_STYLES, make_figures, method_styles, panel_title, read_table

METHODS = ["MV", "dORM-14B", "dPRM-14B", "gORM-14B", "gPRM-14B", "Pass@N"]


def write_csv(path, methods=METHODS, categories=CATEGORIES, Ns=(1, 2, 4, 8, 16)):
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header(categories))
        for n in Ns:
            for k, method in enumerate(methods):
                means = [40 + k + n / 4 + c for c in range(len(categories) + 1)]
                writer.writerow([n, method, *means, *[0.5] * (len(categories) + 1)])
    return path


def test_plot_writes_pdf_png_and_legend(tmp_path):
    csv_file = write_csv(tmp_path / "best_of_n.csv")
    prefix = tmp_path / "plots" / "best_of_n"
    assert main(["plot", "--input_file", str(csv_file), "--output_file", str(prefix), "--plot_oracle"]) == 0
    for name in ("best_of_n.pdf", "best_of_n.png", "best_of_n_legend.pdf", "best_of_n_legend.png"):
        data = (tmp_path / "plots" / name).read_bytes()
        assert data[:4] in (b"%PDF", b"\x89PNG") and len(data) > 1000


def test_panels_titles_axes_and_legend(tmp_path):
    import matplotlib.pyplot as plt

    table = read_table(write_csv(tmp_path / "t.csv"))
    fig, legend_fig = make_figures(table, plot_oracle=True)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(fig.axes) == 15 and len(panels) == 15  # Overall + 14 categories in a 3x5 grid
    assert [ax.get_title() for ax in panels[:2]] == ["Overall", "Law"]
    assert panels[13].get_title() == "Computer Science" and panels[14].get_title() == "Other"
    assert panels[0].title.get_fontweight() == "bold"
    overall = panels[0]
    assert overall.get_xscale() == "log" and list(overall.get_xticks()) == [1, 2, 4, 8, 16]
    lo, hi = overall.get_ylim()
    ys = [y for line in overall.get_lines() for y in line.get_ydata()]
    assert lo < min(ys) and hi > max(ys) and hi - lo < (max(ys) - min(ys)) * 1.5 + 1.5
    (legend,) = legend_fig.legends
    assert [t.get_text() for t in legend.get_texts()] == METHODS
    lines = {line.get_label(): line for line in overall.get_lines()}
    assert lines["MV"].get_color() == "black" and lines["Pass@N"].get_linestyle() == ":"
    plt.close(fig)
    plt.close(legend_fig)

    fig, legend_fig = make_figures(table, plot_oracle=False)
    assert "Pass@N" not in [t.get_text() for t in legend_fig.legends[0].get_texts()]
    plt.close(fig)
    plt.close(legend_fig)


def test_single_split_table_gets_two_panels(tmp_path):
    import matplotlib.pyplot as plt

    fig, _ = make_figures(read_table(write_csv(tmp_path / "t.csv", categories=["test"])))
    assert [ax.get_title() for ax in fig.axes] == ["Overall", "Test"]
    plt.close("all")


def test_styles_follow_the_family_prefix():
    styles = method_styles(["MV", "dORM-14B", "gPRM-qwen", "dORM-8B", "mine", "other", "Pass@N"])
    assert styles["dORM-14B"]["color"] == styles["dORM-8B"]["color"] == FAMILY_STYLES["dORM"]["color"]
    assert styles["dORM-14B"]["linestyle"] != styles["dORM-8B"]["linestyle"]
    assert styles["gPRM-qwen"]["marker"] == FAMILY_STYLES["gPRM"]["marker"]
    family_colors = {s["color"] for s in FAMILY_STYLES.values()} | {"black"}
    assert (
        styles["mine"]["color"] not in family_colors and styles["mine"]["color"] != styles["other"]["color"]
    )
    assert panel_title("computer_science_mean") == "Computer Science"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("N,Method,law_mean\n1,MV,3\n", "missing column 'Overall_mean'"),
        ("Method,Overall_mean\nMV,3\n", "missing column 'N'"),
        (
            "N,Method,Overall_mean,law_mean\n1,MV,30,abc\n",
            "row 2, column 'law_mean': expected a finite number, got 'abc'",
        ),
        ("N,Method,Overall_mean\n1,MV,30\nx,MV,31\n", "row 3, column 'N': expected an integer, got 'x'"),
        ("N,Method,Overall_mean\n1,MV,nan\n", "row 2, column 'Overall_mean'"),
        ("N,Method,Overall_mean\n1,MV,30\n1,MV,31\n", "row 3: duplicate row for N=1, method 'MV'"),
        ("N,Method,Overall_mean\n1,MV\n", "row 2: expected 3 fields"),
        ("N,Method,Overall_mean\n", "no data rows"),
    ],
)
def test_bad_csv_is_a_user_error(tmp_path, text, message):
    bad = tmp_path / "bad.csv"
    bad.write_text(text)
    with pytest.raises(UserError, match=message):
        read_table(bad)
    assert main(["plot", "--input_file", str(bad), "--output_file", str(tmp_path / "p")]) == 2
    assert not (tmp_path / "p.pdf").exists()
