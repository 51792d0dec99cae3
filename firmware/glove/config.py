"""The sensor map (hardware/sensor_map.json) as the firmware needs it.

On the glove the file sits next to main.py. On the unix port it is found through the
environment variable GLOVECOACH_SENSOR_MAP, else ../hardware/sensor_map.json relative to
main.py's directory (the repository layout). Malformed maps fail at boot with a message
naming the file and the field.

The device's role (kit, right_glove, left_glove, spine_strip: the map's "roles") says which of
the map's channels this board samples: those on its kind's multiplexers, in map order. It is
read from role.txt next to main.py (written by `glovecoach deploy --role`); on the unix port
the environment variable GLOVECOACH_ROLE comes first. No role anywhere means "kit", so a
board deployed before roles existed samples all 20 channels as it always did.
"""

import json
import os

SENSOR_MAP_ENV = "GLOVECOACH_SENSOR_MAP"
ROLE_ENV = "GLOVECOACH_ROLE"
ROLE_FILE = "role.txt"
DEFAULT_ROLE = "kit"


class Channel:
    def __init__(self, channel_id, mux, mux_input, divider_ohm, bias_ohm, region=""):
        self.id = channel_id
        self.region = region
        self.mux = mux
        self.mux_input = mux_input
        self.divider_ohm = divider_ohm
        self.bias_ohm = bias_ohm


