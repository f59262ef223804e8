"""A single-model row as ONNX or TorchScript, with its preprocessing in a sidecar JSON.

The exported graph takes ``images``: float32 ``[B, 3, S, S]`` RGB on the 0-255 scale, the
image already decoded and resized to ``S x S`` with the row's filter (exactly what the
dataset cache held), and returns ``probabilities`` ``[B, K]``. Everything after that
resize happens inside the graph, as in the row's evaluation: the centre crop of
``crop_pct`` (when below 1), the mean/std normalisation, the model and the softmax. The
sidecar (``model.onnx.json`` beside ``model.onnx``) lists the classes, the input and
output, and those steps with their constants.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

FORMATS = ("onnx", "torchscript")
OPSET = 17


def sidecar_path(out: Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".json")


def _resample_matrix(n_in: int, n_out: int, mode: str):  # noqa: ANN202 - torch stays lazy
    """``[n_out, n_in]``: what ``F.interpolate`` does along one axis (every mode used here is separable).

    Exported as a constant, so ONNX runtimes need no resize operator whose edge handling
    may differ from torch's.
    """
    import torch
    import torch.nn.functional as F

    kwargs = {"align_corners": False} if mode in ("bilinear", "bicubic") else {}
    basis = torch.eye(n_in, dtype=torch.float64)[:, None, :, None]  # [n_in, 1, n_in, 1] one unit row each
    out = F.interpolate(basis, size=(n_out, 1), mode=mode, **kwargs)  # [n_in, 1, n_out, 1]
    return out[:, 0, :, 0].T.float().contiguous()


def _wrapper(node: Any):  # noqa: ANN202 - torch stays lazy
    import torch

    from harness.model import Batch, split_outputs
    from harness.train.evaluate import forward

    pre, size = node.pre, node.image_size
    side = max(1, round(size * pre.crop_pct))  # harness.Preprocessing.eval_crop with the sizes fixed
    top = (size - side) // 2
    resample = _resample_matrix(side, size, pre.torch_mode)  # [S, side]

    def _crop(images: torch.Tensor) -> torch.Tensor:
        if pre.crop_pct >= 1.0:
            return images
        window = images[..., top:top + side, top:top + side]
        out = resample @ window @ resample.T  # F.interpolate of the crop, as two fixed matrix products
        return out.round().clamp(0, 255)  # whole pixel values, as the uint8 crop of the evaluation

    class Exported(torch.nn.Module):
        """Normalised images to class probabilities, as the row's evaluation computed them."""

        def __init__(self) -> None:
            super().__init__()
            self.model = node.model

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            """``[B, 3, S, S]`` float 0-255 to ``[B, K]`` probabilities."""
            x = node.pre.normalize(_crop(images) / 255.0)
            labels = torch.zeros(images.shape[0], dtype=torch.int64, device=images.device)
            batch = Batch(x, labels, None, None, training=False, epoch=node.num_epochs - 1,
                          num_epochs=node.num_epochs, progress=1.0)
            logits, _ = split_outputs(forward(self.model, batch))
            return torch.softmax(logits.float(), dim=1)

    return Exported().eval()


def sidecar(predictor: Any, fmt: str, out: Path) -> dict[str, Any]:
    """What a deployment needs besides the graph."""
    node = predictor.node
    pre = node.preprocessing
    s = node.image_size
    return {
        "format": fmt,
        "file": Path(out).name,
        "row": predictor.row,
        "cell": predictor.record.id,
        "classes": list(predictor.classes),
        "input": {"name": "images", "shape": ["batch", 3, s, s], "dtype": "float32", "layout": "NCHW, RGB",
                  "scale": "0-255, not normalised"},
        "output": {"name": "probabilities", "shape": ["batch", len(predictor.classes)], "dtype": "float32"},
        "preprocessing": {"image_size": s, "resize": node.resize, "mean": pre["mean"], "std": pre["std"],
                          "crop_pct": pre.get("crop_pct", 1.0), "crop_interpolation": pre.get("interpolation")},
        "steps": [
            "decode the file as RGB (grey replicated; 16-bit scaled to 8 bits)",
            f"resize to {s}x{s} with PIL's {node.resize} filter (the whole image, no aspect-preserving crop)",
            "feed the pixels as float32 NCHW on the 0-255 scale",
            "inside the graph: the centre crop_pct crop resized back with crop_interpolation (when crop_pct < 1), "
            "(x / 255 - mean) / std, the model, softmax",
        ],
    }


def export_row(predictor: Any, out: str | Path, fmt: str = "onnx") -> tuple[Path, Path]:
    """Write the row's model to ``out`` and its sidecar JSON beside it.

    Args:
        predictor: a :class:`harness.Predictor` of a single-model row.
        out: the model file (``model.onnx`` / ``model.pt``).
        fmt: ``"onnx"`` (needs ``pip install 'harness[export]'``) or ``"torchscript"``.

    Returns:
        The model file and the sidecar file.

    Raises:
        HarnessError: an ensemble or TTA row, an unknown format, or ONNX not installed.
    """
    import torch

    from harness.predict.nodes import ModelNode
    from harness.store import atomic_write_json

    if fmt not in FORMATS:
        raise HarnessError(f"unknown export format {fmt!r}; choose {' or '.join(FORMATS)}")
    if not isinstance(predictor.node, ModelNode):
        raise HarnessError(f"{predictor.row!r} is an ensemble or TTA row; export one of its models (a cell) instead")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    node = predictor.node
    model = _wrapper(node).to("cpu")
    example = torch.zeros(2, 3, node.image_size, node.image_size)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        if fmt == "onnx":
            try:
                import onnx  # noqa: F401 - the legacy exporter needs it
            except ImportError:
                raise HarnessError("ONNX export needs the onnx package: pip install 'harness[export]'") from None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the TorchScript-based exporter's deprecation and tracer notes
                torch.onnx.export(model, (example,), str(tmp), dynamo=False, input_names=["images"],
                                  output_names=["probabilities"], opset_version=OPSET,
                                  dynamic_axes={"images": {0: "batch"}, "probabilities": {0: "batch"}})
        else:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                traced = torch.jit.trace(model, example, check_trace=False)
            traced.save(str(tmp))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    side = sidecar_path(out)
    atomic_write_json(side, sidecar(predictor, fmt, out))
    return out, side


def load_sidecar(path: str | Path) -> dict[str, Any]:
    """Read a sidecar JSON."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
