"""Image preprocessing equals each framework's own pipeline (issue 8), on generated pictures of
several aspect ratios.

Independent sources:

* torchvision: ``ResNet50_Weights.IMAGENET1K_V1.transforms()`` is ``ImageClassification(crop_size=224,
  resize_size=256)`` (``torchvision/transforms/_presets.py``): ``F.resize(img, [256], BILINEAR)``,
  ``F.center_crop(img, [224])``, ``pil_to_tensor``, ``convert_image_dtype(float)``, ``normalize``.
  On a PIL image ``F.resize`` computes the size with ``_compute_resized_output_size`` and calls
  Pillow's ``img.resize((w, h), BILINEAR)`` (antialiased); on a uint8 tensor the v2 kernel
  (``transforms/v2/functional/_geometry.py``, ``resize_image``) calls
  ``torch.nn.functional.interpolate(..., mode="bilinear", align_corners=False, antialias=True)``
  on the uint8 tensor itself where the CPU has AVX2, else on a float32 copy that it then rounds.
  torchvision cannot be installed beside torch 2.13, so the test reproduces both paths with the
  formulas copied from those files, and torch's own interpolate for the tensor path.
* Keras: ``keras.utils.load_img(path, target_size=(224, 224))`` (interpolation "nearest") and
  ``keras.applications.resnet50.preprocess_input`` (mode "caffe") or
  ``keras.applications.resnet_v2.preprocess_input`` (mode "tf"), run live when Keras installs
  (``KERAS_BACKEND=torch``), else skipped.
* By hand, Keras' mode "tf" as ``keras/src/applications/imagenet_utils.py`` states it
  (``x /= 127.5; x -= 1.0``, RGB kept): pixel v becomes (2v - 255) / 255.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from resnet_inspect import build_graph, load_spec
from resnet_inspect.cli import app
from resnet_inspect.core.errors import InspectError
from resnet_inspect.execute.inputs import PREPROCESSINGS, load_image, load_input, preprocess

Image = pytest.importorskip("PIL.Image")

SIZES = [(300, 200), (200, 300), (257, 256), (640, 427), (100, 50), (224, 224), (500, 230)]  # (W, H)
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
DATA = Path(__file__).resolve().parent / "data"


def picture(path: Path, width: int, height: int, fmt: str = "PNG") -> Path:
    """Smooth gradients plus noise: resampling differences show up at every pixel."""
    rng = np.random.default_rng(width * 1000 + height)
    y, x = np.mgrid[0:height, 0:width]
    smooth = np.stack([x / max(width - 1, 1), y / max(height - 1, 1), (x + y) / (width + height)], axis=-1) * 200
    noise = rng.integers(0, 56, (height, width, 3))
    Image.fromarray((smooth + noise).astype(np.uint8), "RGB").save(path, fmt)
    return path


# --------------------------------------------------------------------------- torchvision, copied rules


def tv_output_size(height: int, width: int, size: int) -> tuple[int, int]:
    """torchvision ``_compute_resized_output_size((h, w), [size], None)`` (transforms/functional.py)."""
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if width <= height else (new_long, new_short)
    return new_h, new_w


def tv_crop_box(height: int, width: int, crop: int) -> tuple[int, int]:
    """torchvision ``center_crop``'s top and left: ``int(round((side - crop) / 2.0))``."""
    return int(round((height - crop) / 2.0)), int(round((width - crop) / 2.0))


def tv_normalise(chw_uint8) -> np.ndarray:
    """``convert_image_dtype(img, torch.float)`` then ``normalize(mean, std)``, in torch, as NHWC."""
    torch = pytest.importorskip("torch")
    x = chw_uint8.to(torch.float32) / 255
    x = (x - torch.tensor(MEAN).view(-1, 1, 1)) / torch.tensor(STD).view(-1, 1, 1)
    return x.permute(1, 2, 0).numpy()[np.newaxis]


