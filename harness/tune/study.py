"""Opening Optuna studies: storage, sampler, pruner, and retrying trials of dead workers."""

from __future__ import annotations

import datetime as dt
import os
import random
import socket
import time
from pathlib import Path
from typing import Any

import optuna

from harness.errors import HarnessError
from harness.metrics import lower_is_better
from harness.tune.space import Param

COUNTED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def storage_url(tune: dict[str, Any]) -> str | None:
    """The RDB URL asked for, if any: the experiment's ``storage`` or ``HARNESS_OPTUNA_STORAGE``."""
    return tune.get("storage") or os.environ.get("HARNESS_OPTUNA_STORAGE") or None


def make_storage(tune: dict[str, Any], journal: Path) -> Any:
    """An RDB storage with heartbeats when a URL is given, else a journal file."""
    url = storage_url(tune)
    if url:
        return _rdb_storage(url)
    from optuna.storages.journal import JournalFileBackend

    journal.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(journal)))


def _rdb_storage(url: str, attempts: int = 5) -> Any:
    """An RDB storage with heartbeats; retried, since workers starting together race to create the tables."""
    import warnings

    from sqlalchemy.pool import NullPool

    attempt = 0
    while True:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs={"poolclass": NullPool},  # many workers: no idle pooled connections
                    heartbeat_interval=5,
                    grace_period=20,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3),
                )
        except ImportError as exc:
            raise HarnessError(f"the Optuna storage {redact(url)} needs a database driver: "
                               "pip install 'harness[postgres]' (psycopg)") from exc
        except Exception as exc:  # noqa: BLE001 - connection problems are the user's to fix
            attempt += 1
            if attempt == attempts:
                raise HarnessError(f"cannot open the Optuna storage {redact(url)}: {exc}") from exc
            time.sleep(0.5 + random.random())


def redact(url: str) -> str:
    """``postgresql://user:secret@host/db`` without the secret."""
    head, sep, tail = url.partition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, creds = head.partition("//")
    return f"{scheme}//{creds.split(':', 1)[0]}:***@{tail}"


def make_sampler(tune: dict[str, Any], params: list[Param], seed: int) -> optuna.samplers.BaseSampler:
    name = tune.get("sampler", "tpe")
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if name == "grid":
        return optuna.samplers.GridSampler({p.path: grid_values(p) for p in params}, seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(2, tune.get("n_trials", 10) // 3)))


def grid_values(param: Param) -> list[Any]:
    if param.choices is not None:
        return list(param.choices)
    values, value = [], param.low
    while value <= param.high + 1e-12:
        values.append(value)
        value = value + param.step
    return values


def make_pruner(tune: dict[str, Any]) -> optuna.pruners.BasePruner:
    spec = tune.get("pruner", "median")
    spec = {"name": spec} if isinstance(spec, str) else dict(spec)
    name = spec.pop("name")
    startup = spec.get("n_startup_trials", 2)
    warmup = spec.get("n_warmup_steps", 1)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=warmup)
    if name == "percentile":
        return optuna.pruners.PercentilePruner(spec.get("percentile", 25.0), n_startup_trials=startup,
                                               n_warmup_steps=warmup)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=spec.get("min_resource", 1),
                                              reduction_factor=spec.get("reduction_factor", 3))
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=spec.get("min_resource", 1),
                                                      reduction_factor=spec.get("reduction_factor", 3))
    return optuna.pruners.NopPruner()


def direction(tune: dict[str, Any]) -> str:
    return tune.get("direction") or ("minimize" if lower_is_better(tune["metric"]) else "maximize")


def open_study(name: str, tune: dict[str, Any], params: list[Param], seed: int, journal: Path) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        study_name=name,
        storage=make_storage(tune, journal),
        sampler=make_sampler(tune, params, seed),
        pruner=make_pruner(tune),
        direction=direction(tune),
        load_if_exists=True,
    )


def owner() -> dict[str, Any]:
    """Who runs a trial, so a later run can tell a dead worker's trial from a live one's."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


OWNERLESS_GRACE = 10.0  # seconds: a trial names its owner within milliseconds of being created


def _alive(trial: optuna.trial.FrozenTrial, now: dt.datetime | None = None) -> bool:
    """Whether a RUNNING trial's worker may still be running it.

    A trial without an owner was cut short between its creation and the objective's first
    line (a kill at that moment); past a short grace nobody will ever finish it.
    """
    attrs = trial.user_attrs
    if "pid" not in attrs:
        started = trial.datetime_start  # optuna's naive local time
        now = dt.datetime.now() if now is None else now
        return started is None or (now - started).total_seconds() < OWNERLESS_GRACE
    if attrs.get("host") != socket.gethostname():
        return True  # another machine: its RDB heartbeat decides, not us
    try:
        os.kill(int(attrs["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def retry_dead_trials(study: optuna.Study) -> int:
    """Fail RUNNING trials whose worker process on this host is gone, and enqueue them again.

    Heartbeats cover RDB storages; this covers the journal file after a kill.
    """
    retried = 0
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if _alive(trial):
            continue
        study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number}, skip_if_exists=False)
        retried += 1
    return retried


def counts(study: optuna.Study) -> dict[str, int]:
    trials = study.get_trials(deepcopy=False)
    states = [t.state.name.lower() for t in trials if not t.user_attrs.get("excess")]
    return {s: states.count(s) for s in ("complete", "pruned", "fail", "running", "waiting")}
