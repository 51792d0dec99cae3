"""Where each key of a TOML text is: a line scanner for error messages.

tomllib keeps no positions, so a protocol's semantic errors (a negative duration, an unknown
region) find their line here. This is not a TOML parser: it only recognises table headers and
keys at the start of a line, skipping multi-line strings and arrays, which is what a readable
error message needs.
"""

from __future__ import annotations

import re

_HEADER_ARRAY = re.compile(r"^\s*\[\[\s*([^\]]+?)\s*\]\]")
_HEADER_TABLE = re.compile(r"^\s*\[\s*([^\]\[]+?)\s*\]")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'))*)\s*=""")


def split_key(raw: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in raw.split("."))


def key_lines(text: str) -> dict[tuple, int]:
    """Line number of each table header and key, keyed by its path (array items by index).

    tomllib keeps no positions, so semantic errors find their line here. Only keys at the
    start of a line are seen; a multi-line array's items share the line of its key.
    """
    lines: dict[tuple, int] = {}
    array_counts: dict[tuple, int] = {}
    table: tuple = ()
    depth = 0            # open brackets of a multi-line value
    in_multiline_str = False
    for number, line in enumerate(text.splitlines(), start=1):
        if in_multiline_str:
            if line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1:
                in_multiline_str = False
            continue
        if depth == 0:
            m = _HEADER_ARRAY.match(line)
            if m:
                name = split_key(m.group(1))
                index = array_counts.get(name, -1) + 1
                array_counts[name] = index
                table = name + (index,)
                lines.setdefault(table, number)
                continue
            m = _HEADER_TABLE.match(line)
            if m:
                table = split_key(m.group(1))
                lines.setdefault(table, number)
                continue
            m = _KEY.match(line)
            if m:
                lines.setdefault(table + split_key(m.group(1)), number)
                value = line[m.end():]
            else:
                value = ""
        else:
            value = line
        stripped = re.sub(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'', "", value).split("#", 1)[0]
        if stripped.count('"""') % 2 == 1 or stripped.count("'''") % 2 == 1:
            in_multiline_str = True
        depth = max(0, depth + stripped.count("[") + stripped.count("{") - stripped.count("]") - stripped.count("}"))
    return lines


__all__ = ["key_lines", "split_key"]
