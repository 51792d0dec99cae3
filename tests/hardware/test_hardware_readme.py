"""hardware/README.md quotes divider_table.py's output; the quote must be the current output."""

from __future__ import annotations

import re
import subprocess
import sys

from hwscripts import HARDWARE_DIR


def test_quoted_divider_table_is_the_scripts_current_output():
    readme = (HARDWARE_DIR / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- divider_table:begin -->\n```\n(.*?)```\n<!-- divider_table:end -->",
                      readme, re.S)
    assert match, "README.md lost its divider_table block markers"
    result = subprocess.run([sys.executable, str(HARDWARE_DIR / "divider_table.py")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert match.group(1) == result.stdout, \
        "README.md quotes a stale table: paste the output of hardware/divider_table.py"


def test_readme_pin_table_matches_the_sensor_map():
    import json

    data = json.loads((HARDWARE_DIR / "sensor_map.json").read_text())
    readme = (HARDWARE_DIR / "README.md").read_text(encoding="utf-8")
    for k, gpio in enumerate(data["select_gpio"]):
        assert re.search(rf"\| S{k}\b[^|]*\| GPIO{gpio} \|", readme), f"S{k} -> GPIO{gpio}"
    for mux in data["multiplexers"].values():
        assert f"{mux['part']} COM" in readme and f"GPIO{mux['adc_gpio']} (" in readme
