"""A Ctrl-C held back over steps that must not be cut apart, and delivered after them."""

import os
import signal
import threading
import time

import pytest
import torch

from harness import isolation
from harness.train.resume import StateWriter, load_state


def test_a_held_ctrl_c_arrives_after_the_block_and_counts_as_the_users():
    isolation.watch_interrupts()
    steps = []
    since = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with isolation.interrupts_held():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # a signal not held would interrupt here
            steps.append("the block ran to its end")
    assert steps == ["the block ran to its end"]
    assert isolation.user_interrupted(since)


def test_no_ctrl_c_no_interrupt():
    handler = signal.getsignal(signal.SIGINT)
    with isolation.interrupts_held():
        total = sum(range(10))
    assert total == 45
    assert signal.getsignal(signal.SIGINT) is handler


def test_a_ctrl_c_inside_thread_start_leaves_a_writer_that_can_be_waited_for(tmp_path, monkeypatch):
    """The SIGINT lands inside ``Thread.start`` (where a real one once did): the state is
    still written, ``wait()`` joins, and the interrupt is a ``KeyboardInterrupt``."""
    original = threading.Thread.start

    def start_with_ctrl_c(self):
        os.kill(os.getpid(), signal.SIGINT)
        original(self)

    writer = StateWriter(tmp_path / "resume.pt")
    monkeypatch.setattr(threading.Thread, "start", start_with_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        writer.submit({"epoch": 3, "w": torch.arange(4.0)})
    monkeypatch.undo()
    writer.wait()
    state = load_state(tmp_path / "resume.pt")
    assert state["epoch"] == 3 and torch.equal(state["w"], torch.arange(4.0))
