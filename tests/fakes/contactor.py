"""A contactor with a mirror (auxiliary) contact, wired to a relay output and a feedback input.

The main contacts follow the relay coil (energised when the relay line is at ``relay_active``)
unless ``welded`` (stuck closed) or ``stuck_open`` (coil or contacts dead). The auxiliary contact
reads ``aux_active`` while the main contacts are closed. ``closed()`` is what the power path sees.
"""
from tests.fakes import machine as fm


class ContactorModel:
    def __init__(self, relay_pin, aux_pin=None, relay_active=1, aux_active=1):
        self.relay = fm.line(relay_pin)
        self.relay_active = relay_active
        self.aux_active = aux_active
        self.welded = False
        self.stuck_open = False
        self.closings = 0
        self._was = False
        self.relay.watchers.append(self._coil)
        if aux_pin is not None:
            fm.line(aux_pin).ext = self._aux

    def _coil(self, level):
        now = self.closed()
        if now and not self._was:
            self.closings += 1
        self._was = now

    def energised(self):
        return self.relay.mode == fm.Pin.OUT and self.relay.out == self.relay_active

    def closed(self):
        if self.welded:
            return True
        if self.stuck_open:
            return False
        return self.energised()

    def _aux(self):
        return self.aux_active if self.closed() else 1 - self.aux_active
