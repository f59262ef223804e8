"""A small run with the mlflow and tensorboard trackers, read back with their own libraries."""

from __future__ import annotations

import json
import socket

import pytest

from harness import hookimpl
from harness.config.validate import load_experiment
from harness.errors import ConfigError
from harness.runner import publish, run_experiment
from harness.testing import tracker_contract_tests

mlflow = pytest.importorskip("mlflow")

test_tracker_contracts = tracker_contract_tests()

MODELS = """
[[matrix.model]]
plugin = "timm"
arch = ["resnet10t", "test_resnet"]

[[ensemble]]
plugin = "soft-voting"
"""


def _flat(config: dict, prefix: str = "") -> dict[str, str]:
    out = {}
    for key, value in config.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            out.update(_flat(value, name))
        else:
            out[name] = value if isinstance(value, str) else json.dumps(value)
    return out


@pytest.fixture
def tracked_run(tiny_experiment, plugins, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    store, logs = tmp_path / "mlruns", tmp_path / "tb"
    trackers = (f'\n[[tracker]]\nplugin = "mlflow"\ntracking_uri = "{store}"\n'
                f'\n[[tracker]]\nplugin = "tensorboard"\nlog_dir = "{logs}"\n')
    path = tiny_experiment(MODELS + trackers, name="tracked", epochs=2)
    experiment = load_experiment(path, plugins)
    the_plan, root = run_experiment(experiment, plugins, runs_dir=tmp_path / "runs", show_progress=False,
                                    echo=lambda line: None)
    publish(experiment, the_plan, root, plugins, tmp_path / "board")
    return the_plan, root, store, logs


def test_mlflow_and_tensorboard_hold_every_cell(tracked_run):
    _check_mlflow(*tracked_run)
    _check_tensorboard(*tracked_run)


def _check_mlflow(the_plan, root, store, logs):
    mlflow.set_tracking_uri(store.as_uri())
    runs = mlflow.search_runs(experiment_names=["tracked"], output_format="list")
    parents = [r for r in runs if r.data.tags.get("harness.parent") == "true"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    by_id = {r.data.tags.get("harness.cell_id"): r for r in runs if "harness.cell_id" in r.data.tags}
    assert set(by_id) >= {c.id for c in the_plan.cells}
    client = mlflow.tracking.MlflowClient(store.as_uri())
    for cell in the_plan.cells:
        run = by_id[cell.id]
        config = json.loads((root / cell.id / "config.json").read_text())
        metrics = json.loads((root / cell.id / "metrics.json").read_text())
        history = json.loads((root / cell.id / "history.json").read_text())
        assert run.info.status == "FINISHED"
        assert run.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert run.data.tags["harness.row"] == cell.row
        assert run.data.params == _flat(config)
        assert run.data.params["model.arch"] == cell.config["model"]["arch"]
        numeric = {k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        assert numeric and {k: run.data.metrics[k] for k in numeric} == pytest.approx(numeric, rel=1e-12)
        losses = [m.value for m in sorted(client.get_metric_history(run.info.run_id, "train.loss"),
                                          key=lambda m: m.step)]
        assert losses == pytest.approx([h["train.loss"] for h in history])
        assert [m.step for m in client.get_metric_history(run.info.run_id, "train.loss")] == [1, 2]
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"checkpoint.safetensors", "predictions_test.csv", "predictions_val.csv", "metrics.json"} <= artifacts
    ensembles = [r for r in runs if r.data.tags.get("harness.kind") == "ensemble"]
    assert len(ensembles) == 1
    folder = root / ensembles[0].data.tags["harness.cell_id"]
    expected = json.loads((folder / "metrics.json").read_text())
    assert ensembles[0].data.metrics["test.f1_macro"] == pytest.approx(expected["test.f1_macro"])


def _check_tensorboard(the_plan, root, store, logs):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for cell in the_plan.cells:
        events = EventAccumulator(str(logs / "tracked" / cell.id))
        events.Reload()
        history = json.loads((root / cell.id / "history.json").read_text())
        metrics = json.loads((root / cell.id / "metrics.json").read_text())
        scalars = events.Scalars("train.loss")
        assert [s.step for s in scalars] == [1, 2]
        assert [s.value for s in scalars] == pytest.approx([h["train.loss"] for h in history], rel=1e-6)
        assert events.Scalars("val.loss")[-1].value == pytest.approx(history[-1]["val.loss"], rel=1e-6)
        assert events.Scalars("final/test.f1_macro")[0].value == pytest.approx(metrics["test.f1_macro"], rel=1e-6)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_tracking_server_warns_once_and_the_run_finishes(tiny_experiment, plugins, tmp_path, capfd):
    uri = f"http://127.0.0.1:{_closed_port()}"
    path = tiny_experiment(MODELS + f'\n[[tracker]]\nplugin = "mlflow"\ntracking_uri = "{uri}"\nretries = 0\n',
                           name="offline", epochs=1)
    experiment = load_experiment(path, plugins)
    the_plan, root = run_experiment(experiment, plugins, runs_dir=tmp_path / "runs", show_progress=False,
                                    echo=lambda line: None)
    err = capfd.readouterr().err
    assert err.count("tracker 'mlflow' failed") == 1, err
    assert uri.split("//")[1] in err or "Connection" in err
    for cell in the_plan.cells:
        assert json.loads((root / cell.id / "status.json").read_text())["status"] == "done"
        assert "test.f1_macro" in json.loads((root / cell.id / "metrics.json").read_text())
    assert not plugins.pm.has_plugin("harness-tracking")  # the shared plugin manager is left as it was


def test_tracker_blocks_are_checked_with_file_and_line(tiny_experiment, plugins):
    path = tiny_experiment(MODELS + '\n[[tracker]]\nplugin = "mlfow"\n\n[[tracker]]\nplugin = "mlflow"\nretries = -1\n'
                           '\n[store]\nuri = "bucket"\ncheckpoints = "yes"\n', name="bad")
    with pytest.raises(ConfigError) as info:
        load_experiment(path, plugins)
    text = str(info.value)
    lines = path.read_text().splitlines()
    typo, retries, uri = (lines.index(x) + 1 for x in ('plugin = "mlfow"', "retries = -1", 'uri = "bucket"'))
    assert f"bad.toml:{typo}: tracker[0].plugin: unknown tracker 'mlfow'. Did you mean 'mlflow'?" in text
    assert f"bad.toml:{retries}: tracker[1].retries:" in text
    assert f"bad.toml:{uri}: store.uri: must be an fsspec URL" in text
    assert "store.checkpoints:" in text


def test_trackers_and_the_store_stay_out_of_the_cell_key(tiny_experiment, plugins):
    from harness.matrix import make_cell

    def keys(extra: str, name: str) -> set[str]:
        experiment = load_experiment(tiny_experiment(MODELS + extra, name=name), plugins)
        return {make_cell(spec, "same-data", {"p": "1"}).key for spec in experiment.cells}

    assert keys("", "plain") == keys('\n[[tracker]]\nplugin = "tensorboard"\n\n[store]\nuri = "file:///tmp/x"\n',
                                     "plain2")
    assert "harness_trackers" not in plugins.result_versions()


class Recording:
    """A third-party tracker that writes down its calls; ``fail_in`` makes one method raise."""

    def __init__(self, fail_in: str = "") -> None:
        self.fail_in, self.calls = fail_in, []

    def plugin(self, name: str):
        from harness import Tracker

        outer = self

        class Recorder(Tracker):
            def __getattribute__(self, method):
                if method.startswith(("start_", "log_", "finish_", "fail_", "end_")):
                    def record(*args):
                        outer.calls.append((method, *(getattr(a, "id", None) for a in args[:1])))
                        if method == outer.fail_in:
                            raise ConnectionError("tracking server down")
                    return record
                return super().__getattribute__(method)

        class Plugin:
            @staticmethod
            @hookimpl
            def harness_register_trackers(registry):
                registry.register(name, Recorder)

        Plugin.__name__ = f"plugin_{name}"
        return Plugin


def test_trackers_get_every_call_and_a_failing_one_is_warned_about_once(tiny_experiment, tmp_path, capfd):
    from harness.plugins import build_plugins

    good, bad = Recording(), Recording(fail_in="log_epoch")
    plugins = build_plugins(extra=(good.plugin("good"), bad.plugin("bad")))
    path = tiny_experiment(MODELS + '\n[[tracker]]\nplugin = "good"\n\n[[tracker]]\nplugin = "bad"\n',
                           name="recorded", epochs=2)
    experiment = load_experiment(path, plugins)
    the_plan, root = run_experiment(experiment, plugins, runs_dir=tmp_path / "runs", show_progress=False,
                                    echo=lambda line: None)
    publish(experiment, the_plan, root, plugins, tmp_path / "board")
    a, b = (c.id for c in the_plan.cells)
    names = [c[0] for c in good.calls]
    assert names[0] == "start_experiment" and names.count("end_experiment") == 2  # the run, then its derived rows
    assert good.calls[1:9] == [("start_cell", a), ("log_epoch", a), ("log_epoch", a), ("finish_cell", a),
                               ("start_cell", b), ("log_epoch", b), ("log_epoch", b), ("finish_cell", b)]
    rows = [c[1] for c in good.calls if c[0] == "log_row"]
    assert len(rows) == 1 and rows[0].startswith("ens-soft-voting-s0-") and (root / rows[0] / "metrics.json").exists()
    assert bad.calls[:3] == [("start_experiment", None), ("start_cell", a), ("log_epoch", a)]
    assert ("finish_cell", a) not in bad.calls  # left out for the rest of that run
    err = capfd.readouterr().err
    assert err.count("tracker 'bad' failed in log_epoch: ConnectionError: tracking server down") == 1, err
    assert all(json.loads((root / c.id / "status.json").read_text())["status"] == "done" for c in the_plan.cells)
