"""Whole networks against independent numbers: the blog, Keras, torchvision, the paper."""

import pytest

import resnet_inspect
from resnet_inspect import ShapeError, trace


def shape(result, name):
    return list(result.layer(name).output_shape)


def test_resnet50_follows_the_blog_walkthrough():
    # Every shape below is stated in the blog's text (seed-blog-resnet50.txt).
    r = trace("resnet50", input=224)
    assert shape(r, "conv1_pad") == [230, 230, 3]       # "224+3*2 = 230 ... 230,230,3"
    assert shape(r, "conv1") == [112, 112, 64]
    assert shape(r, "pool1") == [56, 56, 64]            # "[56, 56, 64]" after conv and pool
    assert shape(r, "res2a_branch2a") == [56, 56, 64]   # "conv: [56, 56, 64] ==> [56, 56, 64]"
    assert shape(r, "res2a_branch2c") == [56, 56, 256]
    assert shape(r, "res2a_branch1") == [56, 56, 256]
    assert shape(r, "res2a") == [56, 56, 256]
    assert shape(r, "res3d_relu") == [28, 28, 512]
    assert shape(r, "res4f_relu") == [14, 14, 1024]
    assert shape(r, "res5c_relu") == [7, 7, 2048]
    assert shape(r, "avg_pool") == [1, 1, 2048]
    assert shape(r, "fc1000") == [1000]


def test_resnet50_2019_really_builds_55():
    # The 2019 code has no ZeroPadding before MaxPooling2D((3, 3), strides=(2, 2)):
    # floor((112 - 3) / 2) + 1 = 55, as Keras builds it; then the 1x1/2 convs give
    # floor((55 - 1) / 2) + 1 = 28, 14, 7 as before.
    r = trace("resnet50-2019", input=224)
    assert shape(r, "pool1") == [55, 55, 64]
    assert shape(r, "res2c_relu") == [55, 55, 256]
    assert shape(r, "res3d_relu") == [28, 28, 512]
    assert shape(r, "res4f_relu") == [14, 14, 1024]
    assert shape(r, "res5c_relu") == [7, 7, 2048]
    assert "pool1_pad" not in [layer.name for layer in r.layers]


def test_resnet50_layer_names_follow_keras():
    names = [layer.name for layer in trace("resnet50").layers]
    for name in ["conv1", "bn_conv1", "res2a_branch2a", "bn2a_branch2a", "res2a_branch1", "bn2a_branch1",
                 "res2b_branch2c", "res4f_branch2c", "bn5c_branch2c", "avg_pool", "fc1000"]:
        assert name in names
    assert len(names) == len(set(names))
    # Keras' ResNet50 has 53 Conv2D and 53 BatchNormalization layers (49 + 4 shortcuts).
    ops = [layer.op for layer in trace("resnet50").layers]
    assert ops.count("conv") == 53 and ops.count("batch_norm") == 53 and ops.count("add") == 16


def test_resnet50_params_match_keras():
    # keras.applications.ResNet50(weights=None).summary(): Total 25,636,712,
    # Trainable 25,583,592, Non-trainable 53,120.
    t = trace("resnet50").totals
    assert (t.params, t.trainable_params, t.non_trainable_params) == (25_636_712, 25_583_592, 53_120)
    assert trace("resnet50-2019").totals.params == 25_636_712


def independent_resnet_macs(blocks, pooled_size, stride_on_3x3):
    """conv + fc MACs of a bottleneck ResNet, written from the paper's Table 1 without the engine."""
    size = 224 // 2  # conv1 7x7/2
    macs = 7 * 7 * 3 * 64 * size * size
    size = pooled_size
    c_in = 64
    for stage, (n, width) in enumerate(zip(blocks, (64, 128, 256, 512))):
        for b in range(n):
            stride = 2 if (b == 0 and stage > 0) else 1
            out = (size - 1) // stride + 1
            size_2a = out if not stride_on_3x3 else size
            macs += c_in * width * size_2a * size_2a          # 1x1 (strided in v1)
            macs += 9 * width * width * out * out             # 3x3 (strided in v1.5)
            macs += width * 4 * width * out * out             # 1x1 expand
            if b == 0:
                macs += c_in * 4 * width * out * out          # projection shortcut
            c_in, size = 4 * width, out
    return macs + 2048 * 1000


def test_resnet50_macs_match_the_paper_and_hand_count():
    # Paper (He et al. 2015, Table 1): ResNet-50 "3.8x10^9" FLOPs, i.e. multiply-adds.
    macs = trace("resnet50", input=224).totals.macs
    assert macs == independent_resnet_macs((3, 4, 6, 3), 56, stride_on_3x3=False) == 3_857_973_248
    assert round(macs / 1e9, 1) == 3.9 and macs // 10**8 == 38
    assert trace("resnet50-2019").totals.macs == independent_resnet_macs((3, 4, 6, 3), 55, False) == 3_834_331_136


