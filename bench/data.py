"""Monthly mobile data of one Charging Station (issue 5 item 3): the real stack for 30 simulated days.

    python -m bench.data            # both profiles, Markdown on stdout
    python -m bench.data --quick    # the Lite-tuned profile only (deterministic; the CI subset)

Method. The real stack (``lite_stack.station.Station`` with its own RFC 6455 client
``lite_stack.core.ws.WebSocket``) runs in-process on CPython on a simulated clock for 30 days, with the
simulated HAL of the desktop board driven by a documented usage profile (``USAGE``), against an
in-process CSMS (bench/data_csms.py) that stands in for ``asyncio.open_connection``: every byte the
stack writes (HTTP Upgrade request, masked frames) and every byte the CSMS writes (101 answer,
frames) is logged exactly. Below the WebSocket the bytes are *modelled* (``NETWORK``):

- TLS 1.2 (the MicroPython unix port's mbedTLS 3.6.6 refused a TLS 1.3-only server when probed; it
  negotiated TLS 1.2 ECDHE-ECDSA-AES-GCM), AES-GCM: 29 B per record (5 header + 8 explicit nonce
  + 16 tag); one record per WebSocket frame (the client writes each frame in one call), split at
  4096 B from the station (mbedTLS output buffer) and 16384 B from the CSMS.
- TCP/IPv4: 52 B per segment (IPv4 20 + TCP 20 + timestamps 12), MSS 1400 B (mobile), every
  message in its own segment(s); delayed ACK: the receiver sends one pure ACK per 2 segments of a
  message and at least one per message (no piggybacking: an upper bound, a CSMS answering within the
  delayed-ACK timer piggybacks the ACK of the CALL on its CALLRESULT).
- Per connection: TCP handshake (SYN 60, SYN-ACK 60, ACK 52 B), a full TLS 1.2 handshake (no session
  resumption: MicroPython's ssl module has no session API) with the flight sizes measured between
  MicroPython (mbedTLS 3.6.6) and a CPython/OpenSSL server (ClientHello 133 B + SNI host,
  ServerHello 94, Certificate 12 + 3 per certificate + the profile's chain, ServerKeyExchange
  82 + signature, ServerHelloDone 9, ClientKeyExchange 75, ChangeCipherSpec 6 + Finished 45 each
  way), the HTTP Upgrade request as ws.py sends it and a typical 101 answer (what the `websockets`
  server sends) as one TLS record each; an orderly close adds the WebSocket CLOSE frames, a TLS
  close_notify alert each way (31 B) and the FIN exchange (3 segments). A network loss adds nothing
  (the bytes a dying connection retransmits before the station notices are not modelled).
- TCP keepalive: not used (the stack does not set SO_KEEPALIVE); NAT keepalive comes from
  WebSocket PINGs (OCPPCommCtrlr.WebSocketPingInterval).

Results: bytes per month by message type (a CALLRESULT/CALLERROR counts with its CALL's action,
both directions, including the TLS, TCP/IP and ACK bytes of its frames), per layer (OCPP payload /
WebSocket framing and control frames / TLS records / TCP/IP headers and ACKs / connection
handshakes), against the 25 MB/month target; the message-size distribution (characters of each
OCPP-J text frame) against the OCA whitepaper's certification-log figures. 1 MB = 10^6 bytes.

Sources: 25 MB/month target: OCA Technology Working Group slides, /work/shared/seeds/
004_496600627afd4f3a.txt ("it should be possible to operate a charger via OCPP with at most 25 MB per
month (50% headroom)"). Message sizes: OCA whitepaper "OCPP 2.Lite (OCPP for Resource-Constrained
Devices)" v2, §4.4 "Data communication and OCPP messages sizes" (table of contents in /work/shared/
seeds/003_af587a8b18c33b69.txt; the figures themselves, 32,636 messages from certification logs of 15
stations: average 235 characters, ~95 % under 500, ~99 % under 2 kB, are quoted in /work/shared/
reference/message-set.md; the seeds hold only the table of contents).
"""
import asyncio
import heapq
import os
import random
import shutil
import sys
import tempfile
import time

from tests.unit.certs import ROOT_A   # the static test root of the unit tests

MB = 1000000
TARGET_MB = 25.0
MONTH_DAYS = 30

OCA_SIZES = {"mean": 235, "lt500": 0.95, "lt2000": 0.99, "messages": 32636, "stations": 15,
             "source": "OCA whitepaper OCPP 2.Lite v2 §4.4 (via /work/shared/reference/message-set.md)"}

# ---- the usage profile (same for every profile) ----------------------------------------------------
USAGE = {
    "doc": "A 2-wheeler charger: 3 sessions a day (plug-in around 07:30, 13:00, 19:30 UTC, +-30 min), "
           "RFID swipe 20 s after plug-in, the EV charges 60-110 min at 1-3 kW, then stays plugged "
           "10-40 min (SuspendedEV) before it is unplugged; deterministic (seeded) variation.",
    "plug_in_s": (27000, 46800, 70200),
    "jitter_s": 1800,
    "swipe_after_s": 20,
    "charge_s": (3600, 6600),
    "idle_after_s": (600, 2400),
    "power_w": (1000, 3000),
    "token": ("04A1B2C3D4E5F6", "ISO14443"),  # a 7-byte ISO 14443 UID
    "meter_start_wh": 1500000,
    "seed": 2026,
}

