"""OCPP2.Lite firmware entry point for the hardware boards (ESP32 DevKit, Raspberry Pi Pico W).

Runs as ``main.py`` (frozen into the firmware by firmware/manifest.py, or deployed as
``lib/ocpp_main.mpy`` plus a two-line ``main.py`` by ``ocpp2lite deploy``). Boot sequence of
``main()``:

1. Safe mode: a file ``nostart`` in the filesystem root stops here, leaving the REPL free.
2. Configuration: ``ocpp.json`` (site settings, see ``DEFAULTS``; ``ocpp2lite deploy --config``
   writes it). The board is the one setting ``OCPP_BOARD``, defaulting to the board the image was
   built for (``fw_image.OCPP_BOARD``).
3. Watchdog: ``machine.WDT(timeout=wdt_ms)`` (RP2040 maximum 8388 ms), fed every second by a task
   while the event loop runs and - if the station exposes ``loop_ms`` (``clock.ms()`` of its last
   main-loop pass) - only while that keeps advancing (``stall_ms``).
4. Network: Wi-Fi station mode; boot waits at most ``wifi_timeout_s`` and then starts anyway
   (charging must work offline, OCPP 2.0.1 Part 2 C/E offline behaviour); a task reconnects
   after ``wifi_retry_s`` without a link.
5. Time: NTP (``ntptime``) when the link is up; best effort, the stack syncs again from
   BootNotification/Heartbeat currentTime (Part 2 G02 / B01.FR.06).
6. State: ``state_dir`` is created if missing; the station loads the persisted device model and
   transaction queue from it.
7. Stack: ``Station(settings, board, clock=clock, hal=hal).run()``; "reset" (OCPP Reset) ->
   ``machine.reset()``. A crash is appended to ``state_dir/crash.txt`` (last 1 kB kept) and the
   board is reset.

Also here: ``image_digest(root)`` recomputes the SHA-256 of a deployed image with the same
definition as ``ocpp2lite.deploy`` (sorted device paths; per file ``path \\n size \\n`` then the
bytes; ``lib/fw_image.mpy`` excluded) so ``verify_image`` can compare it with ``fw_image.SHA256``.
Nothing here imports desktop-only code; every wait goes through the stack's clock.
"""
import asyncio
import gc
import json
import os

CONFIG = "ocpp.json"
IMAGE_EXCLUDE = ("lib/fw_image.mpy",)
DEFAULTS = {
    "OCPP_BOARD": None,       # board module name; None -> fw_image.OCPP_BOARD
    "wifi_ssid": "",
    "wifi_password": "",
    "wifi_country": None,     # e.g. "DE" (regulatory domain, Pico W: rp2.country)
    "hostname": None,
    "wifi_timeout_s": 30,     # boot waits this long for the link, then starts anyway
    "wifi_retry_s": 30,       # reconnect after this long without a link
    "ntp_host": "pool.ntp.org",
    "csms_url": "",           # ws://... or wss://.../<station id> base (the stack appends the id)
    "station_id": None,       # None -> board.SERIAL
    "password": None,         # initial HTTP Basic password (security profile 1/2)
    "security_profile": None,  # None -> from csms_url: ws 0 / ws + password 1 / wss 2
    "csms_root_cert": None,   # PEM file in flash installed as CSMSRootCertificate (wss needs it)
    "manufacturer_root_cert": None,  # PEM file installed as ManufacturerRootCertificate
    "state_dir": "/state",
    "evses": 1,
    "wdt_ms": 8000,
    "stall_ms": 60000,
    "verify_image": False,
}


def _join(root, path):
    return root + "/" + path if root else path


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def load_config(path=CONFIG):
    """DEFAULTS updated with the JSON object in ``path`` (missing file: DEFAULTS). Raises
    ValueError for a file that is not a JSON object."""
    cfg = dict(DEFAULTS)
    try:
        f = open(path)
    except OSError:
        return cfg
    try:
        data = json.load(f)
    finally:
        f.close()
    if not isinstance(data, dict):
        raise ValueError("ocpp.json: not an object")
    cfg.update(data)
    return cfg


