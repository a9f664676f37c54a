"""A wrong layer name in the Python API is a clear error that suggests the closest names."""

from __future__ import annotations

import pytest

import resnet_inspect
from resnet_inspect.core.errors import UnknownLayer


def test_a_wrong_layer_name_suggests_the_closest():
    result = resnet_inspect.trace("resnet50")
    with pytest.raises(UnknownLayer) as caught:
        result.layer("res2x")
    # res2a, res2b and res2c each differ from "res2x" in one letter (difflib's ratio 0.8)
    assert str(caught.value) == "no layer named 'res2x' in resnet50; did you mean res2c, res2b, res2a?"


def test_it_is_still_a_key_error_and_an_inspect_error():
    result = resnet_inspect.trace("resnet18")
    with pytest.raises(KeyError):
        result.layer("nothing-like-it")
    with pytest.raises(resnet_inspect.InspectError, match="`trace` lists every layer"):
        result.layer("nothing-like-it")
    assert result.layer("conv1").output_shape == (112, 112, 64)  # (224 + 2·3 − 7) // 2 + 1 = 112
