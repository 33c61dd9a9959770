"""Photos uploaded as multipart parts: read within the file limits, decoded as files are.

The parts are kept in memory (the body limit bounds them) and never written to a
temporary file: only templates are ever kept, never photos.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import UploadFile
from starlette.formparsers import MultiPartParser

from core.errors import ImageRejected
from core.faces import BGRImage
from core.settings import ImageLimits
from core.vision.imagefile import decode_image_bytes

_LABEL_CHARS = 80

Photo = tuple[str, bytes]
"""A photo's label (its file name, cleaned) and its bytes."""


def keep_uploads_in_memory(max_body_bytes: int) -> None:
    """Starlette spools a part over 1 MiB to a temporary file on disk; a photo is
    biometric data and must not be: the whole body is bounded by
    ``max_body_bytes``, so the parts may stay in memory up to that."""
    MultiPartParser.spool_max_size = max_body_bytes


def label_of(upload: UploadFile, number: int) -> str:
    name = "".join(ch for ch in (upload.filename or "") if ch.isprintable())
    return (name.strip() or f"photo {number}")[:_LABEL_CHARS]


async def read_photos(uploads: Sequence[UploadFile], limits: ImageLimits) -> list[Photo]:
    """Each part's bytes, at most ``limits.max_file_bytes`` each; raises ImageRejected
    naming the part that is larger."""
    photos = []
    for number, upload in enumerate(uploads, start=1):
        label = label_of(upload, number)
        data = await upload.read(limits.max_file_bytes + 1)
        if len(data) > limits.max_file_bytes:
            mebibytes = limits.max_file_bytes // (1024 * 1024)
            raise ImageRejected(f"{label} is larger than {mebibytes} MiB; use a smaller photo")
        photos.append((label, data))
    return photos


def decoded(photos: Sequence[Photo], limits: ImageLimits) -> list[tuple[str, BGRImage]]:
    """Decoded as image files are (core.vision.imagefile): size and pixel count
    checked from the header before any pixel is decoded. Raises ImageRejected."""
    return [(label, decode_image_bytes(data, label=label, limits=limits)) for label, data in photos]
