"""A torchvision state dict saved as .safetensors fits every torchvision-layout spec (issue 8).

The file is what `safetensors.torch.save_file(model.state_dict(), ...)` writes for the
independent torch ResNet of scripts/torch_resnet.py, built from torchvision's own builder
arguments (models/resnet.py: block, layers, groups, width_per_group), never from our graph; its
module paths are torchvision's. The numbers read must be every tensor of the state dict but BN's
`num_batches_tracked` counters (saved, and ignored as torch's load_state_dict would not need
them), i.e. PyTorch's parameters() plus the running statistics.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from resnet_inspect import load_graph
from resnet_inspect.io.weightfiles import load_weights, summary
from test_peer_conventions import _LARGE, TORCHVISION_FAMILY

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

pytestmark = pytest.mark.torch


@pytest.mark.parametrize("spec", [pytest.param(name, marks=pytest.mark.slow) if name in _LARGE else name
                                  for name in ["resnet50-torchvision", *TORCHVISION_FAMILY]])
def test_a_torchvision_state_dict_fits(spec: str, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    save_file = pytest.importorskip("safetensors.torch").save_file
    import torch_resnet

    family = dict(TORCHVISION_FAMILY.get(spec, {"layers": [3, 4, 6, 3]}))
    layers = family.pop("layers")
    model = torch_resnet.ResNet(layers, torch_resnet.TORCHVISION, **family)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}  # as torchvision saves it
    path = tmp_path / "model.safetensors"
    save_file(state, str(path))
    arrays, numbers = summary(load_weights(path, load_graph(spec)))
    assert numbers == sum(v.numel() for k, v in state.items() if not k.endswith("num_batches_tracked"))
    assert numbers == sum(p.numel() for p in model.parameters()) + sum(
        b.numel() for name, b in model.named_buffers() if "running" in name)
    del torch
