"""One tiny real run shared by the prediction tests: class folders of PNGs, two timm models,
voting, stacking and k-fold ensembles (and stacking over the k-fold rows) and TTA rows, one epoch at 32 px."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CLASSES = ("dark", "light")
ROWS = ("timm arch=resnet10t", "timm arch=test_resnet", "ensemble soft-voting", "ensemble stack",
        "ensemble kfold: timm arch=resnet10t", "ensemble kfold: timm arch=test_resnet", "ensemble stack-folds",
        "timm arch=resnet10t +tta(mean)", "timm arch=test_resnet +tta(mean)")


def write_images(root: Path, counts: dict[str, int], seed: int) -> None:
    """Noisy 40x48 RGB images, darker or lighter by class (not square: the resize matters)."""
    rng = np.random.default_rng(seed)
    for split, n in counts.items():
        for cls in CLASSES:
            folder = root / split / cls
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                base = 80 if cls == "dark" else 170
                pixels = np.clip(rng.normal(base, 45, (40, 48, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{i:03d}.png")


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """``(run folder, data root, cache dir)`` after running a tiny experiment and its derived rows."""
    import os

    from harness import load_run
    from harness.config import load_experiment
    from harness.derived import build_derived
    from harness.plugins import build_plugins
    from harness.runner import run_experiment

    base = tmp_path_factory.mktemp("predict")
    data = base / "data"
    write_images(data, {"train": 12, "val": 6, "test": 8}, seed=0)
    experiment = base / "tiny.toml"
    experiment.write_text(textwrap.dedent(f"""
        [experiment]
        name = "tiny"
        seeds = [0]

        [dataset]
        plugin = "folder"
        root = "{data.as_posix()}"
        image_size = 32

        [train]
        epochs = 1
        batch_size = 16
        optimizer = {{ name = "adam", lr = 1e-3 }}

        [[matrix.model]]
        plugin = "timm"
        arch = ["resnet10t", "test_resnet"]

        [[ensemble]]
        plugin = "soft-voting"

        [[ensemble]]
        plugin = "stacking"
        name = "stack"

        [[ensemble]]
        plugin = "kfold"
        name = "kfold"
        members = "timm*"
        k = 2

        [[ensemble]]
        plugin = "stacking"
        name = "stack-folds"
        members = ["ensemble kfold*"]

        [tta]
        views = ["identity", "hflip"]
        merge = "mean"
        """), encoding="utf-8")
    cache = base / "cache"
    old = os.environ.get("HARNESS_CACHE_DIR")
    os.environ["HARNESS_CACHE_DIR"] = str(cache)
    try:
        plugins = build_plugins()
        exp = load_experiment(experiment, plugins)
        the_plan, root = run_experiment(exp, plugins, runs_dir=base / "runs", show_progress=False, echo=lambda s: None)
        build_derived(root, the_plan.cells, exp, plugins.registries)  # ensembles and TTA rows, as publish does
    finally:
        if old is None:
            os.environ.pop("HARNESS_CACHE_DIR", None)
        else:
            os.environ["HARNESS_CACHE_DIR"] = old
    rows = {c.row for c in load_run(root).done() if "fold" not in c.config}
    assert rows == set(ROWS), rows
    return base / "runs" / "tiny", data, cache


@pytest.fixture(scope="session")
def stored():
    """``stored(run_dir, row, split)``: a row's (only) cell's predictions as ``(frame, classes, cell id)``."""
    from harness import load_run

    def read(run_dir: Path, row: str, split: str = "test"):
        run = load_run(run_dir)
        (cell,) = [c for c in run.done() if c.row == row and "fold" not in c.config]
        return run.predictions(cell.id, split), cell.classes, cell.id

    return read


@pytest.fixture(scope="session")
def make_images():
    """``make_images(root, {"train": n, ...}, seed)``: class folders of noisy PNGs."""
    return write_images
