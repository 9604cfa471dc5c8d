"""MC-dropout support and the calibration benchmark's measures."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from tiny import TINY_MODEL

from ugpcl_benchmarks import calibration
from ugpcl_benchmarks.mc_dropout import MCDropoutNet, decoder_dropout, predict_volume
from ugpcl_benchmarks.volumes import LabeledVolume, load_chest
from ugpcl_engine.config import RunSpec, TrainingConfig
from ugpcl_engine.data.normalisation import IntensityWindow
from ugpcl_engine.inference.wrapper import InferenceNet
from ugpcl_engine.model import build_model

TINY = TINY_MODEL


def test_score_uncertainty_on_hand_made_volumes() -> None:
    ref = np.zeros((3, 2, 2), np.uint8)
    labels = ref.copy()
    labels[1, 0, 0] = 1  # the only error on held-out slice 1
    labels[0, :, :] = 1  # errors on slice 0 are ignored: it was labeled
    entropy = np.full(ref.shape, 0.1, np.float32)
    entropy[1, 0, 0] = 0.9
    conf = np.full(ref.shape, 0.75, np.float32)
    scores = calibration.score_uncertainty(labels, entropy, conf, ref, [1, 2], 1.5)
    assert scores.auroc == 1.0  # the error has the highest entropy
    assert scores.accuracy == pytest.approx(7 / 8)
    assert scores.ece == pytest.approx(abs(7 / 8 - 0.75))  # all 8 voxels in one bin
    assert scores.seconds == 1.5
    counts = scores.curve["counts"]
    assert sum(c or 0 for c in counts) == 8 and len(counts) == calibration.BINS
    assert scores.curve["accuracy"][0] is None  # empty bins are null, not NaN


def test_decoder_dropout_only_while_open_and_training() -> None:
    torch.manual_seed(0)
    net = build_model(TINY)
    x = torch.rand(2, 1, 64, 64)
    net.train()
    with torch.no_grad():
        ref = net(x).seg
        assert torch.equal(net(x).seg, ref)  # train-mode BN is deterministic without dropout
        with decoder_dropout(0.5):
            dropped = net(x).seg
            net.eval()
            eval_a, eval_b = net(x).seg, net(x).seg
        assert not torch.allclose(dropped, ref)
        assert torch.equal(eval_a, eval_b)  # eval mode: no dropout
        net.train()
        assert torch.equal(net(x).seg, ref)  # the hook is gone
    with pytest.raises(ValueError, match="dropout"), decoder_dropout(1.0):
        pass


def test_mc_dropout_net_is_stochastic_and_normalised() -> None:
    torch.manual_seed(0)
    net = build_model(TINY).eval()
    model = MCDropoutNet(net, 32, p=0.3, passes=3)
    x = torch.rand(2, 1, 20, 24)
    with torch.no_grad():
        probs, labels, entropy = model(x)
        probs_b, _, _ = model(x)
    assert probs.shape == (2, 3, 20, 24) and labels.shape == entropy.shape == (2, 20, 24)
    assert torch.allclose(probs.sum(1), torch.ones(2, 20, 24), atol=1e-5)
    assert not torch.allclose(probs, probs_b)
    assert float(entropy.min()) >= 0.0 and float(entropy.max()) <= math.log(3) + 1e-4
    with pytest.raises(ValueError, match="passes"):
        MCDropoutNet(net, 32, p=0.0)


def test_predict_volume_matches_the_inference_net() -> None:
    torch.manual_seed(0)
    net = build_model(TINY).eval()
    image = np.random.default_rng(0).uniform(0, 100, (5, 20, 24)).astype(np.float32)
    window = IntensityWindow("mr", 0.0, 100.0)
    model = InferenceNet(net, 32)
    labels, entropy, conf = predict_volume(model, image, window, "y", batch_size=7)
    assert labels.shape == entropy.shape == conf.shape == image.shape
    with torch.no_grad():
        probs, want_labels, _ = model(torch.from_numpy(image[:, 3][None, None] / 100.0))
    assert np.array_equal(labels[:, 3], want_labels[0].numpy())
    assert np.allclose(conf[:, 3], probs.amax(1)[0].numpy(), atol=1e-5)


def test_calibrate_tiny_run_on_the_chest_ct() -> None:
    full = load_chest()
    vol = LabeledVolume(
        "chest", full.image_zyx[:12], full.labels_zyx[:12], full.spacing_zyx, "CT", full.table
    )
    model = replace(TINY, num_classes=full.table.num_classes)
    training = TrainingConfig(
        steps=2, batch_labeled=1, batch_unlabeled=1, input_size=32, device="cpu", log_every=1
    )
    results = calibration.calibrate(vol, RunSpec(model, training, "test"), k=3, passes=2)
    assert set(results) == {"decoders", "mcdropout"}
    for scores in results.values():
        assert 0.0 <= scores.auroc <= 1.0 and 0.0 <= scores.ece <= 1.0
        assert 0.0 <= scores.accuracy <= 1.0 and scores.seconds > 0
        assert sum(c or 0 for c in scores.curve["counts"]) == 9 * 128 * 128  # 12 - 3 slices
