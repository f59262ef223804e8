"""What the cache's integrity checks cost, against one warm-cache training epoch at 64 px.

    HF_HUB_OFFLINE=1 python benchmarks/cache_checks.py [--images 512] [--source 256] [--arch resnet10t]

Writes ``--images`` random RGB PNGs (``--source`` pixels square), decodes them once into
the cache at 64 px, then measures in the same process:

(a) the content hash of every source file that the cache key now includes
    (``harness.cache.stack_key``: BLAKE2b of each file, on the decoding thread pool);
(b) the checksum of the cached array, verified on the first map in a process
    (``harness.cache.array_checksum``);
(c) a warm-cache epoch: mapping the cached stack, then one training epoch of a timm
    model over it (batch 64, AdamW, cross-entropy, normalised float input).

Prints each time and ``(a + b) / c`` (target < 5%). Times measured on a shared machine
vary; the ratio comes from one run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

SIZE, BATCH = 64, 64


def _write_images(root: Path, n: int, source: int) -> list[Path]:
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = root / f"img{i:05d}.png"
        Image.fromarray(rng.integers(0, 256, (source, source, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def _epoch(images: np.ndarray, labels: torch.Tensor, arch: str) -> float:
    import timm

    model = timm.create_model(arch, pretrained=False, num_classes=2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1) * 255
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) * 255
    started = time.perf_counter()
    order = torch.randperm(len(images))
    data = torch.from_numpy(np.asarray(images))  # the mapped cache, as the training loop takes it
    model.train()
    for lo in range(0, len(order), BATCH):
        index = order[lo:lo + BATCH]
        x = (data.index_select(0, index).permute(0, 3, 1, 2).float() - mean) / std
        loss = torch.nn.functional.cross_entropy(model(x), labels[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--source", type=int, default=256, help="side of the source PNGs in pixels")
    parser.add_argument("--arch", default="resnet10t")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import harness.cache as cache

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HARNESS_CACHE_DIR"] = str(Path(tmp) / "cache")
        paths = _write_images(Path(tmp) / "data", args.images, args.source)
        labels = [i % 2 for i in range(len(paths))]
        built = cache.load_stack(paths, root=Path(tmp) / "data", image_size=SIZE, labels=labels)
        npy = Path(tmp) / "cache" / "images" / f"{built.key}.npy"

        t0 = time.perf_counter()
        cache.stack_key(paths, root=Path(tmp) / "data", image_size=SIZE, resize="bilinear", kind="image",
                        labels=labels)
        key_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        cache.array_checksum(npy)
        verify_seconds = time.perf_counter() - t0

        cache._VERIFIED.clear()  # a new process: the first map verifies
        t0 = time.perf_counter()
        warm = cache.load_stack(paths, root=Path(tmp) / "data", image_size=SIZE, labels=labels)
        map_seconds = time.perf_counter() - t0  # includes (a) and (b) again, as a real run pays them
        assert warm.hit
        epoch_seconds = _epoch(warm.array, torch.tensor(labels), args.arch)
        source_mb = sum(p.stat().st_size for p in paths) / 1e6

    total = epoch_seconds + map_seconds
    print(f"{args.images} source PNGs of {args.source} px ({source_mb:.1f} MB), cache at {SIZE} px "
          f"({args.images * SIZE * SIZE * 3 / 1e6:.1f} MB), {args.arch}")
    print(f"(a) content hashes of the source files   {key_seconds * 1000:8.1f} ms")
    print(f"(b) checksum of the cached array          {verify_seconds * 1000:8.1f} ms")
    print(f"    warm map of the stack (a + b + load)   {map_seconds * 1000:8.1f} ms")
    print(f"(c) warm-cache epoch (map + train)        {total * 1000:8.1f} ms")
    ratio = (key_seconds + verify_seconds) / total
    print(f"checks / epoch: {ratio:.2%} (target < 5%)")


if __name__ == "__main__":
    main()
