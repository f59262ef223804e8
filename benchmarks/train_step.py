"""Training-loop overhead: the harness's loop against a bare PyTorch loop, same run.

Both train the same timm model on the same in-memory images, batch size, epochs and
device, and run a validation pass each epoch. The harness side includes everything a
cell does per epoch: lifecycle hooks, metric plugins on validation, checkpoint
selection, the resume point written after each epoch, and a progress bar. Prints images
per second for both and their ratio (target: >= 0.97).

    python benchmarks/train_step.py [--arch resnet10t] [--size 64] [--epochs 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import timm  # noqa: E402
import torch  # noqa: E402
from cell_setup import cell_config, cell_trainer, make_dataset  # noqa: E402

from harness.data import Dataset  # noqa: E402
from harness.matrix import Cell  # noqa: E402
from harness.plugins import build_plugins  # noqa: E402
from harness.train.loop import fit  # noqa: E402
from harness.train.tensors import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402


def bare_loop(arch: str, dataset: Dataset, epochs: int, batch_size: int) -> float:
    """Seconds for a plain loop: shuffle, normalise, forward, CE, backward, AdamW, val accuracy."""
    torch.manual_seed(0)
    model = timm.create_model(arch, pretrained=False, num_classes=2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    x_train = torch.from_numpy(dataset.train.images).permute(0, 3, 1, 2).contiguous()
    y_train = torch.from_numpy(dataset.train.labels)
    x_val = torch.from_numpy(dataset.val.images).permute(0, 3, 1, 2).contiguous()
    y_val = torch.from_numpy(dataset.val.labels)
    started = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(y_train))
        for lo in range(0, len(order), batch_size):
            index = order[lo:lo + batch_size]
            images = (x_train[index].float() / 255 - mean) / std
            loss = torch.nn.functional.cross_entropy(model(images), y_train[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for lo in range(0, len(y_val), 128):
                logits = model((x_val[lo:lo + 128].float() / 255 - mean) / std)
                correct += int((logits.argmax(1) == y_val[lo:lo + 128]).sum())
    return time.perf_counter() - started


def harness_loop(arch: str, dataset: Dataset, epochs: int, batch_size: int, plugins) -> float:
    """Seconds of the harness's epoch loop (``fit``) for the same training, built as a cell builds it."""
    from tqdm import tqdm

    config = cell_config(arch, epochs, batch_size, optimizer={"name": "adamw", "lr": 1e-3, "weight_decay": 0.01},
                         augment={}, train_eval_samples=0)  # like the bare loop: no scoring of training images
    cell = Cell(id="bench", key="bench", row="bench", seed=0, config=config)
    trainer, steps = cell_trainer(config, dataset, plugins)

    def on_epoch(epoch, logs):
        plugins.hook.harness_epoch_end(cell=cell, epoch=epoch, logs=logs)

    with tempfile.TemporaryDirectory() as tmp, open(os.devnull, "w") as sink:
        with tqdm(total=epochs * steps, file=sink, mininterval=0) as bar:
            started = time.perf_counter()
            fit(trainer, on_epoch, lambda: bar.update(1), Path(tmp) / "resume.pt")
            return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="resnet10t")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--n-train", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    plugins = build_plugins()
    dataset = make_dataset(args.n_train, 64, args.size)
    images = args.n_train * args.epochs
    bare_loop(args.arch, dataset, 1, args.batch_size)  # warm-up: allocator, kernels
    bare, ours = [], []
    for _ in range(args.repeats):  # interleaved, so drift in machine load hits both alike
        bare.append(images / bare_loop(args.arch, dataset, args.epochs, args.batch_size))
        ours.append(images / harness_loop(args.arch, dataset, args.epochs, args.batch_size, plugins))
    b, h = statistics.median(bare), statistics.median(ours)
    print(f"model {args.arch}, {args.size} px, {args.n_train} train images x {args.epochs} epochs, "
          f"batch {args.batch_size}, {torch.get_num_threads()} threads, median of {args.repeats}")
    print(f"{'loop':<34}{'images/s':>10}")
    print(f"{'bare PyTorch loop (baseline)':<34}{b:>10.1f}")
    print(f"{'harness cell loop':<34}{h:>10.1f}")
    print(f"ratio harness / bare: {h / b:.3f}")


if __name__ == "__main__":
    main()
