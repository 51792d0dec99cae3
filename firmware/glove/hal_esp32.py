"""The glove's hardware: ESP32 / ESP32-S3 with two analog multiplexers on ADC1.

The only module that imports `machine`. The select lines are shared by both multiplexers,
so one select setting reads up to one channel on each mux: the read plan groups channels
by mux input and pays the settle time once per setting (12 glove + 8 spine channels:
12 settings, not 20).
"""

import sys
import time

import machine
from micropython import const

from glove import netconfig
from glove.stdio_link import StdioLink

WATCHDOG_TIMEOUT_MS = const(2000)
# Once running, the firmware ignores Ctrl-C (command bytes may contain 0x03) and the
# watchdog cannot be stopped. For this long after reset Ctrl-C still interrupts, before the
# watchdog starts: that is how `mpremote` / deploy tools get the REPL back.
BOOT_GRACE_MS = const(1500)
CLASSIC_UART_BYTES_PER_S = const(11520)     # USB-UART bridge at 115200 baud, 8N1
GLOVE_ID_FILE = "glove_id.txt"
# Written by provisioning: WiFi and broker credentials (glove/mqtt_link.py has the format).
NET_CONFIG_FILE = "net.json"
# Before a reset, time for the UART FIFO or the USB CDC buffer to send out the last frame
# (an ACK of ~20 bytes needs under 2 ms at 115200 baud; the margin is for the USB host).
RESET_DRAIN_MS = const(50)

# Board pins. The sensor map gives the classic ESP32's (multiplexers.<name>.adc_gpio,
# select_gpio). The ESP32-S3 has its ADC1 on GPIO1..10 and no GPIO 25/27 (26..32 drive the
# flash/PSRAM), so those numbers cannot be used there: a map may give the S3 pins as
# multiplexers.<name>.adc_gpio_esp32s3 and select_gpio_esp32s3, otherwise these apply:
# glove mux on GPIO1 (ADC1_CH0), spine mux on GPIO2 (ADC1_CH1), select lines GPIO4..7.
ESP32S3_DEFAULT_ADC_GPIO = {"glove_mux": 1, "spine_mux": 2}
ESP32S3_DEFAULT_SELECT_GPIO = [4, 5, 6, 7]
# Battery sense (hardware/units.md): the LiPo through a divider onto an ADC1 pin. ADC2
# cannot be read while the WiFi radio is on, so it must be ADC1: GPIO35 (ADC1_CH7) on a
# classic ESP32, GPIO8 (ADC1_CH7) on an S3. The sensor map's "battery" section says so.
BATTERY_READS = const(8)        # averaged per STATUS: the ADC's noise is ~10 mV
BATTERY_UNKNOWN = const(0xFFFF)
RSSI_UNKNOWN = const(-128)

# The sensor map's adc.attenuation_db as the ADC driver's setting. The host's force model
# reads counts against adc.max and supply_v, so the ADC must be set up as the map says; a
# value the driver cannot do stops the boot rather than giving counts on another scale.
# (2.5 dB cannot be written: the map's field is an integer.)
ATTENUATION = {0: machine.ADC.ATTN_0DB, 6: machine.ADC.ATTN_6DB, 11: machine.ADC.ATTN_11DB}


def board_name(machine_name):
    """Board name ("esp32s3" or "esp32") from the build's machine description.

    sys.implementation._machine reads e.g. "Generic ESP32S3 module with ESP32S3".
    """
    if "ESP32S3" in machine_name.upper().replace("-", ""):
        return "esp32s3"
    return "esp32"


def adc_gpio(cfg, mux_name, board):
    """The ADC pin of one multiplexer on this board."""
    mux = cfg.multiplexers[mux_name]
    if board == "esp32s3":
        if "adc_gpio_esp32s3" in mux:
            return mux["adc_gpio_esp32s3"]
        if mux_name in ESP32S3_DEFAULT_ADC_GPIO:
            return ESP32S3_DEFAULT_ADC_GPIO[mux_name]
        raise ValueError("%s: multiplexers.%s has no adc_gpio_esp32s3 and no ESP32-S3 default"
                         % (cfg.source, mux_name))
    return mux["adc_gpio"]


