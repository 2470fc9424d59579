"""One look per method in every figure: the accuracy curves, the analysis figures and the training curves.

The reward-model families are drawn as in the paper: outcome models (ORM) blue and process models (PRM)
red, discriminative light and generative dark; dORM squares, dPRM diamonds, gORM upward and gPRM downward
triangles. Majority voting is black and dashed with circles, Pass@N grey and dotted with x markers. A
method belongs to a family by its name's prefix (``dORM-14B`` is a dORM); further members of a family keep
its colour and marker with another line style; other methods take colours outside blue and red.
Light module: no matplotlib import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from rmflow.names import BEST_OF_N, MV, PASS, WEIGHTED_VOTE

#: legend labels of methods whose table name is an abbreviation
LABELS = {MV: "Majority Voting"}
#: titles of the evaluation tables (and the analysis' selections of the same name)
TABLE_TITLES = {BEST_OF_N: "Best-of-N", WEIGHTED_VOTE: "Weighted vote"}
#: the axis labels of every accuracy-vs-N figure
X_LABEL, Y_LABEL = "Number of CoTs (N)", "Task accuracy (%)"


@dataclass(frozen=True)
class Style:
    """Colour, marker and line style of one method."""

    color: str
    marker: str
    linestyle: Any = "-"

    def line(self) -> dict[str, Any]:
        """Keyword arguments of ``Axes.plot``."""
        return {"color": self.color, "marker": self.marker, "linestyle": self.linestyle}


FAMILIES: dict[str, Style] = {
    "dORM": Style("#6baed6", "s"),  # light blue
    "gORM": Style("#08519c", "^"),  # dark blue
    "dPRM": Style("#f4877b", "D"),  # light red
    "gPRM": Style("#a50f15", "v"),  # dark red
}
MV_STYLE = Style("black", "o", "--")
PASS_STYLE = Style("#8c8c8c", "x", ":")
EXTRA: tuple[Style, ...] = (
    Style("#6a3d9a", "P"),  # purple
    Style("#33a02c", "X"),  # green
    Style("#b15928", "*"),  # brown
    Style("#e7298a", "h"),  # pink
    Style("#1b9e77", "p"),  # teal
    Style("#7f7f00", "<"),  # olive
)
#: line styles of the first, second, ... member of a family
MEMBER_LINESTYLES: tuple[Any, ...] = ("-", (0, (5, 2)), "-.", (0, (1, 1.5)))


def family(method: str) -> str | None:
    """``dORM``, ``dPRM``, ``gORM`` or ``gPRM`` by the name's prefix; None for other methods."""
    return next((f for f in FAMILIES if method.startswith(f)), None)


def label(method: str) -> str:
    """The legend label of a method (``MV`` -> ``Majority Voting``)."""
    return LABELS.get(method, method)


def method_styles(methods: Sequence[str]) -> dict[str, Style]:
    """The style of each method, in a way that does not depend on which other methods are drawn
    except for the order of family members and of methods outside the families."""
    styles: dict[str, Style] = {}
    members: dict[str, int] = {}
    extra = 0
    for method in dict.fromkeys(methods):
        fam = family(method)
        if method == MV:
            styles[method] = MV_STYLE
        elif method == PASS:
            styles[method] = PASS_STYLE
        elif fam is not None:
            k = members[fam] = members.get(fam, -1) + 1
            styles[method] = replace(FAMILIES[fam], linestyle=MEMBER_LINESTYLES[k % len(MEMBER_LINESTYLES)])
        else:
            styles[method] = EXTRA[extra % len(EXTRA)]
            extra += 1
    return styles
