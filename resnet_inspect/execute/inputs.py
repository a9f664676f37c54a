"""The network's input: a ``.npy`` array or a picture, read guarded and preprocessed as the spec says.

Preprocessing follows the
convention the spec declares, because a ResNet's weights are only right for the input they were
trained with. Each convention is one row of :data:`PREPROCESSINGS` (its default resize and its
normalisation): ``caffe`` (Keras' ``load_img`` stretch with nearest neighbour, then RGB -> BGR
minus the ImageNet mean per channel), ``tf`` (the same Keras resize, then x / 127.5 - 1: RGB in
[-1, 1], as ``resnet_v2.preprocess_input``) or ``torch`` (torchvision's preset: shorter side to
256 with Pillow's bilinear filter, centre crop 224, [0, 1], mean/std per channel). ``--resize``
picks another resize (:data:`RESIZES`); the normalisation always stays the spec's.

Every input file is checked from its header before its data is read (:func:`plan_input`), so
the memory estimate comes before any decoding, loading or resizing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, ClassVar

from ..core.errors import InspectError, Location, unused
from ..core.usertext import excerpt, visible
from ..model.graph import Graph

if TYPE_CHECKING:
    import numpy as np
    from PIL.Image import Image as PILImage

CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # Keras imagenet_utils, mode "caffe"
TORCH_MEAN_RGB = (0.485, 0.456, 0.406)  # torchvision's transforms.Normalize for ImageNet
TORCH_STD_RGB = (0.229, 0.224, 0.225)
IMAGE_EXTRA = "pip install 'resnet-inspect[image]'"

# --------------------------------------------------------------------------- inputs

IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "WEBP")  # Pillow never tries any other decoder
IMAGE_FILE_LIMIT = 256 * 1024**2  # bytes of an image file read at most
IMAGE_PIXEL_LIMIT = 89_478_485  # Pillow's own DecompressionBombWarning threshold (~ 9459×9459)
IMAGE_BYTES_PER_PIXEL = 32  # decoded, converted to RGB, as float32, resized: a generous bound
ARRAY_KINDS = "fiu"  # float, signed and unsigned integer .npy arrays; nothing else is read


@dataclass(frozen=True)
class InputPlan:
    """What an input file will give, read from its header before any data: the batch the network
    receives (N, H, W, C) and the bytes the file's own array needs on the way."""

    source: str
    kind: str  # "image" or "array"
    shape: tuple[int, int, int, int]
    file_bytes: int


def array_header(path: str | Path) -> tuple[tuple[int, ...], np.dtype, int, bool]:
    """``.npy`` shape, dtype, data offset and Fortran order from its header alone (``np.lib.format``, no data read).

    Refuses what could not be our input before a byte of data is read: object, structured and
    complex dtypes (pickles are never loaded), a header larger than NumPy's 10 kB default, and
    data shorter than the header claims (a 316-byte file claiming 10¹² elements).
    """
    from numpy.lib import format as npy

    where = Location(visible(str(path)))
    info = _regular_file(path, "file", "array")
    try:
        with open(path, "rb") as handle:
            if handle.read(4) == b"PK\x03\x04":
                raise InspectError("holds several arrays (.npz); save the input with np.save as one .npy",
                                   where=where, field="array")
            handle.seek(0)
            version = npy.read_magic(handle)
            if version == (1, 0):
                shape, fortran, dtype = npy.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, fortran, dtype = npy.read_array_header_2_0(handle)
            else:
                raise ValueError(f".npy format version {version[0]}.{version[1]} (1.0 and 2.0 are read)")
            offset = handle.tell()
    except (OSError, ValueError, EOFError, SyntaxError, TypeError) as exc:
        raise InspectError(f"not a readable .npy array ({_reason(exc)})", where=where, field="array") from None
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in ARRAY_KINDS:
        raise InspectError(f"not a readable .npy array: it holds {visible(dtype.str)} values "
                           "(objects are never unpickled); an input array must be float or integer",
                           where=where, field="array")
    count = 1
    for dim in shape:
        count *= dim
    if count * dtype.itemsize > info.st_size - offset:
        raise InspectError(f"is truncated: its header claims shape {list(shape)} {dtype} "
                           f"({count * dtype.itemsize:,} bytes) but the file holds {info.st_size - offset:,}",
                           where=where, field="array")
    return tuple(shape), dtype, offset, bool(fortran)


