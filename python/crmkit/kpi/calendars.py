"""Holiday calendars for KPIs, alerts and forecasts: known events, never surprises.

:func:`cn` is the Chinese retail calendar. Its lunar festivals (Spring Festival,
Dragon Boat, Mid-Autumn) and the Qingming solar term are computed, not looked up, so
the calendar has no end year and no dependency: new moons from Meeus' series
(*Astronomical Algorithms*, 2nd ed., ch. 49, the 25 main periodic terms, accurate to
about a minute) and the Sun's apparent longitude from his low-accuracy solar theory
(ch. 25, about 0.01°), both in China Standard Time (UTC+8) as the calendar has been
since 1929. A lunar month starts on the day of a new moon; month 11 holds the winter
solstice; a year with 13 months between two solstices repeats the first month that
holds no principal solar term (the leap month). The test suite checks the dates
against an independent table-based converter for 1950-2099.

A calendar is a DataFrame ``name, start, end`` (inclusive dates); ``kpi.alerts``
accepts it, ``"cn"`` or ``"none"``.

>>> cal = cn(2024, 2025)
>>> cal.filter(pl.col("name") == "spring_festival")["day"].to_list()
[datetime.date(2024, 2, 10), datetime.date(2025, 1, 29)]
>>> spring_festival(2026), dragon_boat(2025), mid_autumn(2025), qingming(2025)
(datetime.date(2026, 2, 17), datetime.date(2025, 5, 31), datetime.date(2025, 10, 6), datetime.date(2025, 4, 4))
"""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache
from typing import Any, Optional

import polars as pl

from crmkit.errors import CrmError

_J2000 = 2451545.0
_UNIX_JD = 2440587.5
_CST = 8.0 / 24.0  # China Standard Time, in days


def _delta_t_days(year: float) -> float:
    """TT − UT (Espenak & Meeus polynomials), in days; only minutes matter here."""
    if year >= 2005:
        t = year - 2000
        secs = 62.92 + 0.32217 * t + 0.005589 * t * t
    elif year >= 1986:
        t = year - 2000
        secs = 63.86 + 0.3345 * t - 0.060374 * t**2 + 0.0017275 * t**3 + 0.000651814 * t**4 + 0.00002373599 * t**5
    elif year >= 1961:
        t = year - 1975
        secs = 45.45 + 1.067 * t - t * t / 260 - t**3 / 718
    else:
        t = year - 1950
        secs = 29.07 + 0.407 * t - t * t / 233 + t**3 / 2547
    return secs / 86400.0


def _new_moon_jde(k: int) -> float:
    """Meeus ch. 49: the true new moon of lunation k (k = 0 near 2000-01-06), TT."""
    t = k / 1236.85
    jde = 2451550.09766 + 29.530588861 * k + 0.00015437 * t**2 - 0.000000150 * t**3 + 0.00000000073 * t**4
    e = 1 - 0.002516 * t - 0.0000074 * t**2
    rad = math.radians
    m = rad(2.5534 + 29.10535670 * k - 0.0000014 * t**2 - 0.00000011 * t**3)
    mp = rad(201.5643 + 385.81693528 * k + 0.0107582 * t**2 + 0.00001238 * t**3 - 0.000000058 * t**4)
    f = rad(160.7108 + 390.67050284 * k - 0.0016118 * t**2 - 0.00000227 * t**3 + 0.000000011 * t**4)
    om = rad(124.7746 - 1.56375588 * k + 0.0020672 * t**2 + 0.00000215 * t**3)
    s = math.sin
    corr = (
        -0.40720 * s(mp) + 0.17241 * e * s(m) + 0.01608 * s(2 * mp) + 0.01039 * s(2 * f)
        + 0.00739 * e * s(mp - m) - 0.00514 * e * s(mp + m) + 0.00208 * e * e * s(2 * m)
        - 0.00111 * s(mp - 2 * f) - 0.00057 * s(mp + 2 * f) + 0.00056 * e * s(2 * mp + m)
        - 0.00042 * s(3 * mp) + 0.00042 * e * s(m + 2 * f) + 0.00038 * e * s(m - 2 * f)
        - 0.00024 * e * s(2 * mp - m) - 0.00017 * s(om) - 0.00007 * s(mp + 2 * m)
        + 0.00004 * s(2 * mp - 2 * f) + 0.00004 * s(3 * m) + 0.00003 * s(mp + m - 2 * f)
        + 0.00003 * s(2 * mp + 2 * f) - 0.00003 * s(mp + m + 2 * f) + 0.00003 * s(mp - m + 2 * f)
        - 0.00002 * s(mp - m - 2 * f) - 0.00002 * s(3 * mp + m) + 0.00002 * s(4 * mp)
    )
    # the largest planetary arguments (A1-A3)
    a1 = rad(299.77 + 0.107408 * k - 0.009173 * t**2)
    a2 = rad(251.88 + 0.016321 * k)
    a3 = rad(251.83 + 26.651886 * k)
    corr += 0.000325 * s(a1) + 0.000165 * s(a2) + 0.000164 * s(a3)
    return jde + corr


