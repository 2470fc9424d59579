"""``--help`` that shows every option's default, so that costly defaults are seen before a run."""

from __future__ import annotations

import argparse
import copy


def default_text(action: argparse.Action) -> str:
    """``(default: ...)`` for an optional flag with a default worth showing; '' when there is none, the
    flag is required or a switch, or its help already says what the default is."""
    if not action.option_strings or action.required or action.help == argparse.SUPPRESS:
        return ""
    if action.default is None or action.default is False or action.default == argparse.SUPPRESS:
        return ""
    if action.help and "default" in action.help.lower():
        return ""
    return "(default: %(default)s)"


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Like :class:`argparse.ArgumentDefaultsHelpFormatter`, also for flags given without help text."""

    def _format_action(self, action: argparse.Action) -> str:
        text = default_text(action)
        if text:
            action = copy.copy(action)
            action.help = f"{action.help} {text}" if action.help else text
        return super()._format_action(action)
