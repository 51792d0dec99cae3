# MicroPython: a stand-in for the ESP32 `machine` module at the physical edge only.
# Each multiplexer is modelled by its ADC pin: a reading is 10 * adc_gpio + the input
# currently selected by the select pins, so a test can tell which sensor was read.
pins = {}          # gpio -> level of output pins
events = []        # ("select", gpio, level) / ("read", gpio) in order
adc_gpios = []     # ADC pins in creation order
wdt_feeds = [0]
settings = {}


class Pin:
    OUT = 1
    IN = 0

    def __init__(self, gpio, mode=-1, value=None):
        self.gpio = gpio
        if mode == Pin.OUT:
            pins[gpio] = value or 0

    def value(self, level):
        pins[self.gpio] = level
        events.append(("select", self.gpio, level))


class ADC:
    # The values of MicroPython's esp32 port (>= 1.22): WIDTH_n is n. A classic ESP32 has all
    # four widths, so this fake stands for one.
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_9BIT = 9
    WIDTH_10BIT = 10
    WIDTH_11BIT = 11
    WIDTH_12BIT = 12

    def __init__(self, pin):
        self.gpio = pin.gpio
        adc_gpios.append(pin.gpio)
        settings[pin.gpio] = {}

    def atten(self, a):
        settings[self.gpio]["atten"] = a

    def width(self, w):
        settings[self.gpio]["width"] = w

    def read(self):
        events.append(("read", self.gpio))
        selected = 0
        for k in range(len(select_order)):
            selected |= pins[select_order[k]] << k
        return 10 * self.gpio + selected


    def read_uv(self):
        # Calibrated reading in microvolts: what the test put on the pin (battery sense).
        # Counted, not logged in `events`: a test reads it with the heap locked.
        uv_reads[0] += 1
        return microvolts.get(self.gpio, 0)


microvolts = {}     # gpio -> voltage at the pin in uV, set by the test
uv_reads = [0]
select_order = []   # set by the test: the select gpios, least significant first


class WDT:
    def __init__(self, timeout):
        settings["wdt_timeout"] = timeout

    def feed(self):
        wdt_feeds[0] += 1


resets = [0]


def reset():
    # A real reset never returns; SystemExit stands in for that (the script catches it).
    resets[0] += 1
    raise SystemExit(0)


def unique_id():
    return b"\x24\x0a\xc4\x12\x34\x56"


PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 2, 3, 4, 5


def reset_cause():
    return WDT_RESET