def _sun_longitude(jde: float) -> float:
    """Apparent geocentric longitude of the Sun, degrees (Meeus ch. 25, low accuracy)."""
    t = (jde - _J2000) / 36525.0
    l0 = 280.46646 + 36000.76983 * t + 0.0003032 * t * t
    m = math.radians(357.52911 + 35999.05029 * t - 0.0001537 * t * t)
    c = (
        (1.914602 - 0.004817 * t - 0.000014 * t * t) * math.sin(m)
        + (0.019993 - 0.000101 * t) * math.sin(2 * m)
        + 0.000289 * math.sin(3 * m)
    )
    om = math.radians(125.04 - 1934.136 * t)
    return (l0 + c - 0.00569 - 0.00478 * math.sin(om)) % 360.0


def _solar_term_jde(year: int, longitude: float) -> float:
    """TT instant in `year` when the Sun reaches `longitude` degrees (Newton steps)."""
    # mean date: longitude 0 near March 20
    jde = 2451623.80984 + 365.242189623 * (year - 2000) + longitude / 360.0 * 365.2422
    if longitude >= 270.0 + 1e-9 and longitude < 360:  # after the equinox of the same year
        pass
    for _ in range(8):
        diff = (longitude - _sun_longitude(jde) + 180.0) % 360.0 - 180.0
        jde += diff / 360.0 * 365.2422
        if abs(diff) < 1e-7:
            break
    return jde


def _cst_day(jde: float) -> int:
    """Days since 1970-01-01 of a TT instant, in China Standard Time."""
    year = 2000 + (jde - _J2000) / 365.25
    jd_ut = jde - _delta_t_days(year)
    return math.floor(jd_ut + _CST - _UNIX_JD)


def _new_moon_on_or_before(day: int) -> tuple[int, int]:
    """(lunation k, CST day) of the last new moon whose day is <= `day`."""
    k = math.floor((day + _UNIX_JD - 2451550.09766) / 29.530588861) + 1
    while _cst_day(_new_moon_jde(k)) > day:
        k -= 1
    return k, _cst_day(_new_moon_jde(k))


def _winter_solstice_day(year: int) -> int:
    return _cst_day(_solar_term_jde(year, 270.0))


@lru_cache(maxsize=512)
def _lunar_months(year: int) -> tuple[tuple[int, int, bool], ...]:
    """(month number, first CST day, is_leap) for the months from the one holding the
    winter solstice of `year - 1` to the one before the solstice month of `year`."""
    k0, _ = _new_moon_on_or_before(_winter_solstice_day(year - 1))
    k1, _ = _new_moon_on_or_before(_winter_solstice_day(year))
    starts = [_cst_day(_new_moon_jde(k)) for k in range(k0, k1 + 1)]
    n_months = k1 - k0
    leap_index = None
    if n_months == 13:
        # the first month (after month 11) with no principal term (sun longitude a multiple of 30°)
        terms = []
        for y in (year - 1, year):
            for lon in range(0, 360, 30):
                terms.append(_cst_day(_solar_term_jde(y, float(lon))))
        for i in range(1, 13):
            a, b = starts[i], starts[i + 1]
            if not any(a <= d < b for d in terms):
                leap_index = i
                break
    out = []
    number = 11
    for i in range(n_months):
        if i > 0 and i != leap_index:
            number = number % 12 + 1
        out.append((number, starts[i], i == leap_index))
    return tuple(out)


def _lunar_date(year: int, month: int, day: int) -> dt.date:
    for number, start, leap in _lunar_months(year):
        if number == month and not leap:
            return _EPOCH + dt.timedelta(days=start + day - 1)
    raise CrmError(f"calendars: no lunar month {month} found in {year}")  # pragma: no cover


_EPOCH = dt.date(1970, 1, 1)


def spring_festival(year: int) -> dt.date:
    """Chinese New Year's day (1st day of the 1st lunar month) in `year`."""
    return _lunar_date(year, 1, 1)


