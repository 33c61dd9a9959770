"""Decoding untrusted image files: refused with a reason, never a crash."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import ImageRejected
from core.settings import ImageLimits
from core.vision.imagefile import read_image_file


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("empty.jpg", "is empty"),
        ("truncated.jpg", "truncated or corrupt"),
        ("not_an_image.jpg", "not an image"),
        ("oversized.png", "more than the 40,000,000 pixels allowed"),
    ],
)
def test_bad_files_are_refused_with_the_reason(photos: Path, name: str, reason: str) -> None:
    with pytest.raises(ImageRejected, match=reason):
        read_image_file(photos / name, ImageLimits())


def test_missing_file_and_folder_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ImageRejected, match="does not exist"):
        read_image_file(tmp_path / "nope.jpg", ImageLimits())
    with pytest.raises(ImageRejected, match="is a folder"):
        read_image_file(tmp_path, ImageLimits())


def test_header_dimensions_are_checked_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (300, 200)).save(path)
    with pytest.raises(ImageRejected, match="300x200"):
        read_image_file(path, ImageLimits(max_pixels=50_000))


def test_file_over_the_byte_limit_is_refused_before_decoding(yaoming_jpg: Path) -> None:
    with pytest.raises(ImageRejected, match="larger than"):
        read_image_file(yaoming_jpg, ImageLimits(max_file_bytes=1024, max_pixels=10_000_000))


def test_jpeg_decodes_to_bgr(yaoming_jpg: Path) -> None:
    image = read_image_file(yaoming_jpg, ImageLimits())
    assert image.dtype == np.uint8
    assert image.shape == (287, 233, 3)
    assert image.flags["C_CONTIGUOUS"]


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    # A 40x20 landscape stored with "rotate 90" in EXIF is a 20x40 portrait to a viewer.
    pixels = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    pixels.save(buffer, format="JPEG", exif=exif.tobytes())
    path = tmp_path / "rotated.jpg"
    path.write_bytes(buffer.getvalue())
    image = read_image_file(path, ImageLimits())
    assert image.shape[:2] == (40, 20)
    assert image[10, 10, 2] > 200  # red lands in the last (R) channel of BGR


def test_greyscale_and_palette_images_become_three_channels(tmp_path: Path) -> None:
    for mode in ("L", "P", "RGBA", "I;16"):
        path = tmp_path / f"{mode.replace(';', '')}.png"
        Image.new(mode, (50, 40)).save(path)
        assert read_image_file(path, ImageLimits()).shape == (40, 50, 3)
