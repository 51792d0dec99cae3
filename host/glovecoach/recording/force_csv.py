"""Reading a CSV of forces back: what `glovecoach export` writes, or any table of newtons with
a `time_s` column and one column per sensor (docs/recording-format.md, "Reading a CSV back").

`read_force_csv(path) -> ForceTable`: newtons on a sample grid, `sat` and `open` cells marked,
the export's own comment read; a file that cannot be used raises `ForceCsvError` naming the
file, line and column. Analysing the table is `glovecoach.pipeline.analysis.analyze_table`.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from glovecoach.calibration import Calibration
from glovecoach.recording.export import (
    CEILING_COMMENT,
    EXPORT_COMMENT,
    OPEN_CELL,
    SATURATED_CELL,
)
from glovecoach.recording.format import MAGIC as GCREC_MAGIC
from glovecoach.vocabulary.sensors import ALL_CHANNELS

CSV_DEFAULT_RATE_HZ = 200.0   # for a CSV of a single row, where no rate can be measured
MIN_RATE_HZ = 10.0     # slower than this, percussion (20-80 ms impacts) and vibration (5-12 Hz) vanish
MAX_RATE_HZ = 5000.0   # the glove's ADC cannot scan 20 channels faster; above it time_s is likely not seconds
MAX_START_S = 86400.0  # time_s counts from the start of the recording: a day in, it is some other clock
RAW_COUNT_FORCE_N = 150.0   # more than any one sensor carries in a massage, yet typical of resting ADC counts

# Stand-ins for the `sat` and `open` cells while np.loadtxt parses the table: numbers no real
# reading can be (a negative force is refused anyway; a file that holds one literally is caught
# by counting the replacements).
_SAT_SENTINEL = -9.25e307
_OPEN_SENTINEL = -8.25e307
_STAND_IN = {SATURATED_CELL: repr(_SAT_SENTINEL), OPEN_CELL: repr(_OPEN_SENTINEL)}
# The cells as an export writes them are replaced by splitting at ",sat" (fast); this catches
# the rest (quoted, or with spaces around), and is only run when such a cell may be left.
_MARKED_CELL = re.compile(rf',[ \t]*"?({SATURATED_CELL}|{OPEN_CELL})"?[ \t]*(?=,|$)', re.MULTILINE)


class ForceCsvError(ValueError):
    """A CSV of forces that cannot be analysed; names file, line and column."""


@dataclass
class ForceTable:
    """Newtons on a sample grid: `newtons[k]` is sample `sample_index[k]` at `rate_hz`.

    `saturated` and `open` (same shape as `newtons`) mark the cells an export wrote as `sat`
    and `open`: there `newtons` holds the channel's ceiling (a lower bound, never a reading)
    and 0 N, as `Calibration.convert` does for a recording. `export_info` holds the fields of
    the file's `# glovecoach export:` comment, if it has one."""

    channels: tuple[str, ...]
    rate_hz: float
    sample_index: np.ndarray
    newtons: np.ndarray
    # None when constructed means all False; after __post_init__ they are always arrays.
    saturated: np.ndarray = None  # type: ignore[assignment]
    open: np.ndarray = None  # type: ignore[assignment]
    export_info: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.saturated is None:
            self.saturated = np.zeros(self.newtons.shape, dtype=bool)
        if self.open is None:
            self.open = np.zeros(self.newtons.shape, dtype=bool)


