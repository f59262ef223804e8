"""Test-time augmentation: every view of a batch in one forward pass, stored per view.

The TTA registry holds two public types (:mod:`harness.tta.types`): a
:class:`TTAView` maps float images ``[B, C, H, W]`` in ``[0, 255]`` to
``[forwards * B, C, H, W]``; a :class:`TTAMerge` maps per-view probabilities
``[V, N, K]`` to ``[N, K]``. Where each part lives:

* :mod:`~harness.tta.checks`: entries built by name, a ``[tta]`` table checked;
* :mod:`~harness.tta.predict`: every view of a batch in one forward pass (during a cell);
* :mod:`~harness.tta.store`: ``tta_<split>.npz`` in a cell folder;
* :mod:`~harness.tta.search`: greedy view selection on validation;
* :mod:`~harness.tta.rows`: TTA rows of the leaderboard, from the stored views.
"""

from __future__ import annotations

from harness.tta.checks import check_tta, forwards, resolve
from harness.tta.predict import predict_views, store_tta
from harness.tta.store import TTAViews, load_tta, save_tta, tta_path
from harness.tta.types import TTAMerge, TTAView

__all__ = ["TTAMerge", "TTAView", "TTAViews", "check_tta", "forwards", "load_tta", "predict_views", "resolve",
           "save_tta", "store_tta", "tta_path"]
