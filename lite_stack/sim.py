"""The simulated Charging Station: the contract a certification lab, our tests and outside tools use.

Run: ``ocpp2lite sim`` (CPython) or ``micropython -m lite_stack.sim`` (MicroPython unix port, from
the repository root).

Settings from the environment:
  OCPP_CSMS_URL             CSMS URL; the station appends "/<station id>"  (default ws://127.0.0.1:9000)
  OCPP_STATION_ID           station identity (default LITE-SIM-1)
  OCPP_BASIC_AUTH_PASSWORD  HTTP Basic password, security profile 1/2 (username = station id)
  OCPP_SECURITY_PROFILE     0, 1 or 2 (default: ws:// 0, ws:// + password 1, wss:// 2)
  OCPP_CSMS_ROOT_CERT       PEM file (one or more certificates) installed as CSMSRootCertificate
  OCPP_MANUFACTURER_ROOT_CERT  PEM file installed as ManufacturerRootCertificate
  (URL, password, profile and certificates are factory defaults: read on a start whose state
  directory holds no network profile yet; afterwards the persisted state rules.)
  OCPP_STATE_DIR            where everything persisted lives (default ./ocpp_state)
  OCPP_EVSES                number of EVSEs, one connector each (default 1)
  OCPP_EXIT_ON_RESET=1      exit with code 0 after executing a Reset (else reboot in-process)
  OCPP_BOARD                board definition (default desktop)
  OCPP_SIM_STATUS=1         opt-in: one JSON status line on stdout whenever the station state changes
                            (read by ``ocpp2lite sim --panel``; format in ``status()`` below)

Hardware events, one JSON object per line on stdin (a malformed line is reported on stderr and
ignored):
  {"cmd":"plug_in","evse":1,"connector":1}     EV plugged in (pilot A -> B; the EV then requests energy)
  {"cmd":"plug_out","evse":1,"connector":1}    EV unplugged (pilot -> A)
  {"cmd":"token","id":"AB12CD34","type":"ISO14443"}   RFID card presented
  {"cmd":"fault","evse":1,"connector":1,"on":true}    raise/clear a hardware fault
  {"cmd":"ev","evse":1,"state":"B"}           EV stops ("B") / starts ("C") requesting energy
  {"cmd":"meter","evse":1,"power_w":7400}     power drawn while the contactor is closed
  {"cmd":"clock","shift_s":3600}              opt-in lab aid: move the station's wall clock by N s
                                              (until the next BootNotification/Heartbeat time sync)
Station logs (every OCPP frame, "> " sent, "< " received) go to stderr.
"""
import asyncio
import json
import os
import sys

import boards
from device_model import ids
from lite_stack.clock import Clock
from lite_stack.station import Station


def settings_from_env(env=None):
    g = env.get if env is not None else os.getenv
    return {
        "csms_url": g("OCPP_CSMS_URL") or "ws://127.0.0.1:9000",
        "station_id": g("OCPP_STATION_ID") or "LITE-SIM-1",
        "password": g("OCPP_BASIC_AUTH_PASSWORD") or None,
        "security_profile": g("OCPP_SECURITY_PROFILE") or None,
        "csms_root_cert": g("OCPP_CSMS_ROOT_CERT") or None,
        "manufacturer_root_cert": g("OCPP_MANUFACTURER_ROOT_CERT") or None,
        "state_dir": g("OCPP_STATE_DIR") or "ocpp_state",
        "evses": int(g("OCPP_EVSES") or "1"),
        "exit_on_reset": (g("OCPP_EXIT_ON_RESET") or "") == "1",
        "board": g("OCPP_BOARD") or "desktop",
        "status": (g("OCPP_SIM_STATUS") or "") == "1",
    }


def log(text):
    sys.stderr.write(text + "\n")


def clock_event(line, clock):
    """The opt-in lab event {"cmd":"clock","shift_s":N}: move the wall clock by N s. Returns None
    when applied, an error string, or False when the line is not a clock event."""
    if '"clock"' not in line:
        return False
    try:
        ev = json.loads(line)
    except Exception:
        return False
    if not isinstance(ev, dict) or ev.get("cmd") != "clock":
        return False
    d = ev.get("shift_s")
    if not isinstance(d, int) or isinstance(d, bool):
        return "shift_s must be an integer"
    clock.set_time(clock.now() + d)
    return None


