"""A third-party plugin package, shaped exactly as the README's "Writing a plugin" shows.

It registers one entry of several kinds using only the public API (``harness``,
``harness.options``): models, an ensemble, a TTA view and merge, and a scheduler with
warm restarts. ``tests/plugin_pkg/tests`` runs ``harness.testing``'s contract tests on them.
"""

from __future__ import annotations

from harness import hookimpl
from harness import options as opt
from harness_toy.extras import MedianVote, SquareCycles, invert, median

TINY = opt.Options("model 'toy-cnn'", width=opt.Int(8, min=1, doc="channels of the one convolution"))


def tiny_cnn(num_classes: int, width: int = 8):
    """A small convolutional classifier: the simplest kind of model plugin."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, num_classes),
    )


def exploding(num_classes: int):
    """A model whose forward always raises, to show how a failing cell is reported."""
    from torch import nn

    class Exploding(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(3, num_classes)

        def forward(self, images):
            raise RuntimeError("toy model exploded on purpose")

    return Exploding()


@hookimpl
def harness_register_models(registry) -> None:
    registry.register("toy-cnn", tiny_cnn, description="a tiny CNN from a third-party package", check=TINY.check,
                      example={"width": 4})
    registry.register("toy-exploding", exploding, description="raises in forward, on purpose")


@hookimpl
def harness_register_ensembles(registry) -> None:
    registry.register("toy-median", MedianVote, description="per-class median of the members, renormalised",
                      check=MedianVote.OPTIONS.check)


@hookimpl
def harness_register_tta(registry) -> None:
    registry.register("toy-invert", invert, description="TTA view: the photographic negative")
    registry.register("toy-median", median, description="TTA merge: per-class median of the views")


@hookimpl
def harness_register_schedulers(registry) -> None:
    registry.register("toy-square-cycles", SquareCycles.build, check=SquareCycles.OPTIONS.check,
                      description="lr drops to a floor halfway through each cycle, then restarts",
                      example={"cycle": 2})