def read_force_csv(path: str | os.PathLike[str]) -> ForceTable:
    """`time_s` (seconds from the start of the recording) and one column of newtons per channel
    id, any subset of channels; `#` comment lines and a UTF-8 byte order mark are skipped, and
    numbers may be quoted. Cells `sat` and `open` (as `glovecoach export` writes them) mark a
    saturated sensor and an open lead.

    Anything else raises ForceCsvError naming file, line and column: a file that is not text,
    ADC counts instead of newtons, a time column in milliseconds or Unix time, a sample rate
    outside 10-5000 Hz, NaN/inf, negative forces. The table is parsed by np.loadtxt in one
    call; only the error path walks rows."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ForceCsvError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    text = _decode(path, data)

    # Leading comments and blank lines, then the header row.
    position, number, comments = 0, 1, []
    while position < len(text):
        stop = text.find("\n", position)
        stop = len(text) if stop < 0 else stop
        line = text[position:stop].strip()
        if line and not line.startswith("#"):
            break
        if line:
            comments.append((number, line))
        position, number = stop + 1, number + 1
    else:
        what = "no header row" if comments else "empty file"
        raise ForceCsvError(f"{path}: line {number}: {what}, expected a header row starting with time_s")
    header_line = text[position:stop]
    header_number = number
    body = text[stop + 1:]
    info, info_line = _export_info(path, comments)
    channels = _parse_header(path, header_number, header_line)
    if info.get("units") == "adc_counts":
        raise ForceCsvError(
            f"{path}: line {info_line}: this CSV holds ADC counts, not newtons (units=adc_counts): "
            "export it with --newtons, or analyze the .gcrec recording")

    where = _Lines(path, body, header_number + 1)
    if not body.strip():
        n = len(channels)
        return ForceTable(tuple(channels), CSV_DEFAULT_RATE_HZ, np.zeros(0, np.int64),
                          np.zeros((0, n), np.float32), export_info=info)
    marked = 0
    if SATURATED_CELL in body or OPEN_CELL in body:
        body, marked = _stand_ins(body)
    table = _load(body, len(channels) + 1, where, ["time_s", *channels])

    values = table[:, 1:]
    if marked:
        saturated = values == _SAT_SENTINEL
        open_ = values == _OPEN_SENTINEL
        if int(np.count_nonzero(saturated) + np.count_nonzero(open_)) != marked:
            raise ForceCsvError(f"{path}: a cell holds {' or '.join(_STAND_IN.values())}, which this "
                                "reader reserves; forces must be newtons >= 0")
        flagged = saturated | open_
        values[flagged] = 0.0    # the forces they stand for are set below
    else:
        saturated = open_ = flagged = np.zeros(values.shape, dtype=bool)
    bad = ~np.isfinite(table)
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise ForceCsvError(f"{where.of_row(row)}: column {(['time_s', *channels])[column]}: "
                            f"{table[row, column]:g} is not a finite number")
    negative = values < 0
    if negative.any():
        row, column = np.argwhere(negative)[0]
        raise ForceCsvError(f"{where.of_row(row)}: column {channels[column]}: negative force "
                            f"{values[row, column]:g} (forces are newtons >= 0)")

    time_s = table[:, 0]
    rate = _check_time(time_s, where)
    index = np.round(time_s * rate).astype(np.int64)
    off_grid = np.abs(time_s * rate - index) > 0.25
    if off_grid.any():
        k = int(np.argmax(off_grid))
        raise ForceCsvError(f"{where.of_row(k)}: column time_s: {time_s[k]:g} s is off the "
                            f"{rate:g} Hz sample grid")

    if "units" not in info:
        _refuse_counts(path, values, flagged)

    newtons = values.astype(np.float32)
    if marked:
        ceilings = _ceilings(path, comments, channels)
        newtons[saturated] = np.broadcast_to(ceilings, newtons.shape)[saturated]
    return ForceTable(tuple(channels), rate, index, newtons, saturated, open_, info)


def _stand_ins(body: str) -> tuple[str, int]:
    """`body` with every `sat` / `open` cell replaced by its stand-in number, and how many."""
    count = 0
    for word, text in _STAND_IN.items():
        # Split at ",sat" (one fast pass); a piece that goes on with anything but the next cell
        # or line was a longer word ("saturated") and is joined back unchanged.
        pieces = body.split("," + word)
        if len(pieces) == 1:
            continue
        out = [pieces[0]]
        for piece in pieces[1:]:
            cell = piece[:1] in ("", ",", "\n")
            count += cell
            out.append("," + (text if cell else word))
            out.append(piece)
        body = "".join(out)
    if SATURATED_CELL in body or OPEN_CELL in body:   # quoted or spaced cells, or bad words
        body, more = _MARKED_CELL.subn(lambda m: f",{_STAND_IN[m.group(1)]}", body)
        count += more
    return body, count


def _decode(path: Path, data: bytes) -> str:
    if data.startswith(GCREC_MAGIC):
        raise ForceCsvError(f"{path}: this is a .gcrec recording, not a CSV: give it a .gcrec name")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ForceCsvError(f"{path}: line 1: UTF-16 text; save the CSV as UTF-8")
    if data.startswith(b"\xef\xbb\xbf"):   # a spreadsheet's UTF-8 byte order mark
        data = data[3:]
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise ForceCsvError(f"{path}: line {line}: binary data (a NUL byte at byte {nul}), not a text CSV")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ForceCsvError(f"{path}: line {line}: not UTF-8 text (byte {exc.start}); "
                            "not a CSV, or saved in another encoding") from None
    # Windows line ends: np.loadtxt and the line count below want plain newlines.
    return text.replace("\r\n", "\n") if "\r" in text else text


def _parse_header(path: Path, number: int, line: str) -> list[str]:
    header = [h.strip() for h in next(csv.reader([line]))]
    if ";" in line and len(header) == 1:
        raise ForceCsvError(f"{path}: line {number}: the columns are separated by ';': "
                            "save the CSV comma-separated, with a decimal point")
    if header[0] != "time_s":
        raise ForceCsvError(f"{path}: line {number}: the first column must be time_s, not {header[0]!r}")
    channels = header[1:]
    if not channels:
        raise ForceCsvError(f"{path}: line {number}: no channel columns after time_s")
    for name in channels:
        if name not in ALL_CHANNELS:
            raise ForceCsvError(f"{path}: line {number}: unknown column {name!r} "
                                f"(channel ids: {', '.join(ALL_CHANNELS)})")
    duplicates = {c for c in channels if channels.count(c) > 1}
    if duplicates:
        raise ForceCsvError(f"{path}: line {number}: column {sorted(duplicates)[0]!r} appears twice")
    return channels


def _export_info(path: Path, comments: list[tuple[int, str]]) -> tuple[dict[str, str], int]:
    """The `key=value` fields of the `# glovecoach export:` comment and its line, or ({}, 0)."""
    for number, line in comments:
        if line.startswith(EXPORT_COMMENT):
            fields: dict[str, str] = {}
            for item in line[len(EXPORT_COMMENT):].split(","):
                key, _, value = item.partition("=")
                if key.strip():
                    fields[key.strip()] = value.strip()
            units = fields.get("units")
            if units not in (None, "newtons", "adc_counts"):
                raise ForceCsvError(f"{path}: line {number}: units={units}: analyze reads newtons")
            return fields, number
    return {}, 0


def _ceilings(path: Path, comments: list[tuple[int, str]], channels: list[str]) -> np.ndarray:
    """Per channel, the force a `sat` cell stands for: from the export's `# ceiling_n:` line
    (the glove's own calibration), else the nominal curve's ceiling from the sensor map."""
    given: dict[str, float] = {}
    for number, line in comments:
        if line.startswith(CEILING_COMMENT):
            for item in line[len(CEILING_COMMENT):].split(","):
                key, _, value = item.partition("=")
                try:
                    given[key.strip()] = float(value)
                except ValueError:
                    raise ForceCsvError(f"{path}: line {number}: ceiling {item.strip()!r} is not "
                                        "channel=newtons") from None
    missing = [c for c in channels if c not in given]
    if missing:
        nominal = Calibration.nominal_for(missing).ceiling_n
        given.update(nominal)
    return np.array([given[c] for c in channels], dtype=np.float32)


class _Lines:
    """Line numbers of the body's rows, for messages; computed only when one is needed."""

    def __init__(self, path: Path, body: str, first_number: int) -> None:
        self.path, self.body, self.first_number = path, body, first_number

    def numbered(self, body: str | None = None):
        """(line number, text) of each row: as np.loadtxt sees them, without comments or blanks."""
        for number, line in enumerate((body or self.body).split("\n"), start=self.first_number):
            line = line.split("#", 1)[0]
            if line.strip():
                yield number, line

    def of_row(self, row: int) -> str:
        for k, (number, _) in enumerate(self.numbered()):
            if k == row:
                return f"{self.path}: line {number}"
        return f"{self.path}"


def _parse_table(text: str, n_columns: int) -> np.ndarray:
    table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2,
                       comments="#", quotechar='"')
    if table.shape[1] != n_columns:
        raise ValueError("column count")
    return table


