"""The two tiers of errors: a ``HarnessError`` is the user's to fix and prints without a
traceback; anything else is a bug and keeps its traceback."""

from __future__ import annotations

from pathlib import Path


class HarnessError(Exception):
    """A problem with the user's input or environment, explained in the message."""

    exit_code = 1


class ConfigError(HarnessError):
    """One or more problems in an experiment file.

    Args:
        problems: each a line already formatted as ``file:line: key.path: message``.
    """

    exit_code = 2

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class PluginLoadError(HarnessError):
    """A plugin failed to import or register."""


class UnknownNameError(HarnessError, KeyError):
    """A name that is not in a registry; the message suggests close matches."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0] if self.args else ""


SHOWN_REASON = 300  # characters of a failure reason shown on the terminal; status.json keeps it all


def short_reason(reason: str, where: Path | str | None = None) -> str:
    """A failure reason as one terminal line: its first line, cut at ``SHOWN_REASON`` characters,
    naming ``where`` the whole of it is (a cell's ``status.json``) when something was left out."""
    lines = reason.strip().splitlines()
    first = lines[0] if lines else reason
    if first == reason and len(reason) <= SHOWN_REASON:
        return reason
    cut = first if len(first) <= SHOWN_REASON else first[:SHOWN_REASON].rstrip() + " ..."
    return f"{cut} (the whole reason: {where})" if where is not None else cut
