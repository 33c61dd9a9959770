"""Decode untrusted image files into BGR arrays, refusing what could hurt.

The size of the file and the pixel count from the header are checked before
any pixel is decoded, so a decompression bomb never reaches memory. Pillow
decodes strictly (a truncated file is an error, not a grey fill) and applies
the EXIF orientation that phone photos rely on; core.vision.pixels then turns
any pixel format into the 8-bit picture a viewer shows.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import ImageRejected
from core.settings import ImageLimits
from core.vision.pixels import viewable_bgr
from owned_files.inputs import NotARegularFile, open_regular, read_regular

SUPPORTED_FORMATS = ("JPEG", "PNG", "BMP", "WEBP")
# File names taken for those formats when a folder of images is read.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})


def read_image_file(path: Path, limits: ImageLimits) -> npt.NDArray[np.uint8]:
    """Read and decode one image file; raise ImageRejected with the reason."""
    try:
        _check_is_file(path)
        # One byte past the limit, so a file that grows meanwhile is still caught.
        data = read_regular(path, limits.max_file_bytes)
    except NotARegularFile as error:
        raise ImageRejected(f"{error}; give the path of an image file") from error
    except PermissionError as error:
        raise ImageRejected(f"{path} cannot be read: permission denied") from error
    except OSError as error:
        raise ImageRejected(f"{path} cannot be read: {error.strerror or error}") from error
    return decode_image_bytes(data, label=str(path), limits=limits)


def check_image_file(path: Path, limits: ImageLimits) -> tuple[int, int]:
    """(width, height) from the file's size and header alone, no pixel decoded; raise
    ImageRejected as ``read_image_file`` would for a missing, oversized or unknown file.

    For refusing a batch of files before decoding any of them: each is decoded, and
    checked again, by ``read_image_file`` afterwards."""
    try:
        _check_is_file(path)
        with os.fdopen(open_regular(path), "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            if size == 0:
                raise ImageRejected(f"{path} is empty; give a JPEG, PNG, BMP or WebP photo")
            if size > limits.max_file_bytes:
                raise ImageRejected(_too_large(str(path), limits))
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(stream, formats=SUPPORTED_FORMATS) as image:  # the header
                    return _checked_size(image, str(path), limits)
    except NotARegularFile as error:
        raise ImageRejected(f"{error}; give the path of an image file") from error
    except PermissionError as error:
        raise ImageRejected(f"{path} cannot be read: permission denied") from error
    except UnidentifiedImageError as error:
        raise ImageRejected(_unsupported(str(path))) from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageRejected(_too_many_pixels(str(path), limits)) from error
    except OSError as error:
        raise ImageRejected(f"{path} cannot be read: {error.strerror or error}") from error


def _check_is_file(path: Path) -> None:
    if not path.is_file():
        if path.is_dir():
            reason = "is a folder"
        else:
            reason = "is not a regular file" if path.exists() else "does not exist"
        raise ImageRejected(f"{path} {reason}; give the path of an image file")


def _checked_size(image: Image.Image, label: str, limits: ImageLimits) -> tuple[int, int]:
    width, height = image.size
    if width * height > limits.max_pixels:
        raise ImageRejected(
            f"{label} is {width}x{height}: it has more than the "
            f"{limits.max_pixels:,} pixels allowed; scale it down first"
        )
    return width, height


def _too_large(label: str, limits: ImageLimits) -> str:
    mebibytes = limits.max_file_bytes // (1024 * 1024)
    return f"{label} is larger than {mebibytes} MiB; use a smaller photo"


def _too_many_pixels(label: str, limits: ImageLimits) -> str:
    return f"{label} has more than the {limits.max_pixels:,} pixels allowed; scale it down first"


def _unsupported(label: str) -> str:
    return f"{label} is not an image in a supported format ({', '.join(SUPPORTED_FORMATS)})"


def decode_image_bytes(data: bytes, label: str, limits: ImageLimits) -> npt.NDArray[np.uint8]:
    """``data`` decoded to height x width x 3 uint8 BGR, upright and as a viewer shows
    it; raises ImageRejected with the reason (empty, too large, unknown, corrupt)."""
    if not data:
        raise ImageRejected(f"{label} is empty; give a JPEG, PNG, BMP or WebP photo")
    if len(data) > limits.max_file_bytes:
        raise ImageRejected(_too_large(label, limits))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=SUPPORTED_FORMATS) as image:
                _checked_size(image, label, limits)
                upright = ImageOps.exif_transpose(image)
                return viewable_bgr(upright, label)
    except UnidentifiedImageError as error:
        raise ImageRejected(_unsupported(label)) from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # Pillow's own guard fires at open() for extreme headers, far above our limit.
        raise ImageRejected(_too_many_pixels(label, limits)) from error
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageRejected(
            f"{label} could not be decoded ({error}); the file is truncated or corrupt"
        ) from error
