"""``ocpp2lite score``: the footprint scoreboard. Any station that speaks the simulated-station
contract (docs/sim-contract.md) runs the same scripted Lite scenario against the embedded CSMS;
every byte it puts on the wire is counted (ocpp2lite/wire.py) and a month is extrapolated.

Desktop only (CPython 3.10+, Linux for the kernel segment counts); never imported by the stack.

The scenario (steps, numbered as in "crashed at step k"):
  1 connect   2 boot   3 configure (SetVariables, Lite tuning)   4 FullInventory (GetBaseReport)
  5-7 three charging sessions (card then plug; plug then card; plug, card and a power change),
      meter values every RUN["tx_updated_s"] s
  8 offline (the relay aborts the connection and refuses new ones; the station charges on, then
      the EV leaves: TransactionEvents are queued)   9 replay (back online: the queued events)
  10 Reset (Immediate; a station exiting with code 0 after it is restarted, as the contract says)
  11 idle (heartbeat and WebSocket PING at the intervals shortened for the run)

The month (``score_month.py``) multiplies the cost measured per event by the counts of the stated
usage profile: bench/data.py USAGE and its "lite" settings.
"""
import asyncio
import os
import signal
import tempfile
import shutil
import time

from ocpp2lite import wire
from ocpp2lite.csms import Csms, OcppCallError
from ocpp2lite.demo import ROOT, StationProcess

STEPS = ("connect", "boot", "configure", "FullInventory report", "session 1 (card, plug)",
         "session 2 (plug, card)", "session 3 (plug, card, power change)", "offline", "replay",
         "Reset", "idle")

# run-time settings (the real Lite values are in bench/data.py PROFILES["lite"]; score_month.py)
RUN = {
    "tx_updated_s": 3,        # SampledDataCtrlr.TxUpdatedInterval during the run (Lite: 900)
    "charge_s": 7,            # charging time of each session in the run
    "ping_s": 4,              # OCPPCommCtrlr.WebSocketPingInterval for Reset + idle (Lite: 240)
    "heartbeat_s": 6,         # BootNotification interval after the Reset (Lite: 86400)
    "idle_s": 24,             # the idle stretch
    "offline_s": 7,           # the station is offline this long (charging, then the EV leaves)
    "connect_s": 60,          # "no connection in N s"
    "step_s": 30,             # any other awaited message
    "flood_bytes": 5000000,   # more station bytes than this in one run: flooding, the run stops
    "flood_frames": 3000,
    "max_s": 300,             # the whole run of one contestant, whatever its steps do
}
TOKEN = "AB12CD34"
PASSWORD = "score-basic-auth-password"


class Stop(Exception):
    """The contestant's run ends early: ``row`` text says why."""


class Contestant(StationProcess):
    """A station command (shell string) in its own process group, so a kill reaches all of it."""

    async def start(self):
        self.proc = await asyncio.create_subprocess_exec(
            "/bin/sh", "-c", self.cmd[0], stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=self.env, cwd=self.cwd, start_new_session=True)
        self._readers = [asyncio.ensure_future(self._pump(self.proc.stderr, self._err, None)),
                         asyncio.ensure_future(self._pump(self.proc.stdout, self._out, None))]
        return self

    async def stop(self, timeout=3):
        p = self.proc
        if p is not None and p.returncode is None:
            try:
                p.stdin.close()
                os.killpg(p.pid, signal.SIGTERM)
                await asyncio.wait_for(p.wait(), timeout)
            except (ProcessLookupError, asyncio.TimeoutError, OSError):
                pass
        if p is not None:
            try:
                os.killpg(p.pid, signal.SIGKILL)   # whatever the group still holds
            except (ProcessLookupError, PermissionError):
                pass
            await asyncio.wait([asyncio.ensure_future(p.wait())], timeout=5)
        await self._drain_readers(1)
        for r in self._readers:
            r.cancel()
        return None if p is None else p.returncode


def _tls_setup(tmp):
    """A test PKI (ocpp2lite.pki, PyPI cryptography); the CSMS serves its EC P-256 leaf alone (the
    station holds the root as CSMSRootCertificate), as bench/data.py's Lite profile assumes."""
    import ssl
    from ocpp2lite.pki import make_pki, pem
    d = os.path.join(tmp, "pki")
    os.mkdir(d)
    pki = make_pki(d)
    pki["leaf_pem"] = os.path.join(d, "leaf.pem")
    with open(pki["leaf_pem"], "wb") as f:
        f.write(pem(pki["srv"]))
    return pki, ssl


