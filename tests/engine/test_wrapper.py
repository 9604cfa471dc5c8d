"""The inference graph: CNN-decoder labels, entropy of the two-decoder mean, native size."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from tiny import TINY_MODEL

from ugpcl_engine.inference.wrapper import InferenceNet
from ugpcl_engine.model import build_model


def test_labels_come_from_cnn_decoder_and_entropy_from_the_mean() -> None:
    torch.manual_seed(0)
    net = build_model(TINY_MODEL).eval()
    model = InferenceNet(net, 64).eval()
    image = torch.rand(2, 1, 40, 56)
    with torch.no_grad():
        probs, labels, entropy = model(image)
        seg, seg_tf = net.forward_decoders(F.interpolate(image, size=(64, 64), mode="bilinear"))
    p = F.interpolate(seg.softmax(1), size=(40, 56), mode="bilinear")
    mean = F.interpolate(0.5 * (seg.softmax(1) + seg_tf.softmax(1)), size=(40, 56), mode="bilinear")
    assert probs.shape == (2, 3, 40, 56) and labels.shape == (2, 40, 56)
    assert torch.equal(labels, p.argmax(1))
    assert torch.allclose(probs, mean, atol=1e-6)
    assert torch.allclose(entropy, -(mean * torch.log(mean + 1e-6)).sum(1), atol=1e-5)
    # the two decoders disagree somewhere on a random net: labels are not the mean's argmax
    assert not torch.equal(labels, mean.argmax(1))