def torchvision_pil_path(path: Path) -> np.ndarray:
    """The preset on a PIL image (how ``ResNet50_Weights.IMAGENET1K_V1.transforms()(Image.open(p))`` runs)."""
    torch = pytest.importorskip("torch")
    image = Image.open(path).convert("RGB")
    new_h, new_w = tv_output_size(image.height, image.width, 256)
    if (new_h, new_w) != (image.height, image.width):
        image = image.resize((new_w, new_h), Image.BILINEAR)  # _functional_pil.resize
    top, left = tv_crop_box(image.height, image.width, 224)
    image = image.crop((left, top, left + 224, top + 224))
    return tv_normalise(torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1))


def torchvision_tensor_path(path: Path, native_uint8: bool) -> np.ndarray:
    """The preset on ``pil_to_tensor(image)`` (the v2 ``resize_image`` kernel): interpolate on the
    uint8 tensor (AVX2 CPUs) or on a float32 copy, rounded back to uint8."""
    torch = pytest.importorskip("torch")
    rgb = np.asarray(Image.open(path).convert("RGB"))
    image = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None]
    height, width = rgb.shape[:2]
    new_h, new_w = tv_output_size(height, width, 256)
    if (new_h, new_w) != (height, width):
        source = image if native_uint8 else image.to(torch.float32)
        out = torch.nn.functional.interpolate(source, size=[new_h, new_w], mode="bilinear", align_corners=False,
                                              antialias=True)
        image = out if native_uint8 else out.round_().to(torch.uint8)
    top, left = tv_crop_box(new_h, new_w, 224)
    return tv_normalise(image[0, :, top:top + 224, left:left + 224])


@pytest.mark.parametrize("width, height", SIZES)
def test_torch_pipeline_is_torchvisions_preset_exactly(tmp_path, width, height):
    path = picture(tmp_path / "p.png", width, height)
    ours = load_image(path, (224, 224), "torch")
    assert ours.shape == (1, 224, 224, 3) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, torchvision_pil_path(path), rtol=0, atol=1e-6)


@pytest.mark.parametrize("native_uint8", [True, False], ids=["uint8 interpolate", "float interpolate"])
@pytest.mark.parametrize("width, height", SIZES)
def test_torch_pipeline_within_one_step_of_the_tensor_path(tmp_path, width, height, native_uint8):
    path = picture(tmp_path / "p.png", width, height)
    ours = load_image(path, (224, 224), "torch")
    theirs = torchvision_tensor_path(path, native_uint8)
    steps = np.abs(ours - theirs) * np.array(STD, np.float32) * 255  # back to 8-bit steps
    assert steps.max() <= 1 + 1e-3, f"{steps.max():.3f} steps apart"


def test_torch_crop_rounds_halves_to_even():
    # 257 wide after the resize: (257 - 224) / 2 = 16.5, and Python's round(16.5) is 16 (torchvision's rule).
    assert tv_crop_box(256, 257, 224) == (16, 16)
    assert tv_crop_box(256, 259, 224) == (16, 18)  # 17.5 -> 18


def test_torch_pipeline_on_a_jpeg(tmp_path):
    path = picture(tmp_path / "p.jpg", 333, 250, "JPEG")  # same decoder (Pillow) on both sides: exact
    np.testing.assert_allclose(load_image(path, (224, 224), "torch"), torchvision_pil_path(path), rtol=0, atol=1e-6)


# --------------------------------------------------------------------------- Keras


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


# Our convention -> the keras.applications module whose preprocess_input it reproduces.
KERAS_MODES = [("caffe", "resnet50"), ("tf", "resnet_v2")]


@pytest.mark.parametrize("convention, module", KERAS_MODES)
@pytest.mark.parametrize("width, height", SIZES)
def test_keras_pipelines_are_load_img_and_preprocess_input(tmp_path, keras, convention, module, width, height):
    preprocess_input = getattr(keras.applications, module).preprocess_input
    path = picture(tmp_path / "p.png", width, height)
    image = keras.utils.load_img(str(path), target_size=(224, 224))  # default interpolation: nearest
    expected = preprocess_input(np.asarray(image).astype("float32")[np.newaxis])
    ours = load_image(path, (224, 224), convention)
    assert ours.shape == (1, 224, 224, 3) and ours.dtype == np.float32
    np.testing.assert_array_equal(ours, np.asarray(expected, np.float32))


