"""Ensemble methods and batched TTA against their references, timed in one run.

    HF_HUB_OFFLINE=1 python benchmarks/ensembles.py

Ensembles: 10 members x 10,000 stored samples (Dirichlet probabilities, 5 classes,
fixed seed), fitted on a validation stack of the same size and predicting a test stack.
References: scikit-learn's ``VotingClassifier`` (soft and hard) and
``StackingClassifier(cv="prefit")`` over frozen members that return the stored
probabilities; for Caruana selection, a straightforward loop that averages each
candidate ensemble and scores it with scikit-learn's ``log_loss``. Outputs are
checked for equality before anything is timed.

TTA: ``resnet10t`` at 64 px on CPU, 4 views, every view of a mini-batch in one forward
pass (``harness.tta.predict_views``) versus one forward pass per view.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

MEMBERS, SAMPLES, CLASSES, SEED = 10, 10_000, 5, 0
TTA_VIEWS = ["identity", "hflip", "vflip", "rot180"]
TTA_IMAGES, TTA_SIZE, TTA_BATCHES = 96, 64, (8, 32)


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Fastest wall time of ``repeat`` calls, and the last result."""
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def stacks() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validation and test ``[M, N, K]`` stacks whose members carry some signal."""
    rng = np.random.default_rng(SEED)
    out = []
    for _ in range(2):
        labels = rng.integers(0, CLASSES, SAMPLES)
        noise = rng.dirichlet(np.ones(CLASSES), size=(MEMBERS, SAMPLES))
        skill = rng.uniform(0.05, 0.5, size=(MEMBERS, 1, 1))
        out += [(1 - skill) * noise + skill * np.eye(CLASSES)[labels][None], labels]
    return out[0], out[1], out[2], out[3]


def frozen(val: np.ndarray, test: np.ndarray, labels: np.ndarray) -> list[tuple[str, Any]]:
    """scikit-learn members that look their stored probabilities up by row index."""
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.frozen import FrozenEstimator

    class Stored(ClassifierMixin, BaseEstimator):
        def __init__(self, proba: np.ndarray | None = None):
            self.proba = proba

        def fit(self, X: np.ndarray, y: np.ndarray) -> Stored:
            self.classes_ = np.arange(self.proba.shape[1])
            return self

        def predict_proba(self, X: np.ndarray) -> np.ndarray:
            return self.proba[X[:, 0]]

        def predict(self, X: np.ndarray) -> np.ndarray:
            return self.predict_proba(X).argmax(axis=1)

    index = np.arange(2 * SAMPLES)[:, None]
    return [(f"m{i}", FrozenEstimator(Stored(np.concatenate([val[i], test[i]])).fit(index, labels)))
            for i in range(MEMBERS)]


def naive_caruana(proba: np.ndarray, labels: np.ndarray, size: int) -> np.ndarray:
    """Caruana selection written plainly: average every candidate ensemble, score it."""
    from sklearn.metrics import log_loss

    chosen: list[int] = []
    for _ in range(size):
        losses = [log_loss(labels, proba[chosen + [m]].mean(axis=0), labels=range(CLASSES)) for m in range(len(proba))]
        best = min(losses)
        tied = [m for m, v in enumerate(losses) if v <= best + 1e-12]
        chosen.append(next((m for m in tied if m in chosen), tied[0]))
    return np.bincount(chosen, minlength=len(proba))


def ensemble_rows(registries: dict[str, Any]) -> list[list[Any]]:
    """Time each method (fit on val + predict test) beside its reference."""
    from sklearn.ensemble import StackingClassifier, VotingClassifier
    from sklearn.linear_model import LogisticRegression

    val, y_val, test, y_test = stacks()
    X_val, X_test = np.arange(SAMPLES)[:, None], np.arange(SAMPLES, 2 * SAMPLES)[:, None]
    members = frozen(val, test, np.concatenate([y_val, y_test]))
    method = registries["ensembles"].get

    def ours(name: str, **options: Any) -> Callable[[], np.ndarray]:
        return lambda: method(name)(**options).fit(val, y_val).predict_proba(test)

    def sk_voting(voting: str) -> Callable[[], np.ndarray]:
        def run() -> np.ndarray:
            model = VotingClassifier(members, voting=voting).fit(X_val, y_val)
            return model.predict_proba(X_test) if voting == "soft" else model.predict(X_test)
        return run

    def sk_stacking() -> np.ndarray:
        meta = LogisticRegression(max_iter=1000, random_state=0)
        model = StackingClassifier(members, final_estimator=meta, cv="prefit", stack_method="predict_proba")
        return model.fit(X_val, y_val).predict_proba(X_test)

    cases = [
        ("soft-voting", ours("soft-voting"), "sklearn VotingClassifier(soft)", sk_voting("soft"), 3,
         lambda a, b: np.allclose(a, b, rtol=1e-12)),
        ("hard-voting", ours("hard-voting"), "sklearn VotingClassifier(hard)", sk_voting("hard"), 3,
         lambda a, b: np.array_equal(a.argmax(axis=1), b)),
        ("stacking (logistic_regression)", ours("stacking"), "sklearn StackingClassifier(prefit)", sk_stacking, 3,
         lambda a, b: np.allclose(a, b, rtol=1e-8, atol=1e-10)),
        ("weighted (caruana, 20 rounds)", lambda: method("weighted")(ensemble_size=20).fit(val, y_val).counts_,
         "plain loop: average + sklearn log_loss", lambda: naive_caruana(val, y_val, 20), 2, np.array_equal),
        ("weighted (optuna TPE, 50 trials)", ours("weighted", search="optuna", n_trials=50), "(no reference)", None, 1,
         None),
    ]
    rows = []
    for name, fn, ref_name, ref, repeat, same in cases:
        t_ours, out = best_of(fn, repeat)
        if ref is None:
            rows.append([name, t_ours, ref_name, None, None, "-"])
            continue
        t_ref, ref_out = best_of(ref, repeat)
        rows.append([name, t_ours, ref_name, t_ref, t_ref / t_ours, "yes" if same(out, ref_out) else "NO"])
    return rows


def tta_rows(registries: dict[str, Any]) -> list[list[Any]]:
    """Seconds and images/s: all views in one forward pass vs one forward pass per view.

    ``batch`` is the number of input images per step, so the batched path runs forward
    passes of ``batch * views`` images and the per-view path passes of ``batch``.
    """
    import torch

    from harness.train.tensors import Normalizer
    from harness.tta import predict_views

    torch.set_num_threads(1)  # one thread: shared cores make multi-threaded timings swing wildly
    torch.manual_seed(SEED)
    model = registries["models"].get("timm")(num_classes=CLASSES, arch="resnet10t").eval()
    images = torch.randint(0, 256, (TTA_IMAGES, 3, TTA_SIZE, TTA_SIZE), dtype=torch.uint8)
    device, normalize = torch.device("cpu"), Normalizer(torch.device("cpu"))
    n = TTA_IMAGES * len(TTA_VIEWS)
    rows = []
    for batch in TTA_BATCHES:
        def batched(batch: int = batch) -> np.ndarray:
            return predict_views(model, images, TTA_VIEWS, normalize, batch, device, registries)

        def per_view(batch: int = batch) -> np.ndarray:
            return np.concatenate([predict_views(model, images, [v], normalize, batch, device, registries)
                                   for v in TTA_VIEWS])

        batched()  # warm-up: the first calls pay for allocation and kernel selection
        t_batched, a = best_of(batched, 3)
        t_single, b = best_of(per_view, 3)
        same = "yes" if np.allclose(a, b, atol=1e-5) else "NO"
        rows.append([batch, t_batched, n / t_batched, t_single, n / t_single, t_single / t_batched, same])
    return rows


def main() -> None:
    from tabulate import tabulate

    from harness.plugins import build_plugins

    registries = build_plugins().registries
    started = time.perf_counter()
    print(f"ensembles: {MEMBERS} members x {SAMPLES:,} samples x {CLASSES} classes (fit on val, predict test)")
    rows = ensemble_rows(registries)
    print(tabulate([[r[0], f"{r[1] * 1e3:.1f}", r[2], "-" if r[3] is None else f"{r[3] * 1e3:.1f}",
                     "-" if r[4] is None else f"{r[4]:.1f}x", r[5]] for r in rows],
                   headers=["method", "ours ms", "reference", "ref ms", "speed-up", "same output"]))
    print(f"\nTTA: timm resnet10t, {TTA_IMAGES} images at {TTA_SIZE}px, views {TTA_VIEWS}, CPU, 1 thread; "
          "batch = input images per step")
    print(tabulate([[r[0], f"{r[1]:.2f}", f"{r[2]:.0f}", f"{r[3]:.2f}", f"{r[4]:.0f}", f"{r[5]:.2f}x", r[6]]
                    for r in tta_rows(registries)],
                   headers=["batch", "one forward, all views: s", "img/s", "one forward per view: s", "img/s",
                            "speed-up", "same output"]))
    print(f"\ntotal {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()
