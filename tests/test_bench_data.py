"""bench/data.py and bench/data_csms.py: the wire model (RFC 6455 framing, TLS/TCP overhead), the
in-process CSMS against the stack's real WebSocket client, and the monthly data figures of the
Lite-tuned profile (deterministic byte counts, never timings)."""
import asyncio
import base64
import json
import os
import tempfile

from bench import data
from bench.data_csms import DataCsms, server_frame, http_date
from lite_stack.core import ws as ws_mod
from lite_stack.core.ws import WebSocket

_QUICK = []


def quick():
    """The quick (Lite-tuned, 30 days) result, computed once per test session."""
    if not _QUICK:
        _QUICK.append(data.run(quick=True))
    return _QUICK[0]


# ---- the wire model ------------------------------------------------------------------------------
def test_ws_header_sizes_RFC6455_5_2():
    assert [data.ws_header(n, True) for n in (0, 125, 126, 65535, 65536)] == [6, 6, 8, 8, 14]
    assert [data.ws_header(n, False) for n in (0, 125, 126, 65535, 65536)] == [2, 2, 4, 4, 10]
    for n in (0, 125, 126, 65535, 65536):  # the CSMS's own frames follow the same rule
        assert len(server_frame(1, b"x" * n)) - n == data.ws_header(n, False)


def test_ws_header_model_matches_the_stacks_client_frames():
    class W:
        def __init__(self):
            self.out = []

        def write(self, b):
            self.out.append(bytes(b))

        async def drain(self):
            pass

    async def go():
        ws = WebSocket()
        ws._w = W()
        for n in (0, 125, 126, 300, 65535, 65536):
            k = len(ws._w.out)
            await ws.send("a" * n)
            assert sum(len(b) for b in ws._w.out[k:]) - n == data.ws_header(n, True), n
            # one write up to mbedTLS's 4096 B output buffer, the TLS record model's split
            assert [len(b) for b in ws._w.out[k:-1]] == [4096] * (len(ws._w.out) - k - 1), n
        await ws.ping()
        assert len(ws._w.out[-1]) == data.ws_header(0, True)
    asyncio.run(go())


def test_frame_cost_tls12_records_segments_and_delayed_acks():
    # an empty PING: 6 B frame, one 29 B record, one segment of 52 B headers, one pure ACK back
    assert data.frame_cost(6, True) == (29, 52, 52)
    # 5000 B from the station: records of at most 4096 B -> 2 records; 5058 B -> 4 segments; 2 ACKs
    assert data.frame_cost(5000, True) == (58, 4 * 52, 2 * 52)
    # the same from the CSMS: one 16 kB record -> 5029 B -> 4 segments
    assert data.frame_cost(5000, False) == (29, 4 * 52, 2 * 52)
    assert data.ping_cost() == (6 + 29 + 52 + 52) + (2 + 29 + 52 + 52)
    assert data.tcp_keepalive_cost() == 104


def test_handshake_cost_counted_by_hand():
    # typical chain 2 x 1300 B, RSA-2048 signature, HTTP 271/238 B, host csms.example.com (16)
    up, down = data.handshake_cost(271, 238, "csms.example.com", (1300, 1300), 256)
    server1 = 94 + 12 + 2 * 1303 + 82 + 256 + 9  # 3059 B -> 3 segments, 2 ACKs
    exp_up = (60 + 52) + (149 + 52) + 2 * 52 + (126 + 52) + 52 + (271 + 29 + 52) + 52
    exp_down = 60 + 52 + (server1 + 3 * 52) + 52 + (51 + 52) + 52 + (238 + 29 + 52)
    assert (up, down) == (exp_up, exp_down)
    # orderly close: close_notify each way (+ACK), FIN, FIN, ACK
    assert data.close_cost() == (31 + 52 + 52 + 2 * 52, 31 + 52 + 52 + 52)


