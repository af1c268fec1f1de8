"""A reference contestant for ``ocpp2lite score``: a small station on the Python ``ocpp`` library
(the stack bench/cpu.py compares against) speaking the simulated-station contract minimally
(docs/sim-contract.md v1): environment OCPP_CSMS_URL, OCPP_STATION_ID, OCPP_BASIC_AUTH_PASSWORD,
OCPP_CSMS_ROOT_CERT, OCPP_EXIT_ON_RESET; stdin events plug_in, plug_out, token, meter.

    python -m bench.ref_station

What it does (written the way a team would with the library, no footprint tuning): BootNotification
(retry while not Accepted), StatusNotification, Authorize, TransactionEvent Started/Updated
(TxUpdatedInterval)/Ended with an energy register reading, Heartbeat at the boot interval,
WebSocket PING at OCPPCommCtrlr.WebSocketPingInterval (websockets' keepalive), Get/SetVariables
over a small variable table, GetBaseReport (one NotifyReport), Reset (in-process reboot, or exit 0
with OCPP_EXIT_ON_RESET=1). Offline: TransactionEvents are queued in memory and replayed in order
after reconnecting (1 s retry). One EVSE, one connector.
"""
import asyncio
import json
import os
import ssl
import sys
import time
import uuid

import websockets
from websockets.asyncio.client import connect
from websockets.headers import build_authorization_basic
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result

WRITABLE = {("SampledDataCtrlr", "TxUpdatedInterval"): "60", ("OCPPCommCtrlr", "WebSocketPingInterval"): "60",
            ("OCPPCommCtrlr", "HeartbeatInterval"): "300"}


