"""RAM bench, board side: the Core day in-process, heap samples printed as lines.

bench/port.py sends this text over a board's raw REPL (nothing is copied to the board; the stack is
the firmware's frozen modules), prefixed with one line ``OPTS = {...}``; on the unix port
``micropython bench/ram_board.py`` runs it from the repository root. Keys of OPTS: ``board``
(boards.<name>; default fw_image.OCPP_BOARD, else "desktop"), ``state_dir`` (persisted state of
the run, removed at the end; default "/ram_bench_state"), ``feed_wdt`` (feed machine.WDT, for a
firmware whose main.py already started the watchdog), ``rom`` (unix port: a ROMFS image of the stack's .mpy files to mount at /rom and
import from, ``bench.ram.build_rom``), ``day`` ("transfer": the file transfer day of
bench/ram_transfer.py, which the host prepends; else the Core day), ``imports`` (dotted names of every stack module
to import before the ``stack`` sample; the host lists the packages, bench.port.stack_imports, so no
module of the stack is named here except the few this script uses itself).

The station is ``lite_stack.station.Station`` on a ``VirtualClock`` (simulated time: the run takes
seconds) with a small simulated EVSE (pilot, contactor, meter, card reader) and an in-memory CSMS
(``ws_factory``): no sockets, so the figures are the stack's own GC heap (on ESP32 and RP2040 the
lwIP buffers are outside the GC heap). The in-memory CSMS and simulated hardware live in the same
heap: a few hundred bytes of the working set are theirs. Steps as in bench/ram.py: boot,
SetVariables, GetVariables, GetBaseReport, local transaction with periodic and clock-aligned meter
values, remote transaction, TriggerMessage, offline period with replay, Reset and reboot.

Output: ``@P pool``, ``@R label bytes`` (``gc.collect(); gc.mem_alloc()``), ``@Q label`` + qstr_info,
``@END ok`` or ``@END fail <reason>``.
"""
import gc
import sys

gc.collect()
_start = gc.mem_alloc()
_pool = gc.mem_free() + _start
try:
    OPTS  # noqa: F821 - set by bench/port.py
except NameError:
    OPTS = {}
if "" not in sys.path:
    sys.path.append("")
_cur = [""]


def sample(label):
    gc.collect()
    print("@R", label, gc.mem_alloc())


def _qstr(label):
    try:
        import micropython
        print("@Q", label)
        micropython.qstr_info()
    except (ImportError, AttributeError):
        pass


def _out_label(text):
    k = text[1:2]
    if k == "2":
        return "tx:" + text[:120].split('"')[3]
    if k == "3":
        return "tx:" + _cur[0] + ".conf"
    return "tx:CALLERROR"


def install_probes(Rpc):
    send0, frame0, call0, answer0 = Rpc._send, Rpc.on_frame, Rpc._on_call, Rpc._on_answer

    async def _send(self, text):
        sample(_out_label(text))
        await send0(self, text)
        sample("tx:done")

    async def on_frame(self, text):
        sample("rx:frame")
        await frame0(self, text)

    async def _on_call(self, mid, action, payload):
        _cur[0] = action
        sample("rx:" + action)
        await call0(self, mid, action, payload)

    def _on_answer(self, kind, mid, msg):
        p = self._pending
        sample("rx:%s%s" % (p[1] if p else "?", ".conf" if kind == 3 else ".error"))
        answer0(self, kind, mid, msg)

    Rpc._send = _send
    Rpc.on_frame = on_frame
    Rpc._on_call = _on_call
    Rpc._on_answer = _on_answer


# ---- simulated hardware (hal interfaces) ------------------------------------------------------

class Pilot:
    def __init__(self):
        self.plugged = False
        self.amps = 0

    def state(self):
        return ("C" if self.amps >= 6 else "B") if self.plugged else "A"

    def set_current(self, amps):
        self.amps = amps

    def duty_permille(self):
        return 1000


class Contactor:
    def __init__(self, pilot):
        self.pilot = pilot
        self.closed = False

    def close(self):
        self.closed = self.pilot.state() == "C"
        return self.closed

    def open(self):
        self.closed = False

    def is_closed(self):
        if self.pilot.state() != "C":
            self.closed = False
        return self.closed

    def fault(self):
        return None


class Meter:
    measurands = ("Energy.Active.Import.Register", "Power.Active.Import")

    def __init__(self, clock, contactor):
        self.clock = clock
        self.contactor = contactor
        self.mwh = 0
        self.t = clock.ms()

    def energy_wh(self):
        t = self.clock.ms()
        if self.contactor.is_closed():
            self.mwh += 7400 * (t - self.t) // 3600
        self.t = t
        return self.mwh // 1000

    def power_w(self):
        return 7400 if self.contactor.is_closed() else 0

    def read(self, m):
        return self.energy_wh() if m == "Energy.Active.Import.Register" else self.power_w()


