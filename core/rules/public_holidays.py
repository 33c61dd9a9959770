"""Public holidays by country and subdivision, from the ``holidays`` package."""

from __future__ import annotations

import threading
from datetime import date

import holidays

from core.rules.model import HolidayCalendar


def check_region(country: str, subdivision: str | None) -> None:
    """ValueError naming the fix when the ``holidays`` package does not know
    ``country`` (ISO 3166-1 alpha-2) or its ``subdivision``."""
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise ValueError(
            f"country {country[:10]!r} has no public-holiday calendar; use an ISO 3166-1 "
            'alpha-2 code the holidays package knows, such as "DE" or "US"'
        )
    if subdivision is not None and subdivision not in supported[country]:
        known = ", ".join(supported[country][:12])
        raise ValueError(
            f"country {country} has no subdivision {subdivision[:10]!r}; use one of: {known}"
        )


class PublicHolidays:
    """Answers "is this day closed under that calendar?".

    Exists so that each country's calendar is built once (about 0.1 s) and then
    read in microseconds on the door's thread; the ``holidays`` objects fill in
    new years lazily, so reads are serialised.
    """

    def __init__(self) -> None:
        self._calendars: dict[tuple[str, str | None], holidays.HolidayBase] = {}
        self._lock = threading.Lock()

    def closed(self, calendar: HolidayCalendar, day: date) -> str | None:
        """The closure's name when ``day`` is a holiday or closure day under
        ``calendar``, else None. Raises ValueError for an unknown country."""
        if day in calendar.closures:
            return "site closure"
        if calendar.country is None:
            return None
        key = (calendar.country, calendar.subdivision)
        with self._lock:
            public = self._calendars.get(key)
            if public is None:
                check_region(*key)
                public = holidays.country_holidays(calendar.country, subdiv=calendar.subdivision)
                self._calendars[key] = public
            name = public.get(day)
        return str(name) if name is not None else None
