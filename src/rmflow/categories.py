"""The 14 domains, their display names in prompts, and category-list resolution.

See docs/formats.md#categories-and-files.
"""

from __future__ import annotations

CATEGORIES: tuple[str, ...] = (
    "law",
    "psychology",
    "chemistry",
    "biology",
    "physics",
    "history",
    "economics",
    "math",
    "business",
    "philosophy",
    "health",
    "engineering",
    "computer_science",
    "other",
)
#: extra splits of some published sets, accepted as categories when named
EXTRA_SPLITS: tuple[str, ...] = ("prm800k", "test")

#: Test sets whose names contain one of these have the single split ``test``.
SINGLE_SPLIT_MARKERS: tuple[str, ...] = ("GPQA-diamond", "MedQA", "LEXam")

_MATH_ALIASES = frozenset({"prm800k", "gsm8k", "math", "olympiadbench", "omnimath"})
_NAMED = frozenset(CATEGORIES) - {"other", "computer_science", "math"}


def display_name(category: str) -> str:
    """Name of a category inside prompts: ``computer science``, ``math`` for math sets, else itself or ''."""
    if category == "computer_science":
        return "computer science"
    if category in _MATH_ALIASES:
        return "math"
    if category in _NAMED:
        return category
    return ""


def is_single_split(data_path: str) -> bool:
    """True for test sets (GPQA-diamond, MedQA, LEXam) published with the one split ``test``."""
    return any(marker in str(data_path) for marker in SINGLE_SPLIT_MARKERS)


def resolve_categories(category: str | list[str] | None, data_path: str = "") -> list[str]:
    """Expand ``all`` (or None) to the category list of ``data_path``; validate explicit names.

    A comma-separated string or a list selects categories explicitly. Unknown names are an error,
    except ``prm800k`` and ``test`` which exist as extra splits of some published sets; so are no name
    at all (``,``) and a name given twice (it would weigh twice in every macro average).
    """
    if category in (None, "all", ["all"]):
        return ["test"] if is_single_split(data_path) else list(CATEGORIES)
    names = category.split(",") if isinstance(category, str) else list(category)
    names = [n.strip() for n in names if n.strip()]
    from rmflow.errors import UserError

    if not names:
        raise UserError(
            f"--category {category!r} names no category; expected 'all' or names from {', '.join(CATEGORIES)}"
        )
    twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if twice is not None:
        raise UserError(f"--category names {twice!r} twice (it would count twice in Overall)")
    allowed = {*CATEGORIES, *EXTRA_SPLITS}
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise UserError(
            f"unknown category {unknown[0]!r}; expected 'all' or names from {', '.join(CATEGORIES)}"
        )
    return names