class Rfid:
    def __init__(self):
        self.pending = None

    def poll(self):
        p = self.pending
        self.pending = None
        return p


# ---- in-memory CSMS -----------------------------------------------------------------------------

class Conn:
    def __init__(self, csms):
        self.csms = csms
        self.inbox = []
        self.closed = False
        import asyncio
        self.ev = asyncio.Event()

    async def send(self, text):
        if self.closed:
            raise OSError(9)
        self.csms.on_frame(self, text)

    async def recv(self):
        while not self.inbox:
            if self.closed:
                return None
            self.ev.clear()
            await self.ev.wait()
        return self.inbox.pop(0)

    def push(self, text):
        self.inbox.append(text)
        self.ev.set()

    async def ping(self):
        pass

    async def close(self):
        self.closed = True
        self.ev.set()


class Csms:
    """Answers the station's CALLs; ``expect(pred)`` arms one predicate (action, payload) -> value
    checked on every station CALL; keeps counters only (it shares the heap being measured)."""

    def __init__(self, clock):
        import asyncio
        self.clock = clock
        self.conn = None
        self.online = True
        self.pred = None
        self.hit = None
        self.ev = asyncio.Event()
        self.n = 0
        self.answer = None
        self.offline_events = 0

    async def factory(self, url, auth, max_frame, clock):
        if not self.online:
            raise OSError(111)
        self.conn = Conn(self)
        return self.conn

    def drop(self):
        if self.conn:
            self.conn.closed = True
            self.conn.ev.set()
            self.conn = None

    def on_frame(self, conn, text):
        import json
        from lite_stack.clock import iso
        if not text.startswith("[2"):
            # an answer to the CSMS's CALL: kept as the station's own text (parsed by call() once
            # the station is done with it), so the samples taken while the station sends it do not
            # count the CSMS's parsed copy as the station's working set
            self.answer = text
            self.ev.set()
            return
        if text.startswith('[2,"') and text.find('"NotifyReport"', 0, 80) > 0:
            # a report part: the CSMS needs only its id and tbc; parsing it would put a copy of
            # every item (as dicts) into the heap being measured
            f = [2, text[4:text.index('"', 4)], "NotifyReport",
                 {"tbc": True} if text.find('"tbc":true') > 0 else {}]
        else:
            f = json.loads(text)
        action, p = f[2], f[3]
        r = {}
        if action in ("BootNotification", "Heartbeat"):
            r["currentTime"] = iso(self.clock.now())
            if action == "BootNotification":
                r["interval"] = 300
                r["status"] = "Accepted"
        elif action == "Authorize" or (action == "TransactionEvent" and "idToken" in p):
            r["idTokenInfo"] = {"status": "Accepted"}
        if action == "TransactionEvent" and p.get("offline"):
            self.offline_events += 1
        conn.push(json.dumps([3, f[1], r]))
        if self.pred is not None and self.hit is None:
            v = self.pred(action, p)
            if v:
                self.hit = v
                self.ev.set()

    def expect(self, pred):
        self.pred = pred
        self.hit = None

    async def wait(self, what, timeout=60):
        t0 = self.clock.ms()
        while self.hit is None:
            if self.clock.ms() - t0 > timeout * 1000:
                raise AssertionError("timed out: " + what)
            self.ev.clear()
            await self.clock.wait(self.ev, 0.5)
        self.pred = None
        return self.hit

    async def call(self, action, payload, ok=None, timeout=60):
        """Send the CALL ``action`` with ``payload`` (JSON text) and wait for its CALLRESULT;
        ``ok(result payload)`` must be true. Returns nothing: a request or an answer held in the
        caller's frame (a local, or a stale slot of its value stack) would stay in the measured
        heap as if it were the station's."""
        import json
        self.n += 1
        self.answer = None
        self.conn.push('[2,"csms-%d","%s",%s]' % (self.n, action, payload))
        t0 = self.clock.ms()
        while self.answer is None:
            if self.clock.ms() - t0 > timeout * 1000:
                raise AssertionError("no answer to " + action)
            self.ev.clear()
            await self.clock.wait(self.ev, 0.5)
        a = json.loads(self.answer)
        self.answer = None
        if a[0] != 3:
            raise AssertionError("%s: CALLERROR %s" % (action, a[2]))
        if ok is not None and not ok(a[2]):
            raise AssertionError("%s: %s" % (action, a[2]))


def te(kind, trig=None, key=None, val=None):
    def pred(action, p):
        if action != "TransactionEvent" or p["eventType"] != kind:
            return None
        if trig is not None and p["triggerReason"] != trig:
            return None
        if key is not None and p["transactionInfo"].get(key) != val:
            return None
        return p["transactionInfo"]["transactionId"]
    return pred


