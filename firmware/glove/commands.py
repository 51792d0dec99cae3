"""Host -> device commands (docs/protocol.md section 3.2).

Incoming bytes collect in a preallocated buffer until a 0x00 ends a frame; each frame is
COBS-decoded, CRC-checked, parsed and dispatched, and gets exactly one ACK or ERROR.
Nothing here allocates while no bytes arrive; handling a command may allocate (rare).
"""

import binascii
import json
import struct
import time

from micropython import const

from glove import frames, maintenance, netconfig

CMD_START = const(0x81)
CMD_STOP = const(0x82)
CMD_SET_RATE = const(0x83)
CMD_TARE = const(0x84)
CMD_PING = const(0x85)
CMD_INFO = const(0x86)
CMD_MAINTENANCE = const(0x87)
CMD_NET_CONFIG = const(0x88)

COMMAND_NAMES = {
    CMD_START: "START", CMD_STOP: "STOP", CMD_SET_RATE: "SET_RATE",
    CMD_TARE: "TARE", CMD_PING: "PING", CMD_INFO: "INFO", CMD_MAINTENANCE: "MAINTENANCE",
    CMD_NET_CONFIG: "NET_CONFIG",
}
# Argument bytes after type and token. NET_CONFIG is not here: its argument is a JSON object
# of any length up to MAX_NET_CONFIG_PAYLOAD.
ARG_BYTES = {CMD_START: 0, CMD_STOP: 0, CMD_SET_RATE: 2, CMD_TARE: 2, CMD_PING: 4, CMD_INFO: 0,
             CMD_MAINTENANCE: 0}

MAX_COMMAND_PAYLOAD = const(64)
# NET_CONFIG carries an SSID, a WPA2 passphrase, a broker's host and credentials and, for
# TLS, the broker CA's PEM certificate (up to mqtt_link.CA_MAX_CHARS) as JSON: more than 64
# bytes, so it alone may be this long (docs/protocol.md, NET_CONFIG).
MAX_NET_CONFIG_PAYLOAD = const(2048)
# The token of an ERROR BAD_FRAME about a command whose token could not be read (bad COBS or
# CRC, too short, too long for the receiver). The host's name for it is the same:
# glovecoach.wire.messages.UNKNOWN_TOKEN (docs/protocol.md, ERROR codes).
UNKNOWN_TOKEN = const(0xFFFF)
RX_CHUNK = const(32)
# A whole encoded command, the longest being NET_CONFIG: payload + CRC + COBS overhead (one
# byte per 254, and one).
RX_FRAME_MAX = MAX_NET_CONFIG_PAYLOAD + frames.CRC_BYTES + (MAX_NET_CONFIG_PAYLOAD + 4) // 254 + 2
# The network link's receiver never takes NET_CONFIG (it is refused there), so it keeps the
# size it had before NET_CONFIG carried a CA: a NET_CONFIG up to 512 bytes still gets its
# NOT_ALLOWED, a longer one a BAD_FRAME, and a WiFi glove saves 1.5 kB of RAM.
RX_FRAME_MAX_NETWORK = const(512 + 4 + 4)


class CommandError(Exception):
    def __init__(self, code, token, command, message):
        super().__init__(message)
        self.code = code
        self.token = token
        self.command = command
        self.message = message


def decode_command_frame(chunk):
    """COBS chunk (no delimiter) -> (command, token, args dict). Raises CommandError."""
    try:
        data = frames.cobs_decode(chunk)
    except ValueError as exc:
        raise CommandError(frames.ERR_BAD_FRAME, UNKNOWN_TOKEN, 0, "bad COBS: %s" % exc)
    if len(data) < frames.CRC_BYTES + 1:
        raise CommandError(frames.ERR_BAD_FRAME, UNKNOWN_TOKEN, 0,
                           "frame of %d bytes is too short for payload and CRC" % len(data))
    payload = bytes(data[:-frames.CRC_BYTES])
    crc = struct.unpack("<I", data[-frames.CRC_BYTES:])[0]
    if binascii.crc32(payload) != crc:
        raise CommandError(frames.ERR_BAD_FRAME, UNKNOWN_TOKEN, 0, "CRC mismatch")
    return parse_command(payload)