def apply_event(line, evse_hal, rfid):
    """Apply one stdin JSON line to the simulated hardware. Returns an error string or None."""
    try:
        ev = json.loads(line)
    except Exception:
        return "not JSON"
    if not isinstance(ev, dict):
        return "not a JSON object"
    cmd = ev.get("cmd")
    if cmd == "token":
        tid = ev.get("id")
        if not isinstance(tid, str) or not tid or len(tid) > 36:
            return "token needs an id string of 1..36 characters"
        t = ev.get("type", "ISO14443")
        if not isinstance(t, str):
            return "token type must be a string"
        rfid.swipe(tid, t)
        return None
    n = ev.get("evse", 1)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= len(evse_hal):
        return "unknown evse"
    if ev.get("connector", 1) != 1:
        return "unknown connector"
    h = evse_hal[n - 1]
    if cmd == "plug_in":
        h.pilot.plug_in()
    elif cmd == "plug_out":
        h.pilot.plug_out()
    elif cmd == "fault":
        h.fault_input.code = "Fault" if ev.get("on", True) else None
    elif cmd == "ev":
        st = ev.get("state")
        if st not in ("B", "C", "D"):
            return "ev state must be B, C or D"
        h.pilot.ev_state(st)
    elif cmd == "meter":
        p = ev.get("power_w")
        if not isinstance(p, (int, float)) or isinstance(p, bool) or p < 0:
            return "power_w must be a number >= 0"
        h.meter.set_load(int(p))
    else:
        return "unknown cmd"
    return None


async def _stdin_lines(on_line):
    if sys.implementation.name == "micropython":
        reader = asyncio.StreamReader(sys.stdin)
    else:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=4096)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        line = line.strip()
        if line:
            on_line(line.decode() if isinstance(line, bytes) else line)


def status(st, clock):
    """The OCPP_SIM_STATUS=1 line (JSON object): station identity and state, per EVSE its status.
    Reads only the station attributes that stay stable across the stack's redesign."""
    b = st.board
    evs = []
    for e in st.evses:
        m = e.hal.meter
        evs.append({"id": e.id, "status": e.status, "plugged": e.plugged, "fault": e.fault,
                    "pilot": e.hal.pilot.state(), "lock": None if e.hal.lock is None else "present",
                    "tx": e.tx.id if e.tx else None, "state": e.tx.state if e.tx else None,
                    "wh": m.energy_wh(), "w": m.power_w()})
    return {"station": st.station_id, "accepted": st.accepted, "registration": st.registration,
            "online": st.rpc.conn is not None, "txq": len(st.txq), "time": clock.now(),
            "vendor": b.VENDOR, "model": b.MODEL, "fw": b.FIRMWARE_VERSION, "serial": b.SERIAL,
            "profile": st.dm.get(ids.SECURITY_PROFILE), "evses": evs}


async def _status_task(holder, clock):
    last = None
    while True:
        st = holder[0]
        if st is not None:
            try:
                line = json.dumps(status(st, clock))
            except Exception as e:
                line = json.dumps({"error": str(e)})
            if line != last:
                last = line
                sys.stdout.write("@status " + line + "\n")
                if hasattr(sys.stdout, "flush"):
                    sys.stdout.flush()
        await asyncio.sleep(0.25)


async def main_async(settings=None):
    settings = settings or settings_from_env()
    board = boards.load(settings["board"])
    clock = Clock()
    hal = board.make_hal(clock, settings["evses"])
    evse_hal, rfid = hal
    holder = [None]

    def on_line(line):
        err = clock_event(line, clock)
        if err is False:
            err = apply_event(line, evse_hal, rfid)
        if err:
            log("bad event %r: %s" % (line[:80], err))
        elif holder[0]:
            holder[0].wake()

    # keep a reference: CPython's loop holds tasks weakly, and a collected reader task would
    # silently stop the hardware events ("Task was destroyed but it is pending")
    stdin_task = asyncio.create_task(_stdin_lines(on_line))  # noqa: F841
    if settings.get("status"):
        status_task = asyncio.create_task(_status_task(holder, clock))  # noqa: F841
    while True:
        station = Station(settings, board, clock, hal, log=log)
        holder[0] = station
        await station.run()
        log("Reset executed")
        if settings["exit_on_reset"]:
            return 0
        await clock.sleep(0.5)  # in-process reboot


def main():
    try:
        return asyncio.run(main_async())
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main() or 0)