def is_action(name, test=None):
    def pred(action, p):
        return action == name and (test is None or test(p))
    return pred


# The CSMS's requests as JSON text constants (compiled with this script, before the samples that
# count): SetVariables TxUpdatedInterval=1, Interval=2, RetryBackOffWaitMinimum=1,
# RetryBackOffRandomRange=0, RetryBackOffRepeatTimes=0; GetVariables of five variables and an
# unknown one.
SET_VARIABLES = (
    '{"setVariableData":[{"component":{"name":"SampledDataCtrlr"},"variable":{"name":"TxUpdatedInterv'
    'al"},"attributeValue":"1"},{"component":{"name":"AlignedDataCtrlr"},"variable":{"name":"Interval'
    '"},"attributeValue":"2"},{"component":{"name":"OCPPCommCtrlr"},"variable":{"name":"RetryBackOffW'
    'aitMinimum"},"attributeValue":"1"},{"component":{"name":"OCPPCommCtrlr"},"variable":{"name":"Ret'
    'ryBackOffRandomRange"},"attributeValue":"0"},{"component":{"name":"OCPPCommCtrlr"},"variable":{"'
    'name":"RetryBackOffRepeatTimes"},"attributeValue":"0"}]}')
GET_VARIABLES = (
    '{"getVariableData":[{"component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"'
    '}},{"component":{"name":"SampledDataCtrlr"},"variable":{"name":"TxUpdatedInterval"}},{"component'
    '":{"name":"AlignedDataCtrlr"},"variable":{"name":"Interval"}},{"component":{"name":"ChargingStat'
    'ion"},"variable":{"name":"AvailabilityState"}},{"component":{"name":"SecurityCtrlr"},"variable":'
    '{"name":"SecurityProfile"}},{"component":{"name":"NoSuchCtrlr"},"variable":{"name":"NoSuchVariab'
    'le"}}]}')


def _all_accepted(p):
    for x in p["setVariableResult"]:
        if x["attributeStatus"] != "Accepted":
            return False
    return True


async def core_day(csms, st_holder, evse_hw, rfid, clock):
    async def mark(label):
        sample("step:" + label)

    async def settle(s):
        await clock.sleep(s)

    def wake():
        st_holder[0].wake()
    pilot = evse_hw.pilot

    csms.expect(is_action("SecurityEventNotification"))
    await csms.wait("boot")
    await mark("boot")
    await csms.call("SetVariables", SET_VARIABLES, _all_accepted)
    await mark("set_variables")
    await csms.call("GetVariables", GET_VARIABLES)
    await mark("get_variables")
    csms.expect(is_action("NotifyReport", lambda p: not p.get("tbc")))
    await csms.call("GetBaseReport", '{"requestId":7,"reportBase":"FullInventory"}')
    await csms.wait("NotifyReport")
    await mark("base_report")

    csms.expect(te("Started"))
    pilot.plugged = True
    rfid.pending = ("AB12CD34", "ISO14443")
    wake()
    await csms.wait("local Started")
    await mark("local_tx_started")
    for trig in ("MeterValuePeriodic", "MeterValuePeriodic", "MeterValueClock"):
        csms.expect(te("Updated", trig))
        await csms.wait(trig)
    await mark("local_tx_metering")
    csms.expect(te("Ended"))
    pilot.plugged = False
    wake()
    await csms.wait("local Ended")
    await mark("local_tx_ended")

    csms.expect(te("Started", None, "remoteStartId", 42))
    await csms.call("RequestStartTransaction",
                    '{"idToken":{"idToken":"AB12CD34","type":"ISO14443"},"remoteStartId":42,"evseId":1}')
    pilot.plugged = True
    wake()
    tid = await csms.wait("remote Started")
    csms.expect(te("Updated", "MeterValuePeriodic"))
    await csms.wait("remote Updated")
    await mark("remote_tx_started")
    csms.expect(te("Ended", "RemoteStop"))
    await csms.call("RequestStopTransaction", '{"transactionId":"%s"}' % tid)
    await csms.wait("remote Ended")
    csms.expect(is_action("StatusNotification", lambda p: p["connectorStatus"] == "Available"))
    pilot.plugged = False
    wake()
    await csms.wait("Available")
    await mark("remote_tx_ended")

    csms.expect(is_action("StatusNotification"))
    await csms.call("TriggerMessage",
                    '{"requestedMessage":"StatusNotification","evse":{"id":1,"connectorId":1}}')
    await csms.wait("triggered StatusNotification")
    csms.expect(is_action("MeterValues"))
    await csms.call("TriggerMessage", '{"requestedMessage":"MeterValues","evse":{"id":1}}')
    await csms.wait("triggered MeterValues")
    await mark("trigger")

    csms.expect(te("Started"))
    pilot.plugged = True
    rfid.pending = ("AB12CD34", "ISO14443")
    wake()
    await csms.wait("offline-test Started")
    await mark("offline_tx_started")
    csms.online = False
    csms.drop()
    await settle(0.2)
    await mark("offline")
    await settle(3.2)
    pilot.plugged = False
    wake()
    await settle(0.8)
    await mark("offline_queued")
    csms.expect(te("Ended"))
    csms.online = True
    await csms.wait("replayed Ended")
    if csms.offline_events < 2:
        raise AssertionError("offline events replayed: %d" % csms.offline_events)
    await mark("replayed")

    csms.expect(is_action("BootNotification", lambda p: p["reason"] == "RemoteReset"))
    await csms.call("Reset", '{"type":"Immediate"}')
    await mark("reset")
    await csms.wait("BootNotification RemoteReset")
    csms.expect(is_action("SecurityEventNotification"))
    await csms.wait("SecurityEventNotification after reboot")
    await mark("rebooted")
    await settle(1)
    await mark("end")


