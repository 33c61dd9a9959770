"""Locust users for kiosk-bench's api section: each posts a real photo to /identify.

Read by locust in its own process (gevent): nothing of the kiosk is imported here.
A 429 is counted under a name of its own, as back-pressure rather than a failure;
any 5xx or lost connection is a failure."""

from __future__ import annotations

import os
from pathlib import Path

from locust import HttpUser, constant, task

_TOKEN = os.environ["KIOSK_BENCH_TOKEN"]
_PHOTO = Path(os.environ["KIOSK_BENCH_PHOTO"]).read_bytes()


class Camera(HttpUser):
    wait_time = constant(0)

    @task
    def identify(self) -> None:
        with self.client.post(
            "/identify",
            headers={"Authorization": f"Bearer {_TOKEN}"},
            files={"photo": ("door.jpg", _PHOTO, "image/jpeg")},
            name="identify",
            catch_response=True,
        ) as answer:
            if answer.status_code == 429:
                answer.request_meta["name"] = "identify 429"
                answer.success()
            elif answer.status_code == 200:
                answer.success()
            else:
                answer.failure(f"status {answer.status_code}")