def select_pins(cfg, board):
    """The shared select lines on this board, least significant first."""
    if board == "esp32s3":
        if cfg.select_gpio_esp32s3 is not None:
            return cfg.select_gpio_esp32s3
        return ESP32S3_DEFAULT_SELECT_GPIO
    return cfg.select_gpio


def adc_settings(cfg):
    """(attenuation, width) for the map's adc section; width None: the ADC's fixed 12 bits.

    Raises ValueError naming the field when this board's ADC cannot be set up that way.
    """
    if cfg.attenuation_db not in ATTENUATION:
        raise ValueError("%s: adc.attenuation_db %d is not one the ESP32 ADC offers (0, 6 or 11)"
                         % (cfg.source, cfg.attenuation_db))
    # Looked up by name: a classic ESP32 offers WIDTH_9BIT..WIDTH_12BIT, an S3 only 12 bits.
    width = getattr(machine.ADC, "WIDTH_%dBIT" % cfg.adc_bits, None)
    if width is None and cfg.adc_bits != 12:   # 12 bits is every ESP32 ADC's default
        raise ValueError("%s: adc.bits %d is not a width this board's ADC offers"
                         % (cfg.source, cfg.adc_bits))
    return ATTENUATION[cfg.attenuation_db], width


def _read_glove_id():
    try:
        with open(GLOVE_ID_FILE) as fh:
            text = fh.read().strip()
        if text:
            return text
    except OSError:
        pass
    uid = machine.unique_id()
    return "GC-" + "".join("%02X" % b for b in uid)