# ---- the network model (same for every profile) -----------------------------------------------------
NETWORK = {
    "doc": "Mobile (LTE-M / 2G-4G) link, IPv4, TLS 1.2 AES-GCM; see the module docstring.",
    "mss": 1400,                 # TCP payload bytes per segment
    "ip_tcp": 52,                # IPv4 20 + TCP 20 + timestamp option 12, per segment
    "syn": 60,                   # SYN / SYN-ACK: IPv4 20 + TCP 20 + options 20 (MSS, SACK, TS, WS)
    "fin_segments": 3,           # FIN, FIN, ACK of an orderly close
    "tls_record": 29,            # TLS 1.2 AES-GCM record overhead (TLS 1.3 would be 22)
    "tls_close_notify": 31,      # encrypted alert record
    "station_record_max": 4096,  # mbedTLS MBEDTLS_SSL_OUT_CONTENT_LEN (MicroPython default)
    "csms_record_max": 16384,    # RFC 5246 maximum plaintext per record
    # TLS 1.2 flights measured MicroPython/mbedTLS 3.6.6 <-> CPython/OpenSSL (bytes incl. record headers)
    "client_hello_base": 133,    # + len(SNI host name)
    "server_hello": 94,
    "cert_msg_base": 12,         # record 5 + handshake 4 + list length 3; + 3 + DER per certificate
    "ske_base": 82,              # record 5 + handshake 4 + ECDHE P-256 params 69 + sig alg/len 4
    "server_hello_done": 9,
    "client_finish_flight": 126,  # ClientKeyExchange 75 + ChangeCipherSpec 6 + Finished 45
    "server_finish_flight": 51,   # ChangeCipherSpec 6 + Finished 45
    "nat_idle_s": 300,           # carrier/cloud NAT idle timeout assumed (see the Markdown notes)
    "reboot_s": 30,              # a Reset takes this long before the new BootNotification
    "tcp_keepalive_s": 0,
}

STATION = {
    "csms_url": "wss://csms.example.com/ocpp",  # security profile 2: TLS + HTTP Basic auth
    "station_id": "CS-000001",
    "password": "k3Jv9QpL2mXw7RtZ4nB8",        # 20 characters (SecurityCtrlr.BasicAuthPassword 16-40)
    "evses": 1,
    "poll_ms": 60000,                           # the bench calls station.wake() after HAL changes
}

E = "Energy.Active.Import.Register"

PROFILES = {
    "typical": {
        "doc": "Settings a CSMS commonly uses: HeartbeatInterval 300 s (the BootNotification interval "
               "of ocpp2lite.csms, tests/unit/fakecsms.py and many CSMS examples), WebSocket PING every "
               "60 s (this stack's default; keeps any NAT mapping alive and lets the station notice "
               "a dead link within a minute), sampled meter values every 60 s with energy and power, "
               "clock-aligned meter values every 15 min with four measurands, one FullInventory "
               "report after the first boot of the month; CSMS timestamps with milliseconds and "
               "UUID messageIds; an RSA-2048 certificate chain from a public CA (2 certificates).",
        "heartbeat_s": 300,
        "variables": (("OCPPCommCtrlr", "WebSocketPingInterval", "60"),
                      ("SampledDataCtrlr", "TxUpdatedInterval", "60"),
                      ("SampledDataCtrlr", "TxUpdatedMeasurands", E + ",Power.Active.Import"),
                      ("AlignedDataCtrlr", "Interval", "900"),
                      ("AlignedDataCtrlr", "Measurands",
                       E + ",Power.Active.Import,Current.Import,Voltage")),
        "full_inventory": True,
        "csms_time_ms": True,
        "csms_uuid_ids": True,
        "csms_ping_s": 0,
        "cert_chain": (1300, 1300),
        "server_sig": 256,
        # network losses (radio link, PDP context, IP change) besides NAT timeouts and the Reset:
        # the same for both profiles (the network does not depend on the settings)
        "reconnects_per_month": 8,
    },
    "lite": {
        "doc": "Lite-tuned within the spec: HeartbeatInterval 86400 s (a daily clock sync; liveness "
               "and NAT keepalive come from the WebSocket PING), WebSocket PING every 240 s (just "
               "under the assumed 300 s NAT idle timeout), sampled meter values every 15 min with "
               "energy only (the default measurand, no unit: sent without optional fields), no "
               "clock-aligned meter values (the register reading already comes with every start and "
               "end), no FullInventory (the CSMS knows the firmware's fixed device model); compact "
               "CSMS timestamps and short messageIds; one ECDSA P-256 leaf certificate issued by the "
               "operator's CSMS root that the station holds (OCPP security profile 2).",
        "heartbeat_s": 86400,
        "variables": (("OCPPCommCtrlr", "WebSocketPingInterval", "240"),
                      ("SampledDataCtrlr", "TxUpdatedInterval", "900"),
                      ("SampledDataCtrlr", "TxUpdatedMeasurands", E),
                      ("AlignedDataCtrlr", "Interval", "0")),
        "full_inventory": False,
        "csms_time_ms": False,
        "csms_uuid_ids": False,
        "csms_ping_s": 0,
        "cert_chain": (550,),
        "server_sig": 72,
        # network losses (radio link, PDP context, IP change) besides NAT timeouts and the Reset:
        # the same for both profiles (the network does not depend on the settings)
        "reconnects_per_month": 8,
    },
}

