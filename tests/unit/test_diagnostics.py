"""N01 GetLog (blocks/diagnostics.py) and the diagnostics log (lite_stack/diaglog.py): station
scenarios on simulated time with the log uploaded over a real loopback socket to the tiny HTTP
server of test_http (VirtualClock.real_io > 0), both interpreters."""
import os
import sys

from lite_stack.clock import iso
from lite_stack.vclock import VirtualClock
from lite_stack.diaglog import CUR, OLD, DiagLog, token_ref
from tests.unit.test_http import Server
from tests.unit.test_station import Rig
from tests.unit.util import rmtree, run, start_server, tmpdir


def scenario(fn):
    """Boot a Rig with real I/O enabled and a running HTTP server; fn(rig, srv, base_url)."""
    async def main():
        rig = Rig()
        rig.clock.real_io = 2            # ms of real time per simulated jump: sockets progress
        rig.settings["poll_ms"] = 1000   # fewer jumps per simulated second: long waits stay fast
        srv = Server()
        server, srv.port = await start_server(srv)
        try:
            await rig.boot()
            return await fn(rig, srv, "http://127.0.0.1:%d" % srv.port)
        finally:
            try:
                await rig.stop()
            except Exception:  # noqa: BLE001
                pass
            server.close()
            await server.wait_closed()
            rmtree(rig.state_dir)
    return run(main())


def _getlog(rid, url, typ="DiagnosticsLog", **kw):
    p = {"requestId": rid, "logType": typ, "log": {"remoteLocation": url}}
    for k in kw:
        if k in ("oldestTimestamp", "latestTimestamp"):
            p["log"][k] = kw[k]
        else:
            p[k] = kw[k]
    return p


def _lsn(rig):
    return [(p["status"], p.get("requestId")) for p in rig.csms.of("LogStatusNotification")]


async def _until(rig, n, timeout=600):
    await rig.csms.wait_for(lambda: len(rig.csms.of("LogStatusNotification")) >= n, timeout)
    await rig.settle(1)


async def _refused():
    # a loopback port nobody listens on
    s, port = await start_server(Server())
    s.close()
    await s.wait_closed()
    return port


def _tmp_left(rig):
    return [n for n in os.listdir(rig.state_dir) if n.startswith("getlog")]


def test_N01_FR_01_FR_07_FR_08_diagnostics_log_uploaded_TC_N_25_CS():
    async def s(rig, srv, base):
        rig.station.ctx.log("IdToken %s not authorized: Invalid" % token_ref("SECRET-TAG-1"))
        r = await rig.csms.call("GetLog", _getlog(7, base + "/upload/"))
        assert r[0] == 3 and r[2]["status"] == "Accepted" and r[2]["filename"], r
        await _until(rig, 2)
        assert _lsn(rig) == [("Uploading", 7), ("Uploaded", 7)]
        m, path, h, body = srv.reqs[-1]
        assert m == "PUT" and path == "/upload/" + r[2]["filename"], path
        text = body.decode()
        assert text.startswith("# OCPP2.Lite DiagnosticsLog requestId 7")
        assert "boot reason PowerUp: registration Accepted" in text and "connected to" in text
        assert "station start, firmware " in text
        assert token_ref("SECRET-TAG-1") in text and "SECRET-TAG-1" not in text
        assert not _tmp_left(rig)
        assert "lite_stack.blocks.diagnostics" not in sys.modules   # on-demand: released
    scenario(s)


def test_N01_FR_03_security_log_uploaded_TC_N_35_CS():
    async def s(rig, srv, base):
        r = await rig.csms.call("GetLog", _getlog(8, base + "/upload", "SecurityLog"))
        assert r[2]["status"] == "Accepted" and r[2]["filename"] == "SecurityLog-8.log"
        await _until(rig, 2)
        assert _lsn(rig) == [("Uploading", 8), ("Uploaded", 8)]
        body = srv.reqs[-1][3].decode()
        assert srv.reqs[-1][1] == "/upload/SecurityLog-8.log"
        assert body.startswith("# OCPP2.Lite SecurityLog") and "StartupOfTheDevice" in body
    scenario(s)


def test_N01_FR_10_upload_failure_after_retries_retryInterval_apart_TC_N_26_CS():
    async def s(rig, srv, base):
        times = []

        def note(p):
            times.append((p["status"], rig.clock.ms()))
            return {}
        rig.csms.responses["LogStatusNotification"] = note
        r = await rig.csms.call("GetLog", _getlog(9, base + "/missing/x", retries=3,
                                                  retryInterval=60))
        assert r[2]["status"] == "Accepted"
        await _until(rig, 5)
        await rig.settle(200)
        assert _lsn(rig) == [("Uploading", 9)] + [("UploadFailure", 9)] * 4
        span = times[-1][1] - times[0][1]
        assert 180000 <= span < 190000, span     # 3 * retryInterval (errata 2025-01 §6.2.22)
        assert len([q for q in srv.reqs if q[0] == "PUT"]) == 4
        assert not _tmp_left(rig)
    scenario(s)


