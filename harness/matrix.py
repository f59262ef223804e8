"""Expanding an experiment's matrix into cells, and naming and hashing each cell.

List-valued keys of a ``[[matrix.<section>]]`` block are axes (cartesian product);
blocks of one section are alternatives; sections and seeds multiply. ``include`` and
``exclude`` entries work like GitHub Actions' matrix.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

SECTIONS = ("model", "dataset", "train")


@dataclass(frozen=True)
class Variant:
    """One expansion of one matrix block.

    Attributes:
        values: the block's keys with one value per axis.
        axes: the keys that were axes, with the value taken.
        source: key path of the block (``matrix.model[1]``), for error lines.
    """

    values: dict[str, Any]
    axes: dict[str, Any]
    source: str


@dataclass(frozen=True)
class CellSpec:
    """A cell before the data is known: its resolved config and what varied."""

    config: dict[str, Any]  # {"model": {...}, "dataset": {...}, "train": {...}, "seed": n}
    axes: dict[str, Any]  # flattened keys that were axes: {"model.arch": ..., "seed": 0}
    sources: dict[str, str] = field(default_factory=dict)  # section -> matrix block path


@dataclass(frozen=True)
class Cell:
    """A matrix cell ready to run.

    Attributes:
        id: readable folder name plus a short hash, e.g. ``timm-convnext_atto-s0-1a2b3c4d``.
        key: hash of everything that determines the result (config, data, plugin versions).
        row: the model configuration the cell belongs to (seed left out), for the leaderboard.
        seed: the training seed.
        config: resolved config.
    """

    id: str
    key: str
    row: str
    seed: int
    config: dict[str, Any]
    row_key: str = ""


def expand_block(block: dict[str, Any], source: str) -> list[Variant]:
    """The cartesian product of a block's list-valued keys."""
    axes = [k for k, v in block.items() if isinstance(v, list)]
    variants = []
    for combo in itertools.product(*(block[k] for k in axes)):
        chosen = dict(zip(axes, combo))
        variants.append(Variant({**block, **chosen}, chosen, source))
    return variants


