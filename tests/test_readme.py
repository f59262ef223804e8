"""Every code block of README.md and experiments/README.md does what it says, against a real run.

Python blocks whose first line names a file (``# harness_mymodels/__init__.py``) are
written to that file, and the ``[project.entry-points.harness]`` table of a TOML block
becomes the distribution metadata an installed package would have, so the README's
plugin is found exactly as ``pip install`` would make it found; a written test file
then runs under pytest. Every other Python block runs in a fresh interpreter, in a
folder holding ``runs/smoke`` (a tiny experiment trained here). Every ``harness``
command of a bash block names a subcommand and flags that exist; the cheap ones run.
TOML blocks that are a whole experiment pass ``harness validate``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = (REPO / "README.md", REPO / "experiments" / "README.md")
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.S | re.M)
FILE_LINE = re.compile(r"^# (\S+\.py)\b")
pytestmark = pytest.mark.slow

TINY_SMOKE = """
[experiment]
name = "smoke"
seeds = [0, 1]

[dataset]
plugin = "synthetic-defects"
image_size = 32
n_train = 24
n_val = 12
n_test = 12

[train]
epochs = 1
batch_size = 12

[[matrix.model]]
plugin = "timm"
arch = "test_resnet"
"""


def blocks(kind: str) -> list[tuple[str, int, str]]:
    """``(document, line, code)`` of every fenced block of ``kind`` in the documents."""
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            if match.group(1) == kind:
                found.append((str(doc.relative_to(REPO)), text[: match.start()].count("\n") + 1, match.group(2)))
    return found


def _env(folder: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]),
            "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}


def harness(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env=env)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's folder: ``runs/smoke`` trained, the README's plugin files written and "installed"."""
    tmp = tmp_path_factory.mktemp("user")
    (tmp / "smoke.toml").write_text(TINY_SMOKE, encoding="utf-8")
    done = harness("run", "smoke.toml", "--no-progress", cwd=tmp)
    assert done.returncode == 0, done.stdout + done.stderr
    for _, _, code in blocks("python"):
        named = FILE_LINE.match(code)
        if named:
            path = tmp / named.group(1)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(code, encoding="utf-8")
    for _, _, code in blocks("toml"):
        try:
            table = tomllib.loads(code)
        except tomllib.TOMLDecodeError:
            continue  # alternatives of one table shown side by side, not one file
        points = table.get("project", {}).get("entry-points", {}).get("harness")
        if points:
            dist = tmp / "readme_plugin-0.0.0.dist-info"
            dist.mkdir(exist_ok=True)
            (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: readme-plugin\nVersion: 0.0.0\n")
            lines = "".join(f"{name} = {target}\n" for name, target in points.items())
            (dist / "entry_points.txt").write_text(f"[harness]\n{lines}")
    return tmp


def _ids(found: list[tuple[str, int, str]]) -> list[str]:
    return [f"{doc}:{line}" for doc, line, _ in found]


SNIPPETS = [b for b in blocks("python") if not FILE_LINE.match(b[2])]
FILES = [b for b in blocks("python") if FILE_LINE.match(b[2])]


def test_the_documents_have_code() -> None:
    assert SNIPPETS and FILES and blocks("bash")


@pytest.mark.parametrize(("doc", "line", "code"), SNIPPETS, ids=_ids(SNIPPETS))
def test_python_snippet_runs(folder: Path, doc: str, line: int, code: str) -> None:
    done = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, timeout=300,
                          env=_env(folder))
    assert done.returncode == 0, f"{doc}:{line}\n{done.stdout}{done.stderr}"
    assert done.stdout.strip() or "print(" not in code  # a snippet that prints shows something


def test_load_run_snippet_prints_rows_seeds_and_metrics(folder: Path) -> None:
    from harness import load_run

    (code,) = [code for _, _, code in SNIPPETS if 'load_run("runs/smoke")' in code]
    done = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, env=_env(folder))
    assert done.returncode == 0, done.stderr
    cells = load_run(folder / "runs" / "smoke").done()
    expected = [f"{c.row} {c.seed} {c.metrics['test.f1_macro']}" for c in cells]
    assert done.stdout.splitlines() == expected and sorted(c.seed for c in cells) == [0, 1]


