"""firmware/main.py on fakes: boot sequence, Wi-Fi, NTP, watchdog, station start, crash log, image hash."""
import asyncio
import hashlib
import sys
from binascii import hexlify

from tests.fakes import machine as fm
from tests.fakes import network as netfake
from tests.fakes import ntptime as ntpfake
from tests.unit.util import run, raises, tmpdir
from lite_stack.vclock import VirtualClock
from firmware import main as fw


class FakeStation:
    """Stands in for lite_stack.station.Station: polls the HAL like the stack for ``loops``."""
    instances = []
    loops = 30
    fail = None

    def __init__(self, settings, board, clock=None, hal=None):
        self.settings = settings
        self.board = board
        self.clock = clock
        self.hal = hal
        self.loop_ms = None
        FakeStation.instances.append(self)

    async def run(self):
        evses, rfid = self.hal
        for _ in range(self.loops):
            evses[0].pilot.state()
            rfid.poll()
            self.loop_ms = self.clock.ms()
            await self.clock.sleep_ms(100)
        if self.fail:
            raise RuntimeError(self.fail)
        return "reset"


def setup(join_after=2):
    fm.install()
    fm.clear()
    netfake.clear(join_after)
    del ntpfake.calls[:]
    ntpfake.fail = False
    sys.modules["ntptime"] = ntpfake
    del FakeStation.instances[:]
    FakeStation.loops = 30
    FakeStation.fail = None
    d = tmpdir("fw")
    cfg = dict(fw.DEFAULTS)
    cfg.update({"OCPP_BOARD": "pico_w", "wifi_ssid": "ocpp-lab", "wifi_password": "secret",
                "wifi_country": "DE", "csms_url": "ws://csms.local:9000/ocpp",
                "password": "0123456789abcdef", "state_dir": d + "/state/x"})
    return VirtualClock(), cfg, d


def drive(clock, coro):
    async def go():
        t = asyncio.create_task(clock.run())
        try:
            return await coro
        finally:
            t.cancel()
    try:
        return run(go())
    finally:
        if hasattr(asyncio, "new_event_loop"):
            asyncio.new_event_loop()   # MicroPython: drop the firmware's leftover tasks


def test_boot_sequence_starts_the_station_and_resets_on_ocpp_reset():
    clock, cfg, d = setup()
    result = drive(clock, fw.main(cfg, FakeStation, clock, d, fm, netfake))
    assert result == "reset"
    st = FakeStation.instances[-1]
    assert st.settings == {"csms_url": "ws://csms.local:9000/ocpp", "station_id": "PW-240AC4123456",
                           "password": "0123456789abcdef", "state_dir": d + "/state/x",
                           "evses": 1, "exit_on_reset": True}
    assert st.board.MODEL == "LitePicoW" and st.clock is clock
    evses, rfid = st.hal
    assert type(evses[0].pilot).__name__ == "PwmPilot" and type(rfid).__name__ == "Mfrc522"
    wlan = netfake.WLAN(netfake.STA_IF)
    assert wlan.active() and wlan.isconnected()
    assert (wlan.ssid, wlan.key) == ("ocpp-lab", "secret") and netfake.country() == "DE"
    assert ntpfake.calls == ["pool.ntp.org"]
    assert len(fm.wdts) == 1 and fm.wdts[0].timeout == 8000
    assert fm.wdts[0].feeds >= 3                  # fed during the ~3.5 s of virtual run time
    import os
    assert os.stat(d + "/state/x")[0] & 0x4000    # state_dir created
    assert fm.line("LED").writes > 0              # status LED task running


def test_offline_boot_starts_anyway_and_keeps_reconnecting():
    clock, cfg, d = setup(join_after=None)        # access point unreachable
    cfg["wifi_timeout_s"] = 10
    cfg["wifi_retry_s"] = 20
    FakeStation.loops = 600                       # 60 s of station time
    t0 = clock.ms()
    assert drive(clock, fw.main(cfg, FakeStation, clock, d, fm, netfake)) == "reset"
    assert clock.ms() - t0 >= 70000
    assert ntpfake.calls == []                    # no link, no NTP
    connects = [e for e in netfake.log if e[0] == "connect"]
    assert len(connects) >= 3, netfake.log        # initial + retries every 20 s


