"""End-to-end harness: the simulated Charging Station as a subprocess against the embedded CSMS.

CPython only (pytest side). Every scenario is an ``async def scenario(csms, station)``; run it with
:func:`run_scenario` on each interpreter via the ``interp`` fixture of tests/conftest.py::

    def test_B01_boot_accepted_TC_B_01_CS(interp):
        async def scenario(csms, st):
            boot, i = await csms.wait_for("BootNotification", timeout=30)
            await csms.wait_for("StatusNotification", since=i + 1)
        run_scenario(scenario, interp)

run_scenario starts a :class:`ocpp2lite.csms.Csms` on a free loopback port, starts the station
(interp "cpython": ``python -m ocpp2lite sim``; "micropython": ``micropython -m lite_stack.sim`` with
cwd = repository root; "fake": the reference station at the bottom of this file), runs the
scenario with a time limit, asserts that the CSMS saw no schema violations, and always stops both.
On failure it raises :class:`ScenarioFailed` whose message carries the CSMS transcript tail and the
station's stderr tail.

``python -m tests.harness fake-station`` runs the reference station: a small station written with
the ``ocpp`` library, used to test the CSMS, the demo and this harness independently of lite_stack.
"""
import asyncio
import os
import shutil
import sys
import tempfile

from ocpp2lite.csms import Csms, now_iso
from ocpp2lite.demo import StationProcess, station_env
from tests.mp import ROOT, micropython_cmd

INTERPRETERS = ("cpython", "micropython")


def station_cmd(interp):
    """argv of the station for interp "cpython" | "micropython" | "fake". With the environment
    variable OCPP2LITE_E2E_STATION set (a shell command of any station following docs/sim-contract.md;
    ``ocpp2lite score --scenarios`` sets it), every interp runs that command instead."""
    other = os.environ.get("OCPP2LITE_E2E_STATION")
    if other:
        return ["/bin/sh", "-c", "exec " + other]
    if interp == "cpython":
        return [sys.executable, "-m", "ocpp2lite", "sim"]
    if interp == "micropython":
        return micropython_cmd() + ["-m", "lite_stack.sim"]
    if interp == "fake":
        return [sys.executable, "-m", "tests.harness", "fake-station"]
    raise ValueError("unknown interpreter %r" % (interp,))


class Station(StationProcess):
    """The station subprocess of one scenario.

    Station(interp, csms_url, station_id="CS001", state_dir=None, password=None, evses=None,
            exit_on_reset=False, env=None)
    state_dir None -> a fresh temporary directory, removed by cleanup(). The settings are plain
    attributes (password, evses, exit_on_reset, extra_env) read at every start(), so a test can
    change them before restart() (e.g. after SetVariables BasicAuthPassword).
    Hardware helpers: plug_in, plug_out, token, fault, ev, meter (all async, evse default 1).
    """

    def __init__(self, interp, csms_url, station_id="CS001", state_dir=None, password=None, evses=None,
                 exit_on_reset=False, env=None):
        StationProcess.__init__(self, station_cmd(interp), cwd=ROOT)
        self.interp = interp
        self.csms_url = csms_url
        self.station_id = station_id
        self._own_state = state_dir is None
        self.state_dir = state_dir or tempfile.mkdtemp(prefix="ocpp2lite-e2e-")
        self.password = password
        self.evses = evses
        self.exit_on_reset = exit_on_reset
        self.extra_env = dict(env or {})
        self.starts = 0

    async def start(self):
        self.env = station_env(self.csms_url, self.station_id, self.state_dir, self.password, self.evses,
                               self.exit_on_reset, self.extra_env)
        self.starts += 1
        if self.starts > 1:
            self._err.add(("----- station start #%d -----\n" % self.starts).encode())
        return await StationProcess.start(self)

    async def restart(self, timeout=3):
        """Stop (SIGTERM, then SIGKILL) and start again with the same state directory ("reboot")."""
        await self.stop(timeout)
        await self.start()

    async def kill(self):
        """Power cut: SIGKILL at once, no chance to flush anything."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    async def cleanup(self):
        await self.stop()
        if self._own_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    async def plug_in(self, evse=1, connector=1):
        await self.send({"cmd": "plug_in", "evse": evse, "connector": connector})

    async def plug_out(self, evse=1, connector=1):
        await self.send({"cmd": "plug_out", "evse": evse, "connector": connector})

    async def token(self, id_token="AB12CD34", type_="ISO14443"):
        await self.send({"cmd": "token", "id": id_token, "type": type_})

    async def fault(self, on=True, evse=1, connector=1):
        await self.send({"cmd": "fault", "evse": evse, "connector": connector, "on": on})

    async def ev(self, state, evse=1):
        await self.send({"cmd": "ev", "evse": evse, "state": state})

    async def meter(self, power_w, evse=1):
        await self.send({"cmd": "meter", "evse": evse, "power_w": power_w})


class ScenarioFailed(AssertionError):
    """A scenario failed; the message holds the cause, the CSMS transcript tail and the station log tail."""


def _tail(text, lines):
    parts = text.splitlines()
    return "\n".join(parts[-lines:])


def failure_report(cause, csms, station, frames=60, log_lines=80):
    """Readable report of a failed scenario (str)."""
    out = ["%s" % cause]
    if station is not None:
        out.append("--- station: %s, exit code %s" % (" ".join(station.cmd), station.returncode))
    if csms is not None:
        if csms.violations:
            out.append("--- schema violations (%d):" % len(csms.violations))
            out += ["  " + v for v in csms.violations[:50]]
        out.append("--- CSMS transcript (last %d frames):" % frames)
        out.append(_tail(csms.transcript(width=400), frames))
        if csms.handshakes:
            out.append("--- handshakes (station, HTTP status): %s" % (csms.handshakes[-10:],))
    if station is not None:
        out.append("--- station stderr (last %d lines):" % log_lines)
        out.append(_tail(station.stderr_text(), log_lines))
        so = station.stdout_text().strip()
        if so:
            out.append("--- station stdout (last 20 lines):")
            out.append(_tail(so, 20))
    return "\n".join(out)


async def scenario_async(scenario, interp, timeout=120, station_id="CS001", csms_kwargs=None,
                         station_kwargs=None, start_station=True, check_violations=True):
    """Run scenario(csms, station) once; see run_scenario. Returns the scenario's result."""
    csms = Csms(**(csms_kwargs or {}))
    await csms.start()
    st = Station(interp, csms.url, station_id, **(station_kwargs or {}))
    try:
        if start_station:
            await st.start()
        result = await asyncio.wait_for(scenario(csms, st), timeout)
        if check_violations and csms.violations:
            raise AssertionError("the station sent %d frame(s) violating the OCPP 2.0.1 schemas"
                                 % len(csms.violations))
        return result
    except Exception as e:
        cause = "scenario failed on %s: %s: %s" % (interp, type(e).__name__, e)
        raise ScenarioFailed(failure_report(cause, csms, st)) from e
    finally:
        await st.cleanup()
        await csms.stop()