def test_caffe_pipeline_on_a_jpeg_and_a_palette_png(tmp_path, keras):
    from keras.applications.resnet50 import preprocess_input

    jpeg = picture(tmp_path / "p.jpg", 320, 240, "JPEG")
    palette = tmp_path / "p.png"
    Image.open(picture(tmp_path / "rgb.png", 150, 260)).convert("P").save(palette)
    for path in (jpeg, palette):
        image = keras.utils.load_img(str(path), target_size=(224, 224))
        expected = preprocess_input(keras.utils.img_to_array(image)[np.newaxis])
        np.testing.assert_array_equal(load_image(path, (224, 224), "caffe"), np.asarray(expected, np.float32))


# --------------------------------------------------------------------------- --resize and --save-input


runner = CliRunner()


def test_save_input_is_the_batch_the_network_received(tmp_path):
    path = picture(tmp_path / "p.png", 300, 200)
    weights = tmp_path / "w.npz"
    spec = str(DATA / "tiny-run-torchvision.yaml")  # preprocessing: torch, input 32x32
    assert runner.invoke(app, ["weights", "init", spec, "-o", str(weights)]).exit_code == 0
    for resize in ("torch", "caffe"):
        saved = tmp_path / f"{resize}.npy"
        result = runner.invoke(app, ["run", spec, "-w", str(weights), "--image", str(path), "--resize", resize,
                                     "--save-input", str(saved)])
        assert result.exit_code == 0, result.output
        x = np.load(saved)
        assert x.shape == (1, 32, 32, 3) and x.dtype == np.float32
        np.testing.assert_array_equal(x, load_image(path, (32, 32), "torch", resize))
    # torch: shorter side 200 -> int(32 * 256 / 224) = 36, centre crop 32; caffe: a 300x200 -> 32x32 stretch
    assert not np.array_equal(np.load(tmp_path / "torch.npy"), np.load(tmp_path / "caffe.npy"))


def test_resize_errors_are_one_line(tmp_path):
    path = picture(tmp_path / "p.png", 40, 30)
    named_npy = picture(tmp_path / "pic.npy", 40, 30)  # a PNG whatever its name: Pillow reads the content
    np.save(tmp_path / "x.npy", np.zeros((1, 32, 32, 3), np.float32))
    spec = str(DATA / "tiny-run.yaml")
    for args, expected in ((["--image", str(path), "--resize", "bicubic"], "--resize: must be one of torch, caffe"),
                           (["--array", str(tmp_path / "x.npy"), "--resize", "torch"], "--resize: not used here: applies to --image"),
                           (["--image", str(named_npy), "--save-input", str(named_npy)], "would overwrite"),
                           (["--image", str(path), "--save-input", str(path)], "must end in .npy")):
        result = runner.invoke(app, ["run", spec, "-w", str(tmp_path / "none.npz"), *args])
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], lines


# --------------------------------------------------------------------------- tf (Keras' ResNetV2)


def test_tf_normalisation_by_hand(tmp_path):
    # A 2x2 PNG at the size asked for: the stretch leaves it as it is. Pixel v -> (2v - 255) / 255.
    rgb = np.array([[[0, 255, 51], [127, 128, 255]],
                    [[255, 0, 0], [10, 20, 30]]], np.uint8)
    Image.fromarray(rgb, "RGB").save(tmp_path / "p.png")
    expected = [[[-1.0, 1.0, -153 / 255], [-1 / 255, 1 / 255, 1.0]],  # 2*51-255 = -153; 2*127-255 = -1
                [[1.0, -1.0, -1.0], [-235 / 255, -215 / 255, -195 / 255]]]
    x = load_image(tmp_path / "p.png", (2, 2), "tf")
    assert x.shape == (1, 2, 2, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x[0], expected, rtol=0, atol=1e-7)  # RGB kept: channel 0 is R
    assert preprocess(np.array([[[127.5, 0.0, 255.0]]]), "tf").tolist() == [[[0.0, -1.0, 1.0]]]  # 127.5: the centre


