"""A generated leaderboard in a real headless Chromium: no console errors, sortable tables,
a ranking that fits a 1400 px window, row pages that open from the index.

Chromium is driven through the DevTools protocol over a websocket, with a minimal
websocket client written on the standard library (text frames, client masking, the
three payload-length forms), so the test needs no Python package beyond the harness.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pytest

from harness import PredictionSet
from harness.leaderboard import build_leaderboard
from harness.leaderboard.figures.wrong import row_slug
from harness.metrics import classification_metrics
from harness.store import atomic_save_npz, atomic_write_json, load_run, write_predictions

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium)")

CLASSES = ("normal", "defect")
N = 60
# row -> (skill, latency): ranked b, c, a by F1, so rank order is neither alphabetical nor by latency
ROWS = {"a-model": (0.6, 1.0), "b-model": (3.0, 9.0), "c-model": (1.6, 3.0)}
# names as long as the ablation's, for the width check
LONG_ROWS = {
    "gain-mtl strategy=S6 backbone=resnet10t fpn_channels=32 hidden=64 head_channels=32": (2.5, 6.0),
    "cats img_size=64 patch_size=16 cnn_feature_extractor=efficientnet_b0_feat2 emb_dim=24": (1.2, 4.0),
    "timm arch=efficientnet_b0 +tta(identity,hflip,vflip) mean": (2.0, 12.0),
    "ensemble stacking": (2.8, 20.0),
    "timm arch=convnext_atto": (1.8, 2.0),
}


class DevTools:
    """Just enough of a websocket client to speak the DevTools protocol."""

    def __init__(self, url: str, timeout: float = 30.0):
        parts = urlparse(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {parts.path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            response += self.sock.recv(1)
        assert response.startswith(b"HTTP/1.1 101"), response
        self.events: list[dict[str, Any]] = []
        self.next_id = 0

    def _exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("DevTools connection closed")
            data += chunk
        return data

    def _send_frame(self, payload: bytes, opcode: int = 0x1) -> None:
        head = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _receive(self) -> dict[str, Any]:
        message = b""
        while True:
            first, second = self._exact(2)
            n = second & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._exact(8))[0]
            payload = self._exact(n)
            opcode = first & 0x0F
            if opcode == 0x9:  # ping
                self._send_frame(payload, 0xA)
                continue
            if opcode == 0x8:
                raise ConnectionError("DevTools connection closed")
            message += payload
            if first & 0x80:  # final fragment
                return json.loads(message)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self._send_frame(json.dumps({"id": self.next_id, "method": method, "params": params}).encode())
        while True:
            message = self._receive()
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events if e.get("method") == method]
            if found:
                return found[0]
            self.events.append(self._receive())
        raise TimeoutError(method)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")


def _write_run(root: Path, rows: dict[str, tuple[float, float]] = ROWS) -> None:
    rng = np.random.default_rng(3)
    labels = np.arange(N) % 2
    ids = tuple(f"img{i:03d}" for i in range(N))
    for r, (row, (skill, latency)) in enumerate(rows.items()):
        p1 = 1.0 / (1.0 + np.exp(-(skill * (2 * labels - 1) + rng.normal(size=N))))
        proba = np.stack([1 - p1, p1], axis=1)
        cell = root / f"cell{r}-s0"
        atomic_write_json(
            cell / "config.json", {"classes": list(CLASSES), "row": row, "seed": 0, "model": {"plugin": row}}
        )
        history = [{"epoch": e, "train.loss": 1 / e, "val.loss": 1.2 / e, "val.f1_macro": 0.5 + 0.1 * e} for e in (1, 2)]
        atomic_write_json(cell / "history.json", history)
        metrics = {f"test.{k}": v for k, v in classification_metrics(labels, proba, CLASSES).items()}
        atomic_write_json(cell / "metrics.json", metrics | {"test.latency_ms": latency, "params": 1000.0 * latency})
        write_predictions(cell, "test", PredictionSet(CLASSES, ids, labels, proba))
        thumbs = rng.integers(0, 256, (N, 16, 16, 3), dtype=np.uint8)
        atomic_save_npz(cell / "thumbs_test.npz", sample_ids=np.array(ids), images=thumbs)
        atomic_write_json(cell / "status.json", {"status": "done"})


def start_chromium(profile: Path) -> DevTools:
    """A headless Chromium on a fresh profile, driven over DevTools on loopback; the
    process is ``.proc`` of the returned client (end it with :func:`stop_chromium`)."""
    proc = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-extensions",
            "--hide-scrollbars",
            "--window-size=1280,900",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("chromium did not start its DevTools endpoint")
            time.sleep(0.05)
        port = int(port_file.read_text().splitlines()[0])
        loopback = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an http_proxy
        with loopback.open(f"http://127.0.0.1:{port}/json/list", timeout=30) as answer:
            pages = [t for t in json.load(answer) if t["type"] == "page"]
        tools = DevTools(pages[0]["webSocketDebuggerUrl"])
    except BaseException:
        _end(proc)
        raise
    tools.proc = proc
    return tools


def stop_chromium(tools: DevTools) -> None:
    tools.sock.close()
    _end(tools.proc)


def _end(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture()
def browser(tmp_path: Path):
    tools = start_chromium(tmp_path / "profile")
    try:
        yield tools
    finally:
        stop_chromium(tools)


def _click(tools: DevTools, selector: str) -> None:
    """A real mouse click in the middle of the element."""
    box = tools.evaluate(
        f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView({{block: 'center'}});"
        " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
    )
    for kind in ("mousePressed", "mouseReleased"):
        tools.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)


def _order(tools: DevTools, table: str) -> list[str]:
    return tools.evaluate(
        f"Array.from(document.querySelectorAll('table.{table} tbody tr')).map(r => r.cells[1].querySelector('a').textContent.trim())"
    )


def _errors(events: list[dict[str, Any]]) -> list[Any]:
    errors = []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            errors.append(params)
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(params)
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            errors.append(params["entry"])
    return errors


def test_leaderboard_sorts_in_chromium_without_errors(browser: DevTools, tmp_path: Path) -> None:
    _write_run(tmp_path / "runs" / "web")
    out = tmp_path / "board"
    build_leaderboard(load_run(tmp_path / "runs" / "web"), out, rank_by="test.f1_macro", title="Browser check")
    results = json.loads((out / "results.json").read_text())
    ranked = [r["row"] for r in results["rows"]]
    by_ece = sorted(
        ranked, key=lambda r: next(x for x in results["rows"] if x["row"] == r)["metrics"]["test.ece"]["mean"]
    )
    assert [r for r in ranked if r in ROWS] == ["b-model", "c-model", "a-model"]  # chance rows rank among them

    for domain in ("Runtime", "Log", "Page"):
        browser.call(f"{domain}.enable")
    browser.call("Page.navigate", url=(out / "index.html").resolve().as_uri())
    browser.wait_for("Page.loadEventFired")
    assert _order(browser, "ranking") == ranked

    _click(browser, "table.ranking thead th:nth-child(2)")  # the row names: alphabetical first
    assert _order(browser, "ranking") == sorted(ranked)
    _click(browser, "table.ranking thead th:nth-child(2)")  # again: reversed
    assert _order(browser, "ranking") == sorted(ranked, reverse=True)
    _click(browser, "table.calibration thead th:nth-child(3)")  # test.ece: lower is better, ascending first
    assert _order(browser, "calibration") == by_ece
    assert (
        browser.evaluate("document.querySelector('table.calibration thead th:nth-child(3)').getAttribute('aria-sort')")
        == "ascending"
    )

    shot = base64.b64decode(browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"])
    path = tmp_path / "leaderboard.png"
    path.write_bytes(shot)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack("!II", shot[16:24])  # IHDR
    assert width >= 1000 and height >= 800 and len(shot) > 20_000
    time.sleep(0.2)  # let late console messages arrive
    browser.call("Runtime.evaluate", expression="1")
    assert _errors(browser.events) == []


def _open(tools: DevTools, path: Path) -> None:
    tools.events.clear()
    tools.call("Page.navigate", url=path.resolve().as_uri())
    tools.wait_for("Page.loadEventFired")


def _screenshot(tools: DevTools, path: Path) -> tuple[int, int]:
    shot = base64.b64decode(tools.call("Page.captureScreenshot", format="png")["data"])
    path.write_bytes(shot)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack("!II", shot[16:24])  # IHDR: width, height


@pytest.fixture()
def long_board(tmp_path: Path) -> Path:
    _write_run(tmp_path / "runs" / "long", LONG_ROWS)
    out = tmp_path / "board"
    build_leaderboard(load_run(tmp_path / "runs" / "long"), out, rank_by="test.recall_defect", title="Width check")
    return out


def test_ranking_fits_a_1400_px_window(browser: DevTools, long_board: Path, tmp_path: Path) -> None:
    for domain in ("Runtime", "Log", "Page"):
        browser.call(f"{domain}.enable")
    browser.call("Emulation.setDeviceMetricsOverride", width=1400, height=900, deviceScaleFactor=1, mobile=False)
    _open(browser, long_board / "index.html")
    assert browser.evaluate("window.innerWidth") == 1400
    assert _screenshot(browser, tmp_path / "index-1400.png") == (1400, 900)
    # the rank metric and "vs #1" lie inside the window and nothing scrolls sideways
    for selector in ("table.ranking th.key", "table.ranking th.versus", "table.ranking tbody tr:last-child td.key"):
        box = browser.evaluate(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
            " return [r.left, r.right, r.width]; })()"
        )
        assert 0 <= box[0] and box[1] <= 1400 and box[2] > 0, (selector, box)
    assert browser.evaluate("document.querySelector('table.ranking th.key').textContent") == "test.recall_defect"
    overflow = "(() => { const s = document.querySelector('table.ranking').parentNode; return [s.scrollWidth, s.clientWidth]; })()"
    width, visible = browser.evaluate(overflow)
    assert width <= visible
    assert browser.evaluate("document.documentElement.scrollWidth") <= 1400
    # the other columns wait behind the toggle, and a real click on its label shows them
    hidden = "Array.from(document.querySelectorAll('table.ranking thead th.more')).map(e => getComputedStyle(e).display)"
    shown = browser.evaluate(hidden)
    assert len(shown) >= 4 and set(shown) == {"none"}
    _click(browser, "label[for=all-columns]")
    assert set(browser.evaluate(hidden)) == {"table-cell"}
    assert browser.evaluate("document.getElementById('all-columns').checked") is True
    wide, visible = browser.evaluate(overflow)
    assert wide > visible  # every column at once does not fit: the check above can fail
    _screenshot(browser, tmp_path / "index-1400-all-columns.png")
    # sorting still follows the header that was clicked, hidden columns and all
    _click(browser, "table.ranking thead th:nth-child(2)")
    assert _order(browser, "ranking") == sorted(_order(browser, "ranking"))
    height = browser.evaluate("document.documentElement.scrollHeight")
    assert height < 4000, height  # the index holds tables, not every row's figures
    time.sleep(0.2)
    browser.call("Runtime.evaluate", expression="1")
    assert _errors(browser.events) == []


def test_a_row_page_opens_from_the_index(browser: DevTools, long_board: Path, tmp_path: Path) -> None:
    for domain in ("Runtime", "Log", "Page"):
        browser.call(f"{domain}.enable")
    browser.call("Emulation.setDeviceMetricsOverride", width=1400, height=900, deviceScaleFactor=1, mobile=False)
    _open(browser, long_board / "index.html")
    row = "cats img_size=64 patch_size=16 cnn_feature_extractor=efficientnet_b0_feat2 emb_dim=24"
    browser.events.clear()
    _click(browser, f"table.ranking a[href='rows/{row_slug(row)}.html']")  # a real click on the row's name
    browser.wait_for("Page.loadEventFired")
    assert browser.evaluate("location.pathname").endswith(f"/rows/{row_slug(row)}.html")
    assert browser.evaluate("document.querySelector('h1').textContent").endswith(row)
    sections = browser.evaluate("Array.from(document.querySelectorAll('main > section')).map(s => s.id)")
    assert sections[:2] == ["summary", "per-class"] and {"confusion", "curves", "wrong"} <= set(sections)
    contents = browser.evaluate("Array.from(document.querySelectorAll('nav.contents a')).map(a => a.getAttribute('href'))")
    assert contents == [f"#{s}" for s in sections]
    # every figure decodes, and none is wider than the window (text stays at its drawn size)
    sizes = browser.evaluate("Array.from(document.querySelectorAll('figure img')).map(i => [i.naturalWidth, i.width])")
    assert all(n > 0 and 0 < w <= 1400 for n, w in sizes), sizes
    assert len(sizes) > 3 and browser.evaluate("document.querySelectorAll('.gallery img').length") == len(sizes) - 3
    figures = browser.evaluate("Array.from(document.querySelectorAll('.figures img')).map(i => [i.naturalWidth, i.width])")
    assert all(n == w for n, w in figures), figures  # shown at their pixel size, not shrunk
    assert browser.evaluate("document.documentElement.scrollWidth") <= 1400
    assert _screenshot(browser, tmp_path / "row-1400.png") == (1400, 900)
    console = list(browser.events)
    browser.events.clear()
    _click(browser, "nav.crumbs a[href='../index.html']")
    browser.wait_for("Page.loadEventFired")
    assert browser.evaluate("location.pathname").endswith("/board/index.html")
    time.sleep(0.2)
    browser.call("Runtime.evaluate", expression="1")
    assert _errors(console + browser.events) == []
