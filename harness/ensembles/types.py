"""What an ensemble plugin registers: a :class:`Ensemble` subclass.

The core reads everything it needs from this type (``source``, ``fit``,
``predict_proba``, ``weights_``), never by probing attributes. Nothing here imports
torch or scikit-learn.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np

from harness.errors import HarnessError

Source = Literal["cells", "folds", "snapshots"]
SOURCES: tuple[str, ...] = ("cells", "folds", "snapshots")


class Ensemble:
    """An ensemble method over stored probabilities, in scikit-learn's conventions.

    ``__init__`` only stores the options of the ``[[ensemble]]`` block; what is learned
    ends in ``_``. Register the class itself (``registry.register("mine", Mine)``): the
    core reads :attr:`source` from it before building anything.

    Attributes:
        source: where the members come from. ``"cells"`` (the default): finished cells
            of the matrix, and the method is fitted on their validation (or out-of-fold)
            probabilities. ``"folds"``: the runner trains each matched configuration once
            per fold (option ``k``) and the method sees the fold models. ``"snapshots"``:
            the members are the snapshots a schedule with ``cycle_end_epochs`` left.
        weights_: ``[M]`` weights of the members after :meth:`fit`, or None when the
            method has none; recorded in the row's ``config.json``.
    """

    source: ClassVar[Source] = "cells"
    weights_: np.ndarray | None = None

    def fit(self, proba: np.ndarray, labels: np.ndarray) -> Ensemble:
        """Learn from ``[M, N, K]`` member probabilities and ``[N]`` labels; returns self."""
        raise NotImplementedError

    def predict_proba(self, proba: np.ndarray) -> np.ndarray:
        """``[N, K]`` probabilities (rows summing to one) from ``[M, N, K]``."""
        raise NotImplementedError

    def predict(self, proba: np.ndarray) -> np.ndarray:
        """``[N]`` most probable class, lowest index on ties."""
        return np.asarray(self.predict_proba(proba)).argmax(axis=1)


def ensemble_class(factory: Any, name: str) -> type[Ensemble]:
    """The :class:`Ensemble` subclass registered as ``name``; a clear error otherwise."""
    if isinstance(factory, type) and issubclass(factory, Ensemble):
        if factory.source not in SOURCES:
            raise HarnessError(f"ensemble {name!r}: source must be one of {', '.join(SOURCES)}, "
                               f"got {factory.source!r}")
        return factory
    raise HarnessError(f"ensemble {name!r} is registered as {factory!r}, not as a subclass of harness.Ensemble")