def plan_array(path: str | Path, channels: int, spec_name: str = "") -> InputPlan:
    """The batch an ``.npy`` will give (H×W×C gets a batch dim), from its header."""
    import numpy as np

    shape, dtype, _, _ = array_header(path)
    where = Location(visible(str(path)))
    if len(shape) == 3:
        shape = (1, *shape)
    if len(shape) != 4:
        raise InspectError(f"needs an N×H×W×C (or H×W×C) array, got shape {list(shape)}", where=where, field="array")
    if 0 in shape:
        raise InspectError(f"is empty: shape {list(shape)} (batch, height, width and channels must be at least 1)",
                           where=where, field="array")
    if shape[3] != channels:
        raise InspectError(f"input has {shape[3]} channels, spec {visible(spec_name)} takes {channels}",
                           where=where, field="array")
    count = shape[0] * shape[1] * shape[2] * shape[3]
    copy = 0 if dtype == np.dtype(np.float32) else 4 * count  # the float32 copy beside the file's array
    return InputPlan(str(path), "array", shape, count * dtype.itemsize + copy)


def load_array(path: str | Path) -> np.ndarray:
    """An NHWC float32 array from ``.npy`` (header checked first, never unpickled); every value finite."""
    import numpy as np

    where = Location(visible(str(path)))
    shape, dtype, offset, fortran = array_header(path)
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            x = np.fromfile(handle, dtype=dtype, count=_product(shape))
    except (OSError, ValueError) as exc:
        raise InspectError(f"not a readable .npy array ({_reason(exc)})", where=where, field="array") from None
    x = x.reshape(shape[::-1]).transpose() if fortran else x.reshape(shape)
    if x.ndim == 3:
        x = x[np.newaxis]
    if x.ndim != 4:
        raise InspectError(f"needs an N×H×W×C (or H×W×C) array, got shape {list(x.shape)}", where=where, field="array")
    x = np.ascontiguousarray(x, dtype=np.float32)
    check_finite(x, where, "array")
    return x


def _product(shape: tuple[int, ...]) -> int:
    total = 1
    for dim in shape:
        total *= dim
    return total


def _regular_file(path: str | Path, what: str, field: str) -> os.stat_result:
    """``safeio.regular_file``'s checks (no folders, FIFOs or devices), naming the option too."""
    from ..core.safeio import regular_file

    try:
        return regular_file(path, what)
    except InspectError as exc:
        raise InspectError(exc.message, where=exc.where, field=field) from None


def check_finite(x: np.ndarray, where: Location, field: str) -> None:
    """Refuse NaN or infinity in an input: the network would answer with a silent wrong class."""
    import numpy as np

    finite = np.isfinite(x)
    if not finite.all():
        bad = int(x.size - np.count_nonzero(finite))
        first = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise InspectError(f"holds {bad:,} non-finite values (NaN or infinity), the first at index {list(first)} "
                           f"(N, H, W, C)", where=where, field=field)


def _open_image(path: str | Path):
    """A lazily opened Pillow image of one of :data:`IMAGE_FORMATS`, its size checked from the header.

    The file is size-checked before Pillow sees it; a decompression bomb (Pillow's warning and
    error alike) becomes a one-line error naming the pixel count and the limit.
    """
    import warnings

    where = Location(visible(str(path)))
    try:
        from PIL import Image
    except ImportError:
        raise InspectError(f"reading an image needs the Pillow package, which is not installed: {IMAGE_EXTRA}",
                           where=where, field="image") from None
    info = _regular_file(path, "file", "image")
    if info.st_size > IMAGE_FILE_LIMIT:
        raise InspectError(f"image file is {info.st_size:,} bytes; at most {IMAGE_FILE_LIMIT:,} are read",
                           where=where, field="image")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(path, formats=list(IMAGE_FORMATS))
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise InspectError(f"refused as a decompression bomb ({_reason(exc)})", where=where, field="image") from None
        except _pil_errors() as exc:
            raise InspectError(f"not a readable image of a supported format ({', '.join(IMAGE_FORMATS)}): "
                               f"{_reason(exc)}", where=where, field="image") from None
    width, height = image.size
    if width * height > IMAGE_PIXEL_LIMIT or width < 1 or height < 1:
        image.close()
        raise InspectError(f"image is {width}×{height} = {width * height:,} pixels; at most {IMAGE_PIXEL_LIMIT:,} "
                           "are decoded (a decompression bomb?)", where=where, field="image")
    return image


