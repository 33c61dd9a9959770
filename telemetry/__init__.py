"""What a running kiosk tells the people who operate it: JSON logs and metrics."""
