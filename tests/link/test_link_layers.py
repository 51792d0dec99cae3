"""The link sits below the simulator, the engine and the app, and its transport module does not
import its backends (they import it): checked in a fresh interpreter, where sys.modules shows
exactly what an import pulled in."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from glovecoach.link.transport import Transport, make_transport, register_scheme

LINK_MODULES = ["client", "commands", "device_clock", "discovery", "events", "reader", "reconnect",
                "recording_transport", "serial_link", "session_layout", "session_timeline",
                "transport", "virtual_glove"]


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json\n"
                          "print(json.dumps(sorted(m for m in sys.modules if m.startswith('glovecoach'))))"],
                         check=True, capture_output=True, text=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_the_link_imports_nothing_above_it():
    loaded = _loaded_after("\n".join(f"import glovecoach.link.{m}" for m in LINK_MODULES))
    higher = ("simulate", "engine", "app", "commands", "cli", "protocols")
    above = {m for m in loaded if m.count(".") and m.split(".")[1] in higher}
    assert not above, f"the link pulled in {sorted(above)}"


def test_the_transport_module_imports_no_backend():
    """No import statement (at any depth) in transport.py names a backend: the registry loads
    them by name, so import-linter sees one direction, backends -> transport."""
    import ast

    import glovecoach.link.transport as transport

    tree = ast.parse(open(transport.__file__).read())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not {m for m in imported if m and m.startswith("glovecoach")}, imported


def test_a_registered_scheme_builds_its_transport(monkeypatch):
    import glovecoach.link.transport as transport_module

    monkeypatch.setattr(transport_module, "_FACTORIES", {})  # leave no scheme behind
    class Loop(Transport):
        name = "loop://"
        is_open = False

        def __init__(self, url: str) -> None:
            self.url = url

        def open(self) -> None: ...
        def close(self) -> None: ...
        def read(self, max_bytes: int, timeout: float) -> bytes: return b""
        def write(self, data: bytes) -> None: ...

    with pytest.raises(ValueError, match="unknown transport scheme 'loop'.*replay://"):
        make_transport("loop://x")
    register_scheme("loop", Loop)
    transport = make_transport("loop://x?y=1")
    assert isinstance(transport, Loop) and transport.url == "loop://x?y=1"
