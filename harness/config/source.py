"""Reading an experiment file's text: encoding, byte-order mark and nesting depth.

Everything here fails as ``file:line: message`` (a :class:`ConfigError`), never as a
``UnicodeDecodeError`` or ``RecursionError`` traceback.
"""

from __future__ import annotations

import codecs
import re
import tomllib
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, HarnessError

MAX_DEPTH = 32
"""Deepest nesting of arrays, inline tables and dotted keys an experiment file may use."""

_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
         (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))


def read_text(path: Path) -> str:
    """The file's text as UTF-8, a UTF-8 byte-order mark dropped.

    Raises:
        HarnessError: the file cannot be read.
        ConfigError: the bytes are not UTF-8 (the line and column of the first bad byte).
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise HarnessError(f"{path}: cannot read experiment file: {exc.strerror or exc}") from None
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise ConfigError([f"{path}:1: the file is {name} (it starts with a {name} byte-order mark); "
                               "save it as UTF-8"])
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError([f"{path}:{line}: byte 0x{data[exc.start]:02x} at column {column} is not UTF-8; "
                           "save the file as UTF-8"]) from None


def parse_toml(path: Path, text: str) -> dict[str, Any]:
    """``tomllib.loads`` with nesting bounded and syntax errors as ``file:line`` problems."""
    deep = too_deep_line(text)
    if deep:
        raise ConfigError([f"{path}:{deep}: nesting deeper than {MAX_DEPTH} levels (arrays, inline tables or "
                           "dotted keys); experiment files never need that many"])
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(found.group(1)) if found else 1
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError([f"{path}:{line}: invalid TOML: {message}"]) from None
    except RecursionError:  # a shape the scan below did not foresee: still no traceback
        raise ConfigError([f"{path}:1: nesting too deep to read"]) from None


def too_deep_line(text: str) -> int:
    """The first line where brackets, braces and dotted-key parts nest deeper than
    :data:`MAX_DEPTH`, or 0. Strings and comments are skipped."""
    depth = 0
    line = 1
    i, n = 0, len(text)
    at_line_start = True
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            at_line_start = True
            i += 1
            continue
        if at_line_start and not ch.isspace():
            at_line_start = False
            if depth == 0:  # a key or header: count its dotted parts
                end = text.find("=", i) if ch not in "[#" else text.find("]", i)
                end = n if end < 0 else end
                stop = text.find("\n", i)
                head = text[i: min(end, stop if stop >= 0 else n)]
                if head.count(".") + 1 > MAX_DEPTH:
                    return line
        if ch == "#":
            stop = text.find("\n", i)
            i = n if stop < 0 else stop
            continue
        if ch in "\"'":
            i, line = _skip_string(text, i, line)
            continue
        if ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line
        elif ch in "]}":
            depth = max(0, depth - 1)
        i += 1
    return 0


def _skip_string(text: str, i: int, line: int) -> tuple[int, int]:
    """Index after the string starting at ``i``, and the line it ends on."""
    quote = text[i]
    triple = text.startswith(quote * 3, i)
    delim = quote * 3 if triple else quote
    j = i + len(delim)
    while j < len(text):
        ch = text[j]
        if ch == "\\" and quote == '"':
            j += 2
            continue
        if ch == "\n":
            line += 1
            if not triple:
                return j, line - 1  # unterminated: let tomllib report it
        if text.startswith(delim, j):
            return j + len(delim), line
        j += 1
    return j, line
