"""Every hook a plugin can implement. Imported by the plugin manager only.

Registration hooks receive a :class:`harness.registry.Registry` and return ``None``;
the host records which plugin registered what. Lifecycle hooks observe a matrix run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import jinja2

    from harness.matrix import Cell
    from harness.registry import Registry

hookspec = pluggy.HookspecMarker("harness")


@hookspec
def harness_register_models(registry: Registry) -> None:
    """Register model factories.

    A model factory is called as ``factory(num_classes=..., **options)`` and returns an
    ``nn.Module`` whose forward maps ``[B, C, H, W]`` float images to ``[B, K]`` logits,
    or to a dict with ``"logits"`` plus optional ``"maps"`` (name to ``[B, h, w]``).
    See ``harness.model`` for the optional ``forward_batch`` and ``compute_loss``.

    Args:
        registry: call ``registry.register(name, factory)`` once per model.

    Returns:
        None. Called once when the plugin manager is built.
    """


@hookspec
def harness_register_datasets(registry: Registry) -> None:
    """Register dataset factories.

    A dataset factory is called as ``factory(image_size=..., **options)`` and returns a
    :class:`harness.data.Dataset` with train, val and test splits.

    Args:
        registry: call ``registry.register(name, factory)`` once per dataset.

    Returns:
        None. Called once when the plugin manager is built.
    """


@hookspec
def harness_register_losses(registry: Registry) -> None:
    """Register loss factories.

    A loss factory is called as ``factory(class_counts=..., **options)`` (train-split
    counts per class, a list of ints) and returns ``loss(logits, labels) -> Tensor``.

    Args:
        registry: call ``registry.register(name, factory)`` once per loss.

    Returns:
        None. Called once when the plugin manager is built.
    """


@hookspec
def harness_register_optimizers(registry: Registry) -> None:
    """Register optimizer factories.

    An optimizer factory is called as ``factory(params, **options)`` and returns a
    ``torch.optim.Optimizer``.

    Args:
        registry: call ``registry.register(name, factory)`` once per optimizer.

    Returns:
        None. Called once when the plugin manager is built.
    """


@hookspec
def harness_register_schedulers(registry: Registry) -> None:
    """Register learning-rate scheduler factories.

    A scheduler factory is called as
    ``factory(optimizer, epochs=..., steps_per_epoch=..., **options)`` and returns a
    :class:`harness.train.Schedule` (the torch scheduler and whether it steps per
    ``"epoch"`` or per ``"step"``).

    Args:
        registry: call ``registry.register(name, factory)`` once per scheduler.

    Returns:
        None. Called once when the plugin manager is built.
    """


@hookspec
def harness_register_metrics(registry: Registry) -> None:
    """Register metric functions computed from stored predictions.

    A metric function is called as ``fn(predictions)`` with a
    :class:`harness.predictions.PredictionSet` and returns a ``dict[str, float]``; its
    keys become columns such as ``test.<key>``.

    Args:
        registry: call ``registry.register(name, fn)`` once per metric family.

    Returns:
        None. Called once when the plugin manager is built.
    """


@hookspec
def harness_register_ensembles(registry: Registry) -> None:
    """Register ensemble methods that combine stored predictions.

    Args:
        registry: call ``registry.register(name, factory)`` once per method.

    Returns:
        None. Called once when the plugin manager is built.
    """


@hookspec
def harness_register_tta(registry: Registry) -> None:
    """Register test-time augmentation views and merges.

    Args:
        registry: call ``registry.register(name, factory)`` once per view or merge.

    Returns:
        None. Called once when the plugin manager is built.
    """


@hookspec
def harness_cell_start(cell: Cell) -> None:
    """Called before a matrix cell starts training.

    Args:
        cell: the cell about to run (``cell.id``, ``cell.config``).

    Returns:
        None.
    """


@hookspec
def harness_epoch_end(cell: Cell, epoch: int, logs: dict[str, Any]) -> None:
    """Called after each epoch's validation.

    Args:
        cell: the running cell.
        epoch: the epoch just finished, counted from 1.
        logs: ``train.loss``, ``val.*`` metrics and ``lr`` for this epoch.

    Returns:
        None.
    """


@hookspec
def harness_cell_finish(cell: Cell, metrics: dict[str, float]) -> None:
    """Called once a cell's results have landed in the run store.

    Args:
        cell: the finished cell.
        metrics: its final ``val.*`` and ``test.*`` metrics.

    Returns:
        None.
    """


@hookspec
def harness_cell_error(cell: Cell, error: BaseException) -> None:
    """Called when a cell fails; the failure is recorded and the matrix goes on.

    Args:
        cell: the failed cell.
        error: the exception that ended it.

    Returns:
        None.
    """


@hookspec
def harness_prepare_jinja2_environment(env: jinja2.Environment) -> None:
    """Adjust the leaderboard's jinja2 environment (filters, globals).

    Args:
        env: the environment, autoescaping, before any template is loaded.

    Returns:
        None.
    """
