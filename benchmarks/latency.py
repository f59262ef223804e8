"""How much latency measurements of one network disagree: the earlier timing against the warm, repeated one.

    HF_HUB_OFFLINE=1 python benchmarks/latency.py [--arch efficientnet_b0] [--size 64] [--rows 6]

Builds ``--rows`` copies of one timm architecture (different random weights, as the rows
of an ablation are) and measures each one's batch-1 latency twice over:

(a) the earlier way: one warm-up pass, then the median of 8 single passes timed with
    ``time.perf_counter`` (no CUDA synchronisation, no repeated runs);
(b) ``harness.train.efficiency.measure_latency`` with sharing off: 3 warm-up passes, the
    median of 7 timed runs of ~20 ms each, CUDA-synchronised around each run.

Prints each row's numbers, the max / min ratio over rows of each way, and how many (b)
measurements flag themselves unstable. With sharing on (as in a run) every row after the
first reuses the first measurement, so the rows of one network report one latency.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402


def earlier(model: torch.nn.Module, image: torch.Tensor, repeats: int = 8) -> float:
    """The timing the harness used before: one warm-up, median of ``repeats`` single passes."""
    model(image)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        model(image)
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2] * 1000.0


def main() -> None:
    import timm

    from harness.train.efficiency import clear_latency_cache, measure_latency

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="efficientnet_b0")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--rows", type=int, default=6)
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    image = torch.randn(1, 3, args.size, args.size)
    old, new, unstable = [], [], 0
    with torch.no_grad():
        for row in range(args.rows):
            torch.manual_seed(row)
            model = timm.create_model(args.arch, pretrained=False, num_classes=2).eval()
            old.append(earlier(model, image))
            latency = measure_latency(model, image, share=False)
            new.append(latency.median_ms)
            unstable += latency.unstable
            print(f"row {row + 1}: earlier {old[-1]:7.2f} ms   warm+repeated {latency.median_ms:7.2f} ms "
                  f"(IQR {latency.iqr_ms:.2f} ms{', unstable' if latency.unstable else ''})", flush=True)
        clear_latency_cache()
        shared = {measure_latency(model, image).median_ms for _ in range(args.rows)}
    print(f"{args.arch} at {args.size} px, {args.rows} rows, {torch.get_num_threads()} thread(s): max/min over rows "
          f"earlier {max(old) / min(old):.2f}, warm+repeated {max(new) / min(new):.2f}; "
          f"{unstable} of {args.rows} flagged unstable; with sharing the rows report {len(shared)} latency")


if __name__ == "__main__":
    main()
