"""camera.source names a camera or an allowed stream; a video file or a folder of
images only where camera.allow_files (or the command line) allows it, wherever the
source comes from: kiosk.toml, a variable, the database, the Settings screen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from config.local_config import CommandLine, load_local_config
from core.administration.shared_settings import with_overrides
from core.errors import ConfigurationError, InvalidValue
from core.settings import CameraSettings, ImageLimits, Settings
from frames.sources import ImageFolderSource, OpenCvSource, command_line_camera, source_from_spec
from tests.cli_fixtures import run

STREAMS = ("rtsp://10.0.0.5:554/cam",)


@pytest.mark.parametrize(
    "source", ["0", "2", "63", "/dev/video0", "/dev/v4l/by-id/usb-Cam_123-video-index0"]
)
def test_a_camera_is_always_a_source(source: str) -> None:
    assert CameraSettings(source=source).source == source


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("/etc", "not a camera"),
        ("/root/photos", "not a camera"),
        ("/var/lib/face-kiosk/postgres", "not a camera"),
        ("64", "not a camera"),
        ("/dev/sda", "not a camera"),
        ("/dev/video0/../sda", "not a camera"),
        ("file:///etc/shadow", "a file address, not a stream"),
        ("concat:/etc/passwd|/etc/shadow", "a concat address, not a stream"),
        ("subfile:,,start,0,end,0,,:/etc/shadow", "a subfile address, not a stream"),
        ("http://169.254.169.254/latest/meta-data", "camera.allowed_streams does not list"),
        ("rtsp://10.0.0.6:554/cam", "camera.allowed_streams does not list"),
        ("rtsp://10.0.0.5:8554/cam", "camera.allowed_streams does not list"),
        ("rtsp://10.0.0.5:554/other", "camera.allowed_streams does not list"),
        ("http://10.0.0.5:554/cam", "camera.allowed_streams does not list"),
    ],
)
def test_anything_else_is_refused_with_the_reason(source: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        CameraSettings(source=source, allowed_streams=STREAMS)


def test_an_allowed_stream_and_its_paths_are_sources() -> None:
    for source in ("rtsp://10.0.0.5:554/cam", "rtsp://10.0.0.5:554/cam/sub?x=1"):
        assert CameraSettings(source=source, allowed_streams=STREAMS).source == source
    with pytest.raises(ValidationError, match="not a stream address"):
        CameraSettings(allowed_streams=("file:///",))


def test_files_and_folders_only_where_allowed(tmp_path: Path) -> None:
    assert CameraSettings(source=str(tmp_path), allow_files=True).source == str(tmp_path)
    with pytest.raises(ValidationError, match=r"camera\.allow_files = true"):
        CameraSettings(source=str(tmp_path))


def test_kiosk_toml_and_variables_are_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "kiosk.toml").write_text('[camera]\nsource = "/etc"\n')
    with pytest.raises(ConfigurationError) as refused:
        load_local_config(tmp_path, {}, CommandLine())
    message = str(refused.value)
    assert message.startswith("setting camera.source = '/etc' (from kiosk.toml) is not allowed:")
    assert "set camera.allow_files = true in kiosk.toml" in message
    (tmp_path / "kiosk.toml").write_text('[camera]\nallow_files = true\nsource = "/srv/demo"\n')
    assert load_local_config(tmp_path, {}, CommandLine()).settings.camera.source == "/srv/demo"
    (tmp_path / "kiosk.toml").unlink()
    with pytest.raises(ConfigurationError, match="a file address, not a stream"):
        load_local_config(tmp_path, {"KIOSK_CAMERA__SOURCE": "file:///etc/shadow"}, CommandLine())


def test_the_database_and_the_settings_screen_cannot_name_a_folder(tmp_path: Path) -> None:
    # with_overrides is what the Settings screen, kiosk-admin settings set and a
    # stored value go through; camera.allow_files is never among them.
    with pytest.raises(InvalidValue, match=r"setting camera\.source = '/root': not a camera"):
        with_overrides(Settings(), {"camera.source": "/root"})
    with pytest.raises(InvalidValue, match="unknown setting"):
        with_overrides(Settings(), {"camera.allow_files": True})
    allowed = Settings(camera=CameraSettings(allow_files=True))
    assert with_overrides(allowed, {"camera.source": str(tmp_path)}).camera.source == str(tmp_path)


def test_the_command_line_may_name_a_file_or_a_folder_but_not_any_file(tmp_path: Path) -> None:
    (tmp_path / "frame.png").write_bytes(b"not read yet")
    folder = command_line_camera(CameraSettings(), str(tmp_path))
    assert isinstance(source_from_spec(folder, ImageLimits()), ImageFolderSource)
    video = command_line_camera(CameraSettings(), str(tmp_path / "frame.png"))
    assert isinstance(source_from_spec(video, ImageLimits()), OpenCvSource)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ConfigurationError, match="not a regular video file or a folder"):
        source_from_spec(command_line_camera(CameraSettings(), str(fifo)), ImageLimits())
    with pytest.raises(ConfigurationError, match="a file address, not a stream"):
        command_line_camera(CameraSettings(), "file:///etc/shadow")


def test_a_device_path_must_be_a_video_device_here() -> None:
    missing = CameraSettings(source="/dev/video63")
    with pytest.raises(ConfigurationError, match="is not a video device here"):
        source_from_spec(missing, ImageLimits())


@pytest.mark.slow  # runs kiosk or kiosk-admin as a process of its own
def test_kiosk_admin_health_refuses_an_address_that_is_no_stream(tmp_path: Path) -> None:
    result = run(
        "health", "--camera", "file:///etc/shadow", "--json", data_dir=tmp_path, password=None
    )
    assert '"camera": {"ok": false' in result.stdout
    assert "a file address, not a stream" in result.stdout