def run_scenario(scenario, interp, timeout=120, station_id="CS001", csms_kwargs=None, station_kwargs=None,
                 start_station=True, check_violations=True):
    """Run ``async def scenario(csms, station)`` with a fresh CSMS and station; clean up whatever happens.

    csms_kwargs go to Csms(...) (tokens, password, boot_status, heartbeat_interval, token_status, ...);
    station_kwargs to Station(...) (password, evses, exit_on_reset, state_dir, env).
    start_station=False leaves station.start() to the scenario. timeout: s for the whole scenario.
    check_violations: fail when any station frame violated the schemas (csms.violations).
    Raises ScenarioFailed (an AssertionError) with the transcript and station log on any failure.
    """
    return asyncio.run(scenario_async(scenario, interp, timeout, station_id, csms_kwargs, station_kwargs,
                                      start_station, check_violations))


async def booted(csms, station_id=None, timeout=30, since=0):
    """Wait for the station's connection and BootNotification; return (boot payload, index)."""
    await csms.wait_connected(station_id, timeout)
    return await csms.wait_for("BootNotification", timeout=timeout, since=since, station=station_id)


# ---- the reference station (CPython, ocpp library) ----------------------------------------------
def fake_station_main():
    """A minimal station following the OCPP_* environment and stdin contract of ``ocpp2lite sim``.

    Supports boot (retrying while Pending/Rejected), StatusNotification, Authorize, TransactionEvent
    Started/Updated/Ended at PowerPathClosed with Energy.Active.Import.Register meter values,
    SetVariables (SampledDataCtrlr.TxUpdatedInterval), GetVariables (UnknownComponent), Reset.
    FAKE_BAD_TIMESTAMP=1 makes it send 6-decimal timestamps (to prove the schema check bites).
    """
    import json
    import uuid

    import websockets
    from websockets.asyncio.client import connect
    from websockets.headers import build_authorization_basic
    from ocpp.routing import on
    from ocpp.v201 import ChargePoint, call, call_result

    env = os.environ
    url = env.get("OCPP_CSMS_URL", "ws://127.0.0.1:9000").rstrip("/")
    sid = env.get("OCPP_STATION_ID", "LITE-SIM-1")
    password = env.get("OCPP_BASIC_AUTH_PASSWORD")
    evses = int(env.get("OCPP_EVSES") or "1")
    exit_on_reset = env.get("OCPP_EXIT_ON_RESET") == "1"
    bad_ts = env.get("FAKE_BAD_TIMESTAMP") == "1"

    def ts():
        t = now_iso()
        return t[:-1] + "456Z" if bad_ts else t

    def log(text):
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    state = {"interval": 60, "power": 7400.0, "wh": 1000.0, "plugged": False, "authorized": None,
             "tx": None, "seq": 0, "meter_task": None}

    def meter_value():
        return [{"timestamp": ts(), "sampledValue": [{"value": round(state["wh"], 1),
                                                      "measurand": "Energy.Active.Import.Register",
                                                      "unitOfMeasure": {"unit": "Wh"}}]}]

    class FakeStation(ChargePoint):
        @on("SetVariables")
        def on_set_variables(self, set_variable_data, **kw):
            res = []
            for item in set_variable_data:
                status = "Accepted"
                if item["component"]["name"] == "SampledDataCtrlr" and item["variable"]["name"] == "TxUpdatedInterval":
                    try:
                        state["interval"] = max(1, int(item["attribute_value"]))
                    except ValueError:
                        status = "Rejected"
                res.append({"attributeStatus": status, "component": item["component"],
                            "variable": item["variable"]})
            return call_result.SetVariables(set_variable_result=res)

        @on("GetVariables")
        def on_get_variables(self, get_variable_data, **kw):
            return call_result.GetVariables(get_variable_result=[
                {"attributeStatus": "UnknownComponent", "component": i["component"], "variable": i["variable"]}
                for i in get_variable_data])

        @on("Reset")
        def on_reset(self, **kw):
            if exit_on_reset:
                asyncio.get_running_loop().call_later(0.2, os._exit, 0)
            return call_result.Reset(status="Accepted")

    async def tx_event(cp, event_type, trigger, extra=None):
        info = {"transactionId": state["tx"]}
        kw = dict(event_type=event_type, timestamp=ts(), trigger_reason=trigger, seq_no=state["seq"],
                  transaction_info=info, meter_value=meter_value())
        if event_type == "Started":
            kw["evse"] = {"id": 1, "connectorId": 1}
            kw["id_token"] = state["authorized"]
        if extra:
            info.update(extra)
        state["seq"] += 1
        await cp.call(call.TransactionEvent(**kw))

    async def metering(cp):
        while True:
            await asyncio.sleep(state["interval"])
            state["wh"] += state["power"] * state["interval"] / 3600.0
            await tx_event(cp, "Updated", "MeterValuePeriodic")

    async def status(cp, s):
        for n in range(1, evses + 1):
            await cp.call(call.StatusNotification(timestamp=ts(), connector_status=s if n == 1 else "Available",
                                                  evse_id=n, connector_id=1))

    async def try_start(cp):
        if state["plugged"] and state["authorized"] and state["tx"] is None:
            state["tx"] = uuid.uuid4().hex[:16]
            state["seq"] = 0
            await tx_event(cp, "Started", "Authorized", {"chargingState": "Charging"})
            state["meter_task"] = asyncio.ensure_future(metering(cp))

    async def events(cp):
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = await reader.readline()
            if not line:
                return
            try:
                ev = json.loads(line)
            except ValueError:
                log("bad event line %r" % line)
                continue
            cmd = ev.get("cmd")
            if cmd == "plug_in":
                state["plugged"] = True
                await status(cp, "Occupied")
                await try_start(cp)
            elif cmd == "token":
                res = await cp.call(call.Authorize(id_token={"idToken": ev["id"], "type": ev.get("type", "ISO14443")}))
                if res.id_token_info["status"] == "Accepted":
                    state["authorized"] = {"idToken": ev["id"], "type": ev.get("type", "ISO14443")}
                    await try_start(cp)
            elif cmd == "meter":
                state["power"] = float(ev.get("power_w", 0))
            elif cmd == "plug_out":
                state["plugged"] = False
                if state["tx"] is not None:
                    state["meter_task"].cancel()
                    await tx_event(cp, "Ended", "EVCommunicationLost", {"stoppedReason": "EVDisconnected"})
                    state["tx"] = None
                    state["authorized"] = None
                await status(cp, "Available")
            else:
                log("ignored event %r" % ev)

    async def run():
        headers = {}
        if password:
            headers["Authorization"] = build_authorization_basic(sid, password)
        while True:
            try:
                ws = await connect(url + "/" + sid, subprotocols=["ocpp2.0.1"], additional_headers=headers)
                break
            except (OSError, websockets.InvalidStatus) as e:
                log("connect failed: %s" % e)
                await asyncio.sleep(1)
        cp = FakeStation(sid, ws)
        reader = asyncio.ensure_future(cp.start())
        while True:
            res = await cp.call(call.BootNotification(
                charging_station={"model": "Fake", "vendorName": "OCPP2.Lite tests", "firmwareVersion": "0"},
                reason="PowerUp"))
            if res.status == "Accepted":
                break
            await asyncio.sleep(max(1, res.interval))
        await status(cp, "Available")
        await events(cp)
        reader.cancel()
        await ws.close()

    try:
        asyncio.run(run())
    except (KeyboardInterrupt, websockets.ConnectionClosed):
        pass
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["fake-station"]:
        sys.exit(fake_station_main())
    print("usage: python -m tests.harness fake-station", file=sys.stderr)
    sys.exit(2)