def ts():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def log(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


class St:
    vars = dict(WRITABLE)
    plugged = False
    token = None
    tx = None
    seq = 0
    wh = 10000.0
    power = 3000.0
    t_meter = 0.0
    queue = []           # TransactionEvent payloads not yet acknowledged
    cp = None
    heartbeat = 300
    reset = False


def meter():
    now = time.monotonic()
    if St.tx is not None and St.t_meter:
        St.wh += St.power * (now - St.t_meter) / 3600.0
    St.t_meter = now
    return [{"timestamp": ts(), "sampledValue": [{"value": round(St.wh, 1)}]}]


class RefStation(ChargePoint):
    @on("SetVariables")
    def on_set_variables(self, set_variable_data, **kw):
        res = []
        for item in set_variable_data:
            key = (item["component"]["name"], item["variable"]["name"])
            ok = key in St.vars and item["attribute_value"].isdigit()
            if ok:
                St.vars[key] = item["attribute_value"]
            res.append({"attributeStatus": "Accepted" if ok else "Rejected", "component": item["component"],
                        "variable": item["variable"]})
        return call_result.SetVariables(set_variable_result=res)

    @on("GetVariables")
    def on_get_variables(self, get_variable_data, **kw):
        res = []
        for i in get_variable_data:
            v = St.vars.get((i["component"]["name"], i["variable"]["name"]))
            r = {"attributeStatus": "Accepted" if v is not None else "UnknownVariable",
                 "component": i["component"], "variable": i["variable"]}
            if v is not None:
                r["attributeValue"] = v
            res.append(r)
        return call_result.GetVariables(get_variable_result=res)

    @on("GetBaseReport")
    def on_get_base_report(self, request_id, report_base, **kw):
        async def report():
            data = [{"component": {"name": c}, "variable": {"name": v},
                     "variableAttribute": [{"type": "Actual", "value": val, "mutability": "ReadWrite"}]}
                    for (c, v), val in St.vars.items()]
            await self.call(call.NotifyReport(request_id=request_id, generated_at=ts(), seq_no=0,
                                              report_data=data, tbc=False))
        asyncio.get_running_loop().call_later(0.1, lambda: asyncio.ensure_future(report()))
        return call_result.GetBaseReport(status="Accepted")

    @on("Reset")
    def on_reset(self, **kw):
        asyncio.get_running_loop().call_later(0.3, setattr, St, "reset", True)
        return call_result.Reset(status="Accepted")


async def send_tx(kind, trigger, extra=None):
    p = {"eventType": kind, "timestamp": ts(), "triggerReason": trigger, "seqNo": St.seq,
         "transactionInfo": dict({"transactionId": St.tx}, **(extra or {})), "meterValue": meter()}
    if kind == "Started":
        p["evse"] = {"id": 1, "connectorId": 1}
        p["idToken"] = St.token
    St.seq += 1
    St.queue.append(p)
    await flush()


LOCK = None


async def flush():
    global LOCK
    LOCK = LOCK or asyncio.Lock()
    async with LOCK:
        await _flush()


async def _flush():
    while St.queue and St.cp is not None:
        p = St.queue[0]
        try:
            await St.cp.call(call.TransactionEvent(**{_snake(k): v for k, v in p.items()}))
        except Exception:
            return
        St.queue.pop(0)


def _snake(k):
    return "".join("_" + c.lower() if c.isupper() else c for c in k)


async def status(s):
    if St.cp is not None:
        try:
            await St.cp.call(call.StatusNotification(timestamp=ts(), connector_status=s, evse_id=1, connector_id=1))
        except Exception:
            pass


async def try_start():
    if St.plugged and St.token and St.tx is None:
        St.tx, St.seq = uuid.uuid4().hex[:16], 0
        meter()
        await send_tx("Started", "Authorized", {"chargingState": "Charging"})


async def events():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            await asyncio.Event().wait()     # end of stdin: keep running (contract §1)
        try:
            ev = json.loads(line)
            cmd = ev["cmd"]
        except (ValueError, KeyError, TypeError):
            log("bad event %r" % line)
            continue
        if cmd == "plug_in":
            St.plugged = True
            await status("Occupied")
            await try_start()
        elif cmd == "token":
            tok = {"idToken": ev["id"], "type": ev.get("type", "ISO14443")}
            try:
                r = await St.cp.call(call.Authorize(id_token=tok)) if St.cp else None
            except Exception:
                r = None
            if r is not None and r.id_token_info["status"] == "Accepted":
                St.token = tok
                await try_start()
        elif cmd == "meter":
            meter()
            St.power = float(ev.get("power_w", 0))
        elif cmd == "plug_out":
            St.plugged = False
            if St.tx is not None:
                await send_tx("Ended", "EVCommunicationLost", {"stoppedReason": "EVDisconnected"})
                St.tx, St.token = None, None
            await status("Available")
        else:
            log("ignored event %r" % ev)


async def periodic():
    last = time.monotonic()
    while True:
        await asyncio.sleep(0.5)
        every = int(St.vars[("SampledDataCtrlr", "TxUpdatedInterval")]) or 60
        if St.tx is None:
            last = time.monotonic()
        elif time.monotonic() - last >= every:
            last = time.monotonic()
            await send_tx("Updated", "MeterValuePeriodic")


async def heartbeats(cp):
    while True:
        await asyncio.sleep(St.heartbeat)
        await cp.call(call.Heartbeat())


async def session(url, sid, headers, ctx):
    ping = int(St.vars[("OCPPCommCtrlr", "WebSocketPingInterval")]) or None
    async with connect(url + "/" + sid, subprotocols=["ocpp2.0.1"], additional_headers=headers, ssl=ctx,
                       ping_interval=ping, ping_timeout=ping) as ws:
        cp = RefStation(sid, ws, response_timeout=5)
        reader = asyncio.ensure_future(cp.start())
        try:
            while True:
                r = await cp.call(call.BootNotification(
                    charging_station={"model": "RefStation", "vendorName": "ocpp library"}, reason="PowerUp"))
                if r.status == "Accepted":
                    break
                await asyncio.sleep(max(1, r.interval))
            St.heartbeat = max(1, r.interval)
            St.cp = cp
            await status("Occupied" if St.plugged else "Available")
            await flush()
            hb = asyncio.ensure_future(heartbeats(cp))
            while not reader.done() and not St.reset:
                await asyncio.sleep(0.2)
            hb.cancel()
        finally:
            St.cp = None
            reader.cancel()


async def main_async():
    env = os.environ
    url = (env.get("OCPP_CSMS_URL") or "ws://127.0.0.1:9000").rstrip("/")
    sid = env.get("OCPP_STATION_ID") or "LITE-SIM-1"
    headers = {}
    if env.get("OCPP_BASIC_AUTH_PASSWORD"):
        headers["Authorization"] = build_authorization_basic(sid, env["OCPP_BASIC_AUTH_PASSWORD"])
    ctx = None
    if url.startswith("wss:"):
        ctx = ssl.create_default_context(cafile=env.get("OCPP_CSMS_ROOT_CERT") or None)
    tasks = [asyncio.ensure_future(events()), asyncio.ensure_future(periodic())]
    while True:
        try:
            await session(url, sid, headers, ctx)
        except (OSError, websockets.WebSocketException, asyncio.TimeoutError) as e:
            log("connection: %s" % e)
        if St.reset:
            St.reset = False
            log("Reset executed")
            if env.get("OCPP_EXIT_ON_RESET") == "1":
                for t in tasks:
                    t.cancel()
                return 0
        await asyncio.sleep(1)


def main():
    try:
        return asyncio.run(main_async())
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main() or 0)
