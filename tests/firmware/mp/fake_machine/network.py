# A stand-in for MicroPython's `network` on the ESP32: the radio is the physical edge. It
# records what the HAL asks of it; tests flip `connected[0]` to play the join completing.
STA_IF = 0
calls = []
connected = [False]
rssi = [-58]


class WLAN:
    def __init__(self, interface):
        calls.append(["WLAN", interface])

    def active(self, on=None):
        calls.append(["active", on])
        return True

    def isconnected(self):
        return connected[0]

    def connect(self, ssid, password):
        calls.append(["connect", ssid, password])

    def status(self, param=None):
        if param == "rssi":
            if not connected[0]:
                raise OSError("not connected")
            return rssi[0]
        return 1010 if connected[0] else 1001
