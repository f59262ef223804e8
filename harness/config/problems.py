"""Collects every problem of an experiment file before reporting any."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.config.lines import LineIndex
from harness.errors import ConfigError
from harness.options import did_you_mean


@dataclass
class Problems:
    """Problems found in one file, each tied to a key path and so to a line."""

    file: Path
    index: LineIndex
    items: list[tuple[int, str, str]] = field(default_factory=list)
    warnings: list[tuple[int, str, str]] = field(default_factory=list)
    unknown_hint: str = ""  # appended to "unknown <kind>" messages: plugins that failed to load

    def add(self, path: str, message: str) -> None:
        entry = (self.index.line(path), path, message)
        if entry not in self.items:
            self.items.append(entry)

    def warn(self, path: str, message: str) -> None:
        """A problem that does not stop a run (an error under ``--strict``)."""
        entry = (self.index.line(path), path, message)
        if entry not in self.warnings:
            self.warnings.append(entry)

    def unknown_key(self, path: str, key: str, allowed: list[str]) -> None:
        hint = did_you_mean(key, allowed)
        self.add(f"{path}.{key}" if path else key, f"unknown key.{hint} Allowed: {', '.join(sorted(allowed))}")

    def lines(self) -> list[str]:
        return [f"{self.file}:{line}: {path}: {message}" for line, path, message in sorted(self.items)]

    def warning_lines(self) -> list[str]:
        return [f"{self.file}:{line}: {path}: warning: {message}" for line, path, message in sorted(self.warnings)]

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigError(self.lines())