def parse_command(payload):
    """Command payload -> (command, token, args dict). Raises CommandError."""
    if len(payload) < 3:
        command = payload[0] if payload else 0
        raise CommandError(frames.ERR_BAD_FRAME, UNKNOWN_TOKEN, command,
                           "command of %d bytes is shorter than type and token" % len(payload))
    command = payload[0]
    token = payload[1] | payload[2] << 8
    limit = MAX_NET_CONFIG_PAYLOAD if command == CMD_NET_CONFIG else MAX_COMMAND_PAYLOAD
    if len(payload) > limit:
        # The token is readable, so the host can match this ERROR to its command (as the
        # host's own decode_command does).
        raise CommandError(frames.ERR_BAD_FRAME, token, command,
                           "command of %d bytes exceeds %d" % (len(payload), limit))
    if command == CMD_NET_CONFIG:
        try:
            config = json.loads(bytes(payload[3:]).decode())
        except (ValueError, UnicodeError):
            raise CommandError(frames.ERR_BAD_ARGUMENT, token, command,
                               "NET_CONFIG needs a JSON object")
        return command, token, {"config": config}
    if command not in ARG_BYTES:
        raise CommandError(frames.ERR_UNKNOWN_COMMAND, token, command,
                           "unknown command 0x%02x" % command)
    want = 3 + ARG_BYTES[command]
    if len(payload) != want:
        raise CommandError(frames.ERR_BAD_FRAME, token, command,
                           "%s needs %d bytes, got %d" % (COMMAND_NAMES[command], want, len(payload)))
    if command == CMD_SET_RATE:
        args = {"rate_hz": payload[3] | payload[4] << 8}
    elif command == CMD_TARE:
        args = {"n": payload[3] | payload[4] << 8}
    elif command == CMD_PING:
        args = {"nonce": struct.unpack_from("<I", payload, 3)[0]}
    else:
        args = {}
    return command, token, args


class CommandReceiver:
    """Splits the host's byte stream on 0x00 and hands complete chunks to `on_chunk`.

    A chunk longer than any command is remembered as overflowed and reported as one corrupt
    frame when its delimiter arrives (the next 0x00 starts fresh).
    """

    def __init__(self, on_chunk, frame_max=RX_FRAME_MAX):
        self.on_chunk = on_chunk
        self.rx = bytearray(RX_CHUNK)
        self.frame = bytearray(frame_max)
        self.n = 0
        self.overflow = False

    def feed(self, buf, count):
        frame = self.frame
        limit = len(frame)
        for i in range(count):
            b = buf[i]
            if b == 0:
                if self.overflow:
                    self.overflow = False
                    self.n = 0
                    self.on_chunk(None)
                elif self.n:
                    n = self.n
                    self.n = 0
                    self.on_chunk(bytes(frame[:n]))
                continue
            if self.n == limit:
                self.overflow = True
            if not self.overflow:
                frame[self.n] = b
                self.n += 1


