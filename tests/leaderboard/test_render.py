"""The HTML pages (index and one page per row), their figures and the terminal table."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import jinja2
import numpy as np
import pluggy
import pytest
from matplotlib.image import imread

from harness import PredictionSet, hookimpl, hookspecs
from harness.leaderboard import build_leaderboard, terminal_table
from harness.leaderboard.figures.build import select_metric
from harness.leaderboard.figures.curves import curves_caption, curves_plot, objective_changes
from harness.leaderboard.figures.plots import DPI, MIN_TEXT_PX, TILE, _new_figure, overlay_plot, png_uri
from harness.leaderboard.figures.wrong import row_slug
from harness.store import atomic_save_npz, atomic_write_json, load_run, write_predictions

CLASSES = ("ok", "scratch", "dent")
EVIL = "<script>alert(1)</script>"
# row -> per-seed test.f1_macro; ranking: evil row, plain, small
ROWS = {"plain": [0.7, 0.8], f"net/{EVIL}": [0.9, 0.92], "small": [0.5]}
N = 18


def _pred(rng: np.random.Generator) -> PredictionSet:
    labels = np.arange(N) % 3
    proba = rng.dirichlet(np.ones(3), size=N)
    return PredictionSet(CLASSES, tuple(f"img{i}" for i in range(N)), labels, proba)


def _cell(root: Path, cell_id: str, row: str, seed: int, f1: float, rng: np.random.Generator) -> PredictionSet:
    d = root / cell_id
    atomic_write_json(
        d / "config.json",
        {
            "classes": list(CLASSES),
            "row": row,
            "seed": seed,
            "model": {"plugin": "toy", "depth": 2},
            "select_by": "val.f1_macro",
        },
    )
    metrics = {"test.f1_macro": f1, "test.accuracy": f1 - 0.01, "train_seconds": 3.0}
    for k, name in enumerate(CLASSES):
        metrics |= {
            f"test.precision_{name}": 0.1 * (k + 1) + seed / 100,
            f"test.recall_{name}": 0.2,
            f"test.f1_{name}": 0.3,
            f"test.support_{name}": 6,
        }
    atomic_write_json(d / "metrics.json", metrics)
    atomic_write_json(
        d / "history.json",
        [{"epoch": e, "train.loss": 1.0 / e, "val.loss": 1.1 / e, "val.f1_macro": 0.2 * e} for e in (1, 2, 3)],
    )
    pred = _pred(rng)
    write_predictions(d, "test", pred)
    atomic_write_json(d / "status.json", {"status": "done", "reason": "", "traceback": ""})
    return pred


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs") / "demo"
    rng = np.random.default_rng(1)
    for r, (row, values) in enumerate(ROWS.items()):
        for seed, f1 in enumerate(values):
            _cell(root, f"r{r}-s{seed}", row, seed, f1, rng)
    # maps for the plain row's first seed: 12 samples with maps, 7 thumbnails
    atomic_save_npz(
        root / "r0-s0" / "maps_test.npz",
        sample_ids=np.array([f"img{i}" for i in range(N)]),
        map_cam=rng.random((N, 4, 4)).astype(np.float16),
        map_attention=rng.random((N, 4, 4)).astype(np.float16),
        masks=(rng.random((N, 4, 4)) > 0.5).astype(np.uint8),
    )
    atomic_save_npz(
        root / "r0-s0" / "thumbs_test.npz",
        sample_ids=np.array([f"img{i}" for i in range(7)]),
        images=rng.integers(0, 256, (7, 8, 8, 3), dtype=np.uint8),
    )
    atomic_write_json(
        root / "bad-s0" / "status.json",
        {"status": "failed", "reason": "shape mismatch <1x3> & more", "traceback": "..."},
    )
    atomic_write_json(
        root / "run.json",
        {"harness_version": "0.1.0", "git_commit": "deadbeef", "device": "cpu", "started": "2025-01-02T03:04:05"},
    )
    return root


@pytest.fixture(scope="module")
def built(run_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("board")
    lb = build_leaderboard(load_run(run_dir), out, rank_by="test.f1_macro", title="Demo & co", description="three rows")
    return lb, (out / "index.html").read_text(encoding="utf-8"), out


def _models(lb) -> list[str]:
    """The ranked rows of trained models, in rank order (the chance rows left out)."""
    return [str(r) for r in lb.rows["row"] if lb.details[r].kind != "chance"]


def _row_page(out: Path, row: str) -> str:
    return (out / "rows" / f"{row_slug(row)}.html").read_text(encoding="utf-8")


def test_page_lists_rows_failures_and_per_class_numbers(built) -> None:
    lb, html, out = built
    assert _models(lb) == [f"net/{EVIL}", "plain", "small"]
    for row in ("plain", "small", "net/&lt;script&gt;alert(1)&lt;/script&gt;"):
        assert row in html
        assert f'<a href="rows/{row_slug(str(escape_back(row)))}.html">{row}</a>' in html
    assert "shape mismatch &lt;1x3&gt; &amp; more" in html
    assert "<title>Demo &amp; co</title>" in html and "three rows" in html
    # per-class precision of "scratch" in the plain row: mean of 0.20 and 0.21, on the row's own page
    page = _row_page(out, "plain")
    ci = r"<span class=\"ci\">\[\d\.\d{4}, \d\.\d{4}\]</span>"  # bootstrap interval under each value
    assert re.search(
        rf"<td class=\"name\">scratch</td><td>0\.2050{ci}</td><td>0\.2000{ci}</td><td>0\.3000{ci}</td><td>6</td>", page
    )
    assert '<table class="per-class">' in page and '<table class="per-class">' not in html
    assert "0.7500 ± 0.0707" in html and "0.7500 ± 0.0707" in page  # plain row: mean and sample std of 0.7, 0.8
    assert "<title>#2 plain · Demo &amp; co</title>" in page and '<a href="../index.html">' in page
    assert "deadbeef" in html and "2025-01-02T03:04:05" in html


def escape_back(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">")


def test_pages_are_self_contained_and_escaped(built) -> None:
    lb, html, out = built
    pages = {row: _row_page(out, row) for row in _models(lb)}
    every = [str(r) for r in lb.rows["row"]]  # the chance rows have pages too
    assert sorted(p.name for p in (out / "rows").iterdir()) == sorted(f"{row_slug(r)}.html" for r in every)
    for text in (html, *pages.values()):
        assert EVIL not in text
        assert re.findall(r"<script[^>]*>", text) == ["<script>"]  # only the inline table sorter
        assert not re.search(r"(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", text)
        assert "<link" not in text and "@import" not in text and "fetch(" not in text
    assert "data:image/png" not in html  # no latency here, so no Pareto plot: the index has no figure
    # confusion + reliability + curves on each of 3 row pages, one overlay grid on the plain row's
    assert sum(p.count('<figure><img src="data:image/png;base64,') for p in pages.values()) == 10
    assert pages["plain"].count("test maps of r0-s0 (seed 0)") == 2  # alt text and caption
    assert '<section id="maps">' in pages["plain"] and '<section id="maps">' not in pages["small"]


def test_output_is_deterministic(run_dir: Path, tmp_path: Path) -> None:
    run = load_run(run_dir)
    for name in ("one", "two"):
        build_leaderboard(run, tmp_path / name, rank_by="test.f1_macro", title="Demo")
    files = sorted(str(p.relative_to(tmp_path / "one")) for p in (tmp_path / "one").rglob("*") if p.is_file())
    assert files == sorted(str(p.relative_to(tmp_path / "two")) for p in (tmp_path / "two").rglob("*") if p.is_file())
    assert {"index.html", "results.json", "results.csv"} <= set(files) and len(files) == 3 + 5 + 3  # + 5 row pages (2 chance), 3 wrong
    for file in files:
        assert (tmp_path / "one" / file).read_bytes() == (tmp_path / "two" / file).read_bytes()


def test_jinja_hook_receives_the_strict_autoescaping_environment(run_dir: Path, tmp_path: Path) -> None:
    seen: list[jinja2.Environment] = []

    class Recorder:
        @hookimpl
        def harness_prepare_jinja2_environment(self, env: jinja2.Environment) -> None:
            seen.append(env)

    pm = pluggy.PluginManager("harness")
    pm.add_hookspecs(hookspecs)
    pm.register(Recorder())
    hook = pm.hook.harness_prepare_jinja2_environment
    build_leaderboard(load_run(run_dir), tmp_path / "b", rank_by="test.f1_macro", title="t", jinja_hook=hook)
    assert len(seen) == 1
    assert seen[0].autoescape is True and seen[0].undefined is jinja2.StrictUndefined


def test_terminal_table_lists_rows_in_rank_order(built) -> None:
    lb, _, _ = built
    text = terminal_table(lb)
    positions = [text.index(row) for row in (f"net/{EVIL}", "plain", "small")]
    assert positions == sorted(positions)
    assert "0.7500 ± 0.0707" in text and "0.9100 ± 0.0141" in text
    small_line = next(line for line in text.splitlines() if "small" in line)
    assert "0.5000" in small_line and "±" not in small_line  # one seed: no spread
    assert "failed bad-s0: shape mismatch <1x3> & more" in text


def _png_shape(uri: str) -> tuple[int, ...]:
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    return imread(io.BytesIO(base64.b64decode(uri[len(prefix) :])), format="png").shape


def test_overlay_grid_has_a_line_per_sample_and_a_column_per_map() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 8, 8, 1), dtype=np.uint8)
    maps = {"cam": rng.random((3, 4, 4)), "flat": np.ones((3, 4, 4))}
    masks = np.zeros((3, 4, 4), dtype=np.uint8)
    with_mask = _png_shape(overlay_plot(images, ["a", "b", "c"], maps, masks))
    without = _png_shape(overlay_plot(images[:2], ["a", "b"], maps, None))
    # TILE inches per cell (matplotlib truncates to whole pixels): columns image + 2 maps (+ mask), lines per sample + title band
    assert with_mask[:2] == (int((TILE * 3 + 0.2) * DPI), int(TILE * 4 * DPI))
    assert without[:2] == (int((TILE * 2 + 0.2) * DPI), int(TILE * 3 * DPI))


def test_curves_follow_the_selection_metric() -> None:
    history = [{"epoch": 1, "train.loss": 0.9, "val.f1_macro": 0.5, "val.recall_defect": 0.4}]
    assert select_metric({}, "test.f1_macro", history) == "val.f1_macro"
    assert select_metric({}, "test.f1_macro", history, "val.recall_defect") == "val.recall_defect"
    assert select_metric({"experiment": {"select_by": "val.x"}}, "test.f1_macro", history) == "val.x"
    assert select_metric({}, "test.auroc", history) is None
    assert curves_plot([("seed 0", [])], None) is None
    # one panel of 3.4 x 2.7 inches for the loss, one for the selection metric
    assert _png_shape(curves_plot([("seed 0", history)], "val.f1_macro"))[:2] == (int(2.7 * DPI), int(6.8 * DPI))
    assert _png_shape(curves_plot([("seed 0", history)], None))[:2] == (int(2.7 * DPI), int(3.4 * DPI))


def test_own_objective_is_drawn_apart_from_the_comparable_losses() -> None:
    # GAIN-MTL-like: a multi-task objective whose terms switch on at epochs 2 and 3, and the CE of the same batches
    history = [
        {"epoch": 1, "train.loss": 0.60, "train.cls": 0.60, "train.eval_loss": 0.60, "val.loss": 0.65},
        {"epoch": 2, "train.loss": 0.20, "train.cls": 0.30, "train.am": 0.2, "train.eval_loss": 0.40, "val.loss": 0.5},
        {"epoch": 3, "train.loss": 2.50, "train.cls": 0.20, "train.am": 0.1, "train.loc": 0.9, "train.eval_loss": 0.3,
         "val.loss": 0.45},
    ]
    assert objective_changes(history) == [(2.0, ["+am"]), (3.0, ["+loc"])]
    # three panels: train and validation CE, the objective, the selection metric
    assert _png_shape(curves_plot([("seed 0", history)], "val.loss"))[:2] == (int(2.7 * DPI), int(3 * 3.4 * DPI))
    caption = curves_caption([("seed 0", history)])
    assert "the loss panel scores both splits with the configured loss" in caption
    assert "dotted lines: the training objective changes (epoch 2: +am, epoch 3: +loc)" in caption
    # an older history without train.eval_loss: the objective is still kept out of the validation panel
    old = [{k: v for k, v in e.items() if k != "train.eval_loss"} for e in history]
    assert "a different function from the validation loss" in curves_caption([("seed 0", old)])
    plain = [{"epoch": 1, "train.loss": 0.6, "val.loss": 0.7}]
    assert curves_caption([("seed 0", plain)]) == "training curves (solid: train, dashed: validation)"
    assert objective_changes(plain) == []


def test_figures_refuse_text_too_small_to_read() -> None:
    fig = _new_figure(2.0, 2.0)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], label="five-pixel legend")
    ax.tick_params(labelsize=10)
    ax.legend(fontsize=5 * 72 / DPI)
    with pytest.raises(ValueError, match="five-pixel legend"):
        png_uri(fig)
    ax.legend(fontsize=MIN_TEXT_PX * 72 / DPI)
    assert png_uri(fig).startswith("data:image/png;base64,")


def test_gallery_shows_the_most_confident_wrong_predictions(built, run_dir: Path) -> None:
    _, html, out = built
    run = load_run(run_dir)
    wrong = []
    for cell, seed in (("r0-s0", "0"), ("r0-s1", "1")):  # the "plain" row, ranked second
        frame = run.predictions(cell, "test")
        proba = frame[[f"prob_{c}" for c in CLASSES]].to_numpy()
        for sid, label, p in zip(frame["sample_id"], frame["label"], proba):
            if p.argmax() != label:
                wrong.append((-p.max(), sid, seed))
    wrong.sort()
    shown = wrong[:24]
    with_thumb = [w for w in shown if w[1] in {f"img{i}" for i in range(7)}]  # thumbnails stored for img0..img6
    page = _row_page(out, "plain")
    section = page[page.index('<section id="wrong">') :]
    assert f"{len(wrong)} wrong predictions over 2 seeds" in section
    assert section.count('<figure class="thumb">') == len(with_thumb) > 0
    first = section.index('<figure class="thumb">')
    assert section.index(f"<code>{with_thumb[0][1]}</code>") < section.index('<figure class="thumb">', first + 1)
    unseen = section[section.index("Without a stored thumbnail") :]
    for _, sid, seed in shown:
        if (_, sid, seed) not in with_thumb:
            assert f"<code>{sid}</code> (" in unseen
    assert '<a href="../wrong/plain-' in section
    assert "<figure class=\"thumb\">" not in html


def test_ranking_marks_the_top_row_and_the_tests(built) -> None:
    lb, html, _ = built
    assert '<span class="badge top">#1</span>' in html and "Paired tests against #1" in html
    verdicts = {row: r.verdict for row, r in lb.paired["test.f1_macro"].items()}
    assert set(verdicts) - {"chance: majority class", "chance: stratified"} == {"plain", "small"}
    for verdict in verdicts.values():
        assert f'<span class="badge {verdict}"' in html
    assert 'id="calibration"' in html and "test.brier_positive_class" not in html  # three classes: no positive class
