"""What a row runs on new images: one model, a TTA row's views, or an ensemble's members.

Each node maps decoded uint8 batches (one per input size its models need) to ``[B, K]``
probabilities, computed the way the run computed the stored ones: the checkpoint in
eval mode, ``forward_batch`` when the model has one, softmax in float then float64;
TTA views in one batched forward and the row's merge; an ensemble's members combined
by the fitted method restored from ``ensemble_state.npz`` (or, for a row stored before
that file existed, fitted again on the members' stored validation predictions, which
gives the same method).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from harness.errors import HarnessError
from harness.preprocess import Preprocessing
from harness.store import CellRecord, read_cell

SizeKey = tuple[int, str]  # (image_size, resize) a model's inputs are decoded at
Batches = dict[SizeKey, torch.Tensor]  # key to [B, 3, S, S] uint8
ENSEMBLE_STATE = "ensemble_state.npz"


def _dataset_default(config: dict[str, Any], registries: dict[str, Any], key: str, fallback: Any) -> Any:
    """A dataset option as the cell used it: its config, else the plugin's default."""
    dataset = config.get("dataset", {})
    if key in dataset:
        return dataset[key]
    try:
        factory = registries["datasets"].get(dataset["plugin"])
        default = inspect.signature(factory).parameters[key].default
    except (KeyError, TypeError, ValueError, HarnessError):
        return fallback
    return fallback if default is inspect.Parameter.empty else default


class Normalize:
    """A row's normalisation for uint8 batches and for uint8-range float batches (TTA views)."""

    def __init__(self, preprocessing: Preprocessing, device: torch.device):
        self.preprocessing, self.device = preprocessing, device

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        images = images.to(self.device)
        if images.dtype.is_floating_point:
            images = images / 255.0  # views work on 0-255 floats; Preprocessing reads floats on the 0-1 scale
        return self.preprocessing.normalize(images)


def preprocessing_dict(preprocessing: Preprocessing, image_size: int, resize: str) -> dict[str, Any]:
    """Mean, std (0-1 scale), evaluation crop and its interpolation, the decode resize and input size."""
    out = dict(preprocessing.to_dict())
    out.update({"resize": resize, "input_size": [3, image_size, image_size]})
    return out


def _inference_options(model: dict[str, Any]) -> dict[str, Any]:
    """Model options for rebuilding from a checkpoint: nothing fetched or loaded besides it."""
    out = {}
    for key, value in model.items():
        if key == "weights":
            continue  # initial weights: the checkpoint replaces them
        out[key] = False if (key == "pretrained" or key.endswith("_pretrained")) and value is True else value
    return out


class Outputs(NamedTuple):
    """What a model node gives for a batch."""

    proba: np.ndarray  # [B, K]
    maps: dict[str, np.ndarray]  # name to [B, S, S]
    scores: np.ndarray | None  # [B] anomaly scores of a one-class row


def _one_class(record: CellRecord, model: Any, classes: tuple[str, ...], image_size: int) -> tuple[Any, int]:
    """``(calibration, defect index)`` of a one-class row (its model built for ``image_size``), else ``(None, -1)``."""
    from harness.anomaly.model import OneClassModel

    if not isinstance(model, OneClassModel):
        return None, -1
    from harness.anomaly.operating import ScoreCalibration
    from harness.store import read_json
    from harness.train.one_class import normal_index

    report = record.path / "threshold.json"
    if not report.is_file():
        raise HarnessError(f"{record.path}: a one-class row without threshold.json cannot turn scores into classes")
    model.setup(image_size)  # its layers exist once the input size is known; the checkpoint fills them
    return ScoreCalibration.from_dict(read_json(report)["calibration"]), 1 - normal_index(classes)


class ModelNode:
    """One trained cell: its checkpoint, input size and normalisation."""

    def __init__(self, record: CellRecord, registries: dict[str, Any], device: torch.device):
        from safetensors.torch import load_file

        from harness.train.components import build_model

        config = record.config
        self.record = record
        self.classes = tuple(config.get("classes", ()))
        if not self.classes or "model" not in config:
            raise HarnessError(f"{record.path}: config.json has no classes or model; is this a trained cell?")
        checkpoint = record.path / "checkpoint.safetensors"
        if not checkpoint.is_file():
            raise HarnessError(f"{record.path}: no checkpoint.safetensors to predict with")
        cfg = {**config, "model": _inference_options(config["model"])}
        model = build_model(cfg, len(self.classes), registries)
        self.image_size = int(_dataset_default(config, registries, "image_size", 64))
        self.calibration, self.defect = _one_class(record, model, self.classes, self.image_size)
        try:
            model.load_state_dict(load_file(str(checkpoint)))
        except RuntimeError as exc:
            raise HarnessError(f"{checkpoint} does not fit the model its config.json describes: {exc}") from None
        self.model = model.to(device).eval()
        self.device = device
        self.resize = str(_dataset_default(config, registries, "resize", "bilinear"))
        self.num_epochs = int(config.get("train", {}).get("epochs", 1))
        self.pre = Preprocessing.from_config(config)  # a cell written before the record: ImageNet, no crop
        self.preprocessing = preprocessing_dict(self.pre, self.image_size, self.resize)
        self.normalize = Normalize(self.pre, device)

    @property
    def keys(self) -> set[SizeKey]:
        return {(self.image_size, self.resize)}

    def models(self) -> list[ModelNode]:
        return [self]

    @property
    def one_class(self) -> bool:
        """A one-class (anomaly) row: scores calibrated into probabilities by its ``threshold.json``."""
        return self.calibration is not None

    @torch.inference_mode()
    def outputs(self, batches: Batches, want_maps: bool = False) -> Outputs:
        """``[B, K]`` float64 probabilities, maps resized to the input size when asked, anomaly scores."""
        from harness.model import Batch, split_outputs
        from harness.train.evaluate import _resize_maps, forward

        images, _ = self.pre.eval_crop(batches[(self.image_size, self.resize)])  # as the run evaluated
        images = images.to(self.device)
        if self.one_class:
            score, anomaly_map = self.model.score(self.normalize(images))
            scores = score.float().cpu().numpy().astype(np.float64)
            maps = {"anomaly": anomaly_map} if want_maps and anomaly_map is not None else {}
            return Outputs(self.calibration.proba(scores, self.defect), _resize_maps(maps, self.image_size), scores)
        labels = torch.zeros(len(images), dtype=torch.int64, device=self.device)
        batch = Batch(self.normalize(images), labels, None, None, training=False, epoch=self.num_epochs - 1,
                      num_epochs=self.num_epochs, progress=1.0)
        logits, maps = split_outputs(forward(self.model, batch))
        proba = torch.softmax(logits.float(), dim=1).cpu().numpy().astype(np.float64)
        return Outputs(proba, _resize_maps(maps, self.image_size) if want_maps and maps else {}, None)

    def proba(self, batches: Batches) -> np.ndarray:
        return self.outputs(batches)[0]