def test_N01_connection_refused_UploadFailure_and_401_PermissionDenied_not_retried():
    async def s(rig, srv, base):
        refused = await _refused()
        await rig.csms.call("GetLog", _getlog(1, "http://127.0.0.1:%d/up" % refused, retries=1,
                                              retryInterval=10))
        await _until(rig, 3)
        assert _lsn(rig) == [("Uploading", 1), ("UploadFailure", 1), ("UploadFailure", 1)]
        await rig.csms.call("GetLog", _getlog(2, base + "/private/", retries=3, retryInterval=10))
        await _until(rig, 5)
        await rig.settle(60)
        assert _lsn(rig)[3:] == [("Uploading", 2), ("PermissionDenied", 2)]
    scenario(s)


def test_N01_bad_remoteLocation_BadMessage_unknown_scheme_NotSupportedOperation():
    async def s(rig, srv, base):
        r = await rig.csms.call("GetLog", _getlog(3, "not a url"))
        assert r[2]["status"] == "Accepted"
        await _until(rig, 1)
        r = await rig.csms.call("GetLog", _getlog(4, "sftp://h/logs"))
        await _until(rig, 2)
        r = await rig.csms.call("GetLog", _getlog(5, "http://:80/x"))
        await _until(rig, 3)
        await rig.settle(100)
        assert _lsn(rig) == [("BadMessage", 3), ("NotSupportedOperation", 4), ("BadMessage", 5)]
        assert not srv.reqs and not _tmp_left(rig)
        assert any("remoteLocation unusable" in ln for ln in rig.logs)
    scenario(s)


def test_N01_FR_12_second_request_AcceptedCanceled_TC_N_36_CS():
    async def s(rig, srv, base):
        refused = await _refused()
        await rig.csms.call("GetLog", _getlog(10, "http://127.0.0.1:%d/up" % refused, retries=5,
                                              retryInterval=600))
        await _until(rig, 2)      # Uploading, UploadFailure; now waiting for the retry
        r = await rig.csms.call("GetLog", _getlog(11, base + "/upload"))
        assert r[2]["status"] == "AcceptedCanceled", r
        await _until(rig, 5)
        await rig.settle(1300)    # the first request's retries never come
        assert _lsn(rig) == [("Uploading", 10), ("UploadFailure", 10), ("AcceptedCanceled", 10),
                             ("Uploading", 11), ("Uploaded", 11)]
        assert not _tmp_left(rig)
    scenario(s)


def test_F06_FR_15_FR_14_trigger_LogStatusNotification_Idle_then_Uploading_TC_F_15_CS_TC_F_16_CS():
    """Part 6 TC_F_15_CS: trigger while no upload -> Accepted, LogStatusNotification Idle;
    TC_F_16_CS: GetLog Accepted, Uploading, then a trigger -> Accepted, Uploading (with the
    requestId); after the upload has ended the trigger says Idle again."""
    async def s(rig, srv, base):
        r = await rig.csms.call("TriggerMessage", {"requestedMessage": "LogStatusNotification"})
        assert r[2]["status"] == "Accepted"
        await _until(rig, 1)
        assert rig.csms.of("LogStatusNotification")[0] == {"status": "Idle"}
        refused = await _refused()
        await rig.csms.call("GetLog", _getlog(12, "http://127.0.0.1:%d/up" % refused, retries=1,
                                              retryInterval=600))
        await _until(rig, 3)
        r = await rig.csms.call("TriggerMessage", {"requestedMessage": "LogStatusNotification"})
        assert r[2]["status"] == "Accepted"
        await _until(rig, 4)
        assert _lsn(rig)[1:] == [("Uploading", 12), ("UploadFailure", 12), ("Uploading", 12)]
        await rig.settle(700)
        await rig.csms.call("TriggerMessage", {"requestedMessage": "LogStatusNotification"})
        await _until(rig, 6)
        assert _lsn(rig)[-2:] == [("UploadFailure", 12), ("Idle", None)]
    scenario(s)


def test_N01_oldest_and_latest_timestamp_window():
    async def s(rig, srv, base):
        t0 = rig.clock.now()
        rig.clock.real_io = 0            # no socket in use while time passes
        rig.station.ctx.log("marker-A")
        await rig.settle(1000)
        rig.station.ctx.log("marker-B")
        await rig.settle(1000)
        rig.station.ctx.log("marker-C")
        rig.clock.real_io = 2
        await rig.csms.call("GetLog", _getlog(20, base + "/upload", oldestTimestamp=iso(t0 + 500),
                                              latestTimestamp=iso(t0 + 1500)))
        await _until(rig, 2)
        body = srv.reqs[-1][3].decode()
        assert "marker-B" in body and "marker-A" not in body and "marker-C" not in body, body
        assert ("window %s .. %s" % (iso(t0 + 500), iso(t0 + 1500))) in body
    scenario(s)


