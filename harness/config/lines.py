"""Line numbers for key paths of a TOML document, which ``tomllib`` does not keep.

A small scanner that understands what experiment files use: ``[table]`` and
``[[array.of.tables]]`` headers, ``key = value`` and ``dotted.key = value`` lines, and the
first level of inline tables. Paths look like ``matrix.model[1].arch``.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=\s*(.*)$""")
_INLINE_KEY = re.compile(r"""(?:^|[{,])\s*([A-Za-z0-9_-]+|"[^"]*")\s*=""")


def _split_dotted(key: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", key)
    return [p.strip("\"'") for p in parts]


class LineIndex:
    """Maps key paths to 1-based line numbers of one TOML text."""

    def __init__(self, text: str):
        self._lines: dict[str, int] = {}
        self._build(text)

    def _build(self, text: str) -> None:
        counts: dict[str, int] = {}
        prefix = ""
        in_multiline = False
        for number, line in enumerate(text.splitlines(), start=1):
            if in_multiline:
                if line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1:
                    in_multiline = False
                continue
            header = _HEADER.match(line)
            if header:
                name = ".".join(_split_dotted(header.group(2)))
                if header.group(1) == "[[":
                    index = counts.get(name, 0)
                    counts[name] = index + 1
                    prefix = f"{name}[{index}]"
                else:
                    prefix = self._resolve_table(name, counts)
                self._lines.setdefault(prefix, number)
                continue
            key = _KEY.match(line)
            if not key:
                continue
            path = ".".join(filter(None, [prefix, ".".join(_split_dotted(key.group(1)))]))
            self._lines.setdefault(path, number)
            value = key.group(2)
            if value.lstrip().startswith("{"):
                for inner in _INLINE_KEY.findall(value):
                    self._lines.setdefault(f"{path}.{inner.strip(chr(34))}", number)
            if value.count('"""') % 2 == 1 or value.count("'''") % 2 == 1:
                in_multiline = True

    @staticmethod
    def _resolve_table(name: str, counts: dict[str, int]) -> str:
        # ``[matrix.model.extra]`` after ``[[matrix.model]]`` belongs to the last element.
        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            head = ".".join(parts[:cut])
            if head in counts:
                return f"{head}[{counts[head] - 1}]." + ".".join(parts[cut:])
        return name

    def line(self, path: str) -> int:
        """The line of ``path``, or of its nearest ancestor that has one, else 1."""
        while path:
            if path in self._lines:
                return self._lines[path]
            path = _parent(path)
        return 1


def _parent(path: str) -> str:
    if path.endswith("]"):
        return path[: path.rindex("[")]
    return path.rpartition(".")[0]
