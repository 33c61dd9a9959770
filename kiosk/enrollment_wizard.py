"""Enrollment at the kiosk: consent, live capture, review, save. Cancel keeps nothing."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from core.access.wiegand import badge_warning
from core.enrollment.capture import CapturedEnrollment, CaptureProgress
from core.enrollment.consent import ConsentText
from core.enrollment.enrollment import EnrollmentResult
from core.enrollment.names import clean_display_name, clean_external_ref
from core.errors import AlreadyEnrolled, InvalidValue
from core.faces import BGRImage, DetectedFace
from core.osdp_settings import OsdpSettings
from core.rules.model import AccessGroup, Validity
from kiosk.access_editor import AccessEditor
from kiosk.camera import to_qimage
from kiosk.widgets import MessageLabel, StepStack, secondary_button, title_label

GOOD_FRAME_TEXT = "good: hold still"
_THUMBNAIL_PX = 160
_SMALLEST_THUMBNAIL_PX = 96
_CONSENT_MIN_PX = 130
_GOOD_BOX = QColor("#16a34a")
_BAD_BOX = QColor("#f59e0b")


@dataclass(frozen=True)
class EnrollmentRequest:
    display_name: str
    external_ref: str | None
    frames: tuple[BGRImage, ...]
    groups: tuple[str, ...] | None = None
    """The access groups chosen; None: the site's default group (the list was not loaded)."""
    validity: Validity = field(default_factory=Validity)


