"""Every pixel format decodes to what a person sees, and what is transparent is not seen
(issue 27, photos 1 and 2). Each variant is the package photo saved another way."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from core.errors import QualityRejected
from core.faces import BGRImage
from core.settings import Settings
from core.vision.engine import FaceEngine
from core.vision.pixels import NEUTRAL_GREY, viewable_bgr
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from tests.photo_cases import ENROLLED_NAME, Gallery, bgr_of, decoded, encoded, sixteen_bit

Variant = Callable[[Image.Image], BGRImage]


def _saved(image: Image.Image, image_format: str, mode: str, **options: object) -> BGRImage:
    """``image`` saved as ``image_format`` and decoded; the file must really hold ``mode``."""
    data = encoded(image, image_format, **options)
    with Image.open(io.BytesIO(data)) as opened:
        assert opened.mode == mode, f"{image_format} was opened as {opened.mode}, not {mode}"
    return decoded(data, f"{mode}.{image_format.lower()}")


def _grey(rgb: Image.Image) -> Image.Image:
    return rgb.convert("L")


def _sixteen_bit_png(rgb: Image.Image) -> BGRImage:
    return _saved(Image.fromarray(sixteen_bit(_grey(rgb))), "PNG", "I;16")


def _big_endian_sixteen_bit(rgb: Image.Image) -> BGRImage:
    raw = sixteen_bit(_grey(rgb)).astype(">u2").tobytes()
    return viewable_bgr(Image.frombytes("I;16B", rgb.size, raw), "I;16B")


def _integer_grey(rgb: Image.Image) -> BGRImage:
    return viewable_bgr(Image.fromarray(sixteen_bit(_grey(rgb)).astype(np.int32)), "I")


def _float_grey(rgb: Image.Image) -> BGRImage:
    values = sixteen_bit(_grey(rgb)).astype(np.float32) / 65535
    return viewable_bgr(Image.fromarray(values), "F")


def _sixteen_bit_colour_png(rgb: Image.Image) -> BGRImage:
    bgr = np.asarray(rgb)[:, :, ::-1].astype(np.uint16) * 257
    ok, png = cv2.imencode(".png", bgr)
    assert ok
    return decoded(png.tobytes(), "rgb16.png")


def _clear_corner(rgb: Image.Image) -> Image.Image:
    """RGBA with one transparent pixel: an alpha channel that is really there."""
    rgba = rgb.convert("RGBA")
    rgba.putpixel((0, 0), (0, 0, 0, 0))
    return rgba


def _palette_with_transparent_corner(rgb: Image.Image) -> BGRImage:
    palette = rgb.quantize(colors=255)
    palette.info["transparency"] = palette.getpixel((0, 0))  # the background's colour
    return _saved(palette, "PNG", "P")


# Each format a photo of the enrolled person may come in; every one must be matched.
# I;16B, I and F come from no format the kiosk reads with this Pillow (16-bit PNG greys
# open as I;16), so they go through the same conversion as Pillow images.
GREY_VARIANTS: dict[str, Variant] = {
    "I;16 PNG": _sixteen_bit_png,
    "I;16B": _big_endian_sixteen_bit,
    "I (32-bit integer grey)": _integer_grey,
    "F (32-bit float grey)": _float_grey,
    "LA PNG": lambda rgb: _saved(_grey(rgb).convert("LA"), "PNG", "LA"),
    "L JPEG": lambda rgb: _saved(_grey(rgb), "JPEG", "L", quality=95),
}
COLOUR_VARIANTS: dict[str, Variant] = {
    "RGBA PNG": lambda rgb: _saved(_clear_corner(rgb), "PNG", "RGBA"),
    "RGBA WebP": lambda rgb: _saved(_clear_corner(rgb), "WEBP", "RGBA", lossless=True),
    "16-bit RGB PNG": _sixteen_bit_colour_png,
    "P PNG with transparency": _palette_with_transparent_corner,
    "PA": lambda rgb: viewable_bgr(rgb.quantize(colors=256).convert("PA"), "PA"),
    "P BMP": lambda rgb: _saved(rgb.quantize(colors=256), "BMP", "P"),
    "CMYK JPEG": lambda rgb: _saved(rgb.convert("CMYK"), "JPEG", "CMYK", quality=95),
    "1-bit PNG": lambda rgb: _saved(_grey(rgb).convert("1"), "PNG", "1"),
}


@pytest.fixture(scope="module")
def yaoming_rgb(yaoming_jpg: Path) -> Image.Image:
    with Image.open(yaoming_jpg) as image:
        return image.convert("RGB")


@pytest.fixture
def gallery(
    face_engine: FaceEngine,
    identity_store: SqlIdentityStore,
    operator_store: SqlOperatorStore,
    settings: Settings,
    yaoming_jpg: Path,
) -> Gallery:
    gallery = Gallery(face_engine, identity_store, operator_store, settings)
    gallery.enroll(ENROLLED_NAME, ("yaoming.jpg", bgr_of(yaoming_jpg)))
    return gallery


@pytest.mark.parametrize("variant", GREY_VARIANTS, ids=str)
def test_wide_greys_are_scaled_not_clipped(yaoming_rgb: Image.Image, variant: str) -> None:
    # 16-bit greys were read as all white. Scaled by their range, each is the 8-bit grey.
    grey = np.asarray(_grey(yaoming_rgb))
    seen = GREY_VARIANTS[variant](yaoming_rgb)
    assert seen.shape == (*grey.shape, 3)
    assert (seen[:, :, 0] == seen[:, :, 1]).all()
    assert (seen[:, :, 1] == seen[:, :, 2]).all()
    # The lossless ones exactly; the JPEG within what its compression changes.
    tolerance = 3.0 if "JPEG" in variant else 0.0
    assert np.abs(seen[:, :, 0].astype(float) - grey).mean() <= tolerance


@pytest.mark.parametrize("variant", [*GREY_VARIANTS, *COLOUR_VARIANTS], ids=str)
def test_each_pixel_format_matches_the_enrolled_person(
    gallery: Gallery, yaoming_rgb: Image.Image, variant: str
) -> None:
    build = GREY_VARIANTS.get(variant) or COLOUR_VARIANTS[variant]
    assert gallery.identified_name(build(yaoming_rgb), variant) == ENROLLED_NAME


@pytest.mark.parametrize("variant", ["I;16 PNG", "LA PNG", "CMYK JPEG", "1-bit PNG"])
def test_the_person_can_be_enrolled_from_each_format(
    face_engine: FaceEngine,
    identity_store: SqlIdentityStore,
    operator_store: SqlOperatorStore,
    settings: Settings,
    yaoming_rgb: Image.Image,
    yaoming_jpg: Path,
    variant: str,
) -> None:
    gallery = Gallery(face_engine, identity_store, operator_store, settings)
    build = GREY_VARIANTS.get(variant) or COLOUR_VARIANTS[variant]
    assert gallery.enroll(ENROLLED_NAME, (variant, build(yaoming_rgb))).templates == 1
    assert gallery.identified_name(bgr_of(yaoming_jpg)) == ENROLLED_NAME


# ---- transparency -------------------------------------------------------------------------


def _with_alpha(rgb: Image.Image, alpha: int, mode: str = "RGBA") -> Image.Image:
    base = rgb if mode == "RGBA" else _grey(rgb)
    faded = base.convert(mode)
    faded.putalpha(alpha)
    return faded


@pytest.mark.parametrize(
    ("image_format", "mode"), [("PNG", "RGBA"), ("WEBP", "RGBA"), ("PNG", "LA")]
)
def test_a_fully_transparent_photo_shows_no_face(
    gallery: Gallery, yaoming_rgb: Image.Image, image_format: str, mode: str
) -> None:
    # Blank in every viewer, though the face is still in the colour channels.
    invisible = _saved(_with_alpha(yaoming_rgb, 0, mode), image_format, mode, lossless=True)
    assert (invisible == NEUTRAL_GREY).all()
    with pytest.raises(QualityRejected, match="no face found"):
        gallery.enroll("Someone Else", ("invisible.png", invisible))
    with pytest.raises(QualityRejected, match="no face found"):
        gallery.identify(invisible, "invisible.png")


def test_a_half_transparent_photo_is_seen_as_a_viewer_shows_it(
    gallery: Gallery, yaoming_rgb: Image.Image
) -> None:
    half = _saved(_with_alpha(yaoming_rgb, 128), "PNG", "RGBA")
    opaque = np.asarray(yaoming_rgb, dtype=float)[:, :, ::-1]
    over_grey = opaque * 128 / 255 + NEUTRAL_GREY * (1 - 128 / 255)
    assert np.abs(half - over_grey).max() <= 1.0
    # Faded, the face is still there to see, and still the same person.
    assert gallery.identified_name(half, "half.png") == ENROLLED_NAME


def test_transparent_palette_and_grey_entries_show_the_background(
    yaoming_rgb: Image.Image,
) -> None:
    palette = yaoming_rgb.quantize(colors=255)
    corner = palette.getpixel((0, 0))
    palette.info["transparency"] = corner
    seen = _saved(palette, "PNG", "P")
    hidden = np.asarray(palette) == corner
    assert hidden.any()
    assert not hidden.all()
    assert (seen[hidden] == NEUTRAL_GREY).all()
    shown = np.asarray(palette.convert("RGB"))[:, :, ::-1]
    assert (seen[~hidden] == shown[~hidden]).all()

    wide = sixteen_bit(_grey(yaoming_rgb))
    value = int(wide[0, 0])
    seen = _saved(Image.fromarray(wide), "PNG", "I;16", transparency=value)
    hidden = wide == value
    assert (seen[hidden] == NEUTRAL_GREY).all()
    assert (seen[~hidden][:, 0] == (wide[~hidden] >> 8)).all()
