"""``rmflow plot``: files, panels, legend entries, styles and CSV errors."""

from __future__ import annotations

import csv
import json

import pytest

from rmflow.categories import CATEGORIES
from rmflow.cli import main
from rmflow.errors import UserError
from rmflow.evaluation.report import header
from rmflow.plot import make_figures, make_overall_figure, panel_title, read_band, read_table
from rmflow.styles import FAMILIES, MV_STYLE, PASS_STYLE, method_styles

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
    for stem in ("best_of_n", "best_of_n_overall", "best_of_n_legend"):
        for name in (f"{stem}.pdf", f"{stem}.png"):
            data = (tmp_path / "plots" / name).read_bytes()
            assert data[:4] in (b"%PDF", b"\x89PNG") and len(data) > 1000


def test_panels_titles_axes_and_legend(tmp_path):
    import matplotlib.pyplot as plt

    table = read_table(write_csv(tmp_path / "t.csv"))
    fig, legend_fig = make_figures(table, plot_oracle=True, title="Best-of-N, test set: mine")
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
    panels_fig, legend_strip = fig.subfigs
    assert panels_fig._suptitle.get_text() == "Best-of-N, test set: mine"
    assert panels_fig._supxlabel.get_text() == "Number of CoTs (N)"
    assert panels_fig._supylabel.get_text() == "Task accuracy (%)"
    labels = ["Majority Voting", *METHODS[1:]]
    (legend,) = legend_fig.legends
    assert [t.get_text() for t in legend.get_texts()] == labels
    assert [t.get_text() for t in legend_strip.legends[0].get_texts()] == labels
    lines = {line.get_label(): line for line in overall.get_lines()}
    assert lines["Majority Voting"].get_color() == "black"
    assert lines["Pass@N"].get_linestyle() == ":" and lines["Pass@N"].get_marker() == "x"
    assert fig.get_size_inches()[0] <= 7.2  # a paper's text width
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
    assert styles["dORM-14B"].color == styles["dORM-8B"].color == FAMILIES["dORM"].color
    assert styles["dORM-14B"].linestyle != styles["dORM-8B"].linestyle
    assert styles["gPRM-qwen"].marker == FAMILIES["gPRM"].marker == "v"
    assert styles["MV"] == MV_STYLE and styles["Pass@N"] == PASS_STYLE
    family_colors = {s.color for s in FAMILIES.values()} | {"black"}
    assert styles["mine"].color not in family_colors and styles["mine"].color != styles["other"].color
    assert panel_title("computer_science_mean") == "Computer Science"


def test_families_look_as_in_the_paper():
    """ORM blue, PRM red; discriminative lighter than generative; the paper's markers."""
    from matplotlib.colors import to_rgb

    def lightness(color):
        return sum(to_rgb(color)) / 3

    for kind in ("ORM", "PRM"):
        light, dark = to_rgb(FAMILIES[f"d{kind}"].color), to_rgb(FAMILIES[f"g{kind}"].color)
        hue = 2 if kind == "ORM" else 0  # the dominant channel: blue or red
        assert all(max(c) == c[hue] for c in (light, dark))
        assert lightness(FAMILIES[f"d{kind}"].color) > lightness(FAMILIES[f"g{kind}"].color) + 0.2
    assert {f: s.marker for f, s in FAMILIES.items()} == {"dORM": "s", "dPRM": "D", "gORM": "^", "gPRM": "v"}


def write_band(directory, models, strategies, low=-1.0, high=2.0, Ns=(1, 2, 4, 8, 16)):
    """An analysis accuracy.csv (ci95 rows around write_csv's Overall means) and its summary.json."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = ["test_set,N,selection,method,aggregation,group,statistic,run,value"]
    for k, (model, strategy) in enumerate(zip(models, strategies, strict=True), start=1):
        for n in Ns:
            mean = 40 + k + n / 4
            for selection in ("best_of_n", "weighted_vote"):
                for agg in ("last", "min", "mean"):
                    shift = 0 if agg == strategy else 50  # other aggregations are far off
                    rows.append(f"t,{n},{selection},{model},{agg},all,ci95_low,,{mean + low + shift}")
                    rows.append(f"t,{n},{selection},{model},{agg},all,ci95_high,,{mean + high + shift}")
                    rows.append(f"t,{n},{selection},{model},{agg},law,ci95_low,,0")
    (directory / "accuracy.csv").write_text("\n".join(rows) + "\n")
    summary = {"reward_models": [{"name": m, "strategy": s} for m, s in zip(models, strategies, strict=True)]}
    (directory / "summary.json").write_text(json.dumps(summary))
    return directory / "accuracy.csv"


def test_band_shades_the_overall_ci_of_each_model(tmp_path):
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgb

    table = read_table(write_csv(tmp_path / "best_of_n.csv"))
    models = METHODS[1:-1]
    band_file = write_band(tmp_path / "analysis", models, ["last", "min", "mean", "mean"])
    band = read_band(band_file, "best_of_n", models)
    assert band["dORM-14B", 4] == (40 + 1 + 1 - 1.0, 40 + 1 + 1 + 2.0)  # its own aggregation only
    overall = make_overall_figure(table, title="t", band=band)
    (ax,) = overall.axes
    shaded = [tuple(c.get_facecolor()[0][:3]) for c in ax.collections]
    assert shaded == [pytest.approx(to_rgb(FAMILIES[m[:4]].color)) for m in models]
    lo, hi = ax.get_ylim()
    assert lo < 40 + 1 + 0.25 - 1.0 and hi > 40 + 4 + 4 + 2.0  # the bands fit in the panel
    plt.close("all")
    out = tmp_path / "plots" / "best_of_n"
    argv = ["plot", "--input_file", str(tmp_path / "best_of_n.csv"), "--output_file", str(out)]
    assert main([*argv, "--band", str(band_file), "--test_name", "mine"]) == 0
    assert (tmp_path / "plots" / "best_of_n_overall.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: (d / "summary.json").unlink(), "summary.json: not found"),
        (
            lambda d: (d / "summary.json").write_text('{"reward_models": []}'),
            "'dORM-14B' of the table was not",
        ),
        (lambda d: (d / "accuracy.csv").write_text("test_set,N\n"), "no ci95 rows for 'dORM-14B'"),
        (
            lambda d: (d / "accuracy.csv").write_text(
                "test_set,N,selection,method,aggregation,group,statistic,run,value\n"
                "t,x,best_of_n,dORM-14B,last,all,ci95_low,,1\n"
            ),
            "row 2, column 'N': expected an integer",
        ),
    ],
)
def test_bad_band_is_a_user_error(tmp_path, edit, message):
    csv_file = write_csv(tmp_path / "best_of_n.csv", methods=["MV", "dORM-14B", "Pass@N"])
    band_file = write_band(tmp_path / "analysis", ["dORM-14B"], ["last"])
    edit(tmp_path / "analysis")
    with pytest.raises(UserError, match=message):
        read_band(band_file, "best_of_n", ["dORM-14B"])
    out = tmp_path / "p"
    argv = ["plot", "--input_file", str(csv_file), "--output_file", str(out), "--band", str(band_file)]
    assert main(argv) == 2
    assert not (tmp_path / "p.pdf").exists()


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