def board_name(cfg):
    if cfg.get("OCPP_BOARD"):
        return cfg["OCPP_BOARD"]
    try:
        from fw_image import OCPP_BOARD
        return OCPP_BOARD
    except ImportError:
        return "desktop"


def settings(cfg, board):
    """The settings dict ``lite_stack.station.Station`` takes."""
    s = {
        "csms_url": cfg["csms_url"],
        "station_id": cfg["station_id"] or board.SERIAL,
        "password": cfg["password"],
        "state_dir": cfg["state_dir"],
        "evses": cfg["evses"],
        "exit_on_reset": True,
    }
    for k in ("security_profile", "csms_root_cert", "manufacturer_root_cert"):  # factory defaults
        if cfg.get(k) is not None:
            s[k] = cfg[k]
    return s


def image_digest(root=""):
    """Hex SHA-256 of the deployed image under ``root``: ``main.py`` and everything in ``lib``
    except ``lib/fw_image.mpy``. Reads in 512-byte chunks."""
    import hashlib
    from binascii import hexlify
    paths = []

    def walk(rel):
        for name in os.listdir(_join(root, rel)):
            p = rel + "/" + name
            if os.stat(_join(root, p))[0] & 0x4000:
                walk(p)
            elif p not in IMAGE_EXCLUDE:
                paths.append(p)
    if _exists(_join(root, "lib")):
        walk("lib")
    if _exists(_join(root, "main.py")):
        paths.append("main.py")
    paths.sort()
    h = hashlib.sha256()
    buf = bytearray(512)
    mv = memoryview(buf)
    for p in paths:
        size = os.stat(_join(root, p))[6]
        h.update(p.encode() + b"\n" + str(size).encode() + b"\n")
        f = open(_join(root, p), "rb")
        try:
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                h.update(mv[:n])
        finally:
            f.close()
    return hexlify(h.digest()).decode()


def verify_image(root=""):
    """-> (ok, digest): does the deployed image still hash to ``fw_image.SHA256``?"""
    try:
        from fw_image import SHA256
    except ImportError:
        return False, None
    d = image_digest(root)
    return d == SHA256, d


class Watchdog:
    """Hardware watchdog fed from the event loop, and only while ``alive()`` keeps changing."""

    def __init__(self, machine, timeout_ms):
        self.wdt = machine.WDT(timeout=timeout_ms)
        self.feeds = 0
        self.stalled = False

    def feed(self):
        self.wdt.feed()
        self.feeds += 1

    async def run(self, clock, alive=None, period_ms=1000, stall_ms=60000):
        last = None
        since = clock.ms()
        while True:
            v = alive() if alive else None
            now = clock.ms()
            if v is None or v != last:
                last = v
                since = now
            self.stalled = v is not None and now - since >= stall_ms
            if not self.stalled:
                self.feed()
            await clock.sleep_ms(period_ms)


def wifi_start(network, cfg):
    """Activate the station interface and start connecting; -> the WLAN object."""
    if cfg.get("wifi_country") and hasattr(network, "country"):
        network.country(cfg["wifi_country"])
    if cfg.get("hostname") and hasattr(network, "hostname"):
        network.hostname(cfg["hostname"])
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if cfg["wifi_ssid"] and not wlan.isconnected():
        wlan.connect(cfg["wifi_ssid"], cfg["wifi_password"])
    return wlan


async def wifi_wait(wlan, clock, timeout_s):
    """True once the link is up, False after ``timeout_s``."""
    t0 = clock.ms()
    while not wlan.isconnected():
        if clock.ms() - t0 >= timeout_s * 1000:
            return False
        await clock.sleep_ms(250)
    return True


