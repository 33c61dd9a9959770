"""kiosk-admin enroll refuses too many images, and any file it cannot take, from the
count, the sizes and the headers, before it decodes a single image."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.enrollment.enrollment import MAX_ENROLLMENT_IMAGES
from core.errors import ImageRejected
from core.settings import ImageLimits
from core.vision.imagefile import check_image_file


def test_the_header_check_reads_sizes_without_decoding(photos: Path, yaoming_jpg: Path) -> None:
    limits = ImageLimits()
    width, height = check_image_file(yaoming_jpg, limits)
    assert width * height > 0
    # A truncated photo has a good header: the check passes, decoding it would fail.
    assert check_image_file(photos / "truncated.jpg", limits)
    for name, reason in (
        ("oversized.png", "pixels allowed"),
        ("not_an_image.jpg", "not an image in a supported format"),
        ("empty.jpg", "is empty"),
        ("missing.jpg", "does not exist"),
    ):
        with pytest.raises(ImageRejected, match=reason):
            check_image_file(photos / name, limits)
    with pytest.raises(ImageRejected, match="larger than"):
        check_image_file(yaoming_jpg, ImageLimits(max_file_bytes=1024))


def test_too_many_images_are_refused_before_any_is_decoded(admin_cli, photos: Path) -> None:
    # Truncated photos: decoding any one of them would fail with "could not be decoded".
    images = [
        arg
        for _ in range(MAX_ENROLLMENT_IMAGES + 1)
        for arg in ("--image", photos / "truncated.jpg")
    ]
    refused = admin_cli(
        "enroll", "--name", "Many Photos", *images, "--consent", "--operator", "alice"
    )
    assert refused.returncode == 2, refused.stderr
    assert f"{MAX_ENROLLMENT_IMAGES + 1} images; enrollment takes at most" in refused.stderr
    assert "could not be decoded" not in refused.stderr


def test_a_bad_header_anywhere_is_refused_before_the_first_image_is_decoded(
    admin_cli, photos: Path
) -> None:
    refused = admin_cli(
        "enroll",
        "--name",
        "Two Photos",
        "--image",
        photos / "truncated.jpg",
        "--image",
        photos / "oversized.png",
        "--consent",
        "--operator",
        "alice",
    )
    assert refused.returncode == 3, refused.stderr
    assert "oversized.png has more than the 40,000,000 pixels allowed" in refused.stderr
    assert "truncated.jpg" not in refused.stderr
