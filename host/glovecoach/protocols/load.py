"""Reading protocol files: bytes -> text -> TOML -> a checked `Protocol`.

`default_protocol()` is the classic back massage shipped with glovecoach
(`classic_back_massage.toml` beside this module); `load_protocol(path)` reads a user's own.
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from pathlib import Path

from glovecoach.protocols.model import Protocol, ProtocolError
from glovecoach.protocols.toml_lines import key_lines
from glovecoach.protocols.validate import ProtocolReader
from glovecoach.vocabulary.sensors import load_sensor_map

DEFAULT_PROTOCOL_PATH = Path(__file__).with_name("classic_back_massage.toml")
MAX_FILE_BYTES = 1 << 20


@lru_cache(maxsize=1)
def default_protocol() -> Protocol:
    """The classic back massage shipped with glovecoach."""
    return load_protocol(DEFAULT_PROTOCOL_PATH)


def load_protocol(path: str | Path) -> Protocol:
    path = Path(path)
    source = str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ProtocolError(source, None, "<file>", f"cannot read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise ProtocolError(source, None, "<file>", f"larger than {MAX_FILE_BYTES // 1024} KiB: not a protocol file")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(raw) > 1 and (raw[0] == 0) != (raw[1] == 0)):
        raise ProtocolError(source, 1, "<file>", "UTF-16 text; a protocol file is UTF-8 TOML (save it as UTF-8)")
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise ProtocolError(source, line, "<file>", "binary data (a NUL byte); not a protocol file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ProtocolError(source, line, "<file>", f"not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    return parse_protocol(text, source)


_SYNTAX_LINE = re.compile(r"\(at line (\d+), column \d+\)")


def parse_protocol(text: str, source: str = "<protocol>") -> Protocol:
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise ProtocolError(source, None, "<syntax>", "not a protocol file (values nested too deeply)") from None
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _SYNTAX_LINE.search(msg)
        line = int(m.group(1)) if m else (text.count("\n") + 1 if "end of document" in msg else None)
        raise ProtocolError(source, line, "<syntax>", f"not valid TOML: {_SYNTAX_LINE.sub('', msg).strip()}") from exc
    return ProtocolReader(data, source, key_lines(text), load_sensor_map(), text.count("\n") + 1).protocol()


__all__ = ["DEFAULT_PROTOCOL_PATH", "MAX_FILE_BYTES", "default_protocol", "load_protocol", "parse_protocol"]
