"""ocpp2lite score: the byte counting against a known frame sequence, and the rows of bad contestants.

CPython only. The counting test sends frames whose sizes RFC 6455 fixes (header 2 B + 2 B for a
payload of 126..65535 B + 8 B above, + 4 B mask key from the client) through the counting relay to
the counting CSMS and compares every counter with the sizes computed here; the bad-contestant tests
run the scoreboard's Run with short time limits (about 25 s in all).
"""
import asyncio
import os
import shlex
import struct
import sys

import pytest

from ocpp2lite import score, score_report, wire
from ocpp2lite.csms import Csms


def _frame(payload, opcode=1, mask=True):
    n = len(payload)
    head = bytes([0x80 | opcode])
    m = 0x80 if mask else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + struct.pack(">H", n)
    else:
        head += bytes([m | 127]) + struct.pack(">Q", n)
    if mask:
        key = b"\x01\x02\x03\x04"
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        head += key
    return head + payload


def _header(n, client):
    return 2 + (2 if 126 <= n < 65536 else 8 if n >= 65536 else 0) + (4 if client else 0)


def test_plain_parser_any_chunking():
    """The plaintext parser gives the same exact counts when fed one byte at a time."""
    texts = [b"x" * 5, b"y" * 200, b"z" * 70000]
    stream = b"GET /CS1 HTTP/1.1\r\nHost: a\r\n\r\n" + b"".join(_frame(t) for t in texts) \
        + _frame(b"ping", opcode=9) + _frame(b"\x03\xe8", opcode=8)
    for chunk in (1, 7, len(stream)):
        p = wire.Plain(False)
        for i in range(0, len(stream), chunk):
            p.feed(stream[i:i + chunk])
        assert p.http == len(b"GET /CS1 HTTP/1.1\r\nHost: a\r\n\r\n")
        assert p.ws_data == 5 + 200 + 70000
        assert p.ws_header == 6 + 8 + 14 + 6 + 6
        assert p.ws_ctrl == 4 + 2
        assert (p.frames, p.ctrl_frames, p.pings) == (3, 2, 1)
        assert p.sizes == [5, 200, 70000]
        assert p.plaintext() == len(stream)


