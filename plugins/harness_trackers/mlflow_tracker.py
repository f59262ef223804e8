"""The ``mlflow`` tracker: one MLflow run per cell, nested under one parent run per experiment.

Options:

* ``tracking_uri``: where runs go; default ``MLFLOW_TRACKING_URI``, else the local file
  store ``./mlruns`` (view it with ``mlflow ui --backend-store-uri ./mlruns``).
* ``experiment_name``: the MLflow experiment; default the harness experiment's name.
* ``artifacts`` (true): log the cell folder's files (predictions, metrics, maps).
* ``checkpoint`` (true): log the checkpoint too (``artifacts`` must be on).
* ``retries`` (2), ``timeout`` (10 s): per HTTP request to a tracking server, so a
  server that is down costs seconds, not minutes, before the harness warns and goes on.

Each cell's run holds the resolved config flattened to params (``model.arch``, ...),
every epoch's numbers with ``step = epoch``, the final metrics of ``metrics.json`` (at
the last epoch's step, so they are the values ``mlflow.search_runs`` shows) and tags
``harness.cell_id``, ``harness.row``, ``harness.kind``. Ensemble and TTA rows get a run
each too (``harness.kind`` ``ensemble`` / ``tta``), logged once.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

from harness import HarnessError, TrackedCell, Tracker
from harness import options as opt

OPTIONS = opt.Options(
    "tracker 'mlflow'",
    tracking_uri=opt.Str(None, nullable=True, doc="default MLFLOW_TRACKING_URI, else ./mlruns"),
    experiment_name=opt.Str(None, nullable=True, doc="default the harness experiment's name"),
    artifacts=opt.Bool(True, doc="log the cell folder's files"),
    checkpoint=opt.Bool(True, doc="log the checkpoint as well"),
    retries=opt.Int(2, min=0, doc="HTTP retries per request to a tracking server"),
    timeout=opt.Float(10.0, gt=0, doc="seconds per HTTP request"),
)
_BAD_KEY = re.compile(r"[^A-Za-z0-9_\-. /]")
PARAM_LENGTH = 6000  # MLflow's limit on a param value
CHECKPOINTS = (".safetensors", ".pt", ".ckpt")


def _key(name: str) -> str:
    return _BAD_KEY.sub("_", name)


def resolve_uri(uri: str | None) -> str:
    """A tracking URI: the option, ``MLFLOW_TRACKING_URI``, or ``./mlruns``; local paths made absolute."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or "./mlruns"
    if "://" in uri or uri.startswith(("databricks", "sqlite:", "postgresql:", "mysql:")):
        return uri
    return Path(uri.removeprefix("file:")).resolve().as_uri()


class MlflowTracker(Tracker):
    """Logs cells and derived rows to MLflow through ``MlflowClient`` (no global active run)."""

    def __init__(self, **options: Any) -> None:
        self.settings = OPTIONS.resolve(options)
        self.client: Any = None
        self.experiment_id = ""
        self.parent = ""
        self.runs: dict[str, str] = {}  # cell id -> MLflow run id
        self.last_step: dict[str, int] = {}
        self.clock = 0

    def _now(self) -> int:
        """Milliseconds, strictly increasing: the final metrics must be the latest values."""
        self.clock = max(int(time.time() * 1000), self.clock + 1)
        return self.clock

    def start_experiment(self, experiment: str, root: Path) -> None:
        uri = resolve_uri(self.settings["tracking_uri"])
        if uri.startswith("file:"):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 asks for an opt-in
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = str(self.settings["retries"])
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(int(max(1, self.settings["timeout"])))
        try:
            from mlflow.tracking import MlflowClient
        except ImportError as exc:
            raise HarnessError("the mlflow tracker needs MLflow: pip install 'harness[tracking]'") from exc
        self.client = MlflowClient(tracking_uri=uri)
        name = self.settings["experiment_name"] or experiment
        found = self.client.get_experiment_by_name(name)
        self.experiment_id = found.experiment_id if found else self.client.create_experiment(name)
        parents = self.client.search_runs([self.experiment_id], filter_string="tags.`harness.parent` = 'true'",
                                          max_results=1)
        if parents:
            self.parent = parents[0].info.run_id
            self.client.update_run(self.parent, status="RUNNING")
        else:
            run = self.client.create_run(self.experiment_id, run_name=experiment,
                                         tags={"harness.parent": "true", "harness.experiment": experiment,
                                               "harness.root": str(root)})
            self.parent = run.info.run_id

    def _run(self, cell: TrackedCell) -> str:
        if cell.id not in self.runs:
            from mlflow.entities import Param

            tags = {"mlflow.parentRunId": self.parent, "harness.cell_id": cell.id, "harness.row": cell.row,
                    "harness.kind": cell.kind, "harness.key": str(cell.config.get("key", ""))}
            run = self.client.create_run(self.experiment_id, run_name=cell.id, tags=tags)
            params = [Param(_key(k), v[:PARAM_LENGTH]) for k, v in cell.params().items()]
            for i in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
                self.client.log_batch(run.info.run_id, params=params[i:i + 100])
            self.runs[cell.id] = run.info.run_id
        return self.runs[cell.id]

    def _metrics(self, run_id: str, values: dict[str, Any], step: int) -> None:
        from mlflow.entities import Metric

        now = self._now()
        metrics = [Metric(_key(k), float(v), now, step) for k, v in values.items()
                   if isinstance(v, int | float) and not isinstance(v, bool) and v == v]
        for i in range(0, len(metrics), 1000):
            self.client.log_batch(run_id, metrics=metrics[i:i + 1000])

    def _artifacts(self, run_id: str, files: list[Path]) -> None:
        if not self.settings["artifacts"]:
            return
        for path in files:
            if self.settings["checkpoint"] or not path.name.endswith(CHECKPOINTS):
                self.client.log_artifact(run_id, str(path))

    def start_cell(self, cell: TrackedCell) -> None:
        self.runs.pop(cell.id, None)  # a cell run again gets a new MLflow run
        self._run(cell)

    def log_epoch(self, cell: TrackedCell, epoch: int, logs: dict[str, Any]) -> None:
        self.last_step[cell.id] = epoch
        self._metrics(self._run(cell), logs, epoch)

    def finish_cell(self, cell: TrackedCell, metrics: dict[str, float], files: list[Path]) -> None:
        run_id = self._run(cell)
        self._metrics(run_id, metrics, self.last_step.get(cell.id, int(metrics.get("epochs_run", 0))))
        self._artifacts(run_id, files)
        self.client.set_terminated(run_id, "FINISHED")
        self.runs.pop(cell.id, None)

    def fail_cell(self, cell: TrackedCell, error: str) -> None:
        run_id = self._run(cell)
        self.client.set_tag(run_id, "harness.error", error[:5000])
        self.client.set_terminated(run_id, "FAILED")
        self.runs.pop(cell.id, None)

    def log_row(self, cell: TrackedCell, metrics: dict[str, float], files: list[Path]) -> None:
        key = str(cell.config.get("key", ""))
        query = f"tags.`harness.cell_id` = '{cell.id}' and tags.`harness.key` = '{key}'"
        if self.client.search_runs([self.experiment_id], filter_string=query, max_results=1):
            return  # logged by an earlier publish of the same row
        run_id = self._run(cell)
        self._metrics(run_id, metrics, 0)
        self._artifacts(run_id, files)
        self.client.set_terminated(run_id, "FINISHED")
        self.runs.pop(cell.id, None)

    def end_experiment(self) -> None:
        if self.client is not None and self.parent:
            self.client.set_terminated(self.parent, "FINISHED")
