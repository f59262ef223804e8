"""Fault scenarios shared by ``tests/faults/`` and ``benchmarks/faults.py``.

Each scenario injects real faults (SIGKILL of a real ``harness run`` process, a real full
file system, truncated files, malformed experiment files, plugins that raise anything)
and returns one :class:`Trial` per fault: what was tried and whether every promise held.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SMALL = """
[experiment]
name = "{name}"
seeds = [0, 1]

[dataset]
image_size = 32
n_train = 48
n_val = 16
n_test = 16

[train]
epochs = {epochs}
batch_size = 16
optimizer = {{ name = "adam", lr = 1e-2 }}
resume_every = 0.0

[[matrix.model]]
plugin = "toy-cnn"
width = [4, 8]
"""


@dataclass(frozen=True)
class Trial:
    """One injected fault and its outcome."""

    category: str
    name: str
    held: bool
    detail: str = ""


def write_experiment(folder: Path, name: str = "faults", epochs: int = 3) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(textwrap.dedent(SMALL.format(name=name, epochs=epochs)).lstrip())
    return path


def env(cache: Path) -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1", "HARNESS_CACHE_DIR": str(cache), "PYTHONUNBUFFERED": "1"}


def run_args(file: Path, runs: Path, boards: Path, *extra: str) -> list[str]:
    return ["run", str(file), "--runs-dir", str(runs), "--leaderboards-dir", str(boards), "--no-progress", *extra]


def cli(args: list[str]) -> tuple[int, str]:
    """``harness ARGS`` in this process; exit code and everything printed."""
    from harness.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(args)
    return code, out.getvalue()


def predictions(run_dir: Path) -> dict[str, bytes]:
    """Every cell's stored prediction tables, by ``cell/file``."""
    return {f"{p.parent.name}/{p.name}": p.read_bytes() for p in sorted(run_dir.glob("*/predictions_*.csv"))}


def done_cells(run_dir: Path) -> set[str]:
    from harness.store import read_cell

    return {p.name for p in run_dir.iterdir() if p.is_dir() and read_cell(p).status == "done"} if run_dir.is_dir() else set()


def store_problems(run_dir: Path) -> list[str]:
    """Files of the store that do not parse (a kill must never leave one behind)."""
    from harness.store import DamagedFileError, check_cell_files, read_json_checked

    found = []
    for path in sorted(run_dir.rglob("*.json")) if run_dir.is_dir() else []:
        if path.name.startswith("."):
            continue
        try:
            read_json_checked(path)
        except DamagedFileError as exc:
            found.append(str(exc))
    for cell in sorted(run_dir.iterdir()) if run_dir.is_dir() else []:
        if cell.is_dir() and (cell / "status.json").exists():
            try:
                check_cell_files(cell)
            except DamagedFileError as exc:
                found.append(str(exc))
    return found


def folder_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --- SIGKILL at random points ---------------------------------------------------------------


