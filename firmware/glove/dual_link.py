"""USB beside the network: a glove on WiFi still answers a host that talks to it over USB.

A provisioned glove sends its frames over MQTT (glove/mqtt_link.py). Its USB port stays
open for commands, so `glovecoach provision --port P` (again, or with --forget) and any other
USB host can still reach it: that is the way back to USB on a provisioned glove. Nothing is
written to USB until a host sends a byte there, because on a classic ESP32 every frame
written to the UART costs the sampling loop its transmit time whether or not anyone listens.
From then on every frame goes to both links (screens on MQTT keep their stream), and the
console text of the MQTT link (connection state) is no longer printed on USB, where it would
corrupt the frames.
"""


class DualLink:
    def __init__(self, net, usb):
        self.net = net                  # MqttLink
        self.usb = usb                  # StdioLink(exit_on_eof=False)
        self.usb_active = False         # a host has sent bytes on USB
        self.usb_closed = False         # stdin reached EOF (unix port with no host): stop polling it
        self._delimiter = bytearray(1)
        self._print = net.log
        net.log = self._log

    def _log(self, message):
        if not self.usb_active:
            self._print(message)

    def write(self, buf, n):
        self.net.write(buf, n)
        if self.usb_active:
            try:
                self.usb.write(buf, n)
            except OSError:
                # The USB host went away (a pty's EIO on the unix port): the network
                # stream goes on; the next byte a host sends switches USB on again.
                self.usb_active = False

    def flush(self):
        self.net.flush()
        if self.usb_active:
            self.usb.flush()

    def read_rx(self, buf):
        """Command bytes that came over the network."""
        return self.net.read_rx(buf)

    def read_usb(self, buf):
        """Command bytes that came over USB; the first ones switch USB output on."""
        if self.usb_closed:
            return 0
        n = self.usb.read_rx(buf)
        if self.usb.eof:
            self.usb_closed = True
            return n
        if n and not self.usb_active:
            # End whatever console text the host saw before, so the first frame parses.
            self.usb.write(self._delimiter, 1)
            self.usb_active = True
        return n