def _load(body: str, n_columns: int, where: _Lines, header: list[str]) -> np.ndarray:
    try:
        return _parse_table(body, n_columns)
    except ValueError:
        pass
    # Lines of only spaces are blank lines to a reader, but rows to np.loadtxt.
    if _SPACE_LINE.search(body):
        try:
            return _parse_table(_SPACE_LINE.sub("", body), n_columns)
        except ValueError:
            pass
    _find_bad_cell(where, header, body)
    raise AssertionError("unreachable: _find_bad_cell raises")


_SPACE_LINE = re.compile(r"^[ \t\r]+$", re.MULTILINE)


def _find_bad_cell(where: _Lines, header: list[str], parsed_body: str) -> None:
    """Only on the error path: find the first row np.loadtxt rejects and say what is wrong in it.

    The row is found by bisection with np.loadtxt itself (about twice the cost of one parse),
    so the row named is the one the parser refused, whatever the reason."""
    path = where.path
    rows = list(where.numbered(parsed_body))
    lo, hi = 0, len(rows)
    while hi - lo > 1:   # the first bad row is in rows[lo:hi]
        mid = (lo + hi) // 2
        try:
            _parse_table("\n".join(line for _, line in rows[lo:mid]), len(header))
            lo = mid
        except ValueError:
            hi = mid
    number = rows[lo][0]
    line = where.body.split("\n")[number - where.first_number].split("#", 1)[0]
    cells = next(csv.reader([line]))
    if len(cells) != len(header):
        raise ForceCsvError(f"{path}: line {number}: {len(cells)} cells, the header has {len(header)}")
    for name, cell in zip(header, cells):
        text = cell.strip()
        if name != "time_s" and text in (SATURATED_CELL, OPEN_CELL):
            continue
        try:
            if not text:   # np.loadtxt reads an empty text as no rows, not as an error
                raise ValueError("empty")
            _parse_table(text, 1)
        except ValueError:
            if not text:
                raise ForceCsvError(f"{path}: line {number}: column {name}: empty cell") from None
            if re.fullmatch(r"-?\d+,\d+", text):
                raise ForceCsvError(f"{path}: line {number}: column {name}: {text!r} has a decimal "
                                    "comma: write numbers with a decimal point") from None
            quoted = f" (quoted text {text!r} is not a number)" if f'"{cell}"' in line else ""
            raise ForceCsvError(f"{path}: line {number}: column {name}: not a number: "
                                f"{text!r}{quoted}") from None
    raise ForceCsvError(f"{path}: line {number}: cannot be read as numbers: {line.strip()[:80]!r}")


