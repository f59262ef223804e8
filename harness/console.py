"""Progress lines that stay whole when several processes write to one terminal or pipe."""

from __future__ import annotations

import sys


def say(text: str) -> None:
    """Print ``text`` as one line, in a single write.

    ``print`` writes the text and its newline separately; unbuffered (``python -u``,
    ``PYTHONUNBUFFERED=1``, usual in containers and CI) those are two system calls, and
    the lines of pool workers sharing the stream run into each other. One write of a short
    line is atomic on a pipe.
    """
    stream = sys.stdout
    stream.write(f"{text}\n")
    stream.flush()


def warn(message: str) -> None:
    """``harness: warning: <message>`` as one line on stderr, in a single write (see :func:`say`)."""
    stream = sys.stderr
    stream.write(f"harness: warning: {message}\n")
    stream.flush()