def test_safe_mode_file_keeps_the_repl():
    clock, cfg, d = setup()
    open(d + "/nostart", "w").close()
    assert drive(clock, fw.main(cfg, FakeStation, clock, d, fm, netfake)) == "safe"
    assert FakeStation.instances == [] and fm.wdts == []


def test_crash_is_logged_bounded():
    clock, cfg, d = setup()
    FakeStation.fail = "boom"
    assert drive(clock, fw.main(cfg, FakeStation, clock, d, fm, netfake)) == "crash"
    text = open(cfg["state_dir"] + "/crash.txt").read()
    assert "RuntimeError: boom" in text
    for i in range(200):
        fw.log_crash(cfg["state_dir"], "line %d xxxxxxxxxxxxxxxxxxxx\n" % i)
    text = open(cfg["state_dir"] + "/crash.txt").read()
    assert len(text) == 1024 and text.endswith("line 199 xxxxxxxxxxxxxxxxxxxx\n")


def test_watchdog_stops_feeding_when_the_station_stalls():
    fm.install()
    fm.clear()
    clock = VirtualClock()
    wd = fw.Watchdog(fm, 8000)
    tick = [0]

    async def body():
        t = asyncio.create_task(wd.run(clock, lambda: tick[0], 1000, 5000))
        for _ in range(10):                       # alive for 10 s
            tick[0] += 1
            await clock.sleep(1)
        fed = wd.feeds
        await clock.sleep(20)                     # stuck for 20 s
        t.cancel()
        return fed
    fed = drive(clock, body())
    assert fed >= 9 and wd.stalled
    assert wd.feeds - fed <= 6                    # stopped feeding after stall_ms: WDT resets


def test_start_resets_the_board_after_main():
    fm.install()
    fm.clear()
    orig = fw.main

    async def fake_main():
        return "reset"
    fw.main = fake_main
    try:
        raises(fm.ResetCalled, fw.start)
        assert fm.resets == ["reset"]
    finally:
        fw.main = orig


def test_config_file_and_board_selection():
    d = tmpdir("fwcfg")
    cfg = fw.load_config(d + "/missing.json")
    assert cfg == fw.DEFAULTS and cfg is not fw.DEFAULTS
    with open(d + "/ocpp.json", "w") as f:
        f.write('{"OCPP_BOARD": "esp32_devkit", "csms_url": "wss://x/ocpp", "evses": 1}')
    cfg = fw.load_config(d + "/ocpp.json")
    assert cfg["OCPP_BOARD"] == "esp32_devkit" and cfg["wdt_ms"] == 8000
    assert fw.board_name(cfg) == "esp32_devkit"
    cfg["OCPP_BOARD"] = None
    assert fw.board_name(cfg) == "desktop"        # no fw_image on this path
    with open(d + "/bad.json", "w") as f:
        f.write("[1, 2]")
    raises(ValueError, fw.load_config, d + "/bad.json")


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def test_image_digest_definition():
    import os
    d = tmpdir("fwimg")
    for sub in ("/lib", "/lib/hal", "/lib/boards", "/state"):
        os.mkdir(d + sub)
    files = {"lib/hal/pilot.mpy": b"M\x06\x00pilot" * 100, "lib/boards/pico_w.mpy": b"board",
             "lib/ocpp_main.mpy": b"", "main.py": b"import ocpp_main\nocpp_main.start()\n"}
    for p in files:
        _write(d + "/" + p, files[p])
    _write(d + "/lib/fw_image.mpy", b"excluded")      # the hash cannot contain itself
    _write(d + "/ocpp.json", b"{}")                     # site config: not part of the image
    _write(d + "/state/dm.bin", b"state")
    h = hashlib.sha256()
    for p in sorted(files):
        h.update(("%s\n%d\n" % (p, len(files[p]))).encode())
        h.update(files[p])
    want = hexlify(h.digest()).decode()
    assert fw.image_digest(d) == want
    _write(d + "/lib/hal/extra.mpy", b"stale")          # a stray module changes the hash
    assert fw.image_digest(d) != want
