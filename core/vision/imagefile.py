"""Decode untrusted image files into BGR arrays, refusing what could hurt.

The size of the file and the pixel count from the header are checked before
any pixel is decoded, so a decompression bomb never reaches memory. Pillow
decodes strictly (a truncated file is an error, not a grey fill) and applies
the EXIF orientation that phone photos rely on.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import ImageRejected
from core.settings import ImageLimits

SUPPORTED_FORMATS = ("JPEG", "PNG", "BMP", "WEBP")
# File names taken for those formats when a folder of images is read.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})


def read_image_file(path: Path, limits: ImageLimits) -> npt.NDArray[np.uint8]:
    """Read and decode one image file; raise ImageRejected with the reason."""
    try:
        if not path.is_file():
            reason = "is a folder" if path.is_dir() else "does not exist"
            raise ImageRejected(f"{path} {reason}; give the path of an image file")
        with path.open("rb") as stream:
            # Read one byte past the limit so a file that grows meanwhile is still caught.
            data = stream.read(limits.max_file_bytes + 1)
    except PermissionError as error:
        raise ImageRejected(f"{path} cannot be read: permission denied") from error
    except OSError as error:
        raise ImageRejected(f"{path} cannot be read: {error.strerror or error}") from error
    return decode_image_bytes(data, label=str(path), limits=limits)


def decode_image_bytes(data: bytes, label: str, limits: ImageLimits) -> npt.NDArray[np.uint8]:
    if not data:
        raise ImageRejected(f"{label} is empty; give a JPEG, PNG, BMP or WebP photo")
    if len(data) > limits.max_file_bytes:
        raise ImageRejected(
            f"{label} is larger than {limits.max_file_bytes // (1024 * 1024)} MiB; "
            "use a smaller photo"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=SUPPORTED_FORMATS) as image:
                width, height = image.size
                if width * height > limits.max_pixels:
                    raise ImageRejected(
                        f"{label} is {width}x{height}: it has more than the "
                        f"{limits.max_pixels:,} pixels allowed; scale it down first"
                    )
                upright = ImageOps.exif_transpose(image)
                rgb = upright.convert("RGB")
    except UnidentifiedImageError as error:
        raise ImageRejected(
            f"{label} is not an image in a supported format ({', '.join(SUPPORTED_FORMATS)})"
        ) from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # Pillow's own guard fires at open() for extreme headers, far above our limit.
        raise ImageRejected(
            f"{label} has more than the {limits.max_pixels:,} pixels allowed; scale it down first"
        ) from error
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageRejected(
            f"{label} could not be decoded ({error}); the file is truncated or corrupt"
        ) from error
    # Pillow gives RGB; the engine, like OpenCV cameras, works in BGR.
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)[:, :, ::-1])
