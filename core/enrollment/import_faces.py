"""The face step of a bulk import (core.enrollment.bulk_import) from photo files, and
how many workers and onnxruntime threads share the machine's cores for it."""

from __future__ import annotations

import os

from core.enrollment.bulk_import import CheckedRow, FacesOf, RowFaces
from core.enrollment.enrollment import EnrollmentService
from core.settings import ImageLimits
from core.vision.imagefile import check_image_file, read_image_file


def photo_faces(service: EnrollmentService, limits: ImageLimits) -> FacesOf:
    """The face step of an import from photo files: as kiosk-admin enroll, every photo
    of the row is checked from its size and header before any is decoded, then all go
    through EnrollmentService.faces. The decoded photos are dropped when it returns:
    only the templates leave the step."""

    def faces_of(row: CheckedRow) -> RowFaces:
        for _, path in row.photos:
            check_image_file(path, limits)
        images = [(name, read_image_file(path, limits)) for name, path in row.photos]
        samples = service.faces(images)
        return RowFaces(samples, service.probes(images, samples))

    return faces_of


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def pool_size(workers: int, cores: int) -> tuple[int, int]:
    """(worker threads, onnxruntime threads per worker) for ``workers`` (0: one per
    core) on ``cores`` cores: never more workers than cores, and the cores shared
    out among them so the machine is not oversubscribed."""
    cores = max(1, cores)
    chosen = cores if workers == 0 else min(workers, cores)
    return chosen, max(1, cores // chosen)
