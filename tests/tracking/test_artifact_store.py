"""[store] against a real S3 API: moto's server on loopback, driven through s3fs."""

from __future__ import annotations

import contextlib
import json
import uuid

import pytest
from loopback import free_port

from harness import hookimpl
from harness.config.validate import load_experiment
from harness.plugins import build_plugins
from harness.runner import publish, run_experiment

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

MODELS = """
[[matrix.model]]
plugin = "timm"
arch = ["resnet10t", "test_resnet"]
"""


@pytest.fixture
def s3(monkeypatch):
    """A moto S3 server on a free loopback port with an empty bucket; yields (server, endpoint, port, bucket)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    bucket = f"bucket-{uuid.uuid4().hex[:8]}"  # moto keeps buckets per process, across servers
    s3fs.S3FileSystem(endpoint_url=endpoint).mkdir(bucket)
    yield server, endpoint, port, bucket
    with contextlib.suppress(Exception):  # a test may have stopped it already
        server.stop()


def _experiment(tiny_experiment, endpoint: str, bucket: str, seeds: str = "[0]"):
    store = (f'\n[store]\nuri = "s3://{bucket}/prefix"\n'
             f'options = {{ endpoint_url = "{endpoint}", '
             'config_kwargs = { retries = { max_attempts = 1 }, connect_timeout = 2 } }\n')
    return tiny_experiment(MODELS + store, name="stored", epochs=1, seeds=seeds)


def _run(path, plugins, runs_dir, lines):
    experiment = load_experiment(path, plugins)
    the_plan, root = run_experiment(experiment, plugins, runs_dir=runs_dir, show_progress=False, echo=lines.append)
    return experiment, the_plan, root


def _rows(board_dir) -> list[dict]:
    rows = json.loads((board_dir / "results.json").read_text())["rows"]
    return sorted(rows, key=lambda r: r.get("row", ""))


def test_a_fresh_directory_skips_stored_cells_and_rebuilds_the_leaderboard(tiny_experiment, plugins, tmp_path, s3):
    _, endpoint, _, bucket = s3
    path = _experiment(tiny_experiment, endpoint, bucket)
    first: list[str] = []
    experiment, the_plan, root = _run(path, plugins, tmp_path / "a" / "runs", first)
    publish(experiment, the_plan, root, plugins, tmp_path / "a" / "board")
    import s3fs

    fs = s3fs.S3FileSystem(endpoint_url=endpoint)
    for cell in the_plan.cells:
        stored = {p.rsplit("/", 1)[1] for p in fs.ls(f"{bucket}/prefix/stored/{cell.id}", refresh=True)}
        assert {"status.json", "metrics.json", "config.json", "predictions_test.csv",
                "checkpoint.safetensors"} <= stored
        assert "resume.pt" not in stored
    again: list[str] = []
    experiment, the_plan, root2 = _run(path, plugins, tmp_path / "b" / "runs", again)
    assert again[0] == f"artifact store s3://{bucket}/prefix/stored: {len(the_plan.cells)} finished cell(s) downloaded"
    assert f"{len(the_plan.cells)} done, 0 to run" in again[1]
    assert sum("skipped (done)" in line for line in again) == len(the_plan.cells)
    assert not any(": epoch " in line for line in again)
    for cell in the_plan.cells:
        assert (root2 / cell.id / "metrics.json").read_text() == (root / cell.id / "metrics.json").read_text()
    publish(experiment, the_plan, root2, plugins, tmp_path / "b" / "board")
    assert _rows(tmp_path / "b" / "board") == _rows(tmp_path / "a" / "board")
    light = path.with_name("light.toml")  # the same cells (the store is no part of their keys), no checkpoints
    light.write_text(path.read_text().replace("[store]\n", "[store]\ncheckpoints = false\n"))
    third: list[str] = []
    _, _, root3 = _run(light, plugins, tmp_path / "c" / "runs", third)
    assert not any(": epoch " in line for line in third)
    for cell in the_plan.cells:
        assert not (root3 / cell.id / "checkpoint.safetensors").exists()
        assert (root3 / cell.id / "predictions_test.csv").read_bytes() == (root / cell.id / "predictions_test.csv").read_bytes()


class StopServer:
    """Stops the S3 server when the second cell starts: its upload must fail."""

    def __init__(self, server) -> None:
        self.server, self.started = server, 0

    @hookimpl
    def harness_cell_start(self, cell) -> None:
        self.started += 1
        if self.started == 2:
            self.server.stop()


def test_a_store_that_goes_down_mid_run_loses_nothing_and_a_later_run_uploads_it(tiny_experiment, tmp_path, s3,
                                                                                 capfd):
    server, endpoint, port, bucket = s3
    path = _experiment(tiny_experiment, endpoint, bucket, seeds="[0, 1]")
    plugins = build_plugins(extra=(StopServer(server),))
    lines: list[str] = []
    _, the_plan, root = _run(path, plugins, tmp_path / "runs", lines)
    err = capfd.readouterr().err
    first, *rest = the_plan.cells
    assert len(rest) == 3
    assert err.count("upload failed") == 1, err  # one warning, then no more waiting on a store that is down
    assert f"artifact store s3://{bucket}/prefix/stored/{rest[0].id}: upload failed" in err
    assert "the next harness run uploads it" in err
    assert f"3 finished cell(s) not uploaded ({', '.join(c.id for c in rest)})" in err
    for cell in the_plan.cells:
        assert json.loads((root / cell.id / "status.json").read_text())["status"] == "done"
        assert (root / cell.id / "checkpoint.safetensors").exists()
    restarted = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    restarted.start()  # moto keeps its buckets in-process: the first cell's upload is still there
    try:
        import s3fs

        fs = s3fs.S3FileSystem(endpoint_url=endpoint)
        assert fs.exists(f"{bucket}/prefix/stored/{first.id}/status.json")
        assert not any(fs.exists(f"{bucket}/prefix/stored/{c.id}/status.json") for c in rest)
        later: list[str] = []
        _run(path, plugins, tmp_path / "runs", later)
        assert sum("uploaded" in line for line in later) == 3, later
        assert not any(": epoch " in line for line in later)
        fs.invalidate_cache()
        for cell in rest:
            assert fs.cat(f"{bucket}/prefix/stored/{cell.id}/metrics.json") == (root / cell.id / "metrics.json").read_bytes()
    finally:
        restarted.stop()