def flatten(config: dict[str, Any]) -> dict[str, Any]:
    """``{"model": {"arch": "x"}, "seed": 0}`` to ``{"model.arch": "x", "seed": 0}`` (one level)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            for inner, v in value.items():
                flat[f"{key}.{inner}"] = v
        else:
            flat[key] = value
    return flat


def _matches(flat: dict[str, Any], entry: dict[str, Any]) -> bool:
    return all(k in flat and flat[k] == v for k, v in entry.items())


def expand(
    base: dict[str, dict[str, Any]],
    blocks: dict[str, list[tuple[dict[str, Any], str]]],
    seeds: list[int],
    include: list[dict[str, Any]] = (),  # type: ignore[assignment]
    exclude: list[dict[str, Any]] = (),  # type: ignore[assignment]
    unmatched: list[tuple[str, int]] | None = None,
) -> list[CellSpec]:
    """All cells of a matrix.

    Args:
        base: ``{"dataset": {...}, "train": {...}}`` from the fixed sections.
        blocks: section to ``(block, source path)`` list; ``model`` is required.
        seeds: the seed axis.
        include, exclude: entries as nested tables (``{"model": {"arch": "x"}}``).
        unmatched: if given, receives ``("exclude", i)`` for every exclude entry that
            removed no cell and ``("include", i)`` for every include entry that matched
            no cell (and so added new ones).
    """
    per_section: list[list[tuple[str, Variant]]] = []
    for section in SECTIONS:
        variants = [v for block, src in blocks.get(section, []) for v in expand_block(block, src)]
        if not variants:
            variants = [Variant({}, {}, section)]
        per_section.append([(section, v) for v in variants])
    cells = []
    for combo in itertools.product(*per_section):
        for seed in seeds:
            config: dict[str, Any] = {"model": {}, "dataset": dict(base.get("dataset", {})), "train": dict(base.get("train", {}))}
            axes: dict[str, Any] = {}
            sources = {}
            for section, variant in combo:
                config[section] = {**config[section], **variant.values}
                axes.update({f"{section}.{k}": v for k, v in variant.axes.items()})
                sources[section] = variant.source
            config["seed"] = seed
            axes["seed"] = seed
            cells.append(CellSpec(config, axes, sources))
    removed = [False] * len(exclude)
    kept = []
    for cell in cells:
        flat = flatten(cell.config)
        hits = [i for i, e in enumerate(exclude) if _matches(flat, flatten(e))]
        for i in hits:
            removed[i] = True
        if not hits:
            kept.append(cell)
    cells = kept
    if unmatched is not None:
        unmatched.extend(("exclude", i) for i, hit in enumerate(removed) if not hit)
    for i, entry in enumerate(include):
        cells, matched = _include(cells, base, entry, seeds, f"matrix.include[{i}]")
        if not matched and unmatched is not None:
            unmatched.append(("include", i))
    return cells


def _include(cells: list[CellSpec], base: dict[str, Any], entry: dict[str, Any], seeds: list[int],
             source: str = "matrix.include") -> tuple[list[CellSpec], bool]:
    flat_entry = flatten(entry)
    out, matched = [], False
    for cell in cells:
        on_axes = {k: v for k, v in flat_entry.items() if k in cell.axes}
        extra = {k: v for k, v in flat_entry.items() if k not in cell.axes}
        if _matches(cell.axes, on_axes) and on_axes:
            matched = True
            config = {s: dict(v) if isinstance(v, dict) else v for s, v in cell.config.items()}
            for key, value in extra.items():
                section, _, inner = key.partition(".")
                if inner:
                    config.setdefault(section, {})[inner] = value
            out.append(CellSpec(config, {**cell.axes, **extra}, {**cell.sources, **{k: source for k in extra}}))
        else:
            out.append(cell)
    if matched:
        return out, True
    for seed in [flat_entry["seed"]] if "seed" in flat_entry else seeds:
        config = {"model": dict(entry.get("model", {})), "dataset": {**base.get("dataset", {}), **entry.get("dataset", {})},
                  "train": {**base.get("train", {}), **entry.get("train", {})}, "seed": seed}
        axes = {k: v for k, v in flat_entry.items()} | {"seed": seed}
        out.append(CellSpec(config, axes, {"model": f"{source}.model",
                                              "dataset": f"{source}.dataset" if "dataset" in entry else ""}))
    return out, False


def slug(text: str) -> str:
    """A folder-safe, lower-case form of ``text``.

    An exponent keeps its sign: ``1e+300`` becomes ``1e300`` and ``1e-300`` stays, so the
    two never share a name.
    """
    text = re.sub(r"(?<=[0-9.])[eE]\+(?=[0-9])", "e", text)
    return re.sub(r"[^a-z0-9_.]+", "-", text.lower()).strip("-")[:80] or "cell"


def _short(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def row_label(spec: CellSpec) -> str:
    """Readable name of the cell's model configuration, seed left out."""
    model = spec.config["model"]
    head = str(model.get("name") or model.get("plugin", "?"))
    varied = [f"{k.split('.', 1)[1] if k.startswith('model.') else k}={_short(v)}"
              for k, v in spec.axes.items() if k != "seed" and k not in ("model.name", "model.plugin")]
    return " ".join([head, *varied])


def digest(obj: Any, length: int = 8) -> str:
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def make_cell(spec: CellSpec, fingerprint: str, plugin_versions: dict[str, str], label: str | None = None) -> Cell:
    """Name and hash a cell once its data fingerprint is known."""
    seed = spec.config["seed"]
    key = digest({"config": spec.config, "data": fingerprint, "plugins": plugin_versions}, 16)
    row_config = {k: v for k, v in spec.config.items() if k != "seed"}
    label = label or row_label(spec)
    return Cell(
        id=f"{slug(label)}-s{seed}-{key[:8]}",
        key=key,
        row=label,
        seed=seed,
        config=spec.config,
        row_key=digest({"config": row_config, "data": fingerprint}, 12),
    )


def fold_cell(parent: Cell, k: int, index: int) -> Cell:
    """The cell that trains fold ``index`` of ``k`` of ``parent``'s configuration (k-fold ensembles)."""
    return Cell(
        id=f"{parent.id}-fold{index + 1}of{k}",
        key=digest({"parent": parent.key, "k": k, "index": index}, 16),
        row=parent.row,
        seed=parent.seed,
        config={**parent.config, "fold": {"k": k, "index": index}},
        row_key=parent.row_key,
    )