def sigkill(tmp: Path, *, points: int = 10, seed: int = 0) -> list[Trial]:
    """Kill a real ``harness run`` at ``points`` seeded random moments, resuming after each.

    Each kill must lose no finished cell and leave every stored file parseable; the run that
    finally completes must store predictions byte-identical to an uninterrupted run.
    """
    file = write_experiment(tmp, epochs=4)
    environment = env(tmp / "cache")
    clean_runs, boards = tmp / "clean", tmp / "boards"
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", *run_args(file, clean_runs, boards)], cwd=tmp,
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first_epoch = last_done = None
    for line in proc.stdout:  # type: ignore[union-attr]
        if first_epoch is None and ": epoch 1/" in line:
            first_epoch = time.monotonic() - started
        if ": done in" in line:
            last_done = time.monotonic() - started
    proc.wait()
    if proc.returncode != 0 or first_epoch is None or last_done is None:
        return [Trial("sigkill", "clean run", False, f"the clean run failed (exit {proc.returncode})")]
    rng = random.Random(seed)
    runs = tmp / "killed"
    trials = []
    for n in range(points):
        # somewhere between the first epoch and the last cell's end (a few land in the publish step)
        delay = rng.uniform(first_epoch * 0.9, last_done * 1.1)
        before = done_cells(runs / "faults")
        proc = subprocess.Popen([sys.executable, "-m", "harness.cli", *run_args(file, runs, boards)], cwd=tmp,
                                env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=delay)
            outcome = "finished before the kill"
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            outcome = f"killed after {delay:.2f}s"
        after = done_cells(runs / "faults")
        broken = store_problems(runs / "faults")
        lost = sorted(before - after)
        held = not lost and not broken
        trials.append(Trial("sigkill", f"kill {n + 1} ({outcome})", held,
                            "; ".join([*(f"lost {c}" for c in lost), *broken]) or f"{len(after)} cells done"))
        if len(after) == 4:  # everything finished: start over so later kills hit training again
            shutil.rmtree(runs / "faults")
    final = subprocess.run([sys.executable, "-m", "harness.cli", *run_args(file, runs, boards)], cwd=tmp,
                           env=environment, capture_output=True, text=True, timeout=600)
    if set(predictions(clean_runs / "faults")) != set(predictions(runs / "faults")):
        # other cell ids: the code changed under this test (a shared checkout); compare with a run of this code
        shutil.rmtree(clean_runs)
        subprocess.run([sys.executable, "-m", "harness.cli", *run_args(file, clean_runs, boards)], cwd=tmp,
                       env=environment, capture_output=True, timeout=600, check=False)
    same = final.returncode == 0 and predictions(runs / "faults") == predictions(clean_runs / "faults") != {}
    trials.append(Trial("sigkill", "resumed run equals a clean run", same,
                        "byte-identical predictions" if same else f"exit {final.returncode}: {final.stdout[-400:]}"))
    return trials


# --- a full file system -------------------------------------------------------------------------


def can_mount() -> str:
    """Empty when a tmpfs can be mounted here, else why not."""
    if not sys.platform.startswith("linux"):
        return "tmpfs mounts need Linux"
    if os.geteuid() != 0:
        return "mounting a small tmpfs needs root (CI runs as root)"
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "no mount/umount program"
    return ""


@contextlib.contextmanager
def tmpfs(where: Path, size_kb: int) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path, leave: int) -> Path:
    """Write a filler file until only about ``leave`` bytes are free."""
    filler = folder / "filler"
    free = shutil.disk_usage(folder).free
    with open(filler, "wb") as f:
        try:
            f.write(b"\0" * max(0, free - leave))
            f.flush()
            os.fsync(f.fileno())
        except OSError:
            pass
    return filler


