"""`glovecoach provision`: give a glove its WiFi network and broker, over USB, once.

Why a protocol command (NET_CONFIG, 0x88) and not the MAINTENANCE mode `deploy` uses: it
works on the running firmware, over the same USB link and GloveClient as every other command,
with no mpremote, no reset and no REPL; the device checks the values itself and answers
ERROR BAD_ARGUMENT naming the field (so a host that skips these checks still cannot store a
broken file); and it can be tested end to end with the real firmware in the unix port, where
there is no REPL for mpremote to reach. The device writes net.json atomically (temporary file,
then rename) and joins the network at its next boot; it never sends a password back.

TLS: `--ca room-ca.crt` (PEM or DER) gives the glove the certificate of the CA that signed the
broker's; the glove then connects with TLS (port 8883 unless --broker names one), trusts only
that CA and checks that the broker's certificate names the --broker host (docs/classroom.md).
"""

from __future__ import annotations

import argparse
import getpass
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from glovecoach.commands import CommandError

SSID_MAX_BYTES = 32          # IEEE 802.11
WPA2_MIN_CHARS = 8           # WPA2-Personal passphrase: 8..63 printable ASCII (802.11i Annex H)
WPA2_MAX_CHARS = 63
DEFAULT_BROKER_PORT = 1883
DEFAULT_TLS_BROKER_PORT = 8883
CA_MAX_CHARS = 1600          # the firmware's limit for the PEM of mqtt.ca (glove/mqtt_link.py)
_PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
CREDENTIAL_MAX_CHARS = 64    # the firmware's limit for mqtt user, password and room (netconfig.py)
HOST_MAX_CHARS = 253


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "provision",
        help="give a glove its WiFi network and MQTT broker over USB (or --forget them)",
        description=(
            "Send the WiFi credentials (and the broker to publish to) to the glove on --port. "
            "The glove keeps them in net.json on its flash and joins the network at its next "
            "boot; it never sends the password back (HELLO shows only the SSID). Without "
            "--password-stdin the WiFi password is asked for without echo."),
    )
    parser.add_argument("--port", required=True, help="the glove's USB serial port, e.g. /dev/ttyACM0")
    parser.add_argument("--ssid", help="the WiFi network's name (1..32 bytes)")
    parser.add_argument("--password-stdin", action="store_true",
                        help="read the WiFi password from the first line of stdin (scripts); "
                             "an empty line means an open network")
    parser.add_argument("--broker", metavar="HOST[:PORT]",
                        help="the MQTT broker the glove publishes to (port 1883 if not given); "
                             "without it the glove joins the WiFi but keeps its frames on USB")
    parser.add_argument("--room", help="the MQTT room (topic level) of the station, default 'default'. A "
                                       "classroom's room (glovecoach classroom --room R has run here): "
                                       "without --username the glove gets its own login from the room's "
                                       "accounts, its id as user name")
    parser.add_argument("--username", help="the broker user name for this glove")
    parser.add_argument("--password-file", type=Path, metavar="FILE",
                        help="file holding the broker password (first line), with --username")
    parser.add_argument("--ca", type=Path, metavar="FILE",
                        help="the certificate (PEM or DER) of the CA that signed the broker's: the "
                             "glove connects with TLS (port 8883 unless --broker gives one) and "
                             "trusts that CA only")
    parser.add_argument("--forget", action="store_true",
                        help="remove the stored network configuration: the glove talks USB only "
                             "from its next boot")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the glove (default 5)")
    parser.set_defaults(func=run)


def check_ssid(ssid: str | None) -> str:
    if not ssid:
        raise CommandError("--ssid is empty: give the WiFi network's name")
    size = len(ssid.encode("utf-8"))
    if size > SSID_MAX_BYTES:
        raise CommandError(f"--ssid {ssid!r} is {size} bytes; a WiFi network name has at most {SSID_MAX_BYTES}")
    return ssid


def check_wifi_password(password: str) -> str:
    """'' (an open network) or a WPA2 passphrase; the error never quotes the password."""
    if not password:
        return ""
    if not WPA2_MIN_CHARS <= len(password) <= WPA2_MAX_CHARS:
        raise CommandError(f"the WiFi password has {len(password)} characters; WPA2 needs "
                           f"{WPA2_MIN_CHARS}..{WPA2_MAX_CHARS} (or none at all for an open network)")
    if not all(" " <= ch <= "~" for ch in password):
        raise CommandError("the WiFi password holds characters a WPA2 passphrase cannot have "
                           "(only printable ASCII)")
    return password