class Esp32Hal:
    spin_us = 50
    # A real ADC cannot be read as it was in the past: late slots are skipped and counted.
    catch_up_slots = 0

    def __init__(self, cfg, board=None, boot_grace_ms=BOOT_GRACE_MS):
        if board is None:
            board = board_name(getattr(sys.implementation, "_machine", ""))
        self.board = board
        self.glove_id = _read_glove_id()
        # Classic ESP32 boards talk through a USB-UART bridge at 115200 baud; the S3 uses
        # its native USB CDC, which is not the limit at any rate we sample.
        self.link_bytes_per_s = None if self.board == "esp32s3" else CLASSIC_UART_BYTES_PER_S
        self.n_channels = cfg.n_channels
        self.settle_us = cfg.mux_settle_us
        attenuation, width = adc_settings(cfg)
        self._select = [machine.Pin(g, machine.Pin.OUT, value=0)
                        for g in select_pins(cfg, self.board)]
        adc_index = {}
        self._adcs = []  # type: list[machine.ADC]
        for name in cfg.multiplexers:
            adc = machine.ADC(machine.Pin(adc_gpio(cfg, name, self.board)))
            adc.atten(attenuation)
            if width is not None and hasattr(adc, "width"):
                adc.width(width)
            adc_index[name] = len(self._adcs)
            self._adcs.append(adc)
        # Read plan: for each select setting in use, the (adc, column) pairs to read.
        by_input = {}  # type: dict[int, list[tuple[int, int]]]
        for column, ch in enumerate(cfg.channels):
            by_input.setdefault(ch.mux_input, []).append((adc_index[ch.mux], column))
        self._plan = [([(setting >> k) & 1 for k in range(len(self._select))], by_input[setting])
                      for setting in sorted(by_input)]
        self._battery = getattr(cfg, "battery", None)
        self._battery_adc = None
        time.sleep_ms(boot_grace_ms)
        self.wlan = None
        self.net_config_path = NET_CONFIG_FILE
        usb = StdioLink(exit_on_eof=False)
        net = self._open_wifi_link()
        if net is None:
            self.link = usb
            self.write = usb.write
            self.read_rx = usb.read_rx
            self.flush = usb.flush
        else:
            from glove.dual_link import DualLink
            dual = DualLink(net, usb)       # USB still takes commands (provision, --forget)
            self.link_bytes_per_s = None    # WiFi, not the UART, carries the frames
            self.link = net
            self.write = dual.write
            self.read_rx = dual.read_rx
            self.read_usb = dual.read_usb
            self.flush = dual.flush
        self._wdt = machine.WDT(timeout=WATCHDOG_TIMEOUT_MS)

    def _open_wifi_link(self):
        """An MqttLink when provisioning left a broker in NET_CONFIG_FILE, else None.

        With a "wifi" section the join is started here and not waited for: the link
        connects to the broker once wlan.isconnected() says so, and keeps retrying, so a
        glove out of range still boots and samples. A configuration with WiFi but no broker
        joins the network (STATUS shows the signal) and keeps its frames on USB. The WiFi
        password goes to the radio only, never to a log."""
        config = netconfig.load(NET_CONFIG_FILE)
        self.net_summary = netconfig.summary(config)
        if config is None:
            return None
        wifi = config.get("wifi")
        if wifi is not None:
            problem = netconfig.check_wifi(wifi)
            if problem is not None:
                raise ValueError("%s: %s" % (NET_CONFIG_FILE, problem))
            import network
            wlan = network.WLAN(network.STA_IF)
            wlan.active(True)
            if not wlan.isconnected():
                wlan.connect(wifi["ssid"], wifi.get("password") or "")
            self.wlan = wlan
        if "mqtt" not in config:
            return None
        from glove.mqtt_link import open_mqtt_link
        ready = self.wlan.isconnected if self.wlan is not None else None
        return open_mqtt_link(config, self.glove_id, net_ready=ready, source=NET_CONFIG_FILE)

    def _open_battery(self):
        """Set up the battery-sense ADC from the sensor map's "battery" section (the role's
        kind must have one: the kit is powered over USB and has none).

        The divider (hardware/units.md: 100k over 100k) halves the cell's 3.0..4.2 V to
        1.5..2.1 V, inside the 11 dB range. The ratio is kept as a fixed-point integer
        (x1024) so battery_mv() stays in small ints and allocates nothing."""
        battery = self._battery
        self._battery = None     # set up once, whatever happens
        if battery is None:
            return
        gpio = battery.get("adc_gpio_esp32s3" if self.board == "esp32s3" else "adc_gpio")
        if gpio is None:
            return
        adc = machine.ADC(machine.Pin(gpio))
        adc.atten(machine.ADC.ATTN_11DB)
        top = battery["divider_top_ohm"]
        bottom = battery["divider_bottom_ohm"]
        self._battery_scale = (top + bottom) * 1024 // bottom
        self._battery_adc = adc

    def battery_mv(self):
        """The cell's voltage in mV (read at STATUS time: 8 reads, calibrated by read_uv).

        The first call sets the ADC up (and allocates): device.build makes it at boot,
        before the sampling loop starts."""
        if self._battery is not None:
            self._open_battery()
        adc = self._battery_adc
        if adc is None:
            return BATTERY_UNKNOWN
        total = 0
        for _ in range(BATTERY_READS):
            total += adc.read_uv() // 1000
        return (total // BATTERY_READS) * self._battery_scale >> 10

    def rssi_dbm(self):
        """The WiFi signal (dBm) while joined, else unknown (USB only, or not joined yet)."""
        wlan = self.wlan
        if wlan is None or not wlan.isconnected():
            return RSSI_UNKNOWN
        try:
            return wlan.status("rssi")
        except OSError:
            return RSSI_UNKNOWN

    def read_sample(self, row):
        """Read every channel once into row (u16 little-endian, sensor-map column order)."""
        pins = self._select
        adcs = self._adcs
        settle = self.settle_us
        for bits, reads in self._plan:
            for k in range(len(pins)):
                pins[k].value(bits[k])
            time.sleep_us(settle)
            for adc_i, column in reads:
                v = adcs[adc_i].read()
                row[2 * column] = v & 0xFF
                row[2 * column + 1] = v >> 8

    def skip_slots(self, n):
        pass

    def feed_watchdog(self):
        self._wdt.feed()

    def sleep_us(self, us):
        time.sleep_us(us)

    def reset(self):
        """Hard reset, after the last frame has left (the maintenance boot needs it)."""
        self.flush()
        time.sleep_ms(RESET_DRAIN_MS)
        machine.reset()

    def boot_message(self):
        causes = {
            machine.PWRON_RESET: "power on",
            machine.HARD_RESET: "hard reset",
            machine.WDT_RESET: "watchdog reset",
            machine.DEEPSLEEP_RESET: "deep sleep wake",
            machine.SOFT_RESET: "soft reset",
        }
        return "boot: %s on %s" % (causes.get(machine.reset_cause(), "unknown reset"), self.board)