def plan_image(path: str | Path, size: tuple[int, int], channels: int) -> InputPlan:
    """The batch an image will give (1, H, W, C at the network's size), from its header."""
    with _open_image(path) as image:
        width, height = image.size
    if channels != 3:
        raise InspectError(f"an image gives 3 channels, the spec takes {channels}", where=Location(visible(str(path))),
                           field="image")
    return InputPlan(str(path), "image", (1, size[0], size[1], 3), width * height * IMAGE_BYTES_PER_PIXEL)


def decode_rgb8(path: str | Path) -> np.ndarray:
    """An H×W×3 uint8 RGB array, as Pillow's ``convert("RGB")`` gives torchvision and Keras,
    except that 16-bit images are scaled to 8 bits (``round(v / 257)``), not clipped at 255."""
    import numpy as np

    where = Location(visible(str(path)))
    with _open_image(path) as image:
        try:
            image.load()
            if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
                wide = np.asarray(image, dtype=np.float64)
                gray = np.clip(np.rint(wide / 257.0), 0, 255).astype(np.uint8)
                return np.repeat(gray[..., np.newaxis], 3, axis=2)
            if image.mode == "F":
                raise InspectError("is a 32-bit floating-point image; save it with 8 or 16 bits per channel",
                                   where=where, field="image")
            return np.asarray(image.convert("RGB"))
        except _pil_errors() as exc:
            raise InspectError(f"not a readable image ({_reason(exc)})", where=where, field="image") from None


class Resize:
    """How a picture becomes the network's H×W, as one framework does it (a row of :data:`RESIZES`).

    Works on Pillow images, because both frameworks do: torchvision's preset hands a PIL image to
    Pillow's own resize, and Keras' ``load_img`` calls ``PIL.Image.resize``.
    """

    name: ClassVar[str]
    describe: ClassVar[str]

    def __call__(self, image: PILImage, size: tuple[int, int]) -> PILImage:
        raise NotImplementedError


class TorchResize(Resize):
    """torchvision's ``ResNet50_Weights.IMAGENET1K_V1.transforms()`` (``ImageClassification``):
    the shorter side to 256 with Pillow's bilinear filter (antialiased when shrinking: the preset
    passes a PIL image to ``F.resize``, which calls ``PIL.Image.resize``), then a centre crop of 224.

    For a spec whose input is not 224 the same ratio holds: the shorter side to
    ``int(min(H, W) * 256 / 224)``, then a centre crop of H×W.
    """

    name = "torch"
    describe = "shorter side to 256 (bilinear, antialiased), centre crop 224"

    def __call__(self, image: PILImage, size: tuple[int, int]) -> PILImage:
        from PIL import Image

        short = int(min(size) * 256 / 224)
        width, height = image.size
        new_h, new_w = resized_shorter_side((height, width), short)
        if (new_h, new_w) != (height, width):
            image = image.resize((new_w, new_h), Image.Resampling.BILINEAR)
        return center_crop(image, size)


class CaffeResize(Resize):
    """Keras' ``keras.utils.load_img(path, target_size=(H, W))``: a stretch to H×W with its default
    interpolation, nearest (the blog's and Keras' documented ResNet50 examples). Named ``caffe``
    after the first convention that used it; the ``tf`` convention resizes with it too."""

    name = "caffe"
    describe = "stretch to 224×224, nearest neighbour"

    def __call__(self, image: PILImage, size: tuple[int, int]) -> PILImage:
        from PIL import Image

        if image.size != (size[1], size[0]):
            image = image.resize((size[1], size[0]), Image.Resampling.NEAREST)
        return image