class TTANode:
    """A model seen through test-time views, merged by the row's rule."""

    def __init__(self, source: ModelNode, views: list[str], merge: str, registries: dict[str, Any]):
        from harness.tta import resolve

        self.source, self.views, self.merge_name = source, list(views), merge
        self.classes = source.classes
        self.registries = registries
        self.merge = resolve(merge, "merge", registries)
        for view in self.views:
            resolve(view, "view", registries)  # an unknown view fails now, not at the first batch

    @property
    def keys(self) -> set[SizeKey]:
        return self.source.keys

    def models(self) -> list[ModelNode]:
        return [self.source]

    def proba(self, batches: Batches) -> np.ndarray:
        from harness.tta import predict_views

        s = self.source
        images, _ = s.pre.eval_crop(batches[(s.image_size, s.resize)])
        if s.one_class:  # every view scored and calibrated, as the cell stored its views
            from harness.train.one_class import tta_scores
            from harness.train.tensors import SplitTensors

            data = SplitTensors(images, torch.zeros(len(images), dtype=torch.int64), None, None,
                                tuple(map(str, range(len(images)))))
            scores = tta_scores(s.model, data, self.views, s.normalize, s.device, len(images), self.registries)
            views = np.stack([s.calibration.proba(v, s.defect) for v in scores])
        else:
            views = predict_views(s.model, images, self.views, s.normalize, len(images), s.device, self.registries)
        return np.asarray(self.merge(views), dtype=np.float64)


class EnsembleNode:
    """Members combined by a fitted ensemble method, or averaged (k-fold rows)."""

    def __init__(self, record: CellRecord, members: list[Any], method: Any | None):
        self.record, self.members, self.method = record, members, method
        self.classes = members[0].classes
        for m in members[1:]:
            if m.classes != self.classes:
                raise HarnessError(f"{record.id}: members disagree on classes: {self.classes} vs {m.classes}")

    @property
    def keys(self) -> set[SizeKey]:
        return set().union(*(m.keys for m in self.members))

    def models(self) -> list[ModelNode]:
        return [leaf for m in self.members for leaf in m.models()]

    def proba(self, batches: Batches) -> np.ndarray:
        stack = np.stack([m.proba(batches) for m in self.members])  # [M, B, K]
        if self.method is None:
            return stack.mean(axis=0)
        return np.asarray(self.method.predict_proba(stack), dtype=np.float64)


def build_node(record: CellRecord, run_root: Path, registries: dict[str, Any], device: torch.device) -> Any:
    """The node that reproduces ``record``'s predictions (recursively for derived rows)."""
    kind = record.config.get("kind", "model")
    if kind == "tta":
        source = _member(run_root, record.config["source"], record)
        return TTANode(ModelNode(source, registries, device), record.config["views"], record.config["merge"],
                       registries)
    if kind != "ensemble":
        return ModelNode(record, registries, device)
    source = record.config.get("source", "cells")
    if source == "snapshots":
        raise HarnessError(f"{record.id}: a snapshot ensemble stores its snapshots' predictions, not their weights, "
                           "so it cannot predict new images; use the cell it was built from")
    members = [_member(run_root, m, record) for m in record.config.get("members", [])]
    if not members:
        raise HarnessError(f"{record.id}: the ensemble lists no members")
    nodes = [build_node(m, run_root, registries, device) for m in members]
    if source == "folds":
        return EnsembleNode(record, nodes, None)
    return EnsembleNode(record, nodes, _method(record, members, run_root, registries))


def _member(run_root: Path, member_id: str, parent: CellRecord) -> CellRecord:
    member = read_cell(Path(run_root) / member_id)
    if member.status != "done":
        raise HarnessError(f"{parent.id}: member {member_id} is {member.status} (looked in {run_root})")
    return member


def _method(record: CellRecord, members: list[CellRecord], run_root: Path, registries: dict[str, Any]) -> Any:
    """The row's fitted ensemble method: its stored state, else fitted again on the same stored data."""
    from harness.ensembles.engine import build_method

    method = build_method(registries, record.config["plugin"], dict(record.config.get("options", {})))
    state_file = record.path / ENSEMBLE_STATE
    if state_file.is_file() and callable(getattr(method, "set_state", None)):
        with np.load(state_file, allow_pickle=False) as data:
            return method.set_state({k: data[k] for k in data.files})
    from harness.ensembles.members import load_members
    from harness.store import Run

    data = load_members(Run(run_root), members)
    split = record.config.get("fit_split", data.fit_split)
    return method.fit(data.proba[split], data.labels[split])
