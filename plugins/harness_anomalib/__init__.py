"""anomalib's one-class anomaly models as harness rows (optional extra ``harness[anomaly]``).

``plugin = "anomalib"`` with ``model = "Patchcore"`` (any image model class that
``anomalib.models`` exports, by name) builds that model through anomalib and wraps it
as a :class:`harness.OneClassModel`: anomalib's own torch model and fitting logic
(memory bank and coreset, Gaussian fits, flows, distillation) run inside the cell, on
the normal training images. Every other option is passed to the model's constructor
and checked against its signature. Registering imports nothing heavy.
"""

from __future__ import annotations

from typing import Any

from harness import hookimpl
from harness_anomalib.catalogue import IMAGE_MODELS
from harness_anomalib.options import check


def _build(num_classes: int, **options: Any) -> Any:
    from harness_anomalib.adapter import build_anomalib_model

    return build_anomalib_model(num_classes, **options)


@hookimpl
def harness_register_models(registry: Any) -> None:
    """Register ``anomalib``."""
    registry.register("anomalib", _build, check=check,
                      description="anomalib one-class model, trained on normal images: "
                                  + ", ".join(IMAGE_MODELS))