def test_resnet50_torchvision_matches_torchvision():
    r = trace("resnet50-torchvision", input=224)
    # torchvision docs (ResNet50_Weights.IMAGENET1K_V1): num_params 25,557,032 = sum of parameters(),
    # which excludes BN running statistics (our non-trainable).
    assert r.totals.trainable_params == 25_557_032
    conv_macs = sum(layer.macs for layer in r.layers if layer.op == "conv")
    fc_macs = sum(layer.macs for layer in r.layers if layer.op == "dense")
    # fvcore/torchinfo count 4.09 GMACs for torchvision's resnet50; split as conv + fc here:
    assert conv_macs == independent_resnet_macs((3, 4, 6, 3), 56, stride_on_3x3=True) - 2_048_000 == 4_087_136_256
    assert fc_macs == 2048 * 1000 == 2_048_000
    assert shape(r, "res3a_branch2a") == [56, 56, 128]  # v1.5: the 1x1 keeps the size,
    assert shape(r, "res3a_branch2b") == [28, 28, 128]  # the 3x3 halves it


def test_deeper_resnets_match_keras_and_the_paper():
    # keras.applications.ResNet101 / ResNet152 summaries: 44,707,176 and 60,419,944 total params.
    # Paper Table 1: 7.6x10^9 and 11.3x10^9 multiply-adds.
    r101, r152 = trace("resnet101"), trace("resnet152")
    assert r101.totals.params == 44_707_176 and r152.totals.params == 60_419_944
    assert r101.totals.macs == independent_resnet_macs((3, 4, 23, 3), 56, False)
    assert r152.totals.macs == independent_resnet_macs((3, 8, 36, 3), 56, False)
    assert round(r101.totals.macs / 1e9, 1) == 7.6 and round(r152.totals.macs / 1e9, 1) == 11.3
    # Caffe's names: res3b1..res3b3, res4b1..res4b22 in ResNet-101 (ResNet-101-deploy.prototxt).
    names = {layer.name for layer in r101.layers}
    assert {"res3b3_branch2c", "res4b22_branch2c", "res2c_branch2c", "res5c_branch2c"} <= names
    assert "res3d_branch2c" not in names


@pytest.mark.parametrize("spec, smallest", [("resnet50", 193), ("resnet50-2019", 197)])
def test_too_small_input_names_layer_and_smallest_size(spec, smallest):
    # Hand count for resnet50: 193 -> pad 199 -> conv 97 -> pad 99 -> pool 49 -> 25 -> 13 -> 7.
    assert trace(spec, input=smallest).layer("avg_pool").output_shape == (1, 1, 2048)
    with pytest.raises(ShapeError) as error:
        trace(spec, input=smallest - 1)
    text = str(error.value)
    assert "layer avg_pool" in text and "got 6" in text and f"smallest input that works is {smallest}" in text
    assert error.value.where.line is not None


def test_non_square_input():
    r = trace("resnet50-torchvision", input="224x320")
    assert r.input_shape == (224, 320, 3)
    assert shape(r, "res5c_relu") == [7, 10, 2048]
    # Global pooling takes any map; the conv MACs scale with H*W exactly (every map is
    # (224/s)x(320/s)), only the fc layer does not.
    square = trace("resnet50-torchvision", input=224).totals.macs - 2_048_000
    assert r.totals.macs - 2_048_000 == square * 320 // 224
    assert trace("resnet50", input="224x320").layer("avg_pool").output_shape == (1, 1, 2048)


def test_depth_grouping_keeps_totals():
    r = trace("resnet50")
    for depth in ("block", "stage"):
        groups = r.groups(depth)
        assert sum(g.totals.macs for g in groups) == r.totals.macs
        assert sum(g.totals.params for g in groups) == r.totals.params
    blocks = r.groups("block")
    assert [g.name for g in blocks][:3] == ["stem", "res2a", "res2b"]
    assert [g.kind for g in blocks][1:3] == ["conv_block", "identity_block"]
    assert len(blocks) == 1 + 16 + 1
    assert list(r.by_stage()) == ["stem", "stage2", "stage3", "stage4", "stage5", "head"]


def test_api_accepts_spec_objects_and_graphs():
    spec = resnet_inspect.load_spec("resnet50")
    graph = resnet_inspect.build_graph(spec)
    assert resnet_inspect.trace(spec).totals == resnet_inspect.trace_graph(graph).totals
    assert graph.output == "fc1000_softmax"
    assert resnet_inspect.smallest_input(graph) == 193
