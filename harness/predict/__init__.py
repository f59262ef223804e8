"""Using a trained row: :class:`Predictor` in Python, ``harness predict``, ``harness evaluate``, ``harness export``.

* :mod:`~harness.predict.source`: which stored cell a run, row, leaderboard or checkpoint names;
* :mod:`~harness.predict.nodes`: what a row runs (a model, TTA views, an ensemble's members);
* :mod:`~harness.predict.inputs`: files, folders, CSV lists and in-memory images, decoded as the cache does;
* :mod:`~harness.predict.predictor`: :class:`Predictor` and :class:`Prediction`;
* :mod:`~harness.predict.output`: CSV / JSON-lines tables and map overlays;
* :mod:`~harness.predict.evaluate`: trained rows scored on another dataset, with a leaderboard;
* :mod:`~harness.predict.export`: ONNX or TorchScript with a preprocessing sidecar;
* :mod:`~harness.predict.command`: the three subcommands.
"""

from __future__ import annotations

from harness.predict.predictor import ERROR, Prediction, Predictor

__all__ = ["ERROR", "Prediction", "Predictor"]
