"""A third-party plugin package, shaped exactly as the README's "Writing a plugin" shows."""

from __future__ import annotations

from harness import hookimpl


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


def check_tiny(options: dict) -> list[tuple[str, str]]:
    problems = [(k, "unknown option of model 'toy-cnn' (allowed: width)") for k in options if k != "width"]
    width = options.get("width", 8)
    if not isinstance(width, int) or width < 1:
        problems.append(("width", f"must be a positive integer, got {width!r}"))
    return problems


@hookimpl
def harness_register_models(registry) -> None:
    registry.register("toy-cnn", tiny_cnn, description="a tiny CNN from a third-party package", check=check_tiny)
    registry.register("toy-exploding", exploding, description="raises in forward, on purpose")