def read_ca(path: Path) -> str:
    """The CA certificate in `path` (PEM or DER) as the PEM text the glove keeps (one
    certificate, within the firmware's CA_MAX_CHARS)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CommandError(f"--ca {path}: cannot be read ({exc.strerror or exc})") from None
    if _PEM_BEGIN.encode() in data:
        text = data.decode("ascii", errors="replace")
        if text.count(_PEM_BEGIN) != 1:
            raise CommandError(f"--ca {path}: holds {text.count(_PEM_BEGIN)} certificates; give the one CA "
                               "that signed the broker's certificate")
        try:
            der = ssl.PEM_cert_to_DER_cert(text[text.index(_PEM_BEGIN):])
        except ValueError as exc:
            raise CommandError(f"--ca {path}: not a PEM certificate ({exc})") from None
    elif data[:1] == b"\x30":      # DER: an ASN.1 SEQUENCE
        der = data
    else:
        raise CommandError(f"--ca {path}: neither a PEM certificate (-----BEGIN CERTIFICATE-----) nor DER")
    pem = ssl.DER_cert_to_PEM_cert(der)
    if len(pem) > CA_MAX_CHARS:
        raise CommandError(f"--ca {path}: the certificate is {len(pem)} characters as PEM; the glove keeps at "
                           f"most {CA_MAX_CHARS} (an EC P-256 or RSA-2048 CA fits)")
    return pem


def parse_broker(text: str, tls: bool = False) -> tuple[str, int]:
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = text, str(DEFAULT_TLS_BROKER_PORT if tls else DEFAULT_BROKER_PORT)
    if not host or any(c in host for c in "/ ") or len(host) > HOST_MAX_CHARS:
        raise CommandError(f"--broker {text!r}: expected HOST or HOST:PORT, e.g. 192.168.1.10:1883")
    try:
        port = int(port_text)
    except ValueError:
        raise CommandError(f"--broker {text!r}: the port {port_text!r} is not a number") from None
    if not 1 <= port <= 65535:
        raise CommandError(f"--broker {text!r}: port {port} outside 1..65535")
    return host, port


def _check_topic_level(value: str, option: str) -> str:
    if not value or len(value) > CREDENTIAL_MAX_CHARS or any(c in value for c in "/+#"):
        raise CommandError(f"{option} {value!r} must be 1..{CREDENTIAL_MAX_CHARS} characters without / + #")
    return value


def build_config(ssid: str | None, wifi_password: str, broker: str | None, room: str | None,
                 username: str | None, broker_password: str | None,
                 ca_pem: str | None = None) -> dict[str, Any]:
    """The NET_CONFIG object, checked with the device's own rules (firmware/glove/netconfig.py).
    `ca_pem`: the broker CA's certificate (read_ca): the glove connects with TLS."""
    config: dict[str, Any] = {"wifi": {"ssid": check_ssid(ssid), "password": check_wifi_password(wifi_password)}}
    if broker is None:
        if room or username or broker_password is not None or ca_pem is not None:
            raise CommandError("--room, --username, --password-file and --ca are for the broker: give --broker too")
        return config
    host, port = parse_broker(broker, tls=ca_pem is not None)
    mqtt: dict[str, Any] = {"host": host, "port": port}
    if ca_pem is not None:
        mqtt["ca"] = ca_pem
    if room:
        mqtt["room"] = _check_topic_level(room, "--room")
    if broker_password is not None and not username:
        raise CommandError("--password-file needs --username (the broker checks them together)")
    if username:
        if len(username) > CREDENTIAL_MAX_CHARS:
            raise CommandError(f"--username is longer than {CREDENTIAL_MAX_CHARS} characters")
        mqtt["user"] = username
    if broker_password is not None:
        if len(broker_password) > CREDENTIAL_MAX_CHARS:
            raise CommandError(f"the broker password is longer than {CREDENTIAL_MAX_CHARS} characters")
        mqtt["password"] = broker_password
    config["mqtt"] = mqtt
    return config


def _read_wifi_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    if not sys.stdin.isatty():
        raise CommandError("no terminal to ask for the WiFi password: use --password-stdin")
    return getpass.getpass(f"WiFi password for {args.ssid} (empty for an open network): ")