@pytest.mark.parametrize(("doc", "line", "code"), FILES, ids=_ids(FILES))
def test_plugin_files_import_and_their_tests_pass(folder: Path, doc: str, line: int, code: str) -> None:
    path = FILE_LINE.match(code).group(1)
    if Path(path).name.startswith("test_"):
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", path], cwd=folder,
                              capture_output=True, text=True, timeout=300, env=_env(folder))
        assert done.returncode == 0 and " passed" in done.stdout, f"{doc}:{line}\n{done.stdout}{done.stderr}"
    else:
        module = path.removesuffix("/__init__.py").removesuffix(".py").replace("/", ".")
        done = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=folder, capture_output=True,
                              text=True, env=_env(folder))
        assert done.returncode == 0, f"{doc}:{line}\n{done.stderr}"


def test_the_readme_plugin_is_listed(folder: Path) -> None:
    if not any("[project.entry-points.harness]" in code for _, _, code in blocks("toml")):
        pytest.skip("no plugin entry point in the documents")
    done = harness("plugins", cwd=folder, env=_env(folder))
    assert done.returncode == 0, done.stderr
    assert "tiny-cnn" in done.stdout or "readme-plugin" in done.stdout


def commands() -> list[tuple[str, int, list[str]]]:
    """Every ``harness ...`` command line of the bash blocks, split as the shell would."""
    found = []
    for doc, line, code in blocks("bash"):
        for offset, text in enumerate(code.splitlines()):
            for part in re.split(r"&&|;|\|", text.split(" #", 1)[0].split("  #", 1)[0]):
                words = shlex.split(part.strip().rstrip("&").strip(), comments=True)
                if words and words[0] == "harness":
                    found.append((doc, line + 1 + offset, words[1:]))
    return found


def _help(*words: str) -> str:
    done = harness(*words, "--help", cwd=REPO)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_documented_command_and_flag_exists() -> None:
    found = commands()
    assert len(found) >= 5
    top = _help()
    helps: dict[str, str] = {}
    for doc, line, words in found:
        assert words, f"{doc}:{line}: a bare harness"
        sub = words[0]
        assert re.search(rf"\b{re.escape(sub)}\b", top.split("positional arguments")[0]), f"{doc}:{line}: {sub}"
        text = helps.setdefault(sub, _help(sub))
        for flag in (w.split("=", 1)[0] for w in words[1:] if w.startswith("--")):
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text), f"{doc}:{line}: harness {sub} {flag}"


def test_documented_scripts_exist() -> None:
    scripts = [(doc, line, w) for doc, line, code in blocks("bash") for w in re.findall(r"python (\S+\.py)", code)]
    assert scripts
    for doc, line, script in scripts:
        assert (REPO / script).is_file(), f"{doc}:{line}: {script}"


def test_cheap_documented_commands_run(folder: Path) -> None:
    ran = 0
    for doc, line, words in commands():
        if words[0] == "plugins" or (words[0] == "validate" and all((REPO / w).exists() for w in words[1:])):
            done = harness(*words, cwd=REPO)
            assert done.returncode == 0, f"{doc}:{line}: {done.stdout}{done.stderr}"
            ran += 1
    assert ran >= 1


EXPERIMENTS = [b for b in blocks("toml") if "[experiment]" in b[2]]


@pytest.mark.parametrize(("doc", "line", "code"), EXPERIMENTS, ids=_ids(EXPERIMENTS))
def test_documented_experiments_validate(tmp_path: Path, doc: str, line: int, code: str) -> None:
    (tmp_path / "documented.toml").write_text(code, encoding="utf-8")
    done = harness("validate", "documented.toml", cwd=tmp_path)
    assert done.returncode == 0, f"{doc}:{line}\n{done.stdout}{done.stderr}"
