"""The presets: the paper's published settings, the interactive ones' measured deviations."""

from __future__ import annotations

import pytest

from ugpcl_engine.config import RunSpec, preset


def test_paper_preset_keeps_the_published_augmentation_and_weights() -> None:
    spec = preset("paper", 3)
    aug = spec.training.augmentation
    assert aug.flip_p == 0.5 and aug.rot90_labeled and aug.rotate_deg == 20.0
    assert spec.model.backbone == "resnet50"
    assert spec.training.optimizer == "sgd" and spec.training.steps == 10_000
    assert spec.training.w_con == 0.01 and spec.training.w_rot == 0.1


@pytest.mark.parametrize("name", ["quick", "standard"])
def test_interactive_presets_keep_the_scan_orientation_for_labeled_slices(name: str) -> None:
    aug = preset(name, 3).training.augmentation
    assert aug.flip_p == 0.0
    assert not aug.rot90_labeled


def test_augmentation_settings_survive_the_checkpoint_dict_and_old_dicts_load() -> None:
    spec = preset("quick", 3)
    assert RunSpec.from_dict(spec.to_dict()) == spec
    old = spec.to_dict()
    del old["training"]["augmentation"]["rot90_labeled"]  # written before the field existed
    assert RunSpec.from_dict(old).training.augmentation.rot90_labeled