RESIZES: dict[str, Resize] = {resize.name: resize for resize in (TorchResize(), CaffeResize())}


def resized_shorter_side(hw: tuple[int, int], short: int) -> tuple[int, int]:
    """(H, W) with the shorter side ``short`` and the longer ``int(short * long / shorter)``, as
    torchvision's ``_compute_resized_output_size`` (ties: a square keeps both at ``short``)."""
    height, width = hw
    shorter, longer = (width, height) if width <= height else (height, width)
    new_long = int(short * longer / shorter)
    return (new_long, short) if width <= height else (short, new_long)


def center_crop(image: PILImage, size: tuple[int, int]) -> PILImage:
    """torchvision's ``center_crop``: zero padding first if the crop is larger than the image, then
    the box at ``int(round((side - crop) / 2))`` (Python's round: halves go to the even number)."""
    from PIL import Image

    crop_h, crop_w = size
    width, height = image.size
    if crop_w > width or crop_h > height:
        left = (crop_w - width) // 2 if crop_w > width else 0
        top = (crop_h - height) // 2 if crop_h > height else 0
        right = (crop_w - width + 1) // 2 if crop_w > width else 0
        bottom = (crop_h - height + 1) // 2 if crop_h > height else 0
        padded = Image.new(image.mode, (width + left + right, height + top + bottom), 0)
        padded.paste(image, (left, top))
        image, (width, height) = padded, padded.size
    top = int(round((height - crop_h) / 2.0))
    left = int(round((width - crop_w) / 2.0))
    return image.crop((left, top, left + crop_w, top + crop_h))


def _caffe(x: np.ndarray) -> np.ndarray:
    """Keras ``imagenet_utils`` mode "caffe": RGB -> BGR, minus the ImageNet mean, no scaling."""
    import numpy as np

    return x[..., ::-1] - np.array(CAFFE_MEAN_BGR, np.float32)


def _tf(x: np.ndarray) -> np.ndarray:
    """Keras ``imagenet_utils`` mode "tf": ``x /= 127.5; x -= 1.0`` (RGB kept), in float32 as Keras does."""
    import numpy as np

    return x / np.float32(127.5) - np.float32(1.0)


def _torch(x: np.ndarray) -> np.ndarray:
    """torchvision's ``Normalize`` after ``convert_image_dtype``: /255, minus mean, over std (RGB)."""
    import numpy as np

    return (x / 255.0 - np.array(TORCH_MEAN_RGB, np.float32)) / np.array(TORCH_STD_RGB, np.float32)


@dataclass(frozen=True)
class Preprocessing:
    """One ``conventions.preprocessing`` value: how a picture becomes the input its weights expect.

    ``resize`` is the framework's own resize, used unless ``--resize`` picks another;
    ``normalise`` maps float32 RGB in 0–255 (H×W×3) to the network's input. ``describe`` and
    ``reproduces`` are the README's words for the row (tests keep the two in step).
    """

    name: str
    resize: Resize
    normalise: Callable[[np.ndarray], np.ndarray]
    describe: str
    reproduces: str


PREPROCESSINGS: dict[str, Preprocessing] = {row.name: row for row in (
    Preprocessing("torch", RESIZES["torch"], _torch, "÷255, mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225]",
                  "torchvision's `ResNet50_Weights.IMAGENET1K_V1.transforms()` on a PIL image"),
    Preprocessing("caffe", RESIZES["caffe"], _caffe, "RGB → BGR, minus [103.939, 116.779, 123.68]",
                  "Keras' `load_img(path, target_size=(224, 224))` + `resnet50.preprocess_input`"),
    Preprocessing("tf", RESIZES["caffe"], _tf, "÷127.5 − 1: RGB in [−1, 1]",
                  "Keras' `load_img(path, target_size=(224, 224))` + `resnet_v2.preprocess_input`"),
)}