BENCH_ROOT = ROOT_A   # a test root: wss:// needs one installed (security profile 2)

CONNECT = "(re)connect & close"
PINGPONG = "WebSocket PING/PONG"


# ---- the wire model ------------------------------------------------------------------------------
def ws_header(n, client):
    """RFC 6455 §5.2 header bytes of a frame with an ``n``-byte payload: 2 (n <= 125), 4 (<= 65535)
    or 10, plus the 4-byte masking key on client frames."""
    h = 2 if n < 126 else 4 if n < 65536 else 10
    return h + 4 if client else h


def _ceil(a, b):
    return -(-a // b)


def frame_cost(frame_bytes, up, net=NETWORK):
    """Bytes below the WebSocket for one frame of ``frame_bytes`` (header + payload):
    ``(tls, tcpip, acks)``: TLS record overhead, TCP/IP headers of its segments (same direction)
    and the pure ACKs the receiver returns (other direction)."""
    rec_max = net["station_record_max"] if up else net["csms_record_max"]
    tls = _ceil(max(frame_bytes, 1), rec_max) * net["tls_record"]
    segs = _ceil(frame_bytes + tls, net["mss"])
    return tls, segs * net["ip_tcp"], _ceil(segs, 2) * net["ip_tcp"]


def _flight(nbytes, net):
    # (bytes in the sender's direction, pure-ACK bytes in the other) of raw TCP payload `nbytes`
    segs = _ceil(nbytes, net["mss"])
    return nbytes + segs * net["ip_tcp"], _ceil(segs, 2) * net["ip_tcp"]


def handshake_cost(http_up, http_down, host, chain, sig, net=NETWORK):
    """Bytes ``(up, down)`` of opening one connection: TCP handshake, TLS 1.2 full handshake with
    certificate ``chain`` (DER sizes) and a ``sig``-byte ServerKeyExchange signature, and the HTTP
    Upgrade request/response (``http_up``/``http_down`` bytes, one TLS record each)."""
    up = net["syn"] + net["ip_tcp"]
    down = net["syn"]
    server1 = (net["server_hello"] + net["cert_msg_base"] + sum(3 + c for c in chain)
               + net["ske_base"] + sig + net["server_hello_done"])
    for size, is_up in ((net["client_hello_base"] + len(host), True), (server1, False),
                        (net["client_finish_flight"], True), (net["server_finish_flight"], False),
                        (http_up + net["tls_record"], True), (http_down + net["tls_record"], False)):
        a, b = _flight(size, net)
        if is_up:
            up += a
            down += b
        else:
            down += a
            up += b
    return up, down


def close_cost(net=NETWORK):
    """Bytes ``(up, down)`` of an orderly close below the WebSocket CLOSE frames: a TLS close_notify
    each way (each ACKed) and the FIN exchange (FIN, FIN, ACK)."""
    a, b = _flight(net["tls_close_notify"], net)  # each side sends one alert and ACKs the other's
    fin_up = (net["fin_segments"] + 1) // 2      # station: FIN and the last ACK
    fin_down = net["fin_segments"] // 2          # CSMS: its FIN (carrying the ACK of ours)
    return a + b + fin_up * net["ip_tcp"], a + b + fin_down * net["ip_tcp"]


def ping_cost(net=NETWORK):
    """Wire bytes of one empty PING (client) and its PONG (server), ACKs included."""
    total = 0
    for n, up in ((ws_header(0, True), True), (ws_header(0, False), False)):
        tls, ip, ack = frame_cost(n, up, net)
        total += n + tls + ip + ack
    return total


def tcp_keepalive_cost(net=NETWORK):
    """One TCP keepalive probe and its ACK (RFC 1122 §4.2.3.6): two bare segments."""
    return 2 * net["ip_tcp"]


# ---- simulated time ------------------------------------------------------------------------------
def _fast_clock(start=1767225600):
    """A ``VirtualClock`` (same ms/now/set_time) whose ``sleep``/``wait`` park on one heap of futures
    and whose ``run`` jumps as soon as the event loop has nothing ready (CPython ``loop._ready``).
    The stack's VirtualClock is portable (it yields ``idle_spins`` times before each jump and
    parks waits through a relay task); this one uses CPython internals to jump as soon as
    nothing is ready, which makes a simulated month about an order of magnitude faster (bench
    only, CPython only)."""
    from lite_stack.vclock import VirtualClock

    class FastClock(VirtualClock):
        def __init__(self):
            VirtualClock.__init__(self, start)
            self._heap = []
            self._seq = 0

        def _park(self, due, fut):
            self._seq += 1
            heapq.heappush(self._heap, (due, self._seq, fut))

        def advance(self, ms):
            self._ms += int(ms)
            self._fire()

        def _fire(self):
            heap = self._heap
            while heap and heap[0][0] <= self._ms:
                fut = heapq.heappop(heap)[2]
                if not fut.done():
                    fut.set_result(False)

        async def sleep_ms(self, ms):
            if ms <= 0:
                await asyncio.sleep(0)
                return
            fut = asyncio.get_running_loop().create_future()
            self._park(self._ms + int(ms), fut)
            await fut

        async def sleep(self, s):
            await self.sleep_ms(int(s * 1000))

        async def wait(self, event, s):
            if event.is_set():
                return True
            waiters = getattr(event, "_waiters", None)  # CPython asyncio.Event: set() resolves these
            if waiters is None:  # another asyncio: race the event against a parked sleep
                t = asyncio.ensure_future(event.wait())
                s_ = asyncio.ensure_future(self.sleep(s))
                await asyncio.wait((t, s_), return_when=asyncio.FIRST_COMPLETED)
                t.cancel()
                s_.cancel()
                return event.is_set()
            fut = asyncio.get_running_loop().create_future()
            waiters.append(fut)
            self._park(self._ms + int(s * 1000), fut)
            try:
                r = await fut
            finally:
                try:
                    waiters.remove(fut)
                except ValueError:
                    pass
            return bool(r) or event.is_set()

        async def run(self, until_ms=None):
            ready = getattr(asyncio.get_running_loop(), "_ready", None)  # CPython's ready queue
            heap = self._heap
            while until_ms is None or self._ms < until_ms:
                await asyncio.sleep(0)
                if ready is None:
                    for _ in range(self._spins):
                        await asyncio.sleep(0)
                while ready:
                    await asyncio.sleep(0)
                while heap and heap[0][2].done():
                    heapq.heappop(heap)
                if not heap:
                    continue
                due = heap[0][0]
                if until_ms is not None and due > until_ms:
                    due = until_ms
                if due > self._ms:
                    self._ms = due
                self._fire()

    return FastClock()


class _NetAsyncio:
    """What ``lite_stack.core.ws`` sees as ``asyncio`` during the bench: the real module, except
    ``open_connection``, which connects to the in-process CSMS."""

    def __init__(self, opener):
        self.open_connection = opener

    def __getattr__(self, name):
        return getattr(asyncio, name)


def _sessions(day, usage):
    rnd = random.Random(usage["seed"] * 1000 + day)
    out = []
    for t in usage["plug_in_s"]:
        plug = t + rnd.randint(-usage["jitter_s"], usage["jitter_s"])
        out.append((day * 86400 + plug, rnd.randint(*usage["charge_s"]),
                    rnd.randint(*usage["idle_after_s"]), rnd.randrange(usage["power_w"][0],
                                                                     usage["power_w"][1] + 1, 50)))
    return out


async def _simulate(name, prof, days, progress, state_dir):
    import boards
    from device_model import ids
    from lite_stack.core import ws as ws_mod
    from lite_stack.station import Station
    from bench.data_csms import DataCsms

    clock = _fast_clock()
    net = NETWORK
    csms = DataCsms(clock, prof["heartbeat_s"], prof["csms_time_ms"], prof["csms_uuid_ids"],
                    prof.get("nat_idle_s", net["nat_idle_s"]), prof["csms_ping_s"])
    board = boards.load("desktop")
    hal = board.make_hal(clock, 1)
    evse_hal, rfid = hal[0][0], hal[1]
    evse_hal.meter._mwh = USAGE["meter_start_wh"] * 1000
    settings = dict(STATION, state_dir=state_dir)
    logs = []
    out = {"set_results": [], "report_status": None, "reset_status": None, "boots": 0}
    holder = [None]

    def log(text):
        if "not delivered" in text or "failed" in text or "error" in text.lower():
            if len(logs) < 50:
                logs.append("%d %s" % (clock.ms() // 1000, text))

    async def provision():
        r = await csms.call("SetVariables", {"setVariableData": [
            {"attributeValue": v, "component": {"name": c}, "variable": {"name": n}}
            for c, n, v in prof["variables"]]})
        out["set_results"] = [x["attributeStatus"] for x in r[2]["setVariableResult"]] if r else None
        if prof["full_inventory"]:
            r = await csms.call("GetBaseReport", {"requestId": 1, "reportBase": "FullInventory"})
            out["report_status"] = r[2]["status"] if r else None

    def on_boot(reason):
        if reason == "PowerUp" and not out["set_results"]:
            asyncio.get_running_loop().create_task(provision())

    csms.on_boot = on_boot

    async def station_life():
        first = True
        while True:
            st = Station(settings, board, clock, hal, None, log)
            if first:  # bench determinism (not sent): no random part in the reconnect back-off
                st.dm.set(ids.RETRY_BACKOFF_RANDOM_RANGE, 0)
                # security profile 2 needs a CSMSRootCertificate; the stand-in CSMS speaks no TLS
                # (its bytes are modelled), so any root will do
                st.certs.install("CSMSRootCertificate", BENCH_ROOT)
                first = False
            holder[0] = st
            out["boots"] += 1
            await st.run()
            holder[0] = None
            await clock.sleep(net["reboot_s"])

    def wake():
        if holder[0] is not None:
            holder[0].wake()

    async def until(t_s):
        d = t_s * 1000 - clock.ms()
        if d > 0:
            await clock.sleep_ms(d)

    async def usage():
        pilot = evse_hal.pilot
        n = 0
        wh0 = evse_hal.meter.energy_wh()
        for day in range(days):
            if progress:
                progress(day, days, name)
            for plug, charge, idle, power in _sessions(day, USAGE):
                await until(plug)
                evse_hal.meter.energy_wh()  # idle until now: nothing to integrate
                evse_hal.meter.set_power = power
                pilot.plug_in()
                wake()
                await clock.sleep(USAGE["swipe_after_s"])
                evse_hal.meter.energy_wh()  # still open: the charge counts from the contactor close
                rfid.swipe(*USAGE["token"])
                wake()
                await clock.sleep(charge)
                # hal.sim.SimMeter integrates lazily with the contactor state at read time: read it
                # while the contactor is still closed so the charge is counted (no traffic effect)
                evse_hal.meter.energy_wh()
                pilot.ev_state("B")  # battery full: the EV opens S2
                wake()
                await clock.sleep(idle)
                pilot.plug_out()
                wake()
                n += 1
        await until(days * 86400)
        out["sessions"] = n
        out["energy_kwh"] = (evse_hal.meter.energy_wh() - wh0) / 1000
        if progress:
            progress(days, days, name)

    async def operations():
        # network losses spread over the month, and the monthly Reset on day 15 at 03:00 UTC
        n = prof["reconnects_per_month"] * days // MONTH_DAYS
        events = [(int((k + 0.5) * days * 86400 / n) + 3917, "drop") for k in range(n)]
        if days >= 2:
            events.append(((days // 2) * 86400 + 3 * 3600, "reset"))
        for t, what in sorted(events):
            await until(int(t))
            if what == "drop":
                csms.drop("network")
            else:
                r = await csms.call("Reset", {"type": "OnIdle"})
                out["reset_status"] = r[2]["status"] if r else None

    saved = ws_mod.asyncio
    ws_mod.asyncio = _NetAsyncio(csms.open_connection)
    tasks = []
    try:
        drv = asyncio.get_running_loop().create_task(clock.run())
        tasks = [drv] + [asyncio.get_running_loop().create_task(c) for c in
                         (csms.net_task(), station_life(), operations())]
        await usage()
        for t in tasks:  # a crash in the stack or the CSMS must not pass silently
            if t.done() and not t.cancelled() and t.exception() is not None:
                raise t.exception()
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.sleep(0)
        ws_mod.asyncio = saved
    out.update(request_head=csms.request_head, frames=csms.frames, texts=csms.texts,
               conns=csms.conns, counts=csms.counts, drops=csms.drops, boot_reasons=csms.boots,
               problems=logs)
    return out


# ---- accounting ----------------------------------------------------------------------------------
def _stats(sizes):
    s = sorted(sizes)
    n = len(s)
    if not n:
        return {"count": 0}

    def pct(p):
        return s[min(n - 1, int(p * n))]
    edges = (0, 100, 200, 300, 400, 500, 750, 1000, 2000, 4000, 8192, 10 ** 9)
    hist = [[edges[i], edges[i + 1], 0] for i in range(len(edges) - 1)]
    for v in s:
        for h in hist:
            if h[0] <= v < h[1]:
                h[2] += 1
                break
    return {"count": n, "mean": round(sum(s) / n, 1), "median": pct(0.5), "p95": pct(0.95),
            "p99": pct(0.99), "max": s[-1], "lt500": round(sum(1 for v in s if v < 500) / n, 4),
            "lt2000": round(sum(1 for v in s if v < 2000) / n, 4), "hist": hist,
            "quantiles": [s[(n - 1) * q // 100] for q in range(101)]}


def account(sim, prof, days, net=NETWORK):
    """Turn the simulation logs into bytes per month by message type and per layer."""
    scale = MONTH_DAYS / days
    host = STATION["csms_url"].split("/")[2]
    types = {}
    layers = {"payload": 0, "ws": 0, "tls": 0, "tcpip": 0, "handshakes": 0}
    dirs = {"up": 0, "down": 0}

    def row(name):
        r = types.get(name)
        if r is None:
            r = types[name] = {"calls": 0, "frames": 0, "payload_up": 0, "payload_down": 0,
                               "wire": 0}
        return r

    answers = 0  # CALLRESULT/CALLERROR and PONG frames: their request's ACK could ride on them
    for conn, up, op, hl, n, action, mtype in sim["frames"]:
        f = hl + n
        if mtype in (3, 4) or op == 10:
            answers += 1
        tls, ip, ack = frame_cost(f, up, net)
        dirs["up" if up else "down"] += f + tls + ip
        dirs["down" if up else "up"] += ack
        if op == 1:
            r = row(action)
            layers["payload"] += n
            layers["ws"] += hl
            layers["tls"] += tls
            layers["tcpip"] += ip + ack
            r["payload_up" if up else "payload_down"] += n
            if mtype == 2:
                r["calls"] += 1
        elif op == 8:
            r = row(CONNECT)
            layers["handshakes"] += f + tls + ip + ack
        else:
            r = row(PINGPONG)
            layers["ws"] += f
            layers["tls"] += tls
            layers["tcpip"] += ip + ack
            if op == 9:
                r["calls"] += 1
        r["frames"] += 1
        r["wire"] += f + tls + ip + ack
    conns = sim["conns"]
    # the frame log accounts for every byte each side wrote (HTTP head + frames)
    seen = {}
    for conn, up, op, hl, n, action, mtype in sim["frames"]:
        k = (conn, up)
        seen[k] = seen.get(k, 0) + hl + n
    consistent = all(c["bytes_up"] == c["http_up"] + seen.get((c["n"], True), 0) and
                     c["bytes_down"] == c["http_down"] + seen.get((c["n"], False), 0) for c in conns)
    per_connect = None
    for c in conns:
        u, d = handshake_cost(c["http_up"], c["http_down"], host, prof["cert_chain"],
                              prof["server_sig"], net)
        per_connect = per_connect or u + d
        if c["end"] == "orderly":
            cu, cd = close_cost(net)
            u += cu
            d += cd
        u += c["lost_up"]
        r = row(CONNECT)
        r["calls"] += 1
        r["wire"] += u + d
        layers["handshakes"] += u + d
        dirs["up"] += u
        dirs["down"] += d
    total = sum(layers.values())
    assert total == dirs["up"] + dirs["down"] == sum(r["wire"] for r in types.values())
    month = {}
    for k, r in types.items():
        month[k] = {"calls": round(r["calls"] * scale), "frames": round(r["frames"] * scale),
                    "payload_up": round(r["payload_up"] * scale),
                    "payload_down": round(r["payload_down"] * scale),
                    "bytes": round(r["wire"] * scale)}
    sizes = [n for up, n in sim["texts"]]
    return {
        "by_type": month,
        "layers": {k: round(v * scale) for k, v in layers.items()},
        "up_bytes": round(dirs["up"] * scale),
        "down_bytes": round(dirs["down"] * scale),
        "total_bytes": round(total * scale),
        "total_mb": round(total * scale / MB, 3),
        # lower bound: every answer carries the ACK of its request (no pure ACK for the request)
        "total_mb_piggyback": round((total - answers * net["ip_tcp"]) * scale / MB, 3),
        "sizes": _stats(sizes),
        "connections": {"count": len(conns), "orderly": sum(1 for c in conns if c["end"] == "orderly"),
                        "drops": dict(sim["drops"]), "http_up": conns[0]["http_up"] if conns else 0,
                        "http_down": conns[0]["http_down"] if conns else 0,
                        "handshake_bytes": per_connect},
        "ping_bytes": ping_cost(net),
        "consistent": consistent,
    }


def _profile_result(name, days, progress, overrides=None):
    prof = dict(PROFILES[name])
    prof.update(overrides or {})
    # the stack persists every TransactionEvent (fsync): keep its state on tmpfs when there is one
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    state_dir = tempfile.mkdtemp(prefix="bench_data_%s_" % name, dir=shm)
    t0 = time.perf_counter()
    try:
        sim = asyncio.run(_simulate(name, prof, days, progress, state_dir))
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
    res = account(sim, prof, days)
    res["sim_seconds"] = round(time.perf_counter() - t0, 2)
    res["settings"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in prof.items()}
    res["settings"]["variables"] = [list(v) for v in prof["variables"]]
    res["station_calls"] = dict(sim["counts"])
    res["boot_reasons"] = list(sim["boot_reasons"])
    res["boots"] = sim["boots"]
    res["sessions"] = sim.get("sessions")
    res["energy_kwh"] = sim.get("energy_kwh")
    res["set_results"] = sim["set_results"]
    res["report_status"] = sim["report_status"]
    res["reset_status"] = sim["reset_status"]
    res["problems"] = sim["problems"]
    res["http_request"] = sim["request_head"]  # one example (its Sec-WebSocket-Key is random)
    return res


def run(quick=False, progress=None, **opts):
    """Simulate ``opts["days"]`` (default 30) days per profile (``opts["profiles"]``, default
    both; quick: ``["lite"]``) and return the JSON-serialisable result: ``{"days", "usage",
    "network", "oca", "target_mb", "profiles": {name: {...}}, "seconds"}``; each profile has
    ``by_type`` (action -> calls, frames, payload_up, payload_down, bytes per month), ``layers``,
    ``total_bytes``/``total_mb``, ``up_bytes``/``down_bytes``, ``sizes`` (frame-size statistics),
    ``connections``, ``ping_bytes``, ``station_calls`` and sanity fields (``problems``: stack log
    lines about undelivered messages, ``set_results``, ``reset_status``). Byte counts are
    deterministic. ``wire=True`` (``ocpp2lite bench`` without --quick) adds ``wire``: our station's
    Lite month measured on a real socket with TLS (bench/data_wire.py, ~80 s).
    Other opts override every simulated profile: ``reconnects_per_month``,
    ``nat_idle_s`` (NAT idle timeout, s), ``csms_ping_s`` (the CSMS's own PING interval, s)."""
    days = max(1, int(opts.get("days", MONTH_DAYS)))
    names = opts.get("profiles") or (["lite"] if quick else list(PROFILES))
    t0 = time.perf_counter()
    out = {"days": days, "usage": _jsonable(USAGE), "network": dict(NETWORK), "oca": dict(OCA_SIZES),
           "target_mb": TARGET_MB, "profiles": {}}
    over = {k: opts[k] for k in ("reconnects_per_month", "nat_idle_s", "csms_ping_s") if k in opts}
    for name in names:
        out["profiles"][name] = _profile_result(name, days, progress, over)
    if opts.get("wire"):   # our station on a real socket, TLS measured (ocpp2lite bench, not --quick)
        from bench import data_wire
        out["wire"] = data_wire.measure(progress)
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


def _jsonable(d):
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


# ---- presentation --------------------------------------------------------------------------------
def headline(result):
    rows = []
    for name, p in result["profiles"].items():
        mb = p["total_mb"]
        rows.append(("data/month %s" % name, mb, "MB", TARGET_MB, mb <= TARGET_MB))
    w = result.get("wire")
    if w and w.get("status") == "ok":
        mb = round(w["month"]["total_b"] / MB, 3)
        rows.append(("data/month lite, measured on a real socket (TLS 1.2 and TCP/IP counted on "
                     "loopback, bench/data_wire.py)", mb, "MB", TARGET_MB, mb <= TARGET_MB))
    for name, p in result["profiles"].items():
        rows.append(("mean OCPP-J frame %s" % name, p["sizes"]["mean"], "chars",
                     float(OCA_SIZES["mean"]), None))
    return rows


def _mb(b):
    return "%.3f" % (b / MB)


def markdown(result):
    L = []
    days = result["days"]
    profs = result["profiles"]
    L.append("## Mobile data per month (bench/data.py)")
    L.append("")
    L.append("The real stack (Station + its RFC 6455 client) ran %d simulated days per profile in "
             "process on CPython against an in-process CSMS; the WebSocket bytes are exact, the TLS "
             "and TCP/IP bytes below them come from a stated model (see the module docstring). "
             "1 MB = 10^6 B; figures are per 30 days%s. Run time %.1f s for %d profile(s)."
             % (days, "" if days == MONTH_DAYS else " (scaled from %d days)" % days,
                result["seconds"], len(profs)))
    L.append("")
    L.append("Usage: " + result["usage"]["doc"])
    L.append("")
    L.append("| | " + " | ".join(profs) + " | target |")
    L.append("|---|" + "---|" * len(profs) + "---|")
    L.append("| **total MB/month** | " + " | ".join("**%.2f**" % p["total_mb"] for p in profs.values())
             + " | %.0f |" % TARGET_MB)
    L.append("| total if each answer carries its request's ACK | " + " | ".join(
        "%.2f" % p["total_mb_piggyback"] for p in profs.values()) + " | |")
    for k, label in (("payload", "OCPP-J payload"), ("ws", "WebSocket framing + PING/PONG"),
                     ("tls", "TLS records"), ("tcpip", "TCP/IP headers + ACKs"),
                     ("handshakes", "handshakes (TCP, TLS, HTTP Upgrade, close)")):
        L.append("| %s | " % label + " | ".join(_mb(p["layers"][k]) for p in profs.values()) + " | |")
    L.append("| up (station -> CSMS) | " + " | ".join(_mb(p["up_bytes"]) for p in profs.values())
             + " | |")
    L.append("| down (CSMS -> station) | " + " | ".join(_mb(p["down_bytes"]) for p in profs.values())
             + " | |")
    L.append("| connections (drops, resets) | " + " | ".join(
        "%d (%s; %d orderly)" % (p["connections"]["count"],
                                 ", ".join("%s %d" % kv for kv in sorted(p["connections"]["drops"].items()))
                                 or "none", p["connections"]["orderly"]) for p in profs.values()) + " | |")
    L.append("| bytes per (re)connect | " + " | ".join(
        "%d" % (p["connections"]["handshake_bytes"] or 0) for p in profs.values()) + " | |")
    L.append("| sessions, energy | " + " | ".join(
        "%s, %.0f kWh" % (p["sessions"], p["energy_kwh"] or 0) for p in profs.values()) + " | |")
    L.append("")
    for name, p in profs.items():
        L.append("### %s: MB/month by message type" % name)
        L.append("")
        L.append(p["settings"]["doc"])
        L.append("")
        L.append("| message type | CALLs | payload up kB | payload down kB | wire MB | share |")
        L.append("|---|---:|---:|---:|---:|---:|")
        tot = p["total_bytes"] or 1
        for k, r in sorted(p["by_type"].items(), key=lambda kv: -kv[1]["bytes"]):
            L.append("| %s | %d | %.1f | %.1f | %s | %.1f %% |" % (
                k, r["calls"], r["payload_up"] / 1000, r["payload_down"] / 1000, _mb(r["bytes"]),
                100.0 * r["bytes"] / tot))
        L.append("")
        L.append("CALLs: CALLs of that action in either direction (for PING/PONG the PINGs, for "
                 "(re)connect the connections); payload: OCPP-J characters of the CALLs and their "
                 "answers; wire: all layers of those frames including the ACKs they cause.")
        L.append("")
        v = ", ".join("%s.%s=%s" % tuple(x) for x in p["settings"]["variables"])
        L.append("Settings sent by the CSMS (SetVariables after the first boot: %s): %s; "
                 "HeartbeatInterval (BootNotification interval) %d s." % (
                     ", ".join(p["set_results"] or ["none"]), v, p["settings"]["heartbeat_s"]))
        if p["problems"]:
            L.append("")
            L.append("Stack log lines about undelivered messages: %d (first: `%s`)." % (
                len(p["problems"]), p["problems"][0]))
        L.append("")
    L.append("### Message sizes (characters per OCPP-J frame, both directions)")
    L.append("")
    L.append("| | frames/month | mean | median | p95 | p99 | max | < 500 | < 2 kB |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, p in profs.items():
        s = p["sizes"]
        L.append("| %s | %d | %.0f | %d | %d | %d | %d | %.1f %% | %.1f %% |" % (
            name, round(s["count"] * MONTH_DAYS / days), s["mean"], s["median"], s["p95"], s["p99"],
            s["max"], 100 * s["lt500"], 100 * s["lt2000"]))
    o = result["oca"]
    L.append("| OCA certification logs | %d (15 stations) | %d | | | | | ~%d %% | ~%d %% |" % (
        o["messages"], o["mean"], round(100 * o["lt500"]), round(100 * o["lt2000"])))
    L.append("")
    L.append("OCA figures: %s. The certification logs exercise every use case (reports, "
             "configuration, errors); a month of normal operation is dominated by short "
             "TransactionEvent, Heartbeat and MeterValues frames, so its mean is lower; the large "
             "frames are the NotifyReport parts of a FullInventory (limited by "
             "BytesPerMessage/ItemsPerMessage[GetReport])." % o["source"])
    L.append("")
    # keepalive sensitivity (analytic, from the same model)
    net = result["network"]
    pc = ping_cost(net)
    ka = tcp_keepalive_cost(net)
    L.append("### Keepalive against NAT idle timeouts (analytic, same model)")
    L.append("")
    reconnect = ", ".join("%s B (%s)" % (p["connections"]["handshake_bytes"], n)
                          for n, p in profs.items())
    L.append("The NAT idle timeout is the largest unknown for a mobile charger: RFC 5382 (REQ-5) asks "
             "for at least 2 h 4 min, but carrier-grade NATs and cloud load balancers in front of a "
             "CSMS often cut idle TCP connections after a few minutes (e.g. AWS NAT gateway 350 s, "
             "Azure Load Balancer 4 min by default). The bench assumes %d s. One PING/PONG costs %d B "
             "on the wire (ACKs included), a TCP keepalive probe + ACK %d B (the stack does not use "
             "TCP keepalive), a reconnect %s, i.e. %s PING/PONGs: a station that must stay "
             "reachable for the CSMS is always cheaper keeping its connection alive than letting "
             "the NAT drop it and reconnecting."
             % (net["nat_idle_s"], pc, ka, reconnect,
                " / ".join("%.0f" % (p["connections"]["handshake_bytes"] / pc) for p in profs.values())))
    L.append("")
    L.append("| NAT idle timeout | keepalive every | WebSocket PING MB/month | TCP keepalive MB/month |")
    L.append("|---|---:|---:|---:|")
    for nat in (300, 1800, 7440):
        iv = nat - 60
        n = MONTH_DAYS * 86400 // iv
        L.append("| %d s | %d s | %.2f | %.2f |" % (nat, iv, n * pc / MB, n * ka / MB))
    L.append("| (typical: every 60 s) | 60 s | %.2f | %.2f |" % (
        MONTH_DAYS * 1440 * pc / MB, MONTH_DAYS * 1440 * ka / MB))
    L.append("")
    L.append("A CSMS that also PINGs (the Python `websockets` server does so every 20 s by default, "
             "as ocpp2lite.csms does) would add %.1f MB/month on its own." % (
                 MONTH_DAYS * 86400 / 20 * pc / MB))
    L.append("")
    L.append("Not modelled: retransmissions (loss), the bytes a dying connection sends before the "
             "station notices a silent drop (the stack ignores missing PONGs: it learns of a dead "
             "connection only from a TCP error), DNS lookups on reconnect (about 100-150 B each), "
             "PDP context / radio signalling (not billed as data), IPv6 (+20 B per segment). "
             "Pessimistic: one pure ACK per message (piggybacking on the answer would save up to "
             "half of them), TCP timestamps on every segment (lwIP sends none: -12 B per segment).")
    if "wire" in result:
        from bench import data_wire
        lite = profs.get("lite")
        L += data_wire.markdown(result["wire"], lite["total_mb"] if lite else None)
    return "\n".join(L) + "\n"


def plot(result, png_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    profs = result["profiles"]
    names = list(profs)
    kinds = {}
    for p in profs.values():
        for k, r in p["by_type"].items():
            kinds[k] = kinds.get(k, 0) + r["bytes"]
    order = sorted(kinds, key=lambda k: -kinds[k])
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 5.5), gridspec_kw={"width_ratios": [1.2, 1]})
    bottom = [0.0] * len(names)
    cmap = plt.get_cmap("tab20")
    for i, k in enumerate(order):
        vals = [profs[n]["by_type"].get(k, {"bytes": 0})["bytes"] / MB for n in names]
        ax.bar(names, vals, bottom=bottom, label=k, color=cmap(i % 20))
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.axhline(TARGET_MB, color="red", linestyle="--", linewidth=1)
    ax.text(-0.4, TARGET_MB, "target %d MB" % TARGET_MB, color="red", va="bottom", fontsize=8)
    for i, n in enumerate(names):
        ax.text(i, bottom[i], "%.2f MB" % bottom[i], ha="center", va="bottom", fontsize=9)
    ax.set_ylim(0, max([TARGET_MB] + bottom) * 1.35)
    ax.set_ylabel("MB per month (wire bytes, all layers)")
    ax.set_title("Monthly mobile data by message type")
    ax.legend(fontsize=7, loc="upper right", ncol=2)
    for n in names:
        q = profs[n]["sizes"].get("quantiles")
        if q:
            ax2.step(q, range(101), where="post", label="%s (mean %.0f)" % (n, profs[n]["sizes"]["mean"]))
    ax2.plot([500, 2000], [95, 99], "kx", markersize=9,
             label="OCA certification logs: ~95 % < 500, ~99 % < 2 kB (mean 235)")
    ax2.set_ylim(0, 101)
    ax2.set_xscale("log")
    ax2.set_xlabel("OCPP-J frame size (characters)")
    ax2.set_ylabel("% of frames smaller")
    ax2.set_title("Message-size distribution")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    res = run(quick="--quick" in argv)
    sys.stdout.write(markdown(res))


if __name__ == "__main__":
    main()