class EnrollmentWizard(QWidget):
    """Four steps on one page; what the operator may do next is all it decides.

    The person's agreement and the operator's confirmation are two separate
    ticks; capture starts only after both. The captured frames live here until
    saved or dropped; ``reset()`` drops them. The person's access groups and
    validity are chosen at review, next to Save (``visitor_days``: the end date a
    visitor gets unless one is given, rules.visitor_valid_days).
    """

    capture_requested = Signal()
    capture_cancelled = Signal()
    save_requested = Signal(object)  # EnrollmentRequest

    def __init__(
        self,
        consent: ConsentText,
        operator_name: str,
        *,
        visitor_days: int = 1,
        today: Callable[[], date] = date.today,
        osdp: OsdpSettings | None = None,
    ) -> None:
        """``osdp``: the kiosk's [osdp] section; with its reader on, the review warns
        of a badge number the door controller cannot know."""
        super().__init__()
        self._consent = consent
        self._osdp = osdp or OsdpSettings()
        self.access = AccessEditor(visitor_days=visitor_days, today=today)
        self._captured: CapturedEnrollment | None = None
        self.steps = StepStack()
        self.message = MessageLabel()
        self._build_details(operator_name)
        self._build_capture()
        self._build_review()
        layout = QVBoxLayout(self)
        layout.addWidget(self.steps, stretch=1)
        layout.addWidget(self.message)

    # --- step 1: who, and their consent -------------------------------------------------

    def _build_details(self, operator_name: str) -> None:
        page = QWidget()
        self.name = QLineEdit()
        self.name.setPlaceholderText("Full name as the door should greet them")
        self.badge = QLineEdit()
        self.badge.setPlaceholderText("Optional badge or staff number")
        fields = QFormLayout()
        fields.addRow("Name", self.name)
        fields.addRow("Badge", self.badge)
        consent_text = QPlainTextEdit(self._consent.text)
        consent_text.setReadOnly(True)
        # A few lines at least: on a small screen the step scrolls, the text stays readable.
        consent_text.setMinimumHeight(_CONSENT_MIN_PX)
        self.person_agrees = QCheckBox(
            f"The person has read consent text {self._consent.version} and agrees"
        )
        self.operator_confirms = QCheckBox(
            f"I, {operator_name}, witnessed their agreement and checked who they are"
        )
        self.start_capture = QPushButton("Start the camera capture")
        self.start_capture.setEnabled(False)
        layout = QVBoxLayout(page)
        layout.addWidget(_step_label("Step 1 of 3 · who, and their consent"))
        layout.addLayout(fields)
        layout.addWidget(QLabel(f"Consent text {self._consent.version}: read it to the person"))
        layout.addWidget(consent_text, stretch=1)
        layout.addWidget(self.person_agrees)
        layout.addWidget(self.operator_confirms)
        layout.addWidget(self.start_capture)
        for changed in (self.name.textChanged, self.person_agrees.toggled):
            changed.connect(self._update_start)
        self.operator_confirms.toggled.connect(self._update_start)
        self.start_capture.clicked.connect(self._begin_capture)
        self.steps.addWidget(page)

    def _update_start(self) -> None:
        self.start_capture.setEnabled(
            bool(self.name.text().strip())
            and self.person_agrees.isChecked()
            and self.operator_confirms.isChecked()
        )

    def _begin_capture(self) -> None:
        try:
            clean_display_name(self.name.text())
            clean_external_ref(self.badge.text())
        except InvalidValue as error:
            self.show_error(str(error))
            return
        self.message.clear_message()
        self._captured = None
        self.capture_count.setValue(0)
        self.advice.setText("step in front of the camera")
        self.steps.setCurrentWidget(self.capture_page)
        self.capture_requested.emit()

    # --- step 2: live capture -----------------------------------------------------------

    def _build_capture(self) -> None:
        self.capture_page = QWidget()
        self.preview = QLabel()
        self.preview.setObjectName("preview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.advice = QLabel("")
        self.advice.setObjectName("advice")
        self.advice.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.capture_count = QProgressBar()
        self.capture_count.setFormat("%v of %m good frames")
        cancel = secondary_button("Cancel")
        cancel.clicked.connect(self.reset)
        layout = QVBoxLayout(self.capture_page)
        layout.addWidget(title_label("Look at the camera"))
        layout.addWidget(self.preview, stretch=1)
        layout.addWidget(self.advice)
        layout.addWidget(self.capture_count)
        layout.addWidget(cancel)
        self.steps.addWidget(self.capture_page)

    def show_progress(self, progress: CaptureProgress, frame: QImage) -> None:
        if self.steps.currentWidget() is not self.capture_page:
            return  # a late frame after cancel
        self.capture_count.setMaximum(progress.needed)
        self.capture_count.setValue(progress.accepted)
        self.advice.setText(progress.advice or GOOD_FRAME_TEXT)
        pixmap = QPixmap.fromImage(frame)
        if progress.face is not None:
            colour = _GOOD_BOX if progress.advice is None else _BAD_BOX
            _draw_box(pixmap, progress.face, colour)
        self.preview.setPixmap(
            pixmap.scaled(
                self.preview.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    def show_captured(self, captured: CapturedEnrollment) -> None:
        if self.steps.currentWidget() is not self.capture_page:
            return
        self._captured = captured
        while self.thumbnails.count():
            item = self.thumbnails.takeAt(0)
            old = item.widget() if item is not None else None
            if old is not None:
                old.deleteLater()
        for frame, face in zip(captured.frames, captured.faces, strict=True):
            thumbnail = QLabel()
            thumbnail.setPixmap(_face_thumbnail(frame, face, self._thumbnail_px()))
            self.thumbnails.addWidget(thumbnail)
        self.thumbnails.addStretch(1)
        badge = clean_external_ref(self.badge.text())
        warning = badge_warning(badge, self._osdp)
        self.summary.setText(
            f"<b>{html.escape(clean_display_name(self.name.text()))}</b>"
            f"{'  ·  badge ' + html.escape(badge) if badge else ''}<br>"
            f"{len(captured.frames)} frame(s) become templates; the photos are not kept.<br>"
            f"Consent {self._consent.version}, given and witnessed."
            + (f"<br><b>Warning:</b> {html.escape(warning)}" if warning else "")
        )
        self.save.setEnabled(True)
        self.steps.setCurrentWidget(self.review_page)

    # --- step 3: review and save --------------------------------------------------------

    def _build_review(self) -> None:
        self.review_page = QWidget()
        self.thumbnails = QHBoxLayout()
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.save = QPushButton("Save")
        retake = secondary_button("Capture again")
        cancel = secondary_button("Cancel")
        buttons = QHBoxLayout()
        buttons.addWidget(cancel)
        buttons.addWidget(retake)
        buttons.addStretch(1)
        buttons.addWidget(self.save)
        # On a 800x480 screen the faces, the summary and the access choice may not all
        # fit: they scroll, and the buttons stay in view.
        checks = QWidget()
        checks.setObjectName("scrollBody")  # the stylesheet draws it as the page
        checks.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        checks_layout = QVBoxLayout(checks)
        checks_layout.setContentsMargins(0, 0, 0, 0)
        faces = QHBoxLayout()
        faces.addLayout(self.thumbnails)
        faces.addWidget(self.summary, stretch=1)
        checks_layout.addLayout(faces)
        checks_layout.addWidget(self.access, stretch=1)
        scroll = QScrollArea()
        scroll.setWidget(checks)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        layout = QVBoxLayout(self.review_page)
        layout.addWidget(_step_label("Step 3 of 3 · check and save"))
        layout.addWidget(scroll, stretch=1)
        layout.addLayout(buttons)
        self.save.clicked.connect(self._save)
        retake.clicked.connect(self._begin_capture)
        cancel.clicked.connect(self.reset)
        self.steps.addWidget(self.review_page)

    def _thumbnail_px(self) -> int:
        """As large as leaves room for the access choice below: a quarter of the height."""
        return max(_SMALLEST_THUMBNAIL_PX, min(_THUMBNAIL_PX, self.height() // 4))

    def show_groups(self, groups: Iterable[AccessGroup]) -> None:
        """The site's access groups to choose from; the default one is ticked."""
        self.access.show_groups(groups)

    def _save(self) -> None:
        if self._captured is None:
            return
        try:
            validity = self.access.validity()
        except InvalidValue as error:
            self.show_error(str(error))
            return
        self.save.setEnabled(False)  # until the store answers
        self.message.clear_message()
        self.save_requested.emit(
            EnrollmentRequest(
                self.name.text(),
                self.badge.text() or None,
                self._captured.frames,
                self.access.groups_to_enroll(),
                validity,
            )
        )

    def show_saved(self, result: EnrollmentResult) -> None:
        name = clean_display_name(self.name.text())
        access = self.access.describe()
        self.reset()
        self.message.show_notice(f"{name} enrolled with {result.templates} template(s); {access}.")

    def show_error(self, message: str) -> None:
        self.message.show_error(message)
        self.save.setEnabled(self._captured is not None)

    # --- cancel -------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to an empty first step; whatever was captured is dropped."""
        was_capturing = self.steps.currentWidget() is self.capture_page
        self._captured = None
        self.name.clear()
        self.badge.clear()
        self.person_agrees.setChecked(False)
        self.operator_confirms.setChecked(False)
        self.preview.clear()
        self.access.reset()
        self.message.clear_message()
        self.steps.setCurrentIndex(0)
        if was_capturing:
            self.capture_cancelled.emit()


def captured_face_refusal(refusal: AlreadyEnrolled) -> AlreadyEnrolled:
    """``refusal`` of the faces captured, in the wizard's words: the camera showed
    someone already enrolled, which is what the operator must check (not a reason to
    delete the enrolled person). A refusal for the badge is kept as it is."""
    if refusal.display_name is None:
        return refusal
    return AlreadyEnrolled(
        f"the face captured belongs to {refusal.display_name} (already enrolled); "
        "check who is in front of the camera",
        refusal.person_id,
        display_name=refusal.display_name,
    )


def _step_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("sectionTitle")
    return label


def _draw_box(pixmap: QPixmap, face: DetectedFace, colour: QColor) -> None:
    painter = QPainter(pixmap)
    painter.setPen(QPen(colour, max(2, pixmap.width() // 200)))
    x1, y1, x2, y2 = face.box
    painter.drawRect(int(x1), int(y1), int(x2 - x1), int(y2 - y1))
    painter.end()


def _face_thumbnail(frame: BGRImage, face: DetectedFace, size_px: int) -> QPixmap:
    """The face with some margin, for the operator's review only; never stored."""
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = face.box
    margin = 0.3 * max(x2 - x1, y2 - y1)
    left, top = max(0, int(x1 - margin)), max(0, int(y1 - margin))
    right, bottom = min(width, int(x2 + margin)), min(height, int(y2 + margin))
    crop = frame[top:bottom, left:right] if right > left and bottom > top else frame
    return QPixmap.fromImage(to_qimage(crop.copy())).scaled(
        size_px,
        size_px,
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )
