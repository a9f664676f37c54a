"""Each op's shape, parameter and cost rule, against hand calculations written out here."""

import pytest

from resnet_inspect.model.ops import (OPS, Add, AvgPool, BatchNorm, Conv2D, Dense, Flatten, GlobalAvgPool,
                                      GlobalAvgPoolFlat, MaxPool, OpError, ReLU, Softmax, ZeroPad)


def test_zero_pad_grows_both_sides():
    # The blog: 224 + 3*2 = 230.
    assert ZeroPad(3).output_shape([(224, 224, 3)]) == (230, 230, 3)
    assert ZeroPad(1).output_shape([(55, 60, 8)]) == (57, 62, 8)


def test_conv1_of_resnet50():
    conv = Conv2D(filters=64, kernel=7, stride=2, padding=0, bias=True)
    # floor((230 - 7) / 2) + 1 = 112
    assert conv.output_shape([(230, 230, 3)]) == (112, 112, 64)
    # 7*7*3*64 weights + 64 biases = 9,408 + 64 (Keras summary: conv1 9472)
    assert conv.params([(230, 230, 3)]).trainable == 9472
    # 7*7*3 MACs per output element, 112*112*64 elements
    macs = 7 * 7 * 3 * 112 * 112 * 64
    assert conv.macs([(230, 230, 3)], (112, 112, 64)) == macs == 118_013_952
    assert conv.flops([(230, 230, 3)], (112, 112, 64)) == 2 * macs + 112 * 112 * 64


def test_conv_without_bias_and_with_padding_and_groups():
    conv = Conv2D(filters=64, kernel=3, stride=2, padding=1, bias=False, groups=2)
    # floor((56 + 2 - 3) / 2) + 1 = 28 (torchvision's v1.5 3x3/2)
    assert conv.output_shape([(56, 56, 64)]) == (28, 28, 64)
    assert conv.params([(56, 56, 64)]).trainable == 3 * 3 * 32 * 64
    assert conv.macs([(56, 56, 64)], (28, 28, 64)) == 3 * 3 * 32 * 64 * 28 * 28
    assert conv.flops([(56, 56, 64)], (28, 28, 64)) == 2 * 3 * 3 * 32 * 64 * 28 * 28


def test_strided_1x1_conv_on_an_odd_map():
    # 2019 code: 55x55 into a 1x1/2 conv gives floor((55 - 1) / 2) + 1 = 28.
    assert Conv2D(512, 1, 2, 0).output_shape([(55, 55, 256)]) == (28, 28, 512)


def test_conv_errors():
    with pytest.raises(OpError, match="needs H >= 7, got 6"):
        Conv2D(8, 7, 1, 0).output_shape([(6, 9, 3)])
    with pytest.raises(OpError, match="groups"):
        Conv2D(8, 1, 1, 0, groups=2).output_shape([(6, 6, 3)])
    with pytest.raises(OpError, match="H×W×C"):
        Conv2D(8, 1).output_shape([(10,)])


def test_batch_norm_keras_convention():
    bn = BatchNorm()
    params = bn.params([(56, 56, 64)])
    # Keras: gamma, beta trainable; moving mean and variance non-trainable (bn_conv1: 256 = 128 + 128).
    assert (params.trainable, params.non_trainable) == (128, 128)
    assert bn.output_shape([(56, 56, 64)]) == (56, 56, 64)
    assert bn.macs([(2, 2, 3)], (2, 2, 3)) == 0
    assert bn.flops([(2, 2, 3)], (2, 2, 3)) == 2 * 12


def test_relu_add_softmax_flatten():
    assert ReLU().flops([(2, 3, 4)], (2, 3, 4)) == 24
    assert Add().output_shape([(7, 7, 8), (7, 7, 8)]) == (7, 7, 8)
    assert Add().flops([(7, 7, 8), (7, 7, 8)], (7, 7, 8)) == 7 * 7 * 8
    with pytest.raises(OpError, match=r"equal shapes, got \[56, 56, 256\] and \[56, 56, 64\]"):
        Add().output_shape([(56, 56, 256), (56, 56, 64)])
    assert Flatten().output_shape([(1, 1, 2048)]) == (2048,)
    assert Softmax().flops([(1000,)], (1000,)) == 3000


def test_pools():
    # The blog: pad 1 then 3x3/2 max pool: floor((114 - 3) / 2) + 1 = 56; without the pad 55.
    assert MaxPool(3, 2).output_shape([(114, 114, 64)]) == (56, 56, 64)
    assert MaxPool(3, 2).output_shape([(112, 112, 64)]) == (55, 55, 64)
    assert MaxPool(3, 2).flops([(114, 114, 64)], (56, 56, 64)) == 8 * 56 * 56 * 64
    assert AvgPool(7, 7).output_shape([(7, 7, 2048)]) == (1, 1, 2048)
    assert AvgPool(7, 7).flops([(7, 7, 2048)], (1, 1, 2048)) == 49 * 2048
    assert AvgPool(7, 7).output_shape([(10, 13, 8)]) == (1, 1, 8)  # floor((10-7)/7)+1 = 1
    with pytest.raises(OpError, match="avg_pool 7×7 needs H >= 7, got 6"):
        AvgPool(7, 7).output_shape([(6, 6, 2048)])
    assert GlobalAvgPool().output_shape([(6, 9, 2048)]) == (1, 1, 2048)
    assert GlobalAvgPool().flops([(6, 9, 2048)], (1, 1, 2048)) == 6 * 9 * 2048
    # Keras' GlobalAveragePooling2D: (None, 2048) in ResNet50V2's summary; the same H·W adds per channel
    flat = GlobalAvgPoolFlat()
    assert flat.output_shape([(6, 9, 2048)]) == (2048,)
    assert flat.flops([(6, 9, 2048)], (2048,)) == 6 * 9 * 2048
    assert flat.params([(6, 9, 2048)]).trainable == 0 and flat.min_input(1) == 1
    assert flat.receptive([(6, 9, 2048)]).kernel == (6, 9)  # one window over the whole map


def test_dense():
    fc = Dense(1000)
    assert fc.output_shape([(2048,)]) == (1000,)
    # Keras summary: fc1000 2,049,000 = 2048*1000 + 1000
    assert fc.params([(2048,)]).trainable == 2_049_000
    assert fc.macs([(2048,)], (1000,)) == 2_048_000
    assert fc.flops([(2048,)], (1000,)) == 2 * 2_048_000 + 1000
    with pytest.raises(OpError, match="flat vector"):
        fc.output_shape([(7, 7, 2048)])


def test_op_table_has_every_kind_once():
    kinds = [op.kind for op in OPS.values()]
    assert len(kinds) == len(set(kinds)) == 13
