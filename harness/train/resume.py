"""A cell's state at the end of each epoch, so an interrupted cell continues where it was."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from harness.store import atomic_write_bytes


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Tensors, numbers, strings and containers only, so loading never unpickles code."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_state(path: Path) -> dict[str, Any] | None:
    """The saved state, or None when there is none or it cannot be read safely."""
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - an unreadable file means starting the cell over
        return None
