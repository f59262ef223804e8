"""Every hook a plugin can implement. Imported by the plugin manager only.

Registration hooks receive a :class:`harness.Registry` and return ``None``; the host
records which plugin registered what. Each hook below says what its factories return,
naming the public type (exported from ``harness``); ``harness.testing`` checks it. Lifecycle hooks observe a matrix run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import jinja2

    from harness import Registry
    from harness.matrix import Cell

hookspec = pluggy.HookspecMarker("harness")


@hookspec
def harness_register_models(registry: Registry) -> None:
    """Register model factories.

    A model factory is called as ``factory(num_classes=..., **options)`` and returns an
    ``nn.Module`` whose forward maps ``[B, C, H, W]`` float images to ``[B, K]`` logits,
    or to a dict with ``"logits"`` plus optional ``"maps"`` (name to ``[B, h, w]``).
    It may implement ``forward_batch(batch)`` (a :class:`harness.Batch`) and
    ``compute_loss(outputs, batch)``. Checked by ``harness.testing.check_model``.

    Args:
        registry: call ``registry.register(name, factory)`` once per model.

    Returns:
        None. Called once when the plugin manager is built.
    """


@hookspec
def harness_register_datasets(registry: Registry) -> None:
    """Register dataset factories.

    A dataset factory is called as ``factory(image_size=..., **options)`` and returns a
    :class:`harness.Dataset` of three :class:`harness.Split` (train, val, test).
    Checked by ``harness.testing.check_dataset``.

    Args:
        registry: call ``registry.register(name, factory)`` once per dataset.

    Returns:
        None. Called once when the plugin manager is built.
    """


@hookspec
def harness_register_losses(registry: Registry) -> None:
    """Register loss factories.

    A loss factory is called as ``factory(class_counts=..., **options)`` (train-split
    counts per class, a list of ints) and returns a callable (usually an ``nn.Module``)
    ``loss(logits [B, K], labels [B]) -> scalar Tensor``. Checked by
    ``harness.testing.check_loss``.

    Args:
        registry: call ``registry.register(name, factory)`` once per loss.

    Returns:
        None. Called once when the plugin manager is built.
    """


@hookspec
def harness_register_optimizers(registry: Registry) -> None:
    """Register optimizer factories.

    An optimizer factory is called as ``factory(params, **options)`` and returns a
    ``torch.optim.Optimizer``. Checked by ``harness.testing.check_optimizer``.

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
    :class:`harness.Schedule`: the torch scheduler, whether it steps per ``"epoch"`` or
    per ``"step"``, and for warm-restart schedules the ``cycle_end_epochs`` where
    snapshot ensembles take a member. Checked by ``harness.testing.check_scheduler``.

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
    keys become columns such as ``test.<key>``. Checked by
    ``harness.testing.check_metric``. A family registered with ``check=`` (see
    :mod:`harness.options`) takes options from the experiment's ``[metrics.<name>]``
    table, as keyword arguments ``fn(predictions, **options)``; its defaults are the
    values computed while a cell trains.

    Args:
        registry: call ``registry.register(name, fn)`` once per metric family.

    Returns:
        None. Called once when the plugin manager is built.
    """


@hookspec
def harness_register_ensembles(registry: Registry) -> None:
    """Register ensemble methods that combine stored predictions.

    Register a subclass of :class:`harness.Ensemble` (the class itself): the engine
    reads its ``source`` (``"cells"``, ``"folds"`` or ``"snapshots"``), builds it as
    ``cls(**options)``, calls ``fit(proba [M, N, K], labels [N])`` on validation or
    out-of-fold probabilities and ``predict_proba(proba [M, N, K]) -> [N, K]`` on val
    and test; ``weights_`` (one per member, or None) is recorded. Checked by
    ``harness.testing.check_ensemble``.

    Args:
        registry: call ``registry.register(name, factory)`` once per method.

    Returns:
        None. Called once when the plugin manager is built.
    """


@hookspec
def harness_register_tta(registry: Registry) -> None:
    """Register test-time augmentation views and merges.

    A factory ``factory(**options)`` returns either a :class:`harness.TTAView` (float
    images ``[B, C, H, W]`` in ``[0, 255]`` to ``[forwards * B, C, H, W]``) or a
    :class:`harness.TTAMerge` (``[V, N, K]`` probabilities to ``[N, K]``); the core
    tells them apart by type. Checked by ``harness.testing.check_tta_view`` and
    ``check_tta_merge``.

    Args:
        registry: call ``registry.register(name, factory)`` once per view or merge.

    Returns:
        None. Called once when the plugin manager is built.
    """


@hookspec
def harness_register_trackers(registry: Registry) -> None:
    """Register experiment trackers (MLflow, TensorBoard, ...).

    A tracker factory is called as ``factory(**options)`` with the options of a
    ``[[tracker]]`` block and returns a :class:`harness.Tracker`; the core calls its
    methods at experiment start, cell start, each epoch, cell finish (metrics and the
    cell folder's files), cell error, each derived row and experiment end. A tracker that
    raises is warned about once and left out for the rest of the run. Checked by
    ``harness.testing.check_tracker``.

    Args:
        registry: call ``registry.register(name, factory)`` once per tracker.

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
def harness_fit_start(cell: Cell, epochs: int) -> None:
    """Called when a cell's model is built and about to be fitted (after any resume point is found).

    Args:
        cell: the running cell.
        epochs: how many epochs the fit runs in all: ``train.epochs``, or 1 for a one-class
            model fitted in one pass (:meth:`harness.OneClassModel.planned_epochs`).

    Returns:
        None.
    """


@hookspec
def harness_fit_end(cell: Cell, history: list[dict[str, Any]]) -> None:
    """Called when fitting ends (last epoch, early stop, or a one-class model's fit), before evaluation.

    Args:
        cell: the running cell.
        history: one dict per epoch, as written to ``history.json``.

    Returns:
        None.
    """


@hookspec
def harness_validation_start(cell: Cell, split: str, epoch: int | None) -> None:
    """Called before a split is predicted: ``val`` after each epoch, then ``val`` and ``test`` at the end.

    Args:
        cell: the running cell.
        split: ``"val"`` or ``"test"``.
        epoch: the epoch just trained (from 1), or None for the final evaluation of the
            selected weights.

    Returns:
        None.
    """


@hookspec
def harness_validation_end(cell: Cell, split: str, epoch: int | None, metrics: dict[str, float]) -> None:
    """Called once a split's predictions are scored.

    Args:
        cell: the running cell.
        split: ``"val"`` or ``"test"``.
        epoch: as in :func:`harness_validation_start`.
        metrics: that split's metrics, keys prefixed with ``<split>.``.

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
