"""The OSDP reader's figures for Prometheus, read from the reader when scraped."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from core.access.reader_status import ReaderStatus


class ReaderCollector(Collector):
    """Registered in KioskMetrics.registry when [osdp] is on."""

    def __init__(self, status: Callable[[], ReaderStatus]) -> None:
        self._status = status

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        status = self._status()
        yield GaugeMetricFamily(
            "kiosk_osdp_controller_up",
            "1 while the door controller polls this reader over the secure channel, else 0",
            value=1 if status.link.usable else 0,
        )
        for name, help_text, label, counts in (
            (
                "kiosk_osdp_card_reads",
                "Card reads handed to the bus, by what became of them",
                "result",
                status.card_reads,
            ),
            (
                "kiosk_osdp_grants_not_sent",
                "Grants that never became a card read, by reason",
                "reason",
                status.not_sent,
            ),
            (
                "kiosk_osdp_bad_frames",
                "Frames on the bus set aside as bad, by problem",
                "problem",
                status.bad_frames,
            ),
            (
                "kiosk_osdp_commands",
                "Commands from the door controller, by kind (refused ones as refused)",
                "kind",
                status.commands,
            ),
        ):
            family = CounterMetricFamily(name, help_text, labels=[label])
            for key, value in sorted(counts.items()):
                family.add_metric([key], value)
            yield family