def _read_password_file(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"--password-file {path}: cannot be read ({exc})") from exc
    return text.splitlines()[0] if text else ""


def send(port: str, config: dict[str, Any] | Callable[[str], dict[str, Any]],
         timeout: float) -> tuple[str, dict[str, Any]]:
    """Send NET_CONFIG to the glove on `port` (``config``, or ``config(glove_id)`` once the
    glove has said who it is); return its id and the ACK's detail."""
    from glovecoach.link import DeviceCommandError, GloveClient, LinkLost
    from glovecoach.wire import Command

    try:
        with GloveClient(port, reconnect=False) as client:
            hello = client.connect(timeout=timeout)
            if callable(config):
                config = config(hello.glove_id)
            ack = client.command(Command.NET_CONFIG, timeout=timeout, config=config)  # type: ignore[arg-type]
    except DeviceCommandError as exc:
        if isinstance(exc.code, int) and exc.code == 2:   # UNKNOWN_COMMAND: firmware from before provisioning
            raise CommandError(f"the glove on {port} does not know NET_CONFIG: deploy the current firmware "
                               "first (glovecoach deploy)") from exc
        raise CommandError(f"the glove on {port} refused the configuration: {exc.message}") from exc
    except (TimeoutError, LinkLost, OSError) as exc:
        raise CommandError(f"cannot provision the glove on {port}: {exc}") from exc
    return hello.glove_id, ack.detail


def run(args: argparse.Namespace) -> int:
    if args.forget:
        if any(v is not None for v in (args.ssid, args.broker, args.room, args.username, args.password_file,
                                       args.ca)) \
                or args.password_stdin:
            raise CommandError("--forget takes only --port (it removes the whole configuration)")
        glove_id, _ = send(args.port, {}, args.timeout)
        print(f"glove {glove_id}: network configuration removed; it talks over USB only from its next boot")
        return 0
    check_ssid(args.ssid)
    # Checked before asking for the password, so a typo in --broker costs no typing.
    if args.broker is not None:
        parse_broker(args.broker)
    ca_pem = read_ca(args.ca) if args.ca is not None else None
    broker_password = _read_password_file(args.password_file)
    accounts_path = _classroom_accounts(args)
    wifi_password = _read_wifi_password(args)
    config = build_config(args.ssid, wifi_password, args.broker, args.room, args.username,
                          broker_password, ca_pem)
    login: list[str] = []

    def room_login(glove_id: str) -> dict[str, Any]:
        """The configuration with the glove's own login from the room's accounts."""
        from glovecoach.link.room_broker import RoomAccounts

        assert accounts_path is not None
        try:
            accounts = RoomAccounts.load(accounts_path)
            known = glove_id in accounts.devices
            password = accounts.add_device(glove_id)
            if not known:
                accounts.save(accounts_path)
        except (OSError, ValueError) as exc:
            raise CommandError(f"room {args.room}'s accounts ({accounts_path}): {exc}") from None
        login.append(f"its broker login is its id, {glove_id}, from room {args.room}'s accounts"
                     + ("" if known else " (new: a class already running lets it in when its Stations\u2026 "
                                         "table is next opened)"))
        return build_config(args.ssid, wifi_password, args.broker, args.room, glove_id, password, ca_pem)

    glove_id, detail = send(args.port, room_login if accounts_path is not None else config, args.timeout)
    broker = detail.get("mqtt")
    where = (f"publishing to {broker['host']}:{broker['port']}{' over TLS' if broker.get('tls') else ''}, "
             f"room {broker['room']}" if broker else "keeping its frames on USB (no broker given)")
    security = "open network" if not wifi_password else "WPA2"
    print(f"glove {glove_id}: WiFi {args.ssid!r} ({security}) stored; at its next boot it joins "
          f"and starts {where}" + "".join(f"; {words}" for words in login))
    return 0


def _classroom_accounts(args: argparse.Namespace) -> Path | None:
    """The accounts file of a classroom's room, when the glove is to take its login from it
    (``--room R --broker ...`` with no --username: the room has accounts on this machine)."""
    if not (args.room and args.broker) or args.username is not None or args.password_file is not None:
        return None
    from glovecoach.classroom.room import rooms_dir

    path = rooms_dir() / f"{args.room}.accounts.json"
    return path if path.is_file() else None