def preprocessing(convention: str) -> Preprocessing:
    """The row of :data:`PREPROCESSINGS` a spec names (the schema allows no other; the API may)."""
    if convention not in PREPROCESSINGS:
        raise InspectError(f"must be one of {', '.join(PREPROCESSINGS)}, got {visible(convention)!r}",
                           field="conventions.preprocessing")
    return PREPROCESSINGS[convention]


def resize_choice(name: str | None, convention: str) -> Resize:
    """The resize ``--resize`` names, or by default the one of the spec's ``preprocessing``."""
    if name is None:
        return preprocessing(convention).resize
    if name not in RESIZES:
        raise InspectError(f"must be one of {', '.join(RESIZES)}, got {visible(name)!r}", field="resize")
    return RESIZES[name]


def load_image(path: str | Path, size: tuple[int, int], convention: str, resize: str | None = None) -> np.ndarray:
    """A picture resized to ``size`` (H, W) as ``resize`` does (default: the framework of
    ``convention``), then normalised by ``convention``: shape (1, H, W, 3), float32."""
    import numpy as np
    from PIL import Image

    pipeline = resize_choice(resize, convention)
    rgb = Image.fromarray(decode_rgb8(path))
    return preprocess(np.asarray(pipeline(rgb, size)), convention)[np.newaxis]


def preprocess(rgb: np.ndarray, convention: str) -> np.ndarray:
    """H×W×3 RGB in 0–255 -> the float32 input the weights were trained on."""
    import numpy as np

    return preprocessing(convention).normalise(rgb.astype(np.float32))


def plan_input(graph: Graph, *, image: str | Path | None = None, array: str | Path | None = None) -> InputPlan:
    """What exactly one of an image or an array file will give the network, from its header."""
    if (image is None) == (array is None):
        raise InspectError("give exactly one of image (a picture) or array (an .npy file)", field="image/array")
    spec = graph.spec
    if array is not None:
        return plan_array(array, spec.input_shape[2], spec.name)
    return plan_image(image, spec.input_shape[:2], spec.input_shape[2])  # type: ignore[arg-type]


def check_input_memory(graph: Graph, plan: InputPlan, max_memory: int | None) -> int:
    """Refuse, before anything is loaded or resized, a run estimated above ``max_memory`` bytes."""
    from .executor import DEFAULT_MAX_MEMORY, check_memory

    limit = DEFAULT_MAX_MEMORY if max_memory is None else max_memory
    _, h, w, _ = plan.shape
    return check_memory(graph, (h, w), plan.shape[0], "float32", limit, plan.file_bytes, f"the {plan.kind} file")


def load_input(graph: Graph, *, image: str | Path | None = None, array: str | Path | None = None,
               max_memory: int | None = None, resize: str | None = None) -> tuple[np.ndarray, str]:
    """The network's NHWC input from exactly one of an image or an array file, and that file's name.

    The file's header is read first: its size and the forward pass are checked against
    ``max_memory`` (default 4 GiB) before any pixel or array data is read.
    """
    if resize is not None:
        if image is None:
            raise unused("resize", "applies to --image only; an --array is used as it is")
        resize_choice(resize, graph.spec.conventions.preprocessing)
    plan = plan_input(graph, image=image, array=array)
    check_input_memory(graph, plan, max_memory)
    if plan.kind == "array":
        return load_array(plan.source), plan.source
    spec = graph.spec
    return load_image(plan.source, spec.input_shape[:2], spec.conventions.preprocessing, resize), plan.source


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return excerpt(text[0], 120) if text else type(exc).__name__


def _pil_errors() -> tuple[type[BaseException], ...]:
    """What Pillow's decoders raise on a malformed file: not only OSError (plugins raise
    SyntaxError, struct.error, IndexError, ... on a corrupt header)."""
    import struct

    try:
        from PIL import UnidentifiedImageError
    except ImportError:
        return ()
    return (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, struct.error, IndexError,
            TypeError, KeyError, ZeroDivisionError, OverflowError)