def two_colour_png(path: Path) -> Path:
    """300x200: top half (200, 100, 50), bottom half (0, 255, 128); the nearest stretch keeps both halves."""
    rgb = np.zeros((200, 300, 3), np.uint8)
    rgb[:100] = (200, 100, 50)
    rgb[100:] = (0, 255, 128)
    Image.fromarray(rgb, "RGB").save(path)
    return path


# Hand calculation of x / 127.5 - 1 for the two colours above, channel by channel (R, G, B).
TOP_TF = [200 / 127.5 - 1, 100 / 127.5 - 1, 50 / 127.5 - 1]  # [0.5686, -0.2157, -0.6078]
BOTTOM_TF = [-1.0, 1.0, 128 / 127.5 - 1]  # [-1, 1, 0.0039]


@pytest.mark.parametrize("spec", ["resnet50v2", "resnet101v2", "resnet152v2"])
def test_resnet_v2_specs_take_keras_tf_input(tmp_path, spec):
    # keras.applications.resnet_v2.preprocess_input is mode "tf" (keras/src/applications/resnet_v2.py).
    x, _ = load_input(build_graph(load_spec(spec)), image=two_colour_png(tmp_path / "p.png"))
    assert x.shape == (1, 224, 224, 3)
    np.testing.assert_allclose(x[0, 0, 0], TOP_TF, atol=1e-6)
    np.testing.assert_allclose(x[0, 223, 223], BOTTOM_TF, atol=1e-6)


def test_run_resnet50v2_saves_rgb_input_in_minus_one_to_one(tmp_path):
    weights, saved = tmp_path / "w.npz", tmp_path / "in.npy"
    assert runner.invoke(app, ["weights", "init", "resnet50v2", "-o", str(weights)]).exit_code == 0
    image = two_colour_png(tmp_path / "x.png")
    result = runner.invoke(app, ["run", "resnet50v2", "-w", str(weights), "--image", str(image), "--save-input", str(saved)])
    assert result.exit_code == 0, result.output
    x = np.load(saved)
    assert x.shape == (1, 224, 224, 3) and x.dtype == np.float32
    assert x.min() == -1.0 and x.max() == 1.0  # 0 and 255 land exactly on the ends: (2v - 255) / 255
    np.testing.assert_allclose(x[0, :112].reshape(-1, 3), np.tile(TOP_TF, (224 * 112, 1)), atol=1e-6)  # R, G, B
    np.testing.assert_allclose(x[0, 112:].reshape(-1, 3), np.tile(BOTTOM_TF, (224 * 112, 1)), atol=1e-6)


def test_an_unknown_convention_is_one_clear_error(tmp_path):
    # Only the Python API can get here: the schema refuses any other value in a spec.
    with pytest.raises(InspectError, match="must be one of torch, caffe, tf, got 'keras'") as error:
        load_image(two_colour_png(tmp_path / "p.png"), (32, 32), "keras")
    assert error.value.field == "conventions.preprocessing"


# --------------------------------------------------------------------------- the table agrees with its documents


def test_schema_enum_is_the_preprocessing_table():
    schema_file = Path(__file__).resolve().parent.parent / "resnet_inspect" / "spec.schema.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    assert set(schema["properties"]["conventions"]["properties"]["preprocessing"]["enum"]) == set(PREPROCESSINGS)


def test_readme_preprocessing_table_has_a_row_per_convention():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for row in PREPROCESSINGS.values():
        (line,) = [line for line in readme.splitlines() if line.startswith(f"| `{row.name}` |")]
        assert row.describe in line and row.reproduces in line, line
