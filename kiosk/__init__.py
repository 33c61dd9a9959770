"""The kiosk's Qt front end. Holds no business rules: it calls the core services."""

from kiosk.qt_environment import undo_opencv_qt_paths

undo_opencv_qt_paths()
