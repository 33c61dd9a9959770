"""A decoded Pillow image of any pixel format, as the 8-bit picture a viewer shows.

Pillow's ``convert("RGB")`` clips wide greys instead of scaling them (a 16-bit grey
photo becomes all white) and drops transparency (a face under an alpha of 0, which
no viewer shows, would be seen). Here wide greys are scaled by their mode's range
and transparency is laid over a neutral grey, so the detector sees what a person
looking at the file sees.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter

from core.errors import ImageRejected

NEUTRAL_GREY = 128
"""What a transparent pixel shows. Mid grey: a viewer's neutral background, and the
value SCRFD's input normalisation ((x - 127.5) / 128) turns into zero, so a fully
transparent area reads as "nothing there" to the detector as well as to a person.
Faces that fill a photo are padded with the same grey (core.vision.framing)."""

# 16-bit greys, whatever their byte order: full scale (white) is 65535.
_SIXTEEN_BIT_GREYS = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
# 32-bit integer greys. Assumed to hold 16-bit samples, 0..65535: every decoder that
# gives mode "I" does so for samples wider than 8 bits (16-bit PNG and PGM greys in
# the Pillow releases before I;16, 16-bit TIFF), while an "I" image of 8-bit values
# only comes from convert("I") in code, which nothing on this path calls. Scaling a
# 16-bit image as if it were 8-bit would turn it all white, the fault this module
# exists to stop; values outside the range are clipped.
_INTEGER_GREY_WHITE = 65535
# A 1-bit photo is a dither pattern, which the eye averages into greys at any viewing
# distance; the detector takes the dots for texture and finds no face (the package
# photo, dithered: no face; blurred by this much: found, and matched at 0.88).
_DITHER_BLUR_PX = 1.0
# 32-bit float greys. Assumed to hold 0.0 (black) to 1.0 (white), the convention of
# float image files (float TIFF, and the numpy image libraries that write them);
# values outside are clipped, and NaN is black.
_FLOAT_GREY_WHITE = 1.0


def viewable_bgr(image: Image.Image, label: str) -> npt.NDArray[np.uint8]:
    """``image`` as height x width x 3 uint8 BGR, the way a viewer shows it: wide
    greys scaled to 8 bits, 1-bit dither seen as greys, transparency laid over
    NEUTRAL_GREY.

    Raises ImageRejected (naming ``label``) for a pixel format with no RGB meaning
    that Pillow cannot convert."""
    if image.mode in _SIXTEEN_BIT_GREYS or image.mode in ("I", "F"):
        image = _eight_bit_grey(image)
    elif image.mode == "1":
        image = image.convert("L").filter(ImageFilter.GaussianBlur(_DITHER_BLUR_PX))
    try:
        if image.has_transparency_data:
            # Pillow turns a palette's or a grey's transparent entry into alpha here.
            rgb = _over_grey(image.convert("RGBA"))
        else:
            rgb = image.convert("RGB")
    except ValueError as error:
        raise ImageRejected(
            f"{label} uses the {image.mode} pixel format, which cannot be shown as colour "
            "here; save it as an RGB or greyscale JPEG or PNG"
        ) from error
    # Pillow gives RGB; the engine, like OpenCV cameras, works in BGR.
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)[:, :, ::-1])


def _eight_bit_grey(image: Image.Image) -> Image.Image:
    """A wide grey image as mode L (LA when a grey value is marked transparent)."""
    values = np.asarray(image)
    if image.mode == "F":
        finite = np.nan_to_num(values, nan=0.0, posinf=_FLOAT_GREY_WHITE, neginf=0.0)
        scaled = np.clip(finite, 0.0, _FLOAT_GREY_WHITE) * (255 / _FLOAT_GREY_WHITE) + 0.5
        grey = scaled.astype(np.uint8)
    else:
        # The high byte of each 16-bit sample: what libpng's strip_16 and Pillow's own
        # reading of 16-bit colour PNGs keep, so a 16-bit grey and a 16-bit colour copy
        # of one photo decode to the same levels (at most one level below rounding).
        wide = np.clip(values, 0, _INTEGER_GREY_WHITE) if image.mode == "I" else values
        grey = (wide >> 8).astype(np.uint8)
    narrowed = Image.fromarray(grey)
    transparent = image.info.get("transparency")
    if isinstance(transparent, int) and image.mode != "F":
        # A PNG tRNS entry for a grey image: the one sample value that is invisible.
        alpha = np.where(values == transparent, 0, 255).astype(np.uint8)
        narrowed = Image.merge("LA", (narrowed, Image.fromarray(alpha)))
    return narrowed


def _over_grey(rgba: Image.Image) -> Image.Image:
    background = Image.new("RGBA", rgba.size, (NEUTRAL_GREY, NEUTRAL_GREY, NEUTRAL_GREY, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")