# ---- the in-process CSMS against the stack's real WebSocket client ---------------------------------
def test_data_csms_speaks_RFC6455_with_the_stacks_client_and_logs_every_byte():
    async def go():
        clock = data._fast_clock()
        drv = asyncio.get_running_loop().create_task(clock.run())
        csms = DataCsms(clock, interval=300)
        saved = ws_mod.asyncio
        ws_mod.asyncio = data._NetAsyncio(csms.open_connection)
        try:
            ws = await WebSocket.connect("wss://csms.example.com/ocpp/CS1", "ocpp2.0.1",
                                         ("CS1", "0123456789abcdef"), None, 8192, 30, clock)
            c = csms.conns[0]
            assert c["http_up"] == ws.bytes_out  # the request exactly as ws.py wrote it
            assert c["http_down"] == ws.bytes_in
            inbox = []

            async def reader():
                while True:
                    m = await ws.recv()
                    if m is None:
                        return
                    inbox.append(json.loads(m))
            rd = asyncio.get_running_loop().create_task(reader())
            await ws.send(json.dumps([2, "m1", "Heartbeat", {}]))
            await clock.sleep(1)
            answer = inbox.pop(0)
            assert answer[0] == 3 and answer[1] == "m1" and "currentTime" in answer[2]
            await ws.ping()
            await clock.sleep(1)
            assert ws.last_pong_ms is not None  # the CSMS answered the PING with a PONG
            task = asyncio.get_running_loop().create_task(csms.call("Reset", {"type": "OnIdle"}))
            await clock.sleep(1)
            call = inbox.pop(0)
            assert call[2] == "Reset"
            await ws.send(json.dumps([3, call[1], {"status": "Accepted"}]))
            r = await task
            assert r == [3, call[1], {"status": "Accepted"}]
            await ws.close()
            await rd
            assert c["end"] == "orderly" and ws.close_code == 1000
            kinds = [(up, op, action, mtype) for _, up, op, _, _, action, mtype in csms.frames]
            assert kinds == [(True, 1, "Heartbeat", 2), (False, 1, "Heartbeat", 3), (True, 9, None, 0),
                             (False, 10, None, 0), (False, 1, "Reset", 2), (True, 1, "Reset", 3),
                             (True, 8, None, 0), (False, 8, None, 0)]
            up = sum(h + n for _, u, _, h, n, _, _ in csms.frames if u)
            down = sum(h + n for _, u, _, h, n, _, _ in csms.frames if not u)
            assert ws.bytes_out == c["bytes_up"] == c["http_up"] + up
            assert ws.bytes_in == c["bytes_down"] == c["http_down"] + down
        finally:
            ws_mod.asyncio = saved
            drv.cancel()
    asyncio.run(go())


def test_data_csms_upgrade_answer_and_date_header():
    assert http_date(1767225600) == "Thu, 01 Jan 2026 00:00:00 GMT"
    assert len(http_date(1767225600 + 86400 * 40 + 3723)) == 29


def test_measured_upgrade_request_carries_host_port_and_basic_auth():
    r = quick()["profiles"]["lite"]
    head = r["http_request"]
    assert len(head) == r["connections"]["http_up"]
    assert head.startswith("GET /ocpp/%s HTTP/1.1\r\n" % data.STATION["station_id"])
    assert "Host: csms.example.com:443\r\n" in head
    auth = base64.b64encode(("%s:%s" % (data.STATION["station_id"], data.STATION["password"]))
                            .encode()).decode()
    assert "Authorization: Basic %s\r\n" % auth in head  # security profile 2
    assert head.endswith("\r\n\r\n")