def _check_time(time_s: np.ndarray, where: _Lines) -> float:
    """The sample rate of `time_s` in Hz, or a ForceCsvError saying what the column holds instead."""
    first = float(time_s[0])
    if first > MAX_START_S:
        if 9e8 <= first <= 5e9:
            when = datetime.fromtimestamp(first, UTC).strftime("%Y-%m-%d %H:%M UTC")
            what = f"looks like Unix time in seconds ({when})"
        elif 9e11 <= first <= 5e12:
            when = datetime.fromtimestamp(first / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
            what = f"looks like Unix time in milliseconds ({when})"
        else:
            what = "is more than a day"
        raise ForceCsvError(f"{where.of_row(0)}: column time_s: {first:.17g} {what}; time_s must count "
                            "seconds from the start of the recording (subtract the first time)")
    if len(time_s) < 2:
        return CSV_DEFAULT_RATE_HZ
    steps = np.diff(time_s)
    if (steps <= 0).any():
        k = int(np.argmax(steps <= 0)) + 1
        raise ForceCsvError(f"{where.of_row(k)}: column time_s: times must increase "
                            f"({time_s[k]:g} after {time_s[k - 1]:g})")
    step = float(np.median(steps))
    rate = 1.0 / step
    rate = float(round(rate)) if abs(rate - round(rate)) < 0.01 * rate else rate
    if rate < MIN_RATE_HZ:
        # Whole-number steps of a few units are the mark of a millisecond clock; 0.2 s steps
        # are a slow logger in seconds, not 5000 Hz in milliseconds.
        for factor, unit in ((1e3, "milliseconds"), (1e6, "microseconds")):
            if step >= factor / 1000 and MIN_RATE_HZ <= rate * factor <= MAX_RATE_HZ:
                raise ForceCsvError(
                    f"{where.of_row(1)}: column time_s: looks like {unit} (steps of {step:g}); divide it by "
                    f"{factor:g} to give seconds ({rate * factor:g} Hz). As seconds it would be "
                    f"{rate:g} Hz, below the {MIN_RATE_HZ:g} Hz minimum")
        raise ForceCsvError(f"{where.of_row(1)}: column time_s: {rate:g} Hz (steps of {step:g} s) is below "
                            f"the {MIN_RATE_HZ:g} Hz minimum: too slow to recognise techniques "
                            "(percussion impacts last 20-80 ms)")
    if rate > MAX_RATE_HZ:
        hint = " (minutes? multiply by 60)" if rate / 60 <= MAX_RATE_HZ else ""
        raise ForceCsvError(f"{where.of_row(1)}: column time_s: {rate:g} Hz (steps of {step:g} s) is above "
                            f"the {MAX_RATE_HZ:g} Hz the glove can sample: is time_s in seconds?{hint}")
    return rate


def _refuse_counts(path: Path, values: np.ndarray, flagged: np.ndarray) -> None:
    """A file without an export comment: whole numbers within the 12-bit range, mostly above any
    force one sensor carries, are ADC counts (a resting sensor reads about 300 counts)."""
    # A look at the first rows settles most files (newtons have decimals) without a full pass.
    for readings in (values[:200][~flagged[:200]], values[~flagged]):
        if readings.size == 0 or readings.max() > 4095 or not np.array_equal(readings, np.round(readings)):
            return
    share = float(np.count_nonzero(readings > RAW_COUNT_FORCE_N)) / readings.size
    if share >= 0.5:
        raise ForceCsvError(
            f"{path}: this CSV holds ADC counts, not newtons (all whole numbers up to {readings.max():g}, "
            f"{share:.0%} of them above {RAW_COUNT_FORCE_N:g} N): export it with --newtons, "
            "or analyze the .gcrec recording")


__all__ = ["ForceCsvError", "ForceTable", "read_force_csv"]