async def wifi_keeper(wlan, cfg, clock):
    """Reconnect after ``wifi_retry_s`` without a link (ESP32 and CYW43 do not always retry)."""
    down = None
    while True:
        if wlan.isconnected():
            down = None
        elif down is None:
            down = clock.ms()
        elif clock.ms() - down >= cfg["wifi_retry_s"] * 1000 and cfg["wifi_ssid"]:
            try:
                wlan.disconnect()
                wlan.connect(cfg["wifi_ssid"], cfg["wifi_password"])
            except OSError:
                pass
            down = clock.ms()
        await clock.sleep(5)


def sync_time(cfg):
    """Set the RTC from NTP; True on success. Blocks up to ntptime's 1 s timeout."""
    try:
        import ntptime
        if cfg.get("ntp_host"):
            ntptime.host = cfg["ntp_host"]
        ntptime.settime()
        return True
    except Exception:  # ImportError (no ntptime), OSError (no answer), OverflowError
        return False


def ensure_dir(path):
    """Create ``path`` and its parents if missing (MicroPython has no os.makedirs)."""
    p = ""
    for part in path.split("/"):
        if not part:
            if not p:
                p = "/"
            continue
        p = p + part if p in ("", "/") else p + "/" + part
        if not _exists(p):
            os.mkdir(p)


def log_crash(state_dir, text, keep=1024):
    """Append ``text`` to ``state_dir/crash.txt`` keeping the last ``keep`` bytes."""
    path = state_dir + "/crash.txt"
    old = ""
    try:
        f = open(path)
        old = f.read()
        f.close()
    except OSError:
        pass
    data = (old + text)[-keep:]
    f = open(path, "w")
    f.write(data)
    f.close()


async def main(cfg=None, station_cls=None, clock=None, root="", machine=None, network=None):
    """Bring the charger up and run the stack; -> "reset" (OCPP Reset), "safe" (nostart file),
    or "crash" (the station raised; logged)."""
    if _exists(_join(root, "nostart")):
        print("ocpp: nostart present, staying in the REPL")
        return "safe"
    if cfg is None:
        cfg = load_config(_join(root, CONFIG))
    if machine is None:
        import machine
    if clock is None:
        from lite_stack.clock import Clock
        clock = Clock()
    wd = Watchdog(machine, cfg["wdt_ms"])
    wd.feed()
    holder = []

    def alive():
        return getattr(holder[0], "loop_ms", None) if holder else None
    asyncio.create_task(wd.run(clock, alive, 1000, cfg["stall_ms"]))

    import boards
    board = boards.load(board_name(cfg))
    print("ocpp: board", board.MODEL, board.FIRMWARE_VERSION)
    if cfg["verify_image"]:
        ok, digest = verify_image(root)
        print("ocpp: image", "verified" if ok else "MODIFIED", digest)

    wlan = None
    if network is None:
        try:
            import network
        except ImportError:
            network = None
    if network is not None and cfg["wifi_ssid"]:
        wlan = wifi_start(network, cfg)
        up = await wifi_wait(wlan, clock, cfg["wifi_timeout_s"])
        print("ocpp: wifi", "up" if up else "down, starting offline")
        asyncio.create_task(wifi_keeper(wlan, cfg, clock))
        if up and sync_time(cfg):
            print("ocpp: time set by NTP")

    ensure_dir(cfg["state_dir"])
    hal = board.make_hal(clock, cfg["evses"])
    for evse in hal[0]:
        led = getattr(evse, "led", None)
        if led is not None:
            asyncio.create_task(led.task())
    if station_cls is None:
        from lite_stack.station import Station as station_cls
    gc.collect()
    station = station_cls(settings(cfg, board), board, clock=clock, hal=hal)
    holder.append(station)
    try:
        return await station.run()
    except Exception as e:  # keep the reason across the reset
        msg = "%d %s: %s\n" % (clock.now(), type(e).__name__, e)
        print("ocpp: crash", msg)
        try:
            log_crash(cfg["state_dir"], msg)
        except OSError:
            pass
        return "crash"


def start():
    """Entry from main.py: run ``main()`` and reset the board when it returns (not in safe mode)."""
    result = asyncio.run(main())
    if result != "safe":
        import machine
        machine.reset()


if __name__ == "__main__":
    start()
