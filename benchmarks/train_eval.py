"""Per-epoch cost of the train-split metrics (``[train] train_eval_samples``).

Builds a cell's trainer as ``run_cell`` does and times, epoch by epoch in one process, the
training pass, the validation pass and the scoring of the training subset, so the ratio
is measured under the same load. Prints seconds per epoch and the subset's share.

    python benchmarks/train_eval.py [--arch resnet10t] [--size 64] [--n-train 512] [--samples 1024]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from cell_setup import cell_config, cell_trainer, make_dataset  # noqa: E402

from harness.plugins import build_plugins  # noqa: E402
from harness.train.train_eval import PREFIX  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="resnet10t")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--n-train", type=int, default=512)
    parser.add_argument("--n-val", type=int, default=128)
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    plugins = build_plugins()
    dataset = make_dataset(args.n_train, args.n_val, args.size)
    config = cell_config(args.arch, args.epochs, args.batch_size, optimizer={"name": "adamw", "lr": 1e-3},
                         augment={"hflip": 0.5}, train_eval_samples=args.samples)
    trainer, _ = cell_trainer(config, dataset, plugins)
    scored = len(trainer.tensors[PREFIX])
    times: dict[str, list[float]] = {"train": [], "val": [], PREFIX: []}
    for epoch in range(args.epochs + 1):  # the first epoch warms up (allocator, kernels, metric imports)
        for part, work in (("train", lambda: trainer.train_epoch(lambda: None)), ("val", lambda: trainer.score("val")),
                           (PREFIX, lambda: trainer.score(PREFIX))):
            started = time.perf_counter()
            work()
            if epoch:
                times[part].append(time.perf_counter() - started)
    median = {k: statistics.median(v) for k, v in times.items()}
    epoch = median["train"] + median["val"]
    print(f"model {args.arch}, {args.size} px, {args.n_train} train images (batch {args.batch_size}), "
          f"{args.n_val} val, {scored} scored train images, {torch.get_num_threads()} threads, "
          f"median of {args.epochs} epochs after a warm-up epoch")
    for part, seconds in median.items():
        print(f"{part:<12}{seconds:>8.2f} s")
    print(f"train-subset scoring / (training + validation) per epoch: {median[PREFIX] / epoch:.3f}")


if __name__ == "__main__":
    main()