class CommandHandler:
    """Executes commands against the sampler and answers each exactly once.

    `maintenance_flag`: where MAINTENANCE leaves its flag (glove/maintenance.py); None
    refuses the command (a test harness that must not reset).

    Commands come from the HAL's link (`hal.read_rx`): USB, or MQTT on a provisioned glove
    (`hal.link.network`). A glove on MQTT also listens on USB (`hal.read_usb`,
    glove/dual_link.py), with a receiver of its own so the two byte streams never mix.
    NET_CONFIG is only taken over USB: credentials never travel over the network.
    """

    def __init__(self, sampler, writer, hal, maintenance_flag=None):
        self.sampler = sampler
        self.writer = writer
        self.hal = hal
        self.maintenance_flag = maintenance_flag
        link = getattr(hal, "link", None)
        main_is_network = bool(getattr(link, "network", False))
        self.receiver = CommandReceiver(lambda chunk: self.handle_chunk(chunk, main_is_network),
                                        RX_FRAME_MAX_NETWORK if main_is_network else RX_FRAME_MAX)
        self._read_usb = getattr(hal, "read_usb", None)
        # Only a glove with USB beside its network link has a second receiver (2 kB).
        self.usb_receiver = (CommandReceiver(lambda chunk: self.handle_chunk(chunk, False))
                             if self._read_usb is not None else None)

    def poll(self):
        """Called once per slot: read what the host sent, act on complete commands."""
        rx = self.receiver.rx
        n = self.hal.read_rx(rx)
        if n:
            self.receiver.feed(rx, n)
        usb = self.usb_receiver
        read_usb = self._read_usb
        if usb is not None and read_usb is not None:
            n = read_usb(usb.rx)
            if n:
                usb.feed(usb.rx, n)

    def handle_chunk(self, chunk, over_network=False):
        if chunk is None:
            self.writer.send_error(UNKNOWN_TOKEN, 0, frames.ERR_BAD_FRAME,
                                   "frame longer than the receiver's %d bytes"
                                   % (RX_FRAME_MAX_NETWORK if over_network else RX_FRAME_MAX))
            return
        try:
            command, token, args = decode_command_frame(chunk)
            if command == CMD_NET_CONFIG:
                self.net_config(token, args["config"], over_network)
            else:
                self.execute(command, token, args)
        except CommandError as err:
            self.writer.send_error(err.token, err.command, err.code, err.message)

    def net_config(self, token, config, over_network):
        """Store (or, for {}, forget) the network configuration; it applies at the next boot.

        Checked here whatever the host checked: a bad value is ERROR BAD_ARGUMENT naming the
        field, and nothing is written. The ACK and the errors never hold a password.
        """
        if over_network:
            raise CommandError(frames.ERR_NOT_ALLOWED, token, CMD_NET_CONFIG,
                               "NET_CONFIG is only taken over USB: credentials are not sent "
                               "over the network")
        path = getattr(self.hal, "net_config_path", None)
        if path is None:
            raise CommandError(frames.ERR_NOT_ALLOWED, token, CMD_NET_CONFIG,
                               "this device has nowhere to keep a network configuration "
                               "(unix port: set GLOVECOACH_NET_CONFIG)")
        if config == {}:
            netconfig.forget(path)
            self.hal.net_summary = netconfig.summary(None)
            self.writer.send_ack(token, CMD_NET_CONFIG,
                                 {"wifi": self.hal.net_summary, "mqtt": None,
                                  "applies": "at the next boot"})
            return
        problem = netconfig.check(config)
        if problem is not None:
            raise CommandError(frames.ERR_BAD_ARGUMENT, token, CMD_NET_CONFIG,
                               "NET_CONFIG " + problem)
        try:
            netconfig.store(path, config)
        except OSError as exc:
            raise CommandError(frames.ERR_NOT_ALLOWED, token, CMD_NET_CONFIG,
                               "cannot write %s: %s" % (path, exc))
        self.hal.net_summary = netconfig.summary(config)
        self.writer.send_ack(token, CMD_NET_CONFIG,
                             {"wifi": self.hal.net_summary,
                              "mqtt": netconfig.broker_summary(config),
                              "applies": "at the next boot"})

    def execute(self, command, token, args):
        s = self.sampler
        if command == CMD_START:
            s.start()
            self.writer.send_ack(token, command, {"rate_hz": s.rate_hz, "samples_per_frame": s.spf})
        elif command == CMD_STOP:
            s.stop()
            self.writer.send_ack(token, command, {})
        elif command == CMD_SET_RATE:
            rate = args["rate_hz"]
            if s.streaming:
                raise CommandError(frames.ERR_NOT_ALLOWED, token, command,
                                   "SET_RATE not allowed while streaming: STOP first")
            busy = s.tare.blocks_rate_change()
            if busy:
                raise CommandError(frames.ERR_BUSY, token, command, busy)
            problem = s.check_rate(rate)
            if problem:
                raise CommandError(frames.ERR_BAD_ARGUMENT, token, command, problem)
            s.set_rate(rate)
            self.writer.send_ack(token, command, {"rate_hz": s.rate_hz, "samples_per_frame": s.spf})
        elif command == CMD_TARE:
            refused = s.tare.start(args["n"], token, s.rate_hz)   # ACKed when the samples are in
            if refused:
                raise CommandError(refused[0], token, command, refused[1])
        elif command == CMD_PING:
            self.writer.send_ack(token, command, {"nonce": args["nonce"], "t_us": _now_t_us()})
        elif command == CMD_INFO:
            self.writer.send_ack(token, command, {})
            self.writer.send_hello(s.hello_info())
        elif command == CMD_MAINTENANCE:
            self.enter_maintenance(token)

    def enter_maintenance(self, token):
        """Flag a maintenance boot, ACK, reset. Does not return on success.

        The flag is written before the ACK, so an ACK means the next boot will free the
        REPL; a flag that cannot be written gets an ERROR and the glove keeps running.
        """
        flag = self.maintenance_flag
        if flag is None:
            raise CommandError(frames.ERR_NOT_ALLOWED, token, CMD_MAINTENANCE,
                               "MAINTENANCE is not available in this build")
        try:
            maintenance.request(flag)
        except OSError as exc:
            raise CommandError(frames.ERR_NOT_ALLOWED, token, CMD_MAINTENANCE,
                               "cannot write %s: %s" % (flag, exc))
        self.writer.send_ack(token, CMD_MAINTENANCE, {})
        self.hal.reset()


def _now_t_us():
    return frames.t_us30(time.ticks_us())