def test_refused_upgrade_is_not_parsed_as_frames():
    p = wire.Plain(True)
    p.feed(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown")
    assert (p.frames, p.other, p.ws_header) == (0, 4, 0)


async def _known_sequence():
    from websockets.asyncio.client import connect
    meter = wire.Meter()
    csms = Csms(ping_interval=None, connection_class=wire.counting_connection(meter))
    await csms.start()
    proxy = wire.CountingProxy(meter, csms.port)
    await proxy.online()
    texts = ['[2,"1","Heartbeat",{}]',
             '[2,"2","DataTransfer",{"vendorId":"org.test","data":"%s"}]' % ("d" * 300),
             '[2,"3","DataTransfer",{"vendorId":"org.test","data":"%s"}]' % ("e" * 70000)]
    try:
        async with connect("ws://127.0.0.1:%d/CS1" % proxy.port, subprotocols=["ocpp2.0.1"],
                           compression=None, ping_interval=None, max_size=None) as ws:
            for t in texts:
                await ws.send(t)
                await ws.recv()
            pong = await ws.ping(b"1234")
            await pong
        await csms.wait_disconnected("CS1")
        for _ in range(50):
            if meter.conns and meter.conns[0].closed:
                break
            await asyncio.sleep(0.05)
        down = [f.text.encode() for f in csms.frames() if f.sender == "CSMS"]
        return meter, texts, down
    finally:
        await proxy.close()
        await csms.stop()


def test_counts_known_frame_sequence():
    meter, texts, down = asyncio.run(_known_sequence())
    s = meter.snapshot()
    assert s["conns"] == 1
    up_data = sum(len(t) for t in texts)
    assert s["up_ws_data"] == up_data
    assert s["up_frames"] == 3 and s["up_pings"] == 1 and s["up_ctrl_frames"] == 2   # PING, CLOSE
    assert s["up_ws_header"] == sum(_header(len(t), True) for t in texts) + 6 + 6
    assert s["up_ws_ctrl"] == 4 + 2                  # PING payload, CLOSE code 1000
    assert len(down) == 3
    assert s["down_ws_data"] == sum(len(d) for d in down)
    assert s["down_ws_header"] == sum(_header(len(d), False) for d in down) + 2 + 2   # PONG, CLOSE
    assert s["down_ws_ctrl"] == 4 + 2
    # the relay's raw TCP payload is exactly the plaintext (no TLS): HTTP head + frames
    assert s["up_raw"] == s["up_http"] + s["up_ws_header"] + s["up_ws_data"] + s["up_ws_ctrl"]
    assert s["down_raw"] == s["down_http"] + s["down_ws_header"] + s["down_ws_data"] + s["down_ws_ctrl"]
    assert s["up_http"] > 100 and s["down_http"] > 100
    assert sorted(meter.sizes(True)) == sorted(len(t) for t in texts)
    if sys.platform.startswith("linux"):
        assert s["tcp_info"]
        c = meter.conns[0]
        # the kernel agrees on the bytes: tcpi_bytes_received is what the station sent us, + 1 when
        # its FIN (which takes one sequence number) has arrived
        assert c.info[3] in (s["up_raw"], s["up_raw"] + 1)
        assert s["up_segs"] >= 3 + 4 and s["down_segs"] >= 1 + 4   # handshake + the frames


# ---- bad contestants ---------------------------------------------------------------------------
FAST = {"connect_s": 3, "step_s": 3, "flood_frames": 200}
CONNECT = ("import os\nfrom websockets.sync.client import connect\n"
           "ws = connect(os.environ['OCPP_CSMS_URL'] + '/' + os.environ['OCPP_STATION_ID'], "
           "subprotocols=['ocpp2.0.1'])\n")


def _cmd(script):
    return "%s -c %s" % (shlex.quote(sys.executable), shlex.quote(script))


def _run(cmd):
    return asyncio.run(score.Run("bad", cmd, run=FAST).go())


def test_crashing_station_row():
    r = _run(_cmd("import sys; sys.exit(3)"))
    assert r["status"] == "crashed at step 1 (connect): exit code 3"
    assert r["steps_passed"] == 0
    assert r["wall_s"] < 10


def test_never_connecting_station_row():
    r = _run(_cmd("import time; time.sleep(120)"))
    assert r["status"] == "no connection in 3 s"
    assert r["wall_s"] < 12          # bounded: the process group is killed, not waited for


def test_hanging_station_row():
    r = _run(_cmd(CONNECT + "import time; time.sleep(120)\n"))
    assert r["status"] == "failed at step 2 (boot): no BootNotification in 3 s"
    assert r["steps_passed"] == 1
    assert r["total"]["conns"] == 1 and r["total"]["up_http"] > 0     # its bytes are still counted
    assert r["wall_s"] < 15


def test_whole_run_is_bounded():
    r = asyncio.run(score.Run("slow", _cmd(CONNECT + "import time; time.sleep(120)\n"),
                              run=dict(FAST, step_s=30, max_s=2)).go())
    assert r["status"] == "timed out after 2 s at step 2 (boot)"
    assert r["wall_s"] < 12


def test_flooding_station_row_and_report():
    r = _run(_cmd(CONNECT + "i = 0\nwhile True:\n    i += 1\n    ws.send('[2,\"%d\",\"Heartbeat\",{}]' % i)\n"))
    assert r["status"].startswith("flooded at step 2 (boot):")
    assert r["wall_s"] < 15
    md = score_report.markdown([r])
    assert "flooded at step 2" in md and "| n/a |" in md      # a row, no month
    assert score_report.summary(r)["month"] is None


@pytest.mark.skipif(not os.environ.get("OCPP2LITE_SCORE_REAL"), reason="~80 s: set OCPP2LITE_SCORE_REAL=1")
def test_real_run_of_our_station():
    r = asyncio.run(score.Run("Lite", "%s -m ocpp2lite sim" % shlex.quote(sys.executable)).go())
    assert r["status"] == "ok", r["stderr_tail"]
    s = score_report.summary(r)
    assert s["month"]["total_b"] > 0 and s["month"]["items"]["WebSocket PING/PONG"]["count"] > 0


def test_layers_of_a_window():
    """The split of measured counters into layers: TLS = TCP payload - plaintext - handshake records,
    TCP/IP = the kernel's segments less the 3 handshake segments of each new connection, x 52 B."""
    from ocpp2lite.score_month import layers
    w = {"conns": 1}
    for d, vals in (("up_", (1000, 200, 20, 300, 4, 0, 300, 10)), ("down_", (900, 150, 10, 400, 4, 0, 250, 7))):
        for k, v in zip(("raw", "http", "ws_header", "ws_data", "ws_ctrl", "other", "tls_hs", "segs"), vals):
            w[d + k] = v
    lay = layers(w, tls=True)
    assert lay == {"OCPP payload": 700, "WebSocket framing": 38, "HTTP upgrade": 350, "TLS handshake": 550,
                   "TLS records": (1000 - 300 - 24 - 200 - 300) + (900 - 400 - 14 - 150 - 250),
                   "TCP handshake": 60 + 52 + 60, "TCP/IP headers": (10 - 2 + 7 - 1) * 52}
    assert layers(w, tls=False)["TLS handshake"] == 0


def test_bench_data_shows_the_wire_month_or_why_not():
    from bench import data_wire
    month = {"total_b": 2980000, "layers_b": {"OCPP payload": 326000}, "items": {
        "sessions": {"measured_cost_b": 6251.2, "count": 90, "month_b": 562604}}}
    md = "\n".join(data_wire.markdown({"status": "ok", "month": month, "wall_s": 77.0}, 3.6))
    assert "**2.98 MB** (the model above: 3.60 MB)" in md and "| sessions | 6251.2 | 90 | 0.563 |" in md
    assert "Not measured: crashed at step 2" in "\n".join(
        data_wire.markdown({"status": "crashed at step 2 (boot): exit code 1", "month": None}))


def test_scenarios_count_from_junit(tmp_path):
    from ocpp2lite import score_scenarios
    p = tmp_path / "j.xml"
    p.write_text('<testsuites><testsuite><testcase name="test_B01_TC_B_01_CS[cpython]"/>'
                 '<testcase name="test_E02_TC_E_03_CS[cpython]"><failure message="x"/></testcase>'
                 '<testcase name="test_F01[cpython]"><error message="y"/></testcase>'
                 '<testcase name="test_skip"><skipped/></testcase></testsuite></testsuites>')
    assert score_scenarios.parse(str(p)) == {"passed": 1, "total": 3, "failed": [
        "test_E02_TC_E_03_CS[cpython]", "test_F01[cpython]"]}
    r = {"scenarios": score_scenarios.parse(str(p))}
    assert score_report._scen(r["scenarios"]) == "1/3" and score_report._scen(None) == "n/a"


def test_heap_option_rewrite_and_not_micropython_is_na():
    from ocpp2lite import score_heap
    cmd = "/usr/bin/micropython -X heapsize=2M -m lite_stack.sim"
    assert score_heap.with_heap(cmd, 300 * 1024) == "/usr/bin/micropython -X heapsize=307200 -m lite_stack.sim"
    assert asyncio.run(score_heap.search("x", "python -m ocpp2lite sim")) is None
    assert score_report._heap(None) == "n/a"
    assert score_report._heap({"heapsize": 262144, "resolution": 16384}) == "256 kB (+-16 kB)"


def test_heap_bisection_finds_the_threshold(monkeypatch):
    from ocpp2lite import score_heap
    need = 300 * 1024

    class FakeRun:
        def __init__(self, name, cmd, tls, run):
            self.heap = int(score_heap.HEAP_RE.search(cmd).group(1))

        async def go(self):
            return {"status": "ok" if self.heap >= need else "crashed at step 2 (boot): exit code 1"}

    monkeypatch.setattr(score_heap, "Run", FakeRun)
    h = asyncio.run(score_heap.search("mp", "micropython -X heapsize=1M -m lite_stack.sim", probes=10))
    assert need <= h["heapsize"] <= need + score_heap.RESOLUTION
    assert any(st != "ok" for _, st in h["probes"]) and len(h["probes"]) <= 10
