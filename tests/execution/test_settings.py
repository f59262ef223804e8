"""``[execution]`` and the command-line flags resolve to one set of settings; bad values are config errors."""

from __future__ import annotations

import os

import pytest

from harness.errors import ConfigError, HarnessError
from harness.execution.settings import resolve

BASE = """
[experiment]
name = "x"

[[matrix.model]]
plugin = "toy-cnn"
"""


def test_no_table_and_no_flags_is_the_classic_single_process():
    s = resolve(None)
    assert (s.backend, s.workers, s.threads_per_worker, s.retries, s.announce) == ("local", 1, None, 0, False)


def test_workers_flag_alone_means_a_process_pool_with_shared_cores():
    s = resolve(None, workers=2)
    assert (s.backend, s.workers, s.announce) == ("process", 2, True)
    assert s.threads_per_worker == max(1, (os.cpu_count() or 1) // 2)
    many = resolve(None, workers=4 * (os.cpu_count() or 1))
    assert many.threads_per_worker == 1  # several workers per core: one thread each


def test_flags_override_the_table():
    table = {"backend": "process", "workers": 3, "retries": 2, "lease_seconds": 8.0}
    s = resolve(table, backend="local", workers=1)
    assert (s.backend, s.workers, s.retries, s.lease_seconds, s.poll_seconds) == ("local", 1, 2, 8.0, 2.0)
    assert resolve({"lease_seconds": 1.0}).poll_seconds == 0.25  # an idle worker looks 4x per lease
    assert resolve({"backend": "ray", "workers": 2}).threads_per_worker == max(1, (os.cpu_count() or 1) // 2)
    with pytest.raises(HarnessError, match="--workers must be >= 1"):
        resolve(None, workers=0)


def test_execution_table_is_validated_with_file_and_line(write_toml, plugins):
    from harness.config import load_experiment

    path = write_toml(BASE + """
[execution]
backend = "dask"
workers = 0
retries = -1
lease_second = 5
""")
    with pytest.raises(ConfigError) as info:
        load_experiment(path, plugins)
    problems = "\n".join(info.value.problems)
    assert f'{path}:8: execution.backend: must be "local", "process" or "ray", got \'dask\'' in problems
    assert f"{path}:9: execution.workers: must be >= 1, got 0" in problems
    assert f"{path}:10: execution.retries: must be >= 0, got -1" in problems
    assert f"{path}:11: execution.lease_second: unknown key" in problems and "lease_seconds" in problems


def test_execution_table_reaches_the_experiment(write_toml, plugins):
    from harness.config import load_experiment

    path = write_toml(BASE + '\n[execution]\nbackend = "process"\nworkers = 2\n')
    experiment = load_experiment(path, plugins)
    assert experiment.execution == {"backend": "process", "workers": 2}
    assert load_experiment(write_toml(BASE, "plain.toml"), plugins).execution is None


@pytest.mark.parametrize(("devices", "per", "n", "groups"), [
    (["0", "1", "2", "3"], 1, 4, ["0", "1", "2", "3"]),
    (["0", "1", "2", "3"], 2, 2, ["0,1", "2,3"]),
    (["4", "6"], 1, 2, ["4", "6"]),  # CUDA_VISIBLE_DEVICES=4,6: the names the user gave
    (["0", "1", "2"], 2, 2, ["0,1", "2,0"]),  # more workers than whole groups share a device
    (["0", "1"], 1, 3, ["0", "1", "0"]),
    (["0"], 2, 1, ["0"]),
])
def test_pool_workers_get_their_own_gpus(devices, per, n, groups):
    from harness.execution.pool import device_groups

    assert device_groups(devices, per, n) == groups
