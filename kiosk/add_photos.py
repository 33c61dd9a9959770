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

from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.enrollment.enrollment import MAX_ENROLLMENT_IMAGES, EnrollmentService
from core.enrollment.photo_addition import PhotoAddition
from core.errors import InputRejected, InvalidValue
from core.match_settings import MatchSettings
from core.records import Operator
from core.settings import ImageLimits
from core.vision.imagefile import check_image_file, read_image_file
from kiosk.operator_actions import OperatorActions
from kiosk.people_page import PeoplePage
from kiosk.widgets import MessageLabel
from storage.person_photos import SqlPersonPhotos
from storage.store import OpenStore

PHOTO_FILES = "Photos (*.jpg *.jpeg *.png *.bmp *.webp)"


def photo_addition(
    enroller: EnrollmentService, store: OpenStore, matching: MatchSettings, template_model: str
) -> PhotoAddition:
    """The service over the kiosk's store, with the shared settings in force."""
    return PhotoAddition(enroller, SqlPersonPhotos(store.engine), matching, template_model)


class AddPhotosPanel(QWidget):
    """Choose photo files, then add them to the person chosen on the People screen."""

    def __init__(
        self,
        actions: OperatorActions,
        service: Callable[[], PhotoAddition],
        limits: ImageLimits,
        person: Callable[[], uuid.UUID | None],
        added: Callable[[uuid.UUID], None],
    ) -> None:
        """``person``: the person chosen on the screen, None when nobody is;
        ``added``: called with their id once photos were added (the screen shows the
        person again)."""
        super().__init__()
        self._actions = actions
        self._service = service
        self._limits = limits
        self._person = person
        self._added = added
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
        self.open_button: QPushButton | None = None
        """On the person's record, when attached to the People screen."""
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

    def person_changed(self) -> None:
        """Another person was chosen: the photos chosen were for the one before."""
        self._paths = []
        self.message.clear_message()
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
        self.add_button.setEnabled(bool(self._paths))

    def _add(self) -> None:
        person, paths = self._person(), list(self._paths)
        if person is None:
            self.message.show_error("Choose a person first.")
            return
        if not paths:
            return
        service, limits = self._service(), self._limits

        def add(actor: Operator) -> tuple[uuid.UUID, int, int]:
            if len(paths) > MAX_ENROLLMENT_IMAGES:
                raise InvalidValue(
                    f"{len(paths)} photos; a person has at most {MAX_ENROLLMENT_IMAGES} "
                    "templates: choose the best ones"
                )
            try:
                for path in paths:
                    check_image_file(path, limits)
                images = [(path.name, read_image_file(path, limits)) for path in paths]
            except InputRejected as refused:  # audited as the service's own refusals
                service.record_refusal(actor, person, refused, len(paths))
                raise
            return person, len(images), service.add(actor, person, images)

        self.add_button.setEnabled(False)
        self.message.show_notice("Checking the photos…")
        self._actions.run(add, self._done, self._failed)

    def _done(self, result: tuple[uuid.UUID, int, int]) -> None:
        person, added, total = result
        self._paths = []
        self._update()
        self.message.show_notice(f"Added {added} photo(s): {total} template(s) now.")
        self._added(person)

    def _failed(self, message: str) -> None:
        self._update()
        self.message.show_error(message)


def attach_add_photos(
    page: PeoplePage,
    actions: OperatorActions,
    service: Callable[[], PhotoAddition],
    limits: ImageLimits,
    added: Callable[[uuid.UUID], None],
) -> AddPhotosPanel:
    """A Photos tab on the People screen, for the person chosen there."""
    panel = AddPhotosPanel(actions, service, limits, lambda: page.chosen_person, added)
    page.tabs.addTab(panel, "Photos")
    # The record's row of actions on the chosen person (kiosk.person_record) leads there.
    panel.open_button = QPushButton("Add photos…")
    panel.open_button.clicked.connect(lambda: page.tabs.setCurrentWidget(panel))
    page.record.action_row.insertWidget(0, panel.open_button)
    page.results.currentCellChanged.connect(lambda *_: panel.person_changed())
    return panel
