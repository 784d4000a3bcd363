"""Long-format panels (``unique_id, ds, y``): input checks, frequencies and calendars.

A panel is checked once and turned into what the Rust kernels take: the values of all
series back to back (float64) with their boundaries, plus what is needed to put dates
back on the forecasts. Every problem is a crmkit error naming the column, the series and
what to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np
import polars as pl

from crmkit._validate import as_frame, require_columns, require_no_nulls, require_rows
from crmkit.errors import CrmError, SchemaError, TooLargeError

_UNITS = ("ns", "us", "ms", "s", "m", "h", "d", "w", "mo", "q", "y")
_PANDAS_ALIASES = {
    "D": "1d", "B": "1d", "W": "1w", "M": "1mo", "MS": "1mo", "ME": "1mo", "Q": "1q", "QS": "1q", "QE": "1q",
    "Y": "1y", "YS": "1y", "YE": "1y", "A": "1y", "AS": "1y", "H": "1h", "h": "1h", "T": "1m", "min": "1m", "S": "1s", "s": "1s",
}
#: Seasonal period implied by a frequency unit (one year, or one week for daily data).
_SEASON = {"h": 24, "d": 7, "w": 52, "mo": 12, "q": 4, "y": 1}


@dataclass(frozen=True)
class Freq:
    """A regular frequency: ``step`` units of ``unit`` (a polars duration unit), or an
    integer step for integer ``ds`` (``unit == "int"``)."""

    step: int
    unit: str

    @property
    def is_int(self) -> bool:
        return self.unit == "int"

    def text(self) -> str:
        return str(self.step) if self.is_int else f"{self.step}{self.unit}"

    def season_length(self) -> int:
        """The usual seasonal period for this frequency (1 when there is none)."""
        if self.is_int:
            return 1
        if self.unit == "mo":
            return 12 // self.step if 12 % self.step == 0 else 1
        if self.unit == "w":
            return 52 if self.step == 1 else 1
        if self.step == 1:
            return _SEASON.get(self.unit, 1)
        return 1


def parse_freq(freq: Any, *, function: str) -> Freq:
    """Reads ``freq``: an int (integer ``ds``), a polars duration ("1d", "1w", "1mo",
    "1q", "1y", "1h") or a pandas alias ("D", "W", "MS", "M", "QS", "Y", "H")."""
    if isinstance(freq, bool):
        raise CrmError(f"{function}: argument 'freq' must be a duration such as '1w' or an int, found {freq!r}")
    if isinstance(freq, (int, np.integer)):
        if freq < 1:
            raise CrmError(f"{function}: argument 'freq' must be >= 1 for integer ds, found {freq!r}")
        return Freq(int(freq), "int")
    if not isinstance(freq, str):
        raise CrmError(f"{function}: argument 'freq' must be a duration such as '1w' or an int, found {freq!r}")
    text = freq.strip()
    base = text.split("-")[0]  # pandas anchors such as W-SUN, QS-DEC
    if base in _PANDAS_ALIASES:
        text = _PANDAS_ALIASES[base]
    match = re.fullmatch(r"(\d*)(ns|us|ms|mo|s|m|h|d|w|q|y)", text)
    if not match:
        raise CrmError(
            f"{function}: argument 'freq' must be a polars duration such as '1d', '1w', '1mo', '1q', '1y' "
            f"(or a pandas alias such as 'D', 'W', 'MS'), found {freq!r}"
        )
    step = int(match.group(1) or 1)
    if step < 1:
        raise CrmError(f"{function}: argument 'freq' must have a positive step, found {freq!r}")
    return Freq(step, match.group(2))


@dataclass
class Panel:
    """A checked panel sorted by (id, ds)."""

    frame: pl.DataFrame  # columns: unique_id, ds, y (renamed), sorted
    id_col: str
    time_col: str
    target_col: str
    freq: Freq
    ids: pl.Series  # one per series, in order
    lengths: np.ndarray  # int64, points per series
    first_ds: pl.Series  # first ds per series
    values: np.ndarray  # float64, back to back
    offsets: np.ndarray  # int64, len n_series + 1

    @property
    def n_series(self) -> int:
        return len(self.ids)

    def ds_at(self, series: np.ndarray, index: np.ndarray) -> pl.Series:
        """The ds of position ``index`` (0 = first point, may lie past the end) of each
        ``series``, computed from the series' first ds so month ends stay month ends."""
        first = self.first_ds.gather(pl.Series(series, dtype=pl.UInt32))
        if self.freq.is_int:
            out: pl.Series = (first + pl.Series(index * self.freq.step)).cast(first.dtype).alias("ds")
            return out
        frame = pl.DataFrame({"first": first, "k": pl.Series(index * self.freq.step, dtype=pl.Int64)})
        return frame.select(
            pl.col("first").dt.offset_by(pl.col("k").cast(pl.String) + pl.lit(self.freq.unit)).alias("ds")
        ).to_series()


