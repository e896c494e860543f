"""Shapes and sizes of the popularity study's networks."""

from __future__ import annotations

import pytest
import torch

from trackscope.models.nets import CNN1, CNN2, CRNN, MLP, EmbeddingHead, build, n_parameters


@pytest.mark.parametrize("name", ["mlp", "cnn1", "cnn2", "crnn"])
@pytest.mark.parametrize("shape", [(128, 1292), (128, 130), (64, 87), (32, 40)])
def test_every_net_maps_a_batch_to_one_logit_per_clip(name, shape):
    if name == "mlp" and shape == (128, 1292):
        pytest.skip("21 M parameters: counted below, not run")
    torch.manual_seed(0)
    net = build(name, n_mels=shape[0], n_frames=shape[1]).eval()
    out = net(torch.randn(3, 1, *shape))
    assert out.shape == (3,)
    assert torch.isfinite(out).all()


def test_study_sizes_at_128_by_1292():
    # Flatten widths follow the pools: CNN 128/16 × 1292/64 = 8 × 20; CRNN pools frequency to 1 and time to 80 steps.
    assert n_parameters(MLP(128, 1292)) == 128 * 1292 * 128 + 128 + 128 * 64 + 64 + 65
    cnn1 = CNN1(128, 1292)
    assert cnn1.head[1].in_features == 128 * 8 * 20
    assert [m.out_features for m in cnn1.head if isinstance(m, torch.nn.Linear)] == [128, 64, 1]
    assert [m.p for m in cnn1.head if isinstance(m, torch.nn.Dropout)] == [0.3, 0.3]
    cnn2 = CNN2(128, 1292)
    assert [m.out_features for m in cnn2.head if isinstance(m, torch.nn.Linear)] == [128, 1]
    assert [m.out_channels for m in cnn1.features if isinstance(m, torch.nn.Conv2d)] == [16, 32, 64, 128]
    assert [m.kernel_size for m in cnn1.features if isinstance(m, torch.nn.MaxPool2d)] == [
        (2, 4),
        (2, 4),
        (2, 2),
        (2, 2),
    ]
    crnn = CRNN(128, 1292)
    assert [m.out_channels for m in crnn.features if isinstance(m, torch.nn.Conv2d)] == [64, 128, 128, 128]
    assert [m.kernel_size for m in crnn.features if isinstance(m, torch.nn.MaxPool2d)] == [
        (2, 2),
        (4, 2),
        (4, 2),
        (4, 2),
    ]
    assert all(isinstance(m, torch.nn.ELU) for m in crnn.features if isinstance(m, torch.nn.ELU | torch.nn.ReLU))
    assert crnn.gru.num_layers == 2 and crnn.gru.hidden_size == 32 and crnn.gru.input_size == 128
    assert 380_000 < n_parameters(crnn) < 400_000
    assert 2_700_000 < n_parameters(cnn1) < 2_750_000


def test_embedding_head_and_unknown_name():
    assert EmbeddingHead(400)(torch.randn(5, 400)).shape == (5,)
    assert build("embedding", n_inputs=10)(torch.randn(2, 10)).shape == (2,)
    with pytest.raises(ValueError, match="unknown network"):
        build("resnet", n_mels=1, n_frames=1)
