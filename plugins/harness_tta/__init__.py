"""Built-in test-time augmentation views and merges.

Every factory returns a :class:`harness.TTAView` (``identity`` ... ``five_crop``) or a
:class:`harness.TTAMerge` (``mean`` ... ``tsharpen``). Registering imports neither torch
nor numpy's heavy parts: views import torch when applied.
"""

from __future__ import annotations

from typing import Any

from harness import hookimpl
from harness import options as opt
from harness_tta.merges import MERGES
from harness_tta.views import VIEWS

CHECKS = {
    "scale": opt.Options("TTA view 'scale'", factor=opt.Float(0.9, gt=0, max=1, doc="kept fraction of each side")),
    "brightness": opt.Options("TTA view 'brightness'", factor=opt.Float(1.1, gt=0, max=10)),
    "five_crop": opt.Options("TTA view 'five_crop'", crop=opt.Float(0.875, gt=0, max=1, doc="crop side / image side")),
    "tsharpen": opt.Options("TTA merge 'tsharpen'", t=opt.Float(0.5, gt=0, max=10, doc="power of each view's probabilities")),
}


@hookimpl
def harness_register_tta(registry: Any) -> None:
    """Register the views (``identity`` ... ``five_crop``) and merges (``mean`` ... ``tsharpen``)."""
    for kind, entries in (("view", VIEWS), ("merge", MERGES)):
        for name, factory in entries.items():
            registry.register(name, factory, check=CHECKS.get(name, opt.Options(f"TTA {kind} {name!r}")).check,
                              description=f"TTA {kind}: {(factory.__doc__ or '').strip().splitlines()[0]}")
