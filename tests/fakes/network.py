"""A fake MicroPython ``network`` module: one WLAN station interface that joins after a few polls.

``join_after`` = number of ``isconnected()`` calls before the link comes up (None: never);
``drop()`` takes the link down. Calls are logged in ``log`` (bounded).
"""
STA_IF = 0
AP_IF = 1
join_after = 2
state = {"country": None, "hostname": None}
log = []
_wlans = {}


def clear(after=2):
    global join_after
    join_after = after
    state["country"] = None
    state["hostname"] = None
    del log[:]
    _wlans.clear()


def _log(*a):
    if len(log) >= 64:
        del log[0]
    log.append(a)


def country(c=None):
    if c is None:
        return state["country"]
    state["country"] = c


def hostname(h=None):
    if h is None:
        return state["hostname"]
    state["hostname"] = h


def WLAN(interface=STA_IF):
    w = _wlans.get(interface)
    if w is None:
        w = _Wlan(interface)
        _wlans[interface] = w
    return w


class _Wlan:
    def __init__(self, interface):
        self.interface = interface
        self._active = False
        self.ssid = None
        self.key = None
        self._polls = 0
        self._up = False

    def active(self, on=None):
        if on is None:
            return self._active
        self._active = bool(on)
        _log("active", self._active)

    def connect(self, ssid, key=None):
        if not self._active:
            raise OSError("Wifi Not Started")
        self.ssid = ssid
        self.key = key
        self._polls = 0
        _log("connect", ssid)

    def disconnect(self):
        self._up = False
        _log("disconnect")

    def drop(self):
        self._up = False
        self._polls = -10 ** 9

    def isconnected(self):
        if not self._up and self.ssid is not None and join_after is not None:
            self._polls += 1
            if self._polls > join_after:
                self._up = True
        return self._up

    def ifconfig(self):
        return ("192.168.1.50", "255.255.255.0", "192.168.1.1", "192.168.1.1")
