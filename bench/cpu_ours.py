"""Per-message CPU cost of the OCPP2.Lite stack, in-process and without sockets. Runs unchanged on
CPython (imported by bench/cpu.py) and on the MicroPython unix port (run as a script):

    micropython bench/cpu_ours.py time MODE N REPEATS WARMUP    -> one JSON line {case: [us, ...]}
    micropython bench/cpu_ours.py count MODE N [DOUBLE]         -> runs the cases (for callgrind)

(run from the repository root). MODE is "file" (device_model.store.Store in a fresh directory
under /dev/shm, else /tmp: the real persistence code, on a RAM file system so the figure is CPU,
not flash latency) or "mem" (an in-memory store: protocol work only).

One real ``lite_stack.station.Station`` (desktop board, 2 EVSEs on the simulated HAL, device
model, transaction queue; EVSE 1 has an open transaction, EVSE 2 is idle) is built without
``run()``: it is marked registered (BootNotification Accepted) and its ``Rpc`` gets a fake
connection. The fake connection plays a zero-latency CSMS: when the station
sends a CALL, ``send`` answers it at once by feeding the CALLRESULT text to ``Rpc.on_frame`` (so the
station parses and validates the answer exactly as off a socket, but no event-loop round trip is
forced). Sent frames are counted, not kept (bounded memory).

Cases (one "message" each; the same exchanges bench/cpu.py drives through the ``ocpp`` library):
- ``get_variables``: inbound GetVariables CALL with 2 items (ItemsPerMessage[GetVariables] = 2)
  -> CALLRESULT sent (B06).
- ``set_variables``: inbound SetVariables CALL with 2 items (HeartbeatInterval, TxUpdatedInterval,
  values alternating so every call changes and persists them) -> CALLRESULT sent (B05).
- ``request_start``: inbound RequestStartTransaction (evseId 2, remoteStartId) -> Accepted, the
  idle EVSE 2 holds the authorization (F01/F02).
- ``heartbeat``: outbound Heartbeat CALL, CALLRESULT {currentTime} parsed, validated, clock set
  (G02).
- ``transaction_event``: one TransactionEvent Updated (MeterValuePeriodic, TxUpdatedMeasurands
  sampled from the meter HAL): build, persist (queue entry + transaction state), read the queue
  head back, serialise, send, CALLRESULT validated, queue entry removed (E02, E11-E13: the path of
  ``Station._tx_task``).
"""
import asyncio
import json
import os
import sys

try:
    from bench.mpfs import rmtree
except ImportError:  # run as a script from the repository root: MicroPython puts bench/ first
    sys.path.insert(0, ".")
    from bench.mpfs import rmtree

try:
    from time import ticks_us, ticks_diff
except ImportError:  # CPython
    from time import perf_counter_ns

    def ticks_us():
        return perf_counter_ns() // 1000

    def ticks_diff(a, b):
        return a - b

CASES = ("get_variables", "set_variables", "request_start", "heartbeat", "transaction_event")
CURRENT_TIME = "2026-01-01T00:00:00Z"
TX_ID = "bench-tx-1"

# Inbound CALL frames: "%d" is the message counter (so every messageId differs).
GET_VARIABLES = ('[2,"g%d","GetVariables",{"getVariableData":['
                 '{"component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"}},'
                 '{"component":{"name":"AuthCtrlr"},"variable":{"name":"AuthorizeRemoteStart"}}]}]')
SET_VARIABLES = ('[2,"s%d","SetVariables",{"setVariableData":['
                 '{"attributeValue":"%d","component":{"name":"OCPPCommCtrlr"},'
                 '"variable":{"name":"HeartbeatInterval"}},'
                 '{"attributeValue":"%d","component":{"name":"SampledDataCtrlr"},'
                 '"variable":{"name":"TxUpdatedInterval"}}]}]')
REQUEST_START = ('[2,"r%d","RequestStartTransaction",{"idToken":{"idToken":"AB12CD34",'
                 '"type":"ISO14443"},"remoteStartId":%d,"evseId":2}]')
# CALLRESULT payloads the fake CSMS answers with, per action.
ANSWERS = {"Heartbeat": '{"currentTime":"%s"}' % CURRENT_TIME, "TransactionEvent": "{}"}


def message_id(text):
    """The messageId of a serialised CALL ``[2,"<id>",...``: the text between the first two quotes."""
    i = text.index('"') + 1
    return text[i:text.index('"', i)]


class FakeConn:
    """The station's connection: counts sends; answers the station's CALLs at once (zero-latency
    CSMS) through ``Rpc.on_frame``; inbound CALLs are fed by the bench."""

    def __init__(self, rpc):
        self.rpc = rpc
        self.sent = 0
        self.last = None

    async def send(self, text):
        self.sent += 1
        self.last = text
        if text[1] == "2":  # a CALL from the station: [2,"id","Action",...]
            mid = message_id(text)
            j = text.index('"', len(mid) + 5) + 1
            action = text[j:text.index('"', j)]
            await self.rpc.on_frame('[3,"%s",%s]' % (mid, ANSWERS.get(action, "{}")))

    async def close(self):
        pass


class MemStore:
    """In-memory stand-in for device_model.store.Store (same interface): "mem" mode."""

    def __init__(self):
        self.d = {}
        self.corrupt = []

    def load(self, name, default=None):
        return self.d.get(name, default)

    def save(self, name, obj):
        if self.d.get(name) == obj:
            return False
        self.d[name] = obj
        return True

    def remove(self, name):
        self.d.pop(name, None)

    def names(self, prefix=""):
        return sorted(n for n in self.d if n.startswith(prefix))


