"""Faults a hostile user or a bad day brings: each must give the named error and lose nothing."""

from __future__ import annotations

import pytest
import scenarios
from hypothesis import HealthCheck, given, settings


def _assert_all_held(trials: list[scenarios.Trial], at_least: int) -> None:
    assert len(trials) >= at_least
    failed = [f"{t.name}: {t.detail}" for t in trials if not t.held]
    assert not failed, "\n".join(failed)


def test_plugins_raising_anything_fail_only_their_cells(tmp_path, cache_dir):
    trials = scenarios.isolation(tmp_path)
    _assert_all_held(trials, 4)
    assert "SystemExit: plugin code called sys.exit(3)" in trials[0].detail


def test_a_real_ctrl_c_is_the_users_interrupt(tmp_path):
    trials = scenarios.user_interrupt(tmp_path)
    _assert_all_held(trials, 1)


def test_truncated_store_files_are_named_and_their_cell_redone(tmp_path, cache_dir):
    trials = scenarios.truncated_store(tmp_path)
    _assert_all_held(trials, len(scenarios.TRUNCATED))


@pytest.mark.skipif(bool(scenarios.can_mount()), reason=scenarios.can_mount() or "mounts work")
def test_a_full_file_system_loses_nothing(tmp_path, cache_dir):
    trials = scenarios.full_disk(tmp_path)
    _assert_all_held(trials, 8)
    assert any("no space left on device writing" in t.detail for t in trials)


def test_sigkill_at_ten_seeded_random_points(tmp_path):
    trials = scenarios.sigkill(tmp_path, points=10, seed=15)
    _assert_all_held(trials, 11)
    assert trials[-1].detail == "byte-identical predictions"
    assert sum("killed after" in t.name for t in trials) >= 8  # the kills really hit running processes


@settings(max_examples=110, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=scenarios.malformed_files())
def test_malformed_experiment_files_exit_2_with_a_line_and_no_traceback(tmp_path, data):
    trial = scenarios.validate_bytes(tmp_path, data, 0)
    assert trial.held, trial.detail
