"""VTIMEZONE for an invite: the zone's rules as yearly RRULEs, the form every calendar reads.

Google, Apple and Microsoft write a zone as one STANDARD and one DAYLIGHT observance with a
yearly RRULE; some readers mishandle the alternative, a long list of RDATEs (icalendar's
default). The rules are the zone's current ones, from the POSIX TZ string that ends its
TZif file (`CET-1CEST,M3.5.0,M10.5.0/3`), and they are checked against zoneinfo around the
appointment; where they do not describe it (a zone whose rules change in those years, an
unusual rule form), the invite falls back to icalendar's transitions around the appointment.
"""

from __future__ import annotations

import importlib.resources
import re
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

_NAME = r"<[^>]+>|[A-Za-z]+"
_OFFSET = r"[+-]?\d{1,2}(?::\d{2}){0,2}"
_POSIX = re.compile(
    rf"^(?P<std>{_NAME})(?P<stdoff>{_OFFSET})"
    rf"(?:(?P<dst>{_NAME})(?P<dstoff>{_OFFSET})?,(?P<start>[^,]+),(?P<end>[^,]+))?$"
)
_RULE = re.compile(rf"^M(?P<month>\d{{1,2}})\.(?P<week>[1-5])\.(?P<day>[0-6])(?:/(?P<time>{_OFFSET}))?$")
_DAYS = ("SU", "MO", "TU", "WE", "TH", "FR", "SA")


@dataclass(frozen=True)
class Rule:
    """A POSIX `Mm.w.d/time`: the w-th (5: last) weekday d of month m, at local `time`."""

    month: int
    week: int
    weekday: int  # 0 = Sunday, as POSIX counts
    time: timedelta

    def onset(self, year: int) -> datetime:
        first = date(year, self.month, 1)
        # Python's Monday is 0; POSIX's Sunday is 0.
        day = first + timedelta(days=(self.weekday - (first.weekday() + 1) % 7) % 7)
        day += timedelta(weeks=self.week - 1)
        while day.month != self.month:
            day -= timedelta(weeks=1)
        return datetime.combine(day, datetime.min.time()) + self.time

    def rrule(self) -> dict[str, object]:
        return {"freq": "yearly", "bymonth": self.month,
                "byday": f"{-1 if self.week == 5 else self.week}{_DAYS[self.weekday]}"}


@dataclass(frozen=True)
class Rules:
    std_name: str
    std: timedelta
    dst_name: str | None = None
    dst: timedelta | None = None
    start: Rule | None = None   # local standard time
    end: Rule | None = None     # local daylight time

    def offset(self, local: datetime) -> timedelta:
        if self.start is None or self.end is None or self.dst is None:
            return self.std
        begins, ends = self.start.onset(local.year), self.end.onset(local.year)
        in_dst = begins <= local < ends if begins < ends else not ends <= local < begins
        return self.dst if in_dst else self.std


def _duration(text: str) -> timedelta:
    sign = -1 if text.startswith("-") else 1
    parts = [int(p) for p in text.lstrip("+-").split(":")] + [0, 0]
    return sign * timedelta(hours=parts[0], minutes=parts[1], seconds=parts[2])


def _rule(text: str) -> Rule | None:
    match = _RULE.match(text)
    if not match:
        return None
    time = _duration(match["time"]) if match["time"] else timedelta(hours=2)
    if not timedelta(0) <= time < timedelta(hours=24):
        return None
    return Rule(int(match["month"]), int(match["week"]), int(match["day"]), time)


def posix_rules(key: str) -> Rules | None:
    """The zone's current rules from its TZif footer; None where we cannot read them."""
    data = _tzif(key)
    if not data or not data.startswith(b"TZif") or not data.endswith(b"\n"):
        return None
    footer = data[data.rindex(b"\n", 0, len(data) - 1) + 1:-1].decode("ascii", "replace")
    match = _POSIX.match(footer)
    if not match:
        return None
    # POSIX offsets count west of Greenwich: CET-1 is UTC+1.
    std = -_duration(match["stdoff"])
    if not match["dst"]:
        return Rules(match["std"].strip("<>"), std)
    start, end = _rule(match["start"]), _rule(match["end"])
    if start is None or end is None:
        return None
    dst = -_duration(match["dstoff"]) if match["dstoff"] else std + timedelta(hours=1)
    return Rules(match["std"].strip("<>"), std, match["dst"].strip("<>"), dst, start, end)


def _tzif(key: str) -> bytes | None:
    """The zone's TZif file, where zoneinfo would find it: TZPATH, then the tzdata package."""
    for root in zoneinfo.TZPATH:
        path = Path(root) / key
        if path.is_file():
            return path.read_bytes()
    try:
        resource = importlib.resources.files("tzdata.zoneinfo").joinpath(*key.split("/"))
        return resource.read_bytes() if resource.is_file() else None
    except (ModuleNotFoundError, FileNotFoundError):
        return None


def _describes(rules: Rules, key: str, start: datetime, end: datetime) -> bool:
    """The rules give zoneinfo's offset for the appointment and through the years around it."""
    zone = zoneinfo.ZoneInfo(key)
    moments = [start, end] + [datetime(year, month, 15, 12)
                              for year in range(start.year - 1, end.year + 2) for month in range(1, 13)]
    return all(rules.offset(moment) == moment.replace(tzinfo=zone).utcoffset() for moment in moments)


def vtimezone(key: str, start: datetime, end: datetime) -> Timezone:
    """The VTIMEZONE for an appointment from `start` to `end` (local, naive) in zone `key`."""
    rules = posix_rules(key)
    if rules is None or not _describes(rules, key, start, end):
        return Timezone.from_tzid(key, first_date=date(start.year - 1, 1, 1),
                                  last_date=date(end.year + 2, 1, 1))
    timezone = Timezone()
    timezone.add("tzid", key)
    if rules.start is None or rules.end is None or rules.dst is None:
        standard = TimezoneStandard()
        standard.add("dtstart", datetime(1970, 1, 1))
        standard.add("tzoffsetfrom", rules.std)
        standard.add("tzoffsetto", rules.std)
        standard.add("tzname", rules.std_name)
        timezone.add_component(standard)
        return timezone
    daylight = TimezoneDaylight()
    daylight.add("dtstart", rules.start.onset(1970))
    daylight.add("rrule", rules.start.rrule())
    daylight.add("tzoffsetfrom", rules.std)
    daylight.add("tzoffsetto", rules.dst)
    daylight.add("tzname", rules.dst_name)
    standard = TimezoneStandard()
    standard.add("dtstart", rules.end.onset(1970))
    standard.add("rrule", rules.end.rrule())
    standard.add("tzoffsetfrom", rules.dst)
    standard.add("tzoffsetto", rules.std)
    standard.add("tzname", rules.std_name)
    timezone.add_component(daylight)
    timezone.add_component(standard)
    return timezone