def _infer_freq(frame: pl.DataFrame, dtype: pl.DataType, *, function: str, time_col: str) -> Freq:
    diffs = frame.select(pl.col("ds").diff().over("unique_id").alias("d")).drop_nulls()
    if diffs.height == 0:
        raise CrmError(
            f"{function}: cannot infer the frequency of '{time_col}' (every series has a single point); pass freq="
        )
    if dtype.is_integer():
        d = diffs["d"]
        step = int(d.filter(d > 0).min() or 1)
        return Freq(step, "int")
    mode = diffs.select(pl.col("d").mode().min()).item()
    seconds = mode.total_seconds()
    day = 86400.0
    if seconds < day:
        for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
            if seconds % size == 0:
                return Freq(int(seconds // size), unit)
        raise CrmError(f"{function}: cannot infer the frequency of '{time_col}'; pass freq=")
    days = seconds / day
    if days in (1.0, 2.0, 3.0):
        return Freq(int(days), "d")
    if days % 7 == 0 and days <= 28:
        return Freq(int(days // 7), "w")
    if 28 <= days <= 31:
        return Freq(1, "mo")
    if 89 <= days <= 92:
        return Freq(1, "q")
    if 181 <= days <= 184:
        return Freq(6, "mo")
    if days in (365.0, 366.0):
        return Freq(1, "y")
    return Freq(int(days), "d")


def prepare(
    df: Any,
    *,
    id_col: str,
    time_col: str,
    target_col: str,
    freq: Any,
    function: str,
    argument: str = "df",
    allow_missing_target: bool = False,
) -> Panel:
    """Checks a long panel and builds the arrays the kernels take."""
    data = as_frame(df, argument=argument)
    schema = require_columns(data, {id_col: "id", target_col: "numeric"}, function=function, argument=argument)
    if time_col not in schema:
        require_columns(data, {time_col: "temporal"}, function=function, argument=argument)
    ds_type = schema[time_col]
    if not (ds_type == pl.Date or isinstance(ds_type, pl.Datetime) or ds_type.is_integer()):
        raise SchemaError(
            f"{function}: column '{time_col}' in '{argument}' must be a date, a datetime or an integer period "
            f"index, found dtype {ds_type}"
        )
    require_rows(data, function=function, argument=argument)
    require_no_nulls(data, [id_col, time_col], function=function, argument=argument)
    frame = data.select(
        pl.col(id_col).alias("unique_id"), pl.col(time_col).alias("ds"), pl.col(target_col).cast(pl.Float64).alias("y")
    ).sort("unique_id", "ds", maintain_order=True)
    if not allow_missing_target:
        bad = frame.filter(pl.col("y").is_null() | pl.col("y").is_nan() | pl.col("y").is_infinite())
        if bad.height:
            ex = bad.row(0, named=True)
            raise CrmError(
                f"{function}: column '{target_col}' in '{argument}' holds {bad.height} missing or non-finite value(s) "
                f"(first: series {ex['unique_id']!r} at {ex['ds']}); forecasting needs complete series. Fill them "
                f"first, e.g. pl.col('{target_col}').fill_null(0) for sales with no orders, or drop the series."
            )
    dup = frame.filter(pl.struct("unique_id", "ds").is_duplicated())
    if dup.height:
        ex = dup.row(0, named=True)
        raise SchemaError(
            f"{function}: '{argument}' has {dup.height} rows with a duplicated ({id_col}, {time_col}) pair "
            f"(first: {ex['unique_id']!r} at {ex['ds']}); aggregate them first, e.g. "
            f"df.group_by('{id_col}', '{time_col}').agg(pl.col('{target_col}').sum())"
        )
    if freq is None:
        fr = _infer_freq(frame, ds_type, function=function, time_col=time_col)
    else:
        fr = parse_freq(freq, function=function)
        if fr.is_int != ds_type.is_integer():
            kind = "an integer step" if ds_type.is_integer() else "a duration such as '1w'"
            raise CrmError(f"{function}: column '{time_col}' is {ds_type}, so 'freq' must be {kind}; found {freq!r}")
    per = frame.group_by("unique_id", maintain_order=True).agg(pl.len().alias("n"), pl.col("ds").first().alias("first"))
    lengths = per["n"].to_numpy().astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    panel = Panel(
        frame=frame,
        id_col=id_col,
        time_col=time_col,
        target_col=target_col,
        freq=fr,
        ids=per["unique_id"],
        lengths=lengths,
        first_ds=per["first"],
        values=frame["y"].to_numpy().astype(np.float64),
        offsets=offsets,
    )
    _check_regular(panel, function=function, time_col=time_col)
    return panel


def _check_regular(panel: Panel, *, function: str, time_col: str) -> None:
    """Every series must sit on the calendar first_ds + k * freq with no gaps."""
    n = len(panel.frame)
    series = np.repeat(np.arange(panel.n_series), panel.lengths)
    index = np.arange(n) - np.repeat(panel.offsets[:-1], panel.lengths)
    if panel.freq.is_int:
        expected = panel.first_ds.gather(pl.Series(series, dtype=pl.UInt32)) + pl.Series(index * panel.freq.step)
    else:
        frame = pl.DataFrame(
            {"first": panel.first_ds.gather(pl.Series(series, dtype=pl.UInt32)), "k": pl.Series(index * panel.freq.step, dtype=pl.Int64)}
        )
        expected = frame.select(
            pl.col("first").dt.offset_by(pl.col("k").cast(pl.String) + pl.lit(panel.freq.unit))
        ).to_series()
    actual = panel.frame["ds"]
    mismatch = (actual != expected.cast(actual.dtype)).fill_null(True)
    if mismatch.any():
        i = int(mismatch.arg_true()[0])
        raise CrmError(
            f"{function}: series {panel.frame['unique_id'][i]!r} is not regular at frequency "
            f"{panel.freq.text()!r}: point {index[i]} is at {actual[i]} where {expected[i]} was expected "
            f"(a missing period or a wrong freq). Fill the missing periods (crmkit.forecast.series fills empty "
            f"periods with 0) or pass the right freq=."
        )


def level_name(level: Union[int, float]) -> str:
    """statsforecast's column suffix: 95 -> '95', 99.5 -> '99.5'."""
    return str(int(level)) if float(level).is_integer() else str(level)


def check_levels(level: Any, *, function: str) -> list[float]:
    if level is None:
        return []
    if isinstance(level, (int, float)) and not isinstance(level, bool):
        level = [level]
    out = []
    for lv in level:
        if isinstance(lv, bool) or not isinstance(lv, (int, float, np.integer, np.floating)) or not 0 < float(lv) < 100:
            raise CrmError(f"{function}: argument 'level' must hold numbers strictly between 0 and 100, found {lv!r}")
        out.append(float(lv))
    if len(set(out)) != len(out):
        raise CrmError(f"{function}: argument 'level' repeats a value: {level!r}")
    return sorted(out)


def restore_names(frame: pl.DataFrame, panel: Panel) -> pl.DataFrame:
    return frame.rename({"unique_id": panel.id_col, "ds": panel.time_col, **({"y": panel.target_col} if "y" in frame.columns else {})})


#: Longest forecast horizon (periods) a call may ask for: every step is a row per series
#: and model, so a typo such as h=10**9 would otherwise exhaust memory.
MAX_HORIZON = 100_000


def optional_int(value: Optional[int], name: str, *, function: str, limit: Optional[int] = None) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise CrmError(f"{function}: argument '{name}' must be an integer >= 1, found {value!r}")
    if limit is not None and value > limit:
        raise TooLargeError(f"{function}: argument '{name}' = {value:,} is over the limit of {limit:,} periods "
                            f"(each period is one output row per series and model); ask for a shorter '{name}'")
    return int(value)
