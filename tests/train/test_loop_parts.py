from __future__ import annotations

import pytest
import torch

from harness.errors import HarnessError
from harness.schedule import Schedule
from harness.train.components import Selection, check_plateau_direction, head_parameters, set_backbone_frozen
from harness.train.loop import batch_slices


def test_batch_slices_merge_a_trailing_single_sample():
    assert batch_slices(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert batch_slices(9, 4) == [(0, 4), (4, 9)]
    assert batch_slices(1, 4) == [(0, 1)]
    assert batch_slices(8, 4) == [(0, 4), (4, 8)]


def test_selection_tracks_best_and_stops_after_patience():
    model = torch.nn.Linear(2, 2)
    sel = Selection("val.f1_macro", patience=2, min_delta=0.0)
    assert not sel.update(1, 0.5, model)
    with torch.no_grad():
        model.weight.fill_(1.0)
    assert not sel.update(2, 0.7, model)
    assert not sel.update(3, 0.6, model)
    assert sel.update(4, 0.7, model)  # equal is not better: second stale epoch
    assert (sel.best, sel.best_epoch) == (0.7, 2)
    assert torch.equal(sel.state["weight"], torch.ones(2, 2))


def test_selection_on_a_loss_prefers_lower():
    model = torch.nn.Linear(1, 1)
    sel = Selection("val.loss", patience=None, min_delta=0.0)
    for epoch, value in enumerate([0.9, 0.5, 0.7], start=1):
        sel.update(epoch, value, model)
    assert (sel.best, sel.best_epoch) == (0.5, 2)


def test_progressive_unfreezing_freezes_all_but_the_head():
    import timm

    model = timm.create_model("resnet10t", pretrained=False, num_classes=2)
    trainable = {id(p): p.requires_grad for p in model.parameters()}
    head = head_parameters(model)
    assert head == {id(p) for p in model.get_classifier().parameters()}
    set_backbone_frozen(model, True, trainable)
    assert {id(p) for p in model.parameters() if p.requires_grad} == head
    set_backbone_frozen(model, False, trainable)
    assert all(p.requires_grad for p in model.parameters())


def test_plateau_direction_must_match_the_metric():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    plateau = Schedule(torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max"), "epoch", "max")
    check_plateau_direction(plateau, "val.f1_macro")
    with pytest.raises(HarnessError, match="set mode = 'min'"):
        check_plateau_direction(plateau, "val.loss")
