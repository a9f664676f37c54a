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
  ``keras.applications.resnet50.preprocess_input`` (mode "caffe"), run live when Keras installs
  (``KERAS_BACKEND=torch``), else skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from resnet_inspect.cli import app
from resnet_inspect.inference import load_image

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


@pytest.mark.parametrize("width, height", SIZES)
def test_caffe_pipeline_is_keras_load_img_and_preprocess_input(tmp_path, keras, width, height):
    from keras.applications.resnet50 import preprocess_input

    path = picture(tmp_path / "p.png", width, height)
    image = keras.utils.load_img(str(path), target_size=(224, 224))  # default interpolation: nearest
    expected = preprocess_input(keras.utils.img_to_array(image)[np.newaxis])
    ours = load_image(path, (224, 224), "caffe")
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
                           (["--array", str(tmp_path / "x.npy"), "--resize", "torch"], "--resize: applies to --image"),
                           (["--image", str(named_npy), "--save-input", str(named_npy)], "would overwrite"),
                           (["--image", str(path), "--save-input", str(path)], "must end in .npy")):
        result = runner.invoke(app, ["run", spec, "-w", str(tmp_path / "none.npz"), *args])
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], lines