# --- the diagnostics log ring -------------------------------------------------------------------

def test_diaglog_ring_bounded_oldest_dropped_lines_cut():
    d = tmpdir("diag")
    clock = VirtualClock()
    log = DiagLog(d, clock, seg_bytes=300)
    for i in range(100):
        log.add("entry %d %s" % (i, "x" * 200 if i == 99 else ""))
        clock.advance(1000)
    assert os.stat(d + "/" + CUR)[6] <= 300 and os.stat(d + "/" + OLD)[6] <= 300

    class Sink:
        def __init__(self):
            self.lines = []

        def write(self, s):
            self.lines.append(s)
    out = Sink()
    n = log.copy(out)
    assert n == len(out.lines) and n < 40
    assert "entry 0 " not in "".join(out.lines) and "entry 98" in out.lines[-2]
    assert len(out.lines[-1]) < 150      # LINE_MAX characters of text + the time
    rmtree(d)


def test_diaglog_power_cut_mid_line_recovered_and_skipped():
    d = tmpdir("diag")
    clock = VirtualClock()
    log = DiagLog(d, clock)
    log.add("first")
    with open(d + "/" + CUR, "ab") as f:
        f.write(b"1767225600 half a li")     # power cut in the middle of an append
    log = DiagLog(d, clock)
    log.add("second")

    class Sink:
        lines = []

        def write(self, s):
            self.lines.append(s)
    out = Sink()
    assert log.copy(out) == 3
    assert out.lines[0].endswith(" first\n") and out.lines[2].endswith(" second\n")
    assert log.copy(Sink(), oldest=clock.now() + 1) == 0
    rmtree(d)


def test_diaglog_start_removes_upload_temporaries_left_by_a_power_cut():
    d = tmpdir("diag")
    with open(d + "/getlog-5", "w") as f:
        f.write("partial")
    DiagLog(d, VirtualClock())
    assert os.listdir(d) == []
    rmtree(d)


def test_diaglog_write_failure_is_ignored():
    log = DiagLog("/nonexistent-dir-ocpp2lite", VirtualClock())
    log.add("nowhere")   # no exception: logging never stops the station
    assert token_ref("ABC") == token_ref("ABC") and token_ref("ABC") != token_ref("ABD")
    assert len(token_ref("ABC")) == 9 and token_ref("ABC")[0] == "#"


def test_N01_bad_input_right_CALLERROR_no_crash_block_released():
    async def s(rig, srv, base):
        bad = [
            {"requestId": 1, "logType": "DiagnosticsLog"},                                  # no log
            {"requestId": 1, "logType": "Other", "log": {"remoteLocation": base}},
            {"requestId": 1, "logType": "DiagnosticsLog",
             "log": {"remoteLocation": base, "oldestTimestamp": "yesterday"}},
            {"requestId": "1", "logType": "DiagnosticsLog", "log": {"remoteLocation": base}},
            {"requestId": 1, "logType": "DiagnosticsLog", "log": {"remoteLocation": "x" * 600}},
        ]
        for p in bad:
            r = await rig.csms.call("GetLog", p)
            assert r[0] == 4 and r[2] in ("FormatViolation", "OccurrenceConstraintViolation",
                                          "PropertyConstraintViolation",
                                          "TypeConstraintViolation"), (p, r)
        assert "lite_stack.blocks.diagnostics" not in sys.modules
        r = await rig.csms.call("GetLog", _getlog(2, base + "/upload"))   # still works
        await _until(rig, 2)
        assert _lsn(rig) == [("Uploading", 2), ("Uploaded", 2)]
    scenario(s)


def test_N01_heap_back_to_baseline_after_uploads():
    from tests.unit.util import heap_used

    async def one(rig, srv, base, rid):
        await rig.csms.call("GetLog", _getlog(rid, base + "/upload"))
        await _until(rig, 2)
        assert _lsn(rig)[-1] == ("Uploaded", rid)
        for lst in (srv.reqs, rig.logs, rig.csms.calls, rig.csms.frames):  # the fakes' records
            del lst[:]
        rig.csms.results.clear()

    async def s(rig, srv, base):
        heap_used()   # CPython: starts tracing
        await one(rig, srv, base, 1)
        h0 = heap_used()
        for k in range(4):
            await one(rig, srv, base, 10 + k)
        h1 = heap_used()
        print("heap after 1 and 5 uploads", h0, h1)
        # MicroPython (the target): flat, nothing kept per upload. On CPython tracemalloc also
        # counts the import machinery's caches (the block and the client are imported again per
        # GetLog) and the loop's: there only the release is checked.
        import gc
        if hasattr(gc, "mem_alloc"):
            assert h1 - h0 < 3000, (h0, h1)
        assert "lite_stack.blocks.diagnostics" not in sys.modules
    scenario(s)