# ---- the month -------------------------------------------------------------------------------------
def test_lite_month_is_deterministic_and_within_25_MB():
    a = quick()["profiles"]["lite"]
    b = data.run(quick=True)["profiles"]["lite"]
    for k in ("by_type", "layers", "sizes", "total_bytes", "up_bytes", "down_bytes", "connections",
              "station_calls"):
        assert a[k] == b[k], k
    assert a["consistent"]
    assert a["total_bytes"] == sum(a["layers"].values()) == a["up_bytes"] + a["down_bytes"]
    assert a["total_mb"] < data.TARGET_MB
    assert a["problems"] == []  # nothing undelivered, no timeouts
    assert a["set_results"] == ["Accepted"] * len(data.PROFILES["lite"]["variables"])
    assert a["reset_status"] == "Accepted" and a["boot_reasons"] == ["PowerUp", "RemoteReset"]
    assert a["sessions"] == 90 and a["station_calls"]["Authorize"] == 90
    # one PowerUp connection, 8 network losses, one reboot: 10 connections, one closed in order
    assert a["connections"]["count"] == 10 and a["connections"]["drops"] == {"network": 8}
    assert a["connections"]["orderly"] == 1
    # Lite settings: no Heartbeat (daily only if nothing else was sent), no MeterValues, no report
    for action in ("Heartbeat", "MeterValues", "NotifyReport", "GetBaseReport"):
        assert action not in a["by_type"], action
    # one PING every 240 s over 30 days, less the time spent reconnecting/rebooting
    pings = a["by_type"][data.PINGPONG]["calls"]
    assert 10700 <= pings <= 30 * 86400 // 240
    assert a["by_type"][data.PINGPONG]["bytes"] == pings * data.ping_cost()
    assert a["sizes"]["max"] < 2000 and a["sizes"]["lt500"] > 0.95


def test_typical_costs_more_than_lite_and_has_its_messages():
    r = data.run(days=2)
    t, lt = r["profiles"]["typical"], r["profiles"]["lite"]
    assert t["total_bytes"] > 3 * lt["total_bytes"]
    for action in ("Heartbeat", "MeterValues", "NotifyReport", "GetBaseReport"):
        assert action in t["by_type"], action
    assert t["report_status"] == "Accepted"
    # PING every 60 s against every 240 s
    ratio = t["by_type"][data.PINGPONG]["calls"] / lt["by_type"][data.PINGPONG]["calls"]
    assert 3.9 < ratio < 4.1
    # the RSA chain of the typical CSMS makes each (re)connect dearer
    assert t["connections"]["handshake_bytes"] > lt["connections"]["handshake_bytes"] + 2000
    assert t["consistent"] and lt["consistent"]


def test_nat_idle_timeout_below_the_ping_interval_forces_reconnects():
    short = data.run(days=1, profiles=["lite"], nat_idle_s=200)["profiles"]["lite"]
    ok = data.run(days=1, profiles=["lite"], nat_idle_s=300)["profiles"]["lite"]
    assert short["connections"]["drops"].get("nat_idle", 0) >= 100
    assert "nat_idle" not in ok["connections"]["drops"]
    assert short["layers"]["handshakes"] > 50 * ok["layers"]["handshakes"]
    assert short["problems"] == [] or all("not delivered" in p for p in short["problems"])


def test_headline_markdown_and_plot():
    r = quick()
    rows = data.headline(r)
    assert rows[0][0] == "data/month lite" and rows[0][2] == "MB" and rows[0][3] == 25.0
    assert rows[0][4] is True
    md = data.markdown(r)
    for s in ("| message type |", "WebSocket PING/PONG", "OCA certification logs", "25",
              "TCP/IP headers + ACKs", "NAT idle timeout"):
        assert s in md, s
    png = os.path.join(tempfile.mkdtemp(), "data.png")
    data.plot(r, png)
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    json.dumps(r)  # JSON-serialisable


def test_bench_modules_import_from_outside_the_checkout(tmp_path):
    """``ocpp2lite bench`` runs from any directory: the bench modules that reuse tests/ helpers
    (static test PKI, MemStore) import without the checkout on sys.path (they failed with
    ModuleNotFoundError 'tests' from the console script)."""
    import subprocess
    import sys
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    p = subprocess.run([sys.executable, "-c", "import bench.data, bench.fuzz, bench.sec_ram; print('ok')"],
                       cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr[-2000:]