def full_disk(tmp: Path) -> list[Trial]:
    """Run and publish with too little space left; nothing may be lost or mixed up.

    The run store fills up at several points (before the first file, during training,
    late in a cell); each run must end with a plain "no space left on device writing ..."
    reason and no traceback, and once space is freed the rerun must finish. Then the
    leaderboard folder's file system fills up: the old leaderboard must stay whole.
    """
    file = write_experiment(tmp, epochs=2)
    reference_runs, reference_boards = tmp / "reference", tmp / "reference_boards"
    code, out = cli(run_args(file, reference_runs, reference_boards))
    if code != 0:
        return [Trial("full disk", "reference run", False, f"exit {code}: {out[-600:]}")]
    sizes = [p.stat().st_size for p in (reference_runs / "faults").rglob("*") if p.is_file()]
    total = sum(sizes)
    trials = []
    for leave in (0, 4096, total // 8, total // 3, (2 * total) // 3):
        with tmpfs(tmp / f"mnt_runs_{leave}", size_kb=max(64, 2 * total // 1024 + 64)) as mnt:
            filler = fill(mnt, leave)
            code, out = cli(run_args(file, mnt / "runs", tmp / f"boards_{leave}"))
            plain = "no space left on device writing" in out and "Traceback" not in out
            readable = not store_problems(mnt / "runs" / "faults")
            failed_clearly = plain  # a failed cell (exit 1), or only run.json refused (the cells are whole)
            filler.unlink()
            code2, out2 = cli(run_args(file, mnt / "runs", tmp / f"boards_{leave}"))
            recovered = code2 == 0 and predictions(mnt / "runs" / "faults") == predictions(reference_runs / "faults")
            trials.append(Trial("full disk", f"run store with {leave} bytes free", failed_clearly and readable and
                                recovered, _first_reason(out) if failed_clearly else f"exit {code}: {out[-300:]}"))
    fewer = tmp / "fewer"  # a run with one cell less: its leaderboard differs in every file
    shutil.copytree(reference_runs, fewer)
    shutil.rmtree(sorted(p.parent for p in (fewer / "faults").glob("*/checkpoint.safetensors"))[-1])
    with tmpfs(tmp / "mnt_boards", size_kb=4096) as mnt:
        code, _ = cli(["leaderboard", str(file), "--runs-dir", str(reference_runs), "--leaderboards-dir", str(mnt)])
        before = folder_digest(mnt / "faults")
        for leave in (0, 16384, 65536):
            filler = fill(mnt, leave)
            code, out = cli(["leaderboard", str(file), "--runs-dir", str(fewer), "--leaderboards-dir", str(mnt)])
            filler.unlink()
            intact = folder_digest(mnt / "faults") == before
            leftovers = [p.name for p in mnt.iterdir() if p.name.startswith(".")]
            plain = code != 0 and "no space left on device writing" in out and "Traceback" not in out
            trials.append(Trial("full disk", f"leaderboard with {leave} bytes free",
                                intact and plain and not leftovers,
                                out.strip().splitlines()[-1] if out.strip() else f"exit {code}"))
    return trials


def _first_reason(out: str) -> str:
    for line in out.splitlines():
        if "no space left on device writing" in line:
            return line.strip()[:200]
    return ""


# --- truncated store files ------------------------------------------------------------------------

TRUNCATED = ("status.json", "metrics.json", "config.json", "history.json", "predictions_test.csv",
             "predictions_val.csv", "checkpoint.safetensors", "thumbs_test.npz")


def truncated_store(tmp: Path) -> list[Trial]:
    """Truncate one file of one finished cell at a time: ``harness leaderboard`` must not die,
    naming the damaged path, and ``harness run`` must redo that cell and only that cell."""
    file = write_experiment(tmp, epochs=2)
    reference = tmp / "reference"
    code, out = cli(run_args(file, reference, tmp / "boards"))
    if code != 0:
        return [Trial("truncated store", "reference run", False, f"exit {code}: {out[-600:]}")]
    clean = predictions(reference / "faults")
    trials = []
    for name in TRUNCATED:
        runs = tmp / f"runs_{name}"
        shutil.copytree(reference, runs)
        cell = sorted(p.parent for p in (runs / "faults").glob("*/checkpoint.safetensors"))[0]
        target = cell / name
        data = target.read_bytes()
        target.write_bytes(data[: len(data) // 2])
        code1, out1 = cli(["leaderboard", str(file), "--runs-dir", str(runs), "--leaderboards-dir", str(tmp / "b")])
        from harness.store import read_cell

        record = read_cell(cell)
        named = record.status != "done" and str(target) in record.reason
        code2, out2 = cli(run_args(file, runs, tmp / "b"))
        redone = out2.count(": done in") == 1 and f"{cell.name}: done in" in out2
        same = predictions(runs / "faults") == clean
        held = code1 == 0 and "Traceback" not in out1 and named and code2 == 0 and redone and same
        trials.append(Trial("truncated store", f"half of {name}", held,
                            record.reason[:160] if held else f"leaderboard exit {code1}, run exit {code2}, "
                            f"named={named}, redone={redone}, same={same}"))
    return trials


# --- per-cell isolation -----------------------------------------------------------------------------


class Misbehaving:
    """A plugin whose models raise what plugins should never raise."""

    @staticmethod
    def harness_register_models(registry) -> None:  # noqa: ANN001
        def exits(num_classes: int):
            sys.exit(3)

        def interrupts(num_classes: int):
            raise KeyboardInterrupt

        def base(num_classes: int):
            raise GeneratorExit("odd")

        registry.register("fault-exit", exits, description="calls sys.exit(3)")
        registry.register("fault-interrupt", interrupts, description="raises KeyboardInterrupt itself")
        registry.register("fault-base", base, description="raises a bare BaseException subclass")


ISOLATION = """
[[matrix.model]]
plugin = "fault-exit"

[[matrix.model]]
plugin = "fault-interrupt"

[[matrix.model]]
plugin = "fault-base"
"""


def isolation(tmp: Path) -> list[Trial]:
    """Cells whose plugins raise SystemExit, KeyboardInterrupt or another BaseException fail
    alone, with a reason; the toy cells of the same matrix all finish."""
    from harness import hookimpl
    from harness.config import load_experiment
    from harness.plugins import build_plugins
    from harness.runner import run_experiment
    from harness.store import load_run

    plugin = type("FaultPlugin", (), {"harness_register_models": staticmethod(
        hookimpl(Misbehaving.harness_register_models))})()
    plugins = build_plugins(extra=(plugin,))
    path = write_experiment(tmp, epochs=1)
    path.write_text(path.read_text() + textwrap.dedent(ISOLATION))
    experiment = load_experiment(path, plugins)
    lines: list[str] = []
    run_experiment(experiment, plugins, runs_dir=tmp / "runs", show_progress=False, echo=lines.append)
    run = load_run(tmp / "runs" / "faults")
    trials = []
    for model, expected in (("fault-exit", "sys.exit(3)"), ("fault-interrupt", "KeyboardInterrupt raised by plugin"),
                            ("fault-base", "GeneratorExit")):
        cells = [c for c in run.cells.values() if c.config.get("model", {}).get("plugin") == model]
        ok = len(cells) == 2 and all(c.status == "failed" and expected in c.reason for c in cells)
        trials.append(Trial("isolation", model, ok, cells[0].reason if cells else "no cell"))
    toy = [c for c in run.cells.values() if c.config.get("model", {}).get("plugin") == "toy-cnn"]
    trials.append(Trial("isolation", "the other cells finish", len(toy) == 4 and all(c.status == "done" for c in toy),
                        f"{sum(c.status == 'done' for c in toy)} of 4 done"))
    return trials


def user_interrupt(tmp: Path) -> list[Trial]:
    """A real Ctrl-C (SIGINT) during training ends the run as the user's interrupt: exit 130,
    the interrupted cell not recorded as failed, and the rerun finishes every cell."""
    import signal

    tmp.mkdir(parents=True, exist_ok=True)
    file = write_experiment(tmp, epochs=8)
    environment = env(tmp / "cache")
    runs, boards = tmp / "runs", tmp / "boards"
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", *run_args(file, runs, boards)], cwd=tmp,
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:  # type: ignore[union-attr]
        if ": epoch 2/" in line:
            proc.send_signal(signal.SIGINT)
            break
    _, err = proc.communicate(timeout=300)
    from harness.store import read_cell

    states = {p.name: read_cell(p).status for p in (runs / "faults").iterdir() if p.is_dir() and p.name[0] != "."}
    ended = proc.returncode == 130 and "interrupted; finished cells are kept" in err and "Traceback" not in err
    not_failed = "failed" not in states.values()
    again = subprocess.run([sys.executable, "-m", "harness.cli", *run_args(file, runs, boards)], cwd=tmp,
                           env=environment, capture_output=True, text=True, timeout=600)
    finished = again.returncode == 0 and len(done_cells(runs / "faults")) == 4
    return [Trial("isolation", "Ctrl-C ends the run, as the user's", ended and not_failed and finished,
                  f"exit {proc.returncode}, states {sorted(states.values())}, rerun exit {again.returncode}")]


# --- malformed experiment files -------------------------------------------------------------------


def valid_examples() -> list[str]:
    """The shipped experiment files and the README example: the seeds of the fuzzer."""
    texts = [p.read_text(encoding="utf-8") for p in sorted((REPO / "experiments").glob("*.toml"))]
    readme = (REPO / "experiments" / "README.md").read_text(encoding="utf-8")
    texts.append(readme.split("```toml\n", 1)[1].split("```", 1)[0])
    return texts


def malformed_files():  # -> hypothesis strategy of bytes
    """Valid examples broken in ways that must each give exit 2 and a ``file:line`` message."""
    from hypothesis import strategies as st

    examples = valid_examples()

    @st.composite
    def broken(draw) -> bytes:
        text = draw(st.sampled_from(examples))
        lines = text.splitlines()
        keyed = [i for i, line in enumerate(lines) if "=" in line and not line.lstrip().startswith("#")]
        kind = draw(st.sampled_from(["bad value", "unknown key", "bad bytes", "unbalanced", "deep", "duplicate",
                                     "bad metric", "bad name", "truncated"]))
        if kind == "bad value" and keyed:
            i = draw(st.sampled_from(keyed))
            key = lines[i].split("=", 1)[0]
            value = draw(st.sampled_from(['"', "[1, ", "{a = }", "0x", "nan nan", "tru", "'''", "= 3"]))
            lines[i] = f"{key}= {value}"
        elif kind == "unknown key":
            headers = [i for i, line in enumerate(lines) if line.startswith("[") and "matrix" not in line
                       and "ensemble" not in line and "dataset" not in line]
            i = draw(st.sampled_from(headers)) if headers else 0
            word = draw(st.from_regex(r"\Azz[a-z_]{2,12}\Z", fullmatch=True))
            lines.insert(i + 1, f"{word} = 1")
        elif kind == "bad bytes":
            i = draw(st.integers(0, len(lines) - 1))
            raw = "\n".join(lines).encode()
            offset = sum(len(line.encode()) + 1 for line in lines[:i])
            junk = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\x80abc", b"\xfe\xfe"]))
            return raw[:offset] + junk + raw[offset:]
        elif kind == "unbalanced" and keyed:
            i = draw(st.sampled_from(keyed))
            key, value = lines[i].split("=", 1)
            token = draw(st.sampled_from(["[", "{", "]", '"x']))
            lines[i] = f"{key}= {token}{value}"  # before any comment
        elif kind == "deep":
            n = draw(st.integers(40, 3000))
            lines.insert(draw(st.integers(0, len(lines))), "zzdeep = " + "[" * n + "]" * n)
        elif kind == "duplicate" and keyed:
            i = draw(st.sampled_from(keyed))
            lines.insert(i + 1, lines[i])
        elif kind == "bad metric":
            lines = [line for line in lines if not line.startswith(("rank_by", "select_by"))]
            at = next((i for i, line in enumerate(lines) if line.strip() == "[experiment]"), 0)
            name = draw(st.from_regex(r"\A[a-z]{3,10}\Z", fullmatch=True))
            lines.insert(at + 1, f'rank_by = "test.zz{name}"')
        elif kind == "bad name":
            lines = [line for line in lines if not line.startswith("name =")]
            at = next((i for i, line in enumerate(lines) if line.strip() == "[experiment]"), 0)
            bad = draw(st.sampled_from(["evil\\n", "../up", "a b", "", "-x", "x/y", "caf\u00e9"]))
            lines.insert(at + 1, f'name = "{bad}"')
        else:  # truncated mid-line
            raw = "\n".join(lines)
            cut = draw(st.integers(1, max(1, len(raw) - 1)))
            return (raw[:cut] + '\nzzcut = "').encode()  # a string the cut left open
        return ("\n".join(lines) + "\n").encode()

    return broken()


def validate_bytes(tmp: Path, data: bytes, n: int) -> Trial:
    """``harness validate`` on one malformed file: exit 2, a ``file:line`` message, no traceback."""
    import re

    path = tmp / f"fuzz_{n}.toml"
    path.write_bytes(data)
    try:
        code, out = cli(["validate", str(path)])
    except BaseException as exc:  # noqa: BLE001 - exactly what this trial looks for
        return Trial("malformed files", f"file {n}", False, f"raised {type(exc).__name__}: {exc}"[:300])
    located = re.search(rf"^{re.escape(str(path))}:\d+: ", out, re.M) is not None
    held = code == 2 and located and "Traceback" not in out
    first = out.strip().splitlines()[0] if out.strip() else ""
    return Trial("malformed files", f"file {n}", held, first[len(str(path)):][:160] if held else f"exit {code}: {out[:300]}")


def fuzz(tmp: Path, examples: int = 120, seed: int = 0) -> list[Trial]:
    """``examples`` hypothesis-generated malformed files (for the benchmark table)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed

    trials: list[Trial] = []

    @hseed(seed)
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(malformed_files())
    def one(data: bytes) -> None:
        trials.append(validate_bytes(tmp, data, len(trials)))

    one()
    return trials


def summary(trials: list[Trial]) -> list[tuple[str, int, int]]:
    """``(category, tried, held)`` in order of first appearance."""
    order: dict[str, list[int]] = {}
    for t in trials:
        counts = order.setdefault(t.category, [0, 0])
        counts[0] += 1
        counts[1] += int(t.held)
    return [(c, tried, held) for c, (tried, held) in order.items()]


def as_json(trials: list[Trial]) -> str:
    return json.dumps([t.__dict__ for t in trials], indent=1)