def dragon_boat(year: int) -> dt.date:
    """Dragon Boat Festival (5th day of the 5th lunar month)."""
    return _lunar_date(year, 5, 5)


def mid_autumn(year: int) -> dt.date:
    """Mid-Autumn Festival (15th day of the 8th lunar month)."""
    return _lunar_date(year, 8, 15)


def qingming(year: int) -> dt.date:
    """Qingming: the day the Sun reaches longitude 15° (China Standard Time)."""
    return _EPOCH + dt.timedelta(days=_cst_day(_solar_term_jde(year, 15.0)))


#: (name, description, days before the anchor, days after): the windows in which
#: each event moves retail KPIs. The Spring Festival window covers the slowdown of
#: logistics before it and the return after the Lantern Festival.
CN_WINDOWS = {
    "spring_festival": (-14, 14),
    "qingming": (-1, 1),
    "labour_day": (0, 4),
    "618": (-17, 2),
    "dragon_boat": (-1, 1),
    "mid_autumn": (-1, 1),
    "national_day": (0, 6),
    "double_11": (-21, 2),
    "double_12": (-2, 1),
}


def cn(start_year: Optional[int] = None, end_year: Optional[int] = None) -> pl.DataFrame:
    """The Chinese retail calendar for the years ``start_year..end_year`` (inclusive;
    default 2015-2035): ``name, day`` (the event's anchor date), ``start, end``
    (inclusive window in which it moves KPIs).

    Events: Spring Festival (±14 days: logistics slow down before it and trade returns after the Lantern Festival), Qingming, Labour Day (1-5 May), 618
    (1-20 June), Dragon Boat, Mid-Autumn, National Day golden week (1-7 October),
    Double 11 (presales from 21 October to 13 November), Double 12 (10-13 December).

    >>> cn(2025, 2025).filter(pl.col("name") == "national_day").select("start", "end").row(0)
    (datetime.date(2025, 10, 1), datetime.date(2025, 10, 7))
    """
    lo = 2015 if start_year is None else start_year
    hi = 2035 if end_year is None else end_year
    if not (isinstance(lo, int) and isinstance(hi, int)) or lo > hi or lo < 1930 or hi > 2200:
        raise CrmError(f"calendars.cn: years must be integers with 1930 <= start_year <= end_year <= 2200, found {lo}, {hi}")
    rows = []
    for y in range(lo, hi + 1):
        anchors = {
            "spring_festival": spring_festival(y),
            "qingming": qingming(y),
            "labour_day": dt.date(y, 5, 1),
            "618": dt.date(y, 6, 18),
            "dragon_boat": dragon_boat(y),
            "mid_autumn": mid_autumn(y),
            "national_day": dt.date(y, 10, 1),
            "double_11": dt.date(y, 11, 11),
            "double_12": dt.date(y, 12, 12),
        }
        for name, day in anchors.items():
            before, after = CN_WINDOWS[name]
            rows.append((name, day, day + dt.timedelta(days=before), day + dt.timedelta(days=after)))
    return pl.DataFrame(rows, schema={"name": pl.String, "day": pl.Date, "start": pl.Date, "end": pl.Date}, orient="row").sort("start")


def resolve(holidays: Any, years: tuple[int, int], function: str) -> Optional[pl.DataFrame]:
    """'cn' / 'none' / None / a user's table -> a calendar frame (name, start, end) or None."""
    if holidays is None or (isinstance(holidays, str) and holidays == "none"):
        return None
    if isinstance(holidays, str):
        if holidays == "cn":
            return cn(min(max(years[0] - 1, 1930), 2200), min(max(years[1] + 1, 1930), 2200))
        raise CrmError(f"{function}: argument 'holidays' must be 'cn', 'none' or a table (name, start, end), found {holidays!r}")
    from crmkit._validate import as_frame, require_columns

    table = as_frame(holidays, argument="holidays")
    require_columns(table, {"start": "date", "end": "date"}, function=function, argument="holidays")
    if "name" not in table.columns:
        raise CrmError(f"{function}: the 'holidays' table needs a 'name' column (an event's name, repeated every year)")
    table = table.select(
        pl.col("name").cast(pl.String),
        pl.col("start").cast(pl.Date),
        pl.col("end").cast(pl.Date),
    )
    bad = table.filter(pl.col("start").is_null() | pl.col("end").is_null() | (pl.col("end") < pl.col("start")))
    if bad.height:
        raise CrmError(f"{function}: {bad.height} holiday row(s) have a missing start/end or end before start, e.g. {bad.row(0)}")
    return table
