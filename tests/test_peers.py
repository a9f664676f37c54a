"""Our counts against torchinfo's and PyTorch's own, live, on an independent torch ResNet.

The torch model is scripts/torch_resnet.py (written like torchvision's models/resnet.py, built
from [3, 4, 6, 3] and a layout, not from our graph). Skipped where torch or torchinfo is missing;
`.ci/run` installs both.
"""

import sys
from pathlib import Path

import pytest

from resnet_inspect import trace
from resnet_inspect.analysis.peers import peer_numbers

torch = pytest.importorskip("torch")
torchinfo = pytest.importorskip("torchinfo")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from torch_resnet import KERAS, TORCHVISION, ResNet  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.mark.parametrize("spec, layout", [("resnet50-torchvision", TORCHVISION), ("resnet50", KERAS)])
def test_torchinfo_and_torch_counts_are_reproduced(spec, layout):
    model = ResNet([3, 4, 6, 3], layout).eval()
    stats = torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0)
    ours = peer_numbers(trace(spec, input=224))
    assert ours["torch_parameters"] == sum(p.numel() for p in model.parameters()) == stats.total_params
    buffers = sum(b.numel() for name, b in model.named_buffers() if "running" in name)
    assert ours["keras_non_trainable_params"] == buffers
    assert ours["torchinfo_mult_adds"] == stats.total_mult_adds