def _rmtree(path):
    import os
    try:
        names = os.listdir(path)
    except OSError:
        return
    for n in names:
        try:
            os.remove(path + "/" + n)
        except OSError:
            _rmtree(path + "/" + n)
    try:
        os.rmdir(path)
    except OSError:
        pass


def main():
    print("@P", _pool)
    sample("start")
    if OPTS.get("rom"):
        # unix port: the stack's .mpy files in a ROMFS image (bench.ram.build_rom) executed in
        # place, as frozen bytecode on a board (the image's heap block is the "image" phase)
        import os
        import vfs
        img = bytearray(os.stat(OPTS["rom"])[6])
        with open(OPTS["rom"], "rb") as f:
            f.readinto(img)
        vfs.mount(vfs.VfsRom(img), "/rom")
        sys.path.insert(0, "/rom")
        sample("image")
    import asyncio
    import json  # noqa: F401
    for name in ("Event", "Lock", "wait_for"):
        getattr(asyncio, name)
    sample("sys")
    _qstr("sys")
    # Every stack module before the "stack" sample (the stack imports some lazily): the host sends
    # the list (OPTS["imports"], found by listing the packages: bench.port.stack_imports); without
    # it, the modules this script uses itself.
    for name in OPTS.get("imports") or ("boards", "hal", "lite_stack.core.rpc", "lite_stack.clock",
                                        "lite_stack.station"):
        __import__(name)
    import boards
    from lite_stack.core import rpc
    from lite_stack.station import Station
    import hal
    name = OPTS.get("board")
    if not name:
        try:
            from fw_image import OCPP_BOARD as name
        except ImportError:
            name = "desktop"
    board = boards.load(name)
    sample("stack")
    _qstr("stack")
    # the bench's simulated time (a station on a board never imports it): harness, like the probes
    from lite_stack.vclock import VirtualClock
    install_probes(rpc.Rpc)
    transfer = OPTS.get("day") == "transfer"
    if transfer:  # bench/ram_transfer.py, prepended by the host
        transfer_prepare(board)  # noqa: F821
    sample("probes")
    state = OPTS.get("state_dir") or "/ram_bench_state"
    _rmtree(state)
    clock = VirtualClock()
    csms = Csms(clock)
    pilot = Pilot()
    contactor = Contactor(pilot)
    evse_hw = hal.Evse(pilot, contactor, Meter(clock, contactor))
    rfid = Rfid()
    settings = {"csms_url": "ws://csms", "station_id": "RAM-BOARD-1", "state_dir": state, "evses": 1,
                "poll_ms": 100}
    holder = [None]
    wdt = None
    if OPTS.get("feed_wdt"):
        import machine
        wdt = machine.WDT(timeout=8000)

    async def stations():
        while True:
            holder[0] = Station(settings, board, clock, ([evse_hw], rfid), csms.factory)
            await holder[0].run()
            await clock.sleep(0.5)

    async def run():
        drv = asyncio.create_task(clock.run())
        loop = asyncio.create_task(stations())
        if wdt:
            async def feed():
                while True:
                    wdt.feed()
                    await asyncio.sleep_ms(500)
            asyncio.create_task(feed())
        try:
            await (transfer_day if transfer else core_day)(csms, holder, evse_hw, rfid, clock)  # noqa: F821
        finally:
            loop.cancel()
            drv.cancel()
    ok = "ok"
    try:
        asyncio.run(run())
    except Exception as e:
        ok = "fail %s: %s" % (type(e).__name__, e)
    _rmtree(state)
    print("@END", ok)


main()
