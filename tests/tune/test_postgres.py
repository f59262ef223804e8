"""Two ``harness run`` processes share one study through a real PostgreSQL server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import optuna
import pytest
from loopback import free_port

pytestmark = pytest.mark.slow
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)


@pytest.fixture
def postgres(tmp_path):
    if PG_BIN is None or not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL server binaries are not installed (apt-get install postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install 'harness[postgres]')")
    # pytest's tmp folders are private to root; the server runs as the postgres user
    base = Path(tempfile.mkdtemp(prefix="harness-pg-"))
    base.chmod(0o755)
    data = base / "pgdata"
    data.mkdir()
    shutil.chown(data, "postgres", "postgres")
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*as_pg, str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync"],
                   check=True, capture_output=True)
    port = free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c fsync=off"
    subprocess.run([*as_pg, str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-w", "-l", str(data / "log"),
                    "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_pg, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_two_workers_complete_exactly_n_trials(postgres, tiny_experiment, tmp_path):
    path = tiny_experiment("""
        [tune]
        n_trials = 7
        pruner = "none"
        space.lr = { low = 1e-3, high = 1e-1, log = true }

        [[matrix.model]]
        plugin = "toy-cnn"
        """, name="shared", epochs=4)
    env = {**os.environ, "HARNESS_OPTUNA_STORAGE": postgres}
    workers = [subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(path), "--runs-dir",
                                 str(tmp_path / f"machine{i}"), "--leaderboards-dir", str(tmp_path / f"lb{i}"),
                                 "--no-progress"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for i in range(2)]
    outputs = [w.communicate(timeout=900)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], "\n---\n".join(outputs)
    storage = optuna.storages.RDBStorage(postgres)
    (summary,) = optuna.get_all_study_summaries(storage)
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
    real = [t for t in study.trials if not t.user_attrs.get("excess")]
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in real) == 7
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    assert len({t.user_attrs["pid"] for t in real}) == 2  # both workers ran trials
    results = [json.loads(next((tmp_path / f"machine{i}" / "shared").glob("*/tuning.json")).read_text())
               for i in range(2)]
    assert results[0]["best_trial"] == results[1]["best_trial"]
    assert results[0]["best_params"] == results[1]["best_params"]
    assert results[0]["storage"].startswith("postgresql://")