class SensorMapConfig:
    def __init__(self, source, channels, multiplexers, select_gpio, mux_settle_us, adc):
        self.source = source
        self.channels = channels            # list of Channel, in SAMPLES column order
        self.multiplexers = multiplexers    # name -> dict from the map (board pins: hal_esp32)
        self.select_gpio = select_gpio
        self.mux_settle_us = mux_settle_us
        # The ADC setup the host's force model assumes; hal_esp32 configures the ADC with it.
        self.adc_bits = adc["bits"]
        self.adc_max = adc["max"]
        self.attenuation_db = adc["attenuation_db"]
        self.open_below = adc["open_below"]
        self.saturated_at = adc["saturated_at"]
        self.select_gpio_esp32s3 = None     # optional per-board override, see hal_esp32
        # The map's "battery" section (sense pin and divider) when this role's kind runs
        # from a cell (kinds.<kind>.battery_sense), else None: the kit is USB-powered.
        self.battery = None
        # What HELLO announces; a map without "roles" (older file) is the kit, right hand.
        self.role = DEFAULT_ROLE
        self.kind = DEFAULT_ROLE
        self.hand = "right"

    @property
    def n_channels(self):
        return len(self.channels)

    @property
    def channel_ids(self):
        return [c.id for c in self.channels]

    def unloaded_counts(self, channel):
        """Reading of a healthy unloaded sensor: the bias resistor over the divider.

        Same circuit as host/glovecoach/fsr_model.py `unloaded_raw` (kept to integers:
        this runs on the device).
        """
        d = channel.divider_ohm
        return (self.adc_max * d + (d + channel.bias_ohm) // 2) // (d + channel.bias_ohm)


def _field(obj, key, kind, where):
    if not isinstance(obj, dict) or key not in obj:
        raise ValueError("%s: missing field %s" % (where[0], where[1] + key))
    value = obj[key]
    if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
        raise ValueError("%s: field %s must be an integer, got %r" % (where[0], where[1] + key, value))
    if kind is str and not isinstance(value, str):
        raise ValueError("%s: field %s must be a string, got %r" % (where[0], where[1] + key, value))
    if kind is list and not isinstance(value, list):
        raise ValueError("%s: field %s must be a list" % (where[0], where[1] + key))
    if kind is dict and not isinstance(value, dict):
        raise ValueError("%s: field %s must be an object" % (where[0], where[1] + key))
    return value


def _role_selection(data, source, role):
    """(kind, hand, multiplexer names) for `role`; None for a map that predates roles."""
    if "roles" not in data:
        if role != DEFAULT_ROLE:
            raise ValueError("%s: role %r asked for, but the map has no roles" % (source, role))
        return None
    roles = _field(data, "roles", dict, (source, ""))
    if role not in roles:
        raise ValueError("%s: unknown role %r (the map has %s)"
                         % (source, role, ", ".join(sorted(roles))))
    entry = _field(roles, role, dict, (source, "roles."))
    kind = _field(entry, "kind", str, (source, "roles.%s." % role))
    hand = entry.get("hand")
    if hand not in (None, "left", "right"):
        raise ValueError("%s: field roles.%s.hand must be \"left\", \"right\" or null, got %r"
                         % (source, role, hand))
    kinds = _field(data, "kinds", dict, (source, ""))
    if kind not in kinds:
        raise ValueError("%s: roles.%s.kind %r is not in kinds" % (source, role, kind))
    mux_names = _field(kinds[kind], "multiplexers", list, (source, "kinds.%s." % kind))
    return kind, hand, mux_names


def parse_sensor_map(data, source, role=None):
    """The map as this device samples it: all channels (role None), or the role's."""
    adc = _field(data, "adc", dict, (source, ""))
    adc_values = {}
    for key in ("bits", "max", "attenuation_db", "open_below", "saturated_at"):
        adc_values[key] = _field(adc, key, int, (source, "adc."))
    if adc_values["max"] != (1 << adc_values["bits"]) - 1:
        raise ValueError("%s: adc.max %d does not match adc.bits %d (expected %d)"
                         % (source, adc_values["max"], adc_values["bits"], (1 << adc_values["bits"]) - 1))
    muxes = _field(data, "multiplexers", dict, (source, ""))
    for name in muxes:
        mux = _field(muxes, name, dict, (source, "multiplexers."))
        _field(mux, "inputs", int, (source, "multiplexers.%s." % name))
        _field(mux, "adc_gpio", int, (source, "multiplexers.%s." % name))
    selection = _role_selection(data, source, role) if role is not None else None
    if selection is not None:
        for name in selection[2]:
            if name not in muxes:
                raise ValueError("%s: kinds.%s uses mux %r, not in multiplexers"
                                 % (source, selection[0], name))
    select_gpio = _field(data, "select_gpio", list, (source, ""))
    settle = _field(data, "mux_settle_us", int, (source, ""))
    raw_channels = _field(data, "channels", list, (source, ""))
    if not 1 <= len(raw_channels) <= 32:
        raise ValueError("%s: channels has %d entries, expected 1..32" % (source, len(raw_channels)))
    channels = []
    seen = {}  # type: dict[str, int]
    for i, rc in enumerate(raw_channels):
        where = (source, "channels[%d]." % i)
        cid = _field(rc, "id", str, where)
        mux = _field(rc, "mux", str, where)
        if mux not in muxes:
            raise ValueError("%s: channels[%d] (%s) uses mux %r, not in multiplexers" % (source, i, cid, mux))
        mux_input = _field(rc, "mux_input", int, where)
        if not 0 <= mux_input < muxes[mux]["inputs"]:
            raise ValueError("%s: channels[%d] (%s) mux_input %d outside 0..%d"
                             % (source, i, cid, mux_input, muxes[mux]["inputs"] - 1))
        if mux_input >= 1 << len(select_gpio):
            raise ValueError("%s: channels[%d] (%s) mux_input %d needs more than %d select lines"
                             % (source, i, cid, mux_input, len(select_gpio)))
        if cid in seen:
            raise ValueError("%s: duplicate channel id %r (channels[%d] and [%d])" % (source, cid, seen[cid], i))
        seen[cid] = i
        channel = Channel(cid, mux, mux_input,
                          _field(rc, "divider_ohm", int, where),
                          _field(rc, "bias_ohm", int, where),
                          rc.get("region", ""))
        # Every channel is checked, but a device samples only those on its kind's muxes.
        if selection is None or mux in selection[2]:
            channels.append(channel)
    if selection is not None and not channels:
        raise ValueError("%s: role %r has no channels (kinds.%s.multiplexers %r)"
                         % (source, role, selection[0], selection[2]))
    if selection is not None:
        # Only the role's multiplexers: hal_esp32 sets up an ADC for each one listed.
        muxes = {name: muxes[name] for name in muxes if name in selection[2]}
    cfg = SensorMapConfig(source, channels, muxes, select_gpio, settle, adc_values)
    if selection is not None:
        cfg.role = role
        cfg.kind, cfg.hand = selection[0], selection[1]
    if "select_gpio_esp32s3" in data:
        cfg.select_gpio_esp32s3 = _field(data, "select_gpio_esp32s3", list, (source, ""))
    if "battery" in data:
        battery = _field(data, "battery", dict, (source, ""))
        for key in ("adc_gpio", "divider_top_ohm", "divider_bottom_ohm"):
            _field(battery, key, int, (source, "battery."))
        if battery["divider_top_ohm"] <= 0 or battery["divider_bottom_ohm"] <= 0:
            raise ValueError("%s: battery divider resistors must be positive" % source)
        if selection is not None and data["kinds"][selection[0]].get("battery_sense"):
            cfg.battery = battery
    return cfg


def _dirname(path):
    i = path.rfind("/")
    if i < 0:
        return ""
    return path[:i] or "/"


def _join(a, b):
    if not a:
        return b
    return a + "/" + b if not a.endswith("/") else a + b


def default_sensor_map_path(main_file, on_device):
    """Where main.py should load the sensor map from (see the module docstring)."""
    here = _dirname(main_file)
    if on_device:
        return _join(here, "sensor_map.json")
    override = os.getenv(SENSOR_MAP_ENV)
    if override:
        return override
    return _join(here, "../hardware/sensor_map.json")


def default_role(main_file, on_device):
    """This device's role: GLOVECOACH_ROLE (unix port only), else role.txt next to main.py,
    else "kit" (see the module docstring)."""
    if not on_device:
        override = os.getenv(ROLE_ENV)
        if override:
            return override.strip()
    path = _join(_dirname(main_file), ROLE_FILE)
    try:
        with open(path) as fh:
            text = fh.read().strip()
    except OSError:
        return DEFAULT_ROLE
    return text or DEFAULT_ROLE


def load_sensor_map(path, role=None):
    try:
        with open(path) as fh:
            text = fh.read()
    except OSError as exc:
        raise ValueError("sensor map %s cannot be read (%s)" % (path, exc))
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError("sensor map %s is not valid JSON (%s)" % (path, exc))
    return parse_sensor_map(data, path, role)
