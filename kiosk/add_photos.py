"""The People screen's Photos tab: photos from files added to the chosen person.

The same service as ``kiosk-admin add-photos`` (core.enrollment.photo_addition): the
enrollment's quality gate on each photo, the person's consent in force, the same
person and nobody else enrolled, the template limit, audited. The files are read
and judged off the GUI thread, as the operator's request (OperatorActions).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.enrollment.enrollment import MAX_ENROLLMENT_IMAGES, EnrollmentService
from core.enrollment.photo_addition import PhotoAdditionService, PhotosAdded
from core.errors import InvalidValue
from core.records import Operator
from core.settings import ImageLimits, MatchSettings
from core.vision.imagefile import check_image_file, read_image_file
from kiosk.operator_actions import OperatorActions
from kiosk.people_page import PeoplePage
from kiosk.widgets import MessageLabel
from storage.person_photos import SqlPersonPhotos
from storage.store import OpenStore

PHOTO_FILES = "Photos (*.jpg *.jpeg *.png *.bmp *.webp)"


def photo_addition(
    enroller: EnrollmentService, store: OpenStore, matching: MatchSettings
) -> PhotoAdditionService:
    """The service over the kiosk's store, with the shared settings in force."""
    return PhotoAdditionService(enroller, store.identity, SqlPersonPhotos(store.engine), matching)


class AddPhotosPanel(QWidget):
    """Choose photo files, then add them to the person chosen on the People screen."""

    def __init__(
        self,
        actions: OperatorActions,
        service: Callable[[], PhotoAdditionService],
        template_model: str,
        limits: ImageLimits,
        added: Callable[[uuid.UUID], None],
    ) -> None:
        """``added``: called with the person's id once photos were added (the screen
        shows the person again)."""
        super().__init__()
        self._actions = actions
        self._service = service
        self._template_model = template_model
        self._limits = limits
        self._added = added
        self._person: uuid.UUID | None = None
        self._paths: list[Path] = []
        self.explanation = QLabel(
            "Add photos of the chosen person: each must show only them, as sharp and "
            "frontal as for enrollment, and their consent must be in force."
        )
        self.explanation.setWordWrap(True)
        self.chosen = QLabel("No photos chosen.")
        self.chosen.setWordWrap(True)
        self.choose_button = QPushButton("Choose photos…")
        self.add_button = QPushButton("Add photos")
        self.message = MessageLabel()
        layout = QVBoxLayout(self)
        for widget in (self.explanation, self.choose_button, self.chosen):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addWidget(self.message)
        layout.addWidget(self.add_button)
        self.choose_button.clicked.connect(self._open_dialog)
        self.add_button.clicked.connect(self._add)
        self._update()

    def show_person(self, person_id: uuid.UUID | None) -> None:
        """The person the photos are for; None: nobody chosen."""
        if person_id != self._person:
            self._paths = []
            self.message.clear_message()
        self._person = person_id
        self._update()

    def choose(self, paths: list[Path]) -> None:
        """The photo files to add (the file dialog's choice)."""
        self._paths = list(paths)
        self.message.clear_message()
        self._update()

    def _open_dialog(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Photos to add", "", PHOTO_FILES)
        if names:
            self.choose([Path(name) for name in names])

    def _update(self) -> None:
        if self._paths:
            self.chosen.setText(", ".join(path.name for path in self._paths))
        else:
            self.chosen.setText("No photos chosen.")
        self.choose_button.setEnabled(self._person is not None)
        self.add_button.setEnabled(self._person is not None and bool(self._paths))
        if self._person is None:
            self.message.show_notice("Choose a person first.")

    def _add(self) -> None:
        person, paths = self._person, list(self._paths)
        if person is None or not paths:
            return
        service, model, limits = self._service(), self._template_model, self._limits

        def add(actor: Operator) -> PhotosAdded:
            if len(paths) > MAX_ENROLLMENT_IMAGES:
                raise InvalidValue(
                    f"{len(paths)} photos; a person has at most {MAX_ENROLLMENT_IMAGES} "
                    "templates: choose the best ones"
                )
            for path in paths:
                check_image_file(path, limits)
            images = [(path.name, read_image_file(path, limits)) for path in paths]
            return service.add_photos(actor, person, images, model)

        self.add_button.setEnabled(False)
        self.message.show_notice("Checking the photos…")
        self._actions.run(add, self._done, self._failed)

    def _done(self, added: PhotosAdded) -> None:
        self._paths = []
        self._update()
        self.message.show_notice(
            f"Added {added.added} photo(s) to {added.display_name}: "
            f"{added.templates} template(s) now."
        )
        self._added(added.person_id)

    def _failed(self, message: str) -> None:
        self._update()
        self.message.show_error(message)


def attach_add_photos(
    page: PeoplePage,
    actions: OperatorActions,
    service: Callable[[], PhotoAdditionService],
    template_model: str,
    limits: ImageLimits,
    added: Callable[[uuid.UUID], None],
) -> AddPhotosPanel:
    """A Photos tab on the People screen that follows the person chosen there."""
    panel = AddPhotosPanel(actions, service, template_model, limits, added)
    page.tabs.addTab(panel, "Photos")

    def chosen(item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        panel.show_person(item.data(Qt.ItemDataRole.UserRole) if item is not None else None)

    page.results.currentItemChanged.connect(chosen)
    return panel