def state_dir():
    """A fresh directory on a RAM file system (/dev/shm when present, else /tmp)."""
    base = "/dev/shm"
    try:
        os.listdir(base)
    except OSError:
        base = "/tmp"
    path = "%s/ocpp2lite-bench-cpu-%s" % (base, "%08x" % int.from_bytes(os.urandom(4), "big"))
    rmtree(path)
    os.mkdir(path)
    return path


class Bench:
    """One station ready to take the cases. ``mode``: "file" or "mem". Call ``close()`` at the end."""

    def __init__(self, mode="file"):
        import boards
        from device_model import ids
        from lite_stack.clock import Clock
        from lite_stack.station import Station
        from lite_stack import meter
        self.ids = ids
        self.meter = meter
        self.mode = mode
        self.dir = state_dir()
        board = boards.load("desktop")
        clock = Clock()
        hal = board.make_hal(clock, 2)
        st = Station({"csms_url": "ws://bench", "station_id": "BENCH", "password": None,
                      "state_dir": self.dir, "evses": 2}, board, clock, hal, None, None)
        if mode == "mem":
            mem = MemStore()
            st.store = mem
            st.ctx.store = mem
            st.dm.store = mem
            st.txq.store = mem
        elif mode != "file":
            raise ValueError("mode must be file or mem")
        st.ctx.accepted = True
        st.ctx.registration = "Accepted"
        self.conn = FakeConn(st.rpc)
        st.rpc.conn = self.conn
        self.st = st
        self.evse = st.evses[0]
        self.n = 0
        # An open transaction for the TransactionEvent case (as after E02 Started).
        from lite_stack.blocks.transactions import Tx
        tx = Tx(TX_ID, {"idToken": "AB12CD34", "type": "ISO14443"}, None, None, clock.ms())
        tx.seq = 1
        self.evse.tx = tx
        h = self.evse.hal
        h.pilot.plug_in()
        h.pilot.set_current(board.MAX_CURRENT_A)
        h.contactor.close()
        h.meter._mwh = 12345678  # a meter that has counted 12 345 Wh (SimMeter keeps mWh)
        self.timeout = st.dm.get(ids.MESSAGE_TIMEOUT)

    def close(self):
        rmtree(self.dir)

    async def get_variables(self):
        self.n += 1
        await self.st.rpc.on_frame(GET_VARIABLES % self.n)

    async def set_variables(self):
        self.n += 1
        v = 300 + (self.n & 1)
        await self.st.rpc.on_frame(SET_VARIABLES % (self.n, v, v - 240))

    async def request_start(self):
        self.n += 1
        self.st.evses[1].auth = None   # an EVSE holding an authorization Rejects a remote start
        await self.st.rpc.on_frame(REQUEST_START % (self.n, self.n))

    async def heartbeat(self):
        await self.st.availability.heartbeat()

    async def transaction_event(self):
        st = self.st
        ev = self.evse
        mv = self.meter.sample(st.ctx, ev, self.ids.SAMPLED_TX_UPDATED_MEASURANDS, "Sample.Periodic")
        if not st.transactions.event(ev, "Updated", "MeterValuePeriodic",
                                     meter_values=[mv] if mv else None):
            raise RuntimeError("transaction queue full")
        handle, msg = st.txq.head()
        await st.rpc.call("TransactionEvent", msg, self.timeout)
        st.txq.pop(handle)

    def check(self):
        """Last frame sent must be a CALL or a CALLRESULT (never a CALLERROR): the bench measures
        the success paths. Raises AssertionError with the frame otherwise."""
        t = self.conn.last
        if t is None or t[1] not in "23":
            raise AssertionError("unexpected frame: %s" % t)


async def _time(bench, case, n, repeats, warmup):
    fn = getattr(bench, case)
    for _ in range(warmup):
        await fn()
    bench.check()
    out = []
    for _ in range(repeats):
        t0 = ticks_us()
        for _ in range(n):
            await fn()
        out.append(ticks_diff(ticks_us(), t0) / n)
    bench.check()
    return out


def time_cases(mode="file", n=200, repeats=7, warmup=20, cases=CASES):
    """{case: [microseconds per message, one per repeat]} for this interpreter."""
    async def main():
        b = Bench(mode)
        try:
            res = {}
            for c in cases:
                res[c] = await _time(b, c, n, repeats, warmup)
            return res
        finally:
            b.close()
    return asyncio.run(main())


def count_cases(mode="file", n=50, double=None, warmup=20, cases=CASES):
    """Run ``warmup`` + ``n`` messages of every case (``2n`` of case ``double``): the workload whose
    instruction count bench/cpu.py differences under callgrind. Returns messages sent."""
    async def main():
        b = Bench(mode)
        try:
            for c in cases:
                fn = getattr(b, c)
                k = warmup + (2 * n if c == double else n)
                for _ in range(k):
                    await fn()
                b.check()
            return b.conn.sent
        finally:
            b.close()
    return asyncio.run(main())


def main(argv):
    if len(argv) >= 2 and argv[1] == "time":
        mode, n, repeats, warmup = argv[2], int(argv[3]), int(argv[4]), int(argv[5])
        cases = argv[6].split(",") if len(argv) > 6 else CASES
        print(json.dumps(time_cases(mode, n, repeats, warmup, cases)))
    elif len(argv) >= 2 and argv[1] == "count":
        mode, n = argv[2], int(argv[3])
        double = argv[4] if len(argv) > 4 and argv[4] != "-" else None
        print(json.dumps({"sent": count_cases(mode, n, double)}))
    else:
        print("usage: cpu_ours.py time MODE N REPEATS WARMUP [CASES] | count MODE N [DOUBLE]")
        return 2
    return 0


if __name__ == "__main__":
    if "." not in sys.path:
        sys.path.insert(0, ".")  # run from the repository root (MicroPython puts bench/ first)
    sys.exit(main(sys.argv))
