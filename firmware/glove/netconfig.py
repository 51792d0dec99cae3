"""The network configuration on the device's flash: checked, stored atomically, summarised.

NET_CONFIG (protocol 0x88) carries it from `glovecoach provision` over USB once. The file
(net.json next to main.py on the ESP32; on the unix port the file GLOVECOACH_NET_CONFIG names)
has the format glove/mqtt_link.py reads:

  {"wifi": {"ssid": "massage-school", "password": "..."},
   "mqtt": {"host": "192.168.1.10", "port": 1883, "user": "...", "password": "...", "room": "r1"}}

With "mqtt": {..., "ca": "-----BEGIN CERTIFICATE-----\n..."} the glove connects with TLS and
trusts only that CA (glove/mqtt_link.py); the certificate is checked here with mbedTLS itself,
so one the glove could not use is refused at provisioning, not at the next boot.

The passwords leave this module only towards the radio and the broker's CONNECT: the
summary that HELLO and the ACK carry holds the SSID and whether a configuration exists, and
no error message quotes a password. The CA certificate is public, but it is not sent back
either: the ACK says "tls": true.
"""

import json
import os

from micropython import const

from glove import mqtt as mqtt_client
from glove.mqtt_link import NetConfigError, parse_net_config

# IEEE 802.11: an SSID is 0..32 bytes (an empty one cannot be joined by name).
SSID_MAX_BYTES = const(32)
# WPA2-Personal passphrase: 8..63 printable ASCII characters (IEEE 802.11i, Annex H).
# An empty password means an open network.
WPA2_MIN_CHARS = const(8)
WPA2_MAX_CHARS = const(63)
# A broker host name (RFC 1035: 253 characters) and MQTT credentials kept short enough that
# the whole command fits the receiver (commands.MAX_NET_CONFIG_PAYLOAD).
HOST_MAX_CHARS = const(253)
CREDENTIAL_MAX_CHARS = const(64)
TOP_KEYS = ("wifi", "mqtt")
WIFI_KEYS = ("ssid", "password")
MQTT_KEYS = ("host", "port", "user", "password", "room", "keepalive_s", "batch_frames", "ca")


def _utf8_len(text):
    return len(text.encode())


def check_wifi(wifi):
    """None if `wifi` is a valid {"ssid", "password"} object, else what is wrong."""
    if not isinstance(wifi, dict):
        return "wifi must be an object with ssid and password"
    for key in wifi:
        if key not in WIFI_KEYS:
            return "wifi has an unknown key %r (known: ssid, password)" % key
    ssid = wifi.get("ssid")
    if not isinstance(ssid, str) or not ssid:
        return "wifi.ssid must be a non-empty string"
    if _utf8_len(ssid) > SSID_MAX_BYTES:
        return "wifi.ssid is %d bytes, at most %d allowed" % (_utf8_len(ssid), SSID_MAX_BYTES)
    password = wifi.get("password", "")
    if not isinstance(password, str):
        return "wifi.password must be a string (empty for an open network)"
    if password:
        # Its length may be said; its characters never are.
        if not WPA2_MIN_CHARS <= len(password) <= WPA2_MAX_CHARS:
            return ("wifi.password must be %d..%d characters (WPA2) or empty (open network), "
                    "got %d" % (WPA2_MIN_CHARS, WPA2_MAX_CHARS, len(password)))
        for ch in password:
            if not " " <= ch <= "~":
                return "wifi.password must be printable ASCII (a WPA2 passphrase)"
    return None


def check_mqtt(mqtt):
    """None if `mqtt` is a valid broker object (glove/mqtt_link.py's rules), else what is wrong."""
    if not isinstance(mqtt, dict):
        return "mqtt must be an object"
    for key in mqtt:
        if key not in MQTT_KEYS:
            return "mqtt has an unknown key %r" % key
    try:
        cfg = parse_net_config({"mqtt": mqtt}, "NET_CONFIG")
    except NetConfigError as exc:
        return str(exc)[len("NET_CONFIG: "):] if str(exc).startswith("NET_CONFIG: ") else str(exc)
    if len(cfg["host"]) > HOST_MAX_CHARS:
        return "mqtt.host is longer than %d characters" % HOST_MAX_CHARS
    for key in ("user", "password", "room"):
        if cfg[key] is not None and len(cfg[key]) > CREDENTIAL_MAX_CHARS:
            return "mqtt.%s is longer than %d characters" % (key, CREDENTIAL_MAX_CHARS)
    if cfg["ca"] is not None:
        try:
            mqtt_client.tls_context(cfg["ca"])
        except (ValueError, OSError) as exc:
            return "mqtt.ca is not a certificate mbedTLS can use (%s)" % exc
    return None


def check(config):
    """None if `config` may be stored, else the reason (for ERROR BAD_ARGUMENT)."""
    if not isinstance(config, dict):
        return "the configuration must be a JSON object"
    for key in config:
        if key not in TOP_KEYS:
            return "unknown key %r (known: wifi, mqtt)" % key
    if "wifi" not in config:
        return "wifi is missing (an empty object {} forgets the configuration)"
    problem = check_wifi(config["wifi"])
    if problem is None and "mqtt" in config:
        problem = check_mqtt(config["mqtt"])
    return problem


def store(path, config):
    """Write `config` to `path` atomically: a temporary file, then a rename over the old one.

    A power cut during the write leaves the old file (or none), never half of the new one,
    so the next boot never reads a truncated configuration. Raises OSError.
    """
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(json.dumps(config))
    os.rename(tmp, path)


def forget(path):
    """Remove the configuration (and a temporary file a cut write may have left)."""
    for name in (path + ".tmp", path):
        try:
            os.remove(name)
        except OSError:
            pass


def load(path):
    """The stored configuration, or None when there is none. Raises NetConfigError if the
    file is there but unreadable."""
    try:
        os.stat(path)
    except OSError:
        return None
    try:
        with open(path) as fh:
            text = fh.read()
    except OSError as exc:
        raise NetConfigError("network configuration %s cannot be read (%s)" % (path, exc))
    try:
        return json.loads(text)
    except ValueError as exc:
        raise NetConfigError("network configuration %s is not valid JSON (%s)" % (path, exc))


def summary(config):
    """What HELLO and the ACK say about the WiFi: the SSID and that it is configured."""
    wifi = config.get("wifi") if isinstance(config, dict) else None
    if isinstance(wifi, dict) and isinstance(wifi.get("ssid"), str):
        return {"ssid": wifi["ssid"], "configured": True}
    return {"ssid": None, "configured": False}


def broker_summary(config):
    """The broker part without its password (for the ACK), or None."""
    mqtt = config.get("mqtt") if isinstance(config, dict) else None
    if not isinstance(mqtt, dict):
        return None
    cfg = parse_net_config({"mqtt": mqtt}, "NET_CONFIG")
    out = {"host": cfg["host"], "port": cfg["port"], "room": cfg["room"], "user": cfg["user"]}
    if cfg["ca"] is not None:
        out["tls"] = True
    return out
