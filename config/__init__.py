"""Configuration for the front ends: command-line arguments and KIOSK_* variables."""