class Run:
    """One contestant, one run of the scenario. ``await go()`` returns the result dict (never raises)."""

    def __init__(self, name, cmd, tls=False, run=None, progress=None):
        self.name, self.cmd, self.tls = name, cmd, tls
        self.run = dict(RUN, **(run or {}))
        self.progress = progress or (lambda *a: None)
        self.meter = wire.Meter()
        self.windows = {}
        self.step = 0
        self.restarts = 0
        self.notes = []

    # ---- helpers -------------------------------------------------------------------------------
    def _at(self, k):
        self.step = k
        self.progress(self.name, k, STEPS[k - 1])

    async def _guard(self, aw, what, timeout=None):
        """Await aw with a time limit, failing fast when the process exits or floods."""
        task = asyncio.ensure_future(asyncio.wait_for(aw, timeout or self.run["step_s"]))
        try:
            while not task.done():
                done, _ = await asyncio.wait([task], timeout=0.2)
                if done:
                    break
                self._check()
        except BaseException:      # Stop, or the whole run's time limit: leave no waiter behind
            task.cancel()
            raise
        try:
            return task.result()
        except asyncio.TimeoutError:
            raise Stop("failed at step %d (%s): no %s in %s s"
                       % (self.step, STEPS[self.step - 1], what, timeout or self.run["step_s"]))
        except ConnectionError as e:
            raise Stop("failed at step %d (%s): %s" % (self.step, STEPS[self.step - 1], e))

    def _check(self):
        rc = self.st.returncode
        if rc is not None and not self._exit_ok:
            raise Stop("crashed at step %d (%s): exit code %s" % (self.step, STEPS[self.step - 1], rc))
        s = self.meter.snapshot()
        frames = s["up_frames"] + s["up_ctrl_frames"]
        if s["up_raw"] > self.run["flood_bytes"] or frames > self.run["flood_frames"]:
            raise Stop("flooded at step %d (%s): %d B, %d frames sent; run stopped"
                       % (self.step, STEPS[self.step - 1], s["up_raw"], frames))

    async def _sleep(self, s):
        end = time.monotonic() + s
        while time.monotonic() < end:
            await asyncio.sleep(min(0.2, end - time.monotonic()))
            self._check()

    def _window(self, name, since_snap, since_frame):
        s = self.meter.snapshot()
        d = {k: s[k] - since_snap.get(k, 0) for k in s if k != "tcp_info"}
        d["tcp_info"] = s["tcp_info"]
        d["frames_list"] = [(f.sender, f.kind, f.action, len(f.text.encode()) if isinstance(f.text, str)
                             else len(f.text), (f.payload or {}).get("triggerReason"))
                            for f in self.csms.frames(since_frame)]
        self.windows.setdefault(name, []).append(d)
        return s

    async def _send(self, ev):
        try:
            await self.st.send(ev)
        except (ConnectionError, OSError, RuntimeError):
            self._check()
            raise Stop("crashed at step %d (%s): stdin closed" % (self.step, STEPS[self.step - 1]))

    async def _call(self, action, payload):
        try:
            return await self._guard(self.csms.call(action, payload, timeout=self.run["step_s"],
                                                    station=self.sid), "%s answer" % action)
        except OcppCallError as e:
            self.notes.append("%s: CALLERROR %s" % (action, e.code))
            return None

    async def _set(self, items):
        data = [{"component": {"name": c}, "variable": {"name": v}, "attributeValue": val}
                for c, v, val in items]
        r = await self._call("SetVariables", {"setVariableData": data})
        out = {}
        for x in (r or {}).get("setVariableResult", []):
            out[x["variable"]["name"]] = x.get("attributeStatus")
        return out

    # ---- the scenario ----------------------------------------------------------------------------
    async def go(self):
        t0 = time.monotonic()
        self.tmp = tempfile.mkdtemp(prefix="ocpp2lite-score-")
        self._exit_ok = False
        status = "ok"
        self.csms = self.proxy = self.st = None
        try:
            await self._setup()
            try:
                await asyncio.wait_for(self._scenario(), self.run["max_s"])
            except asyncio.TimeoutError:
                raise Stop("timed out after %s s at step %d (%s)" % (self.run["max_s"], self.step,
                                                                    STEPS[self.step - 1]))
        except Stop as e:
            status = str(e)
        except Exception as e:   # a scoreboard bug must not take the other rows down
            status = "scoreboard error at step %d: %s: %s" % (self.step, type(e).__name__, e)
        finally:
            await self._teardown()
        return {"name": self.name, "cmd": self.cmd, "status": status, "tls": self.tls,
                "steps_passed": len(STEPS) if status == "ok" else max(0, self.step - 1),
                "steps": len(STEPS), "wall_s": round(time.monotonic() - t0, 1), "windows": self.windows,
                "set_variables": getattr(self, "set_results", {}),
                "set_variables_idle": getattr(self, "set_results_idle", {}), "notes": self.notes,
                "total": self.meter.snapshot(), "connections": self.meter.per_connection(), "restarts": self.restarts,
                "sizes_up": self.meter.sizes(True), "sizes_down": self.meter.sizes(False),
                "messages": self._messages(), "stderr_tail": self.st.stderr_text()[-2000:] if self.st else "",
                "run": self.run}

    def _messages(self):
        out = {}
        for f in (self.csms.frames() if self.csms else []):
            key = "%s %s%s" % ("CS->CSMS" if f.sender == "CS" else "CSMS->CS", f.action or "?",
                               {2: "", 3: ".result", 4: ".error"}.get(f.kind, " (raw)"))
            out[key] = out.get(key, 0) + 1
        return out

    async def _setup(self):
        kw = {}
        if self.tls:
            pki, ssl = _tls_setup(self.tmp)
            kw = {"tls_cert": pki["leaf_pem"], "tls_key": pki["srv_key"], "password": PASSWORD}
        self.csms = Csms(tokens=(TOKEN,), heartbeat_interval=86400, ping_interval=None,
                         connection_class=wire.counting_connection(self.meter), **kw)
        if self.tls:   # every handshake message in plaintext-typed records (see ocpp2lite/wire.py)
            self.csms.tls.maximum_version = ssl.TLSVersion.TLSv1_2
        await self.csms.start()
        self.proxy = wire.CountingProxy(self.meter, self.csms.port, tls=self.tls)
        await self.proxy.online()
        self.sid = "SCORE-1"
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("OCPP_"):
                del env[k]
        env.update({"PYTHONPATH": ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""),
                    "PYTHONUNBUFFERED": "1", "OCPP_STATION_ID": self.sid,
                    "OCPP_STATE_DIR": os.path.join(self.tmp, "state"),
                    "OCPP_CSMS_URL": "%s://127.0.0.1:%d" % ("wss" if self.tls else "ws", self.proxy.port)})
        if self.tls:
            env.update({"OCPP_BASIC_AUTH_PASSWORD": PASSWORD, "OCPP_CSMS_ROOT_CERT": pki["root_cert_pem"],
                        "OCPP_SECURITY_PROFILE": "2"})
        os.mkdir(env["OCPP_STATE_DIR"])
        self.st = Contestant([self.cmd], env=env, cwd=ROOT)
        await self.st.start()

    async def _teardown(self):
        if self.st is not None:
            await self.st.stop()
        if self.proxy is not None:
            await self.proxy.close()
        if self.csms is not None:
            await self.csms.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    async def _scenario(self):
        R, c = self.run, self.csms
        self._at(1)
        snap, mark = self.meter.snapshot(), 0
        try:
            await self._guard(c.wait_connected(self.sid, timeout=R["connect_s"]), "connection", R["connect_s"] + 1)
        except Stop as e:
            if "no connection" in str(e):
                raise Stop("no connection in %s s" % R["connect_s"])
            raise
        self._at(2)
        _, i = await self._guard(c.wait_for("BootNotification", station=self.sid), "BootNotification")
        await self._sleep(2)
        snap = self._window("connect & boot", snap, mark)
        self._at(3)
        mark = c.mark()
        self.set_results = await self._set([
            ("SampledDataCtrlr", "TxUpdatedInterval", str(R["tx_updated_s"])),
            ("SampledDataCtrlr", "TxUpdatedMeasurands", "Energy.Active.Import.Register"),
            ("AlignedDataCtrlr", "Interval", "0"),
            ("OCPPCommCtrlr", "WebSocketPingInterval", "240"),
            ("OCPPCommCtrlr", "RetryBackOffWaitMinimum", "1"),
            ("OCPPCommCtrlr", "RetryBackOffRandomRange", "0")])
        snap = self._window("configure", snap, mark)
        self._at(4)
        mark = c.mark()
        r = await self._call("GetBaseReport", {"requestId": 1, "reportBase": "FullInventory"})
        if r and r.get("status") == "Accepted":
            await self._guard(c.wait_for("NotifyReport", lambda p: not p.get("tbc"), since=mark,
                                         station=self.sid), "last NotifyReport")
        else:
            self.notes.append("GetBaseReport FullInventory: %s" % ((r or {}).get("status") or "no answer"))
        await self._sleep(0.5)
        snap = self._window("report", snap, mark)
        orders = (("token", "plug"), ("plug", "token"), ("plug", "token", "power"))
        for n, order in enumerate(orders):
            self._at(5 + n)
            mark = c.mark()
            await self._session(order, mark)
            snap = self._window("session", snap, mark)
        self._at(8)
        mark = c.mark()
        await self._start_tx(("plug", "token"), mark)
        await self._sleep(1)
        await self.proxy.offline()
        await self._sleep(R["offline_s"])
        await self._send({"cmd": "plug_out", "evse": 1, "connector": 1})
        await self._sleep(1.5)
        snap = self._window("offline", snap, mark)   # bytes of the connection cut by the loss
        self._at(9)
        mark = c.mark()
        await self.proxy.online()
        await self._guard(c.wait_connected(self.sid, timeout=R["step_s"]), "reconnection")
        await self._guard(c.wait_for("TransactionEvent", lambda p: p.get("eventType") == "Ended",
                                     since=mark, station=self.sid), "replayed TransactionEvent Ended")
        await self._sleep(1.5)
        snap = self._window("replay", snap, mark)
        self._at(10)
        mark = c.mark()
        c.heartbeat_interval = R["heartbeat_s"]
        self.set_results_idle = await self._set([("OCPPCommCtrlr", "WebSocketPingInterval", str(R["ping_s"]))])
        self._exit_ok = True
        r = await self._call("Reset", {"type": "Immediate"})
        if not r or r.get("status") != "Accepted":
            self.notes.append("Reset: %s" % ((r or {}).get("status") or "no answer"))
        boot = asyncio.ensure_future(c.wait_for("BootNotification", since=mark, station=self.sid,
                                                timeout=R["step_s"]))
        while not boot.done():
            await asyncio.sleep(0.2)
            if self.st.returncode == 0:          # exit on Reset: the supervisor restarts it
                self.restarts += 1
                await self.st.start()
            elif self.st.returncode is not None:
                boot.cancel()
                self._exit_ok = False
                self._check()
        self._exit_ok = False
        try:
            boot.result()
        except asyncio.TimeoutError:
            raise Stop("failed at step 10 (Reset): no BootNotification in %s s" % R["step_s"])
        await self._sleep(2)
        snap = self._window("Reset", snap, mark)
        self._at(11)
        mark = c.mark()
        await self._sleep(R["idle_s"])
        self._window("idle", snap, mark)
        self.progress(self.name, len(STEPS) + 1, "done")

    async def _start_tx(self, order, mark):
        for what in order:
            if what == "plug":
                await self._send({"cmd": "plug_in", "evse": 1, "connector": 1})
            elif what == "token":
                await self._send({"cmd": "token", "id": TOKEN, "type": "ISO14443"})
            else:
                await self._send({"cmd": "meter", "evse": 1, "power_w": 3000})
            await self._sleep(0.3)
        await self._guard(self.csms.wait_for("TransactionEvent", lambda p: p.get("eventType") == "Started",
                                             since=mark, station=self.sid), "TransactionEvent Started")

    async def _session(self, order, mark):
        await self._start_tx(order, mark)
        await self._sleep(self.run["charge_s"])
        await self._send({"cmd": "plug_out", "evse": 1, "connector": 1})
        await self._guard(self.csms.wait_for("TransactionEvent", lambda p: p.get("eventType") == "Ended",
                                             since=mark, station=self.sid), "TransactionEvent Ended")
        await self._sleep(1)


async def score(stations, tls=False, repeat=1, run=None, progress=None):
    """Run every (name, command) repeat times, one after the other; return the list of results."""
    results = []
    for name, cmd in stations:
        for k in range(repeat):
            results.append(await Run(name, cmd, tls, run, progress).go())
    return results
