"""The whole ResNet family against the frameworks' published numbers, and the spec language it needs.

Sources: torchvision's ``*_Weights.IMAGENET1K_V1.meta`` (``num_params``, and ``_ops``: GMACs to
three decimals), Keras' ``keras.applications.*(weights=None).count_params()`` (Keras 3.15,
counted live in ``test_keras_counts_live``), the paper's Table 1 (ResNet-18/34 multiply-adds),
and hand arithmetic written from torchvision's ``models/resnet.py`` in ``torchvision_params``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from resnet_inspect import SpecError, trace
from resnet_inspect.model.graph import load_graph
from resnet_inspect.language.spec import bundled_specs, parse_spec

# name: (torchvision's num_params, its _ops in GMACs at 224, block, layers, groups, width_per_group)
TORCHVISION = {
    "resnet18-torchvision": (11_689_512, 1.814, "basic", [2, 2, 2, 2], 1, 64),
    "resnet34-torchvision": (21_797_672, 3.664, "basic", [3, 4, 6, 3], 1, 64),
    "resnet50-torchvision": (25_557_032, 4.089, "bottleneck", [3, 4, 6, 3], 1, 64),
    "resnet101-torchvision": (44_549_160, 7.801, "bottleneck", [3, 4, 23, 3], 1, 64),
    "resnet152-torchvision": (60_192_808, 11.514, "bottleneck", [3, 8, 36, 3], 1, 64),
    "resnext50_32x4d": (25_028_904, 4.23, "bottleneck", [3, 4, 6, 3], 32, 4),
    "resnext101_32x8d": (88_791_336, 16.414, "bottleneck", [3, 4, 23, 3], 32, 8),
    "resnext101_64x4d": (83_455_272, 15.46, "bottleneck", [3, 4, 23, 3], 64, 4),
    "wide_resnet50_2": (68_883_240, 11.398, "bottleneck", [3, 4, 6, 3], 1, 128),
    "wide_resnet101_2": (126_886_696, 22.753, "bottleneck", [3, 4, 23, 3], 1, 128),
}


def torchvision_params(block: str, layers: list[int], groups: int, width_per_group: int) -> int:
    """Trainable parameters, following torchvision's ResNet.__init__/_make_layer by hand."""
    expansion = 4 if block == "bottleneck" else 1
    bn = lambda c: 2 * c  # noqa: E731  weight + bias
    total = 7 * 7 * 3 * 64 + bn(64)
    inplanes = 64
    for planes, n, stride in zip((64, 128, 256, 512), layers, (1, 2, 2, 2)):
        for i in range(n):
            s = stride if i == 0 else 1
            if block == "basic":
                total += 9 * inplanes * planes + bn(planes) + 9 * planes * planes + bn(planes)
            else:
                width = int(planes * (width_per_group / 64.0)) * groups
                total += inplanes * width + bn(width) + 9 * (width // groups) * width + bn(width)
                total += width * planes * expansion + bn(planes * expansion)
            if s != 1 or inplanes != planes * expansion:  # torchvision's downsample condition
                total += inplanes * planes * expansion + bn(planes * expansion)
            inplanes = planes * expansion
    return total + 512 * expansion * 1000 + 1000


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_family_matches_published_counts(name):
    num_params, gmacs, block, layers, groups, width = TORCHVISION[name]
    assert torchvision_params(block, layers, groups, width) == num_params  # the hand model agrees first
    t = trace(name, input=224).totals
    assert t.trainable_params == num_params
    assert round(t.macs / 1e9, 3) == pytest.approx(gmacs, abs=5e-4)


def test_resnext_splits_the_3x3_into_groups():
    # torchvision resnext50_32x4d layer1.0.conv2: Conv2d(128, 128, 3, groups=32) -> 128*4*9 weights.
    graph = load_graph("resnext50_32x4d")
    conv = next(layer.op for layer in graph if layer.name == "res2a_branch2b")
    assert (conv.filters, conv.groups, conv.bias) == (128, 32, False)
    row = trace("resnext50_32x4d").layer("res2a_branch2b")
    assert row.trainable_params == 9 * (128 // 32) * 128
    assert row.macs == 9 * (128 // 32) * 128 * 56 * 56


@pytest.mark.parametrize("name, params, gmacs", [("resnet18", 11_703_912, 1.8), ("resnet34", 21_823_208, 3.6)])
def test_v1_layout_basic_nets(name, params, gmacs):
    # torchvision's trainable count, plus one bias per conv filter (Keras/Caffe convs carry one)
    # plus BN moving mean/var, one pair per filter since a BN follows every conv; the paper's
    # Table 1 gives 1.8 and 3.6 x10^9 multiply-adds.
    t = trace(name, input=224).totals
    graph = load_graph(name)
    filters = sum(layer.op.filters for layer in graph if layer.op.kind == "conv")
    assert t.params == params == TORCHVISION[f"{name}-torchvision"][0] + filters + 2 * filters
    assert abs(t.macs / 1e9 - gmacs) <= 0.07
    assert trace(name).layer("fc1000_softmax").output_shape == (1000,)


# Keras 3.15, keras.applications.X(weights=None): count_params() and the non-trainable BN statistics.
KERAS = {"resnet50-keras3": (25_636_712, 53_120), "resnet50v2": (25_613_800, 45_440),
         "resnet101v2": (44_675_560, 97_664), "resnet152v2": (60_380_648, 143_744)}


@pytest.mark.parametrize("name", KERAS)
def test_keras_applications_counts(name):
    t = trace(name, input=224).totals
    assert (t.params, t.non_trainable_params) == KERAS[name]


def test_resnet50v2_macs_and_layer_for_layer_structure():
    # The issue's figure (conv + dense MACs of Keras' ResNet50V2 at 224), and resnet_v2.py's
    # structure: 1 + 16*3 + 4 = 53 Conv2D; 16 preact + 32 inner + post_bn = 49 BN; a 1x1 max-pool
    # shortcut in the last block of conv2..conv4 (conv5 has stride1=1); no BN after conv1.
    result = trace("resnet50v2", input=224)
    assert result.totals.macs == 3_482_255_360
    ops = [row.op for row in result.layers]
    assert (ops.count("conv"), ops.count("batch_norm"), ops.count("add")) == (53, 49, 16)
    pools = [row.name for row in result.layers if row.op == "max_pool"]
    assert pools == ["pool1", "res2c_branch1_pool", "res3d_branch1_pool", "res4f_branch1_pool"]
    names = [row.name for row in result.layers]
    # the head as keras.applications builds it: GlobalAveragePooling2D to [2048], no Flatten
    assert "bn_conv1" not in names and names[-5:] == ["bn_post", "post_relu", "avg_pool", "predictions",
                                                      "predictions_softmax"]
    assert result.layer("avg_pool").output_shape == (2048,)
    assert result.layer("res2c_branch1_pool").output_shape == (28, 28, 256)  # the stride sits last
    assert result.layer("res2b").output_shape == (56, 56, 256)
    assert result.layer("res2c").inputs == ("res2c_branch1_pool", "res2c_branch2c")  # Add([shortcut, x])


def test_v2_convs_followed_by_bn_have_no_bias():
    # resnet_v2: _1_conv and _2_conv use_bias=False; conv1_conv, _0_conv and _3_conv keep theirs.
    ops = {layer.name: layer.op for layer in load_graph("resnet50v2")}
    assert [ops[n].bias for n in ("conv1", "res2a_branch1", "res2a_branch2a", "res2a_branch2b", "res2a_branch2c")] \
        == [True, True, False, False, True]


SPEC = """
name: t
block: {block}
conventions: {{{conventions}}}
stem: {{pad: 1, conv: {{filters: 16, kernel: 3, stride: 1}}, pool: null}}
stages: [{{stage: 2, filters: {filters}, blocks: 3, stride: 2{extra}}}]
head: {{pool: global, dense: {{units: 10}}}}
"""


def spec(block="bottleneck", conventions="", filters="[8, 8, 32]", extra=""):
    return parse_spec(SPEC.format(block=block, conventions=conventions, filters=filters, extra=extra), "t.yaml")


def test_stride_block_last_moves_the_stride():
    first = trace(spec(), input=32)
    last = trace(spec(conventions="stride_block: last, strided_shortcut: max_pool"), input=32)
    assert first.layer("res2a").output_shape == (16, 16, 32)
    assert last.layer("res2a").output_shape == (32, 32, 32)
    assert last.layer("res2c").output_shape == (16, 16, 32)
    assert last.layer("res2c_branch1_pool").output_shape == (16, 16, 32)


def test_strided_later_block_with_a_conv_shortcut_projects():
    result = trace(spec(conventions="stride_block: last"), input=32)
    assert result.layer("res2c_branch1").output_shape == (16, 16, 32)
    # 1x1 conv 32 -> 32 with bias, as conv_bias: true says: 32*32 + 32
    assert result.layer("res2c_branch1").trainable_params == 32 * 32 + 32


@pytest.mark.parametrize("kwargs, message", [
    (dict(block="basic", filters="[8, 8]", extra=", groups: 2"), "stages[0].groups: a basic block has no grouped conv"),
    (dict(extra=", groups: 3"), "stages[0].groups: the 3×3 conv's 8 filters do not split into 3 groups"),
    (dict(filters="[8, 8]"), "stages[0].filters: a bottleneck block takes 3 filters, got 2"),
    (dict(block="preact_bottleneck", filters="[8, 8]"), "a preact_bottleneck block takes 3 filters, got 2"),
])
def test_bad_groups_and_filters_name_the_field(kwargs, message):
    with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        spec(**kwargs)


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Keras' torch backend and NumPy 2's copy keyword
def test_keras_counts_live():
    """Keras itself (torch backend) builds the four applications; skipped without keras."""
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    for name, builder in [("resnet50-keras3", "ResNet50"), ("resnet50v2", "ResNet50V2")]:
        model = getattr(keras.applications, builder)(weights=None)
        non_trainable = sum(int(v.numpy().size) for v in model.non_trainable_weights)
        assert (model.count_params(), non_trainable) == KERAS[name]


README = Path(__file__).resolve().parent.parent / "README.md"


def readme_yaml(first_line: str) -> str:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    return next(b for b in blocks if b.startswith(first_line))


def test_readme_resnet18_example_gives_torchvisions_count_and_the_trap_the_old_one():
    # torchvision ResNet18_Weights.IMAGENET1K_V1.meta["num_params"] = 11,689,512; without
    # first_block: identity stage 2 gains a 64->64 1x1 conv (4,096) and its BN gamma/beta (128).
    text = readme_yaml("name: my-resnet18")
    assert trace(parse_spec(text)).totals.trainable_params == 11_689_512
    trap = text.replace(", first_block: identity", "")
    assert trace(parse_spec(trap)).totals.trainable_params == 11_689_512 + 64 * 64 + 2 * 64 == 11_693_736
    assert "11,693,736" in README.read_text(encoding="utf-8")


def test_readme_lists_every_bundled_spec_with_its_numbers():
    text = README.read_text(encoding="utf-8")
    for name in bundled_specs():
        totals = trace(name).totals
        assert f"`{name}`" in text, name
        assert f"{totals.params:,}" in text and f"{totals.macs:,}" in text, name
