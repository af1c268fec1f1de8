"""End-to-end N01 GetLog: the simulated station as a subprocess (CPython and MicroPython) against
the embedded CSMS with its lab file server (``Csms(files_dir=...)``, ``ocpp2lite.files``): the log is
PUT to ``files_url + "/upload/<filename>"`` over a real loopback socket and arrives whole; every
frame is checked against the OCPP 2.0.1 schemas (run_scenario)."""
from tests.harness import booted, run_scenario


async def _getlog(csms, rid, typ, ready="StatusNotification"):
    _, i = await booted(csms)
    await csms.wait_for(ready, since=i + 1, timeout=15)
    r = await csms.call("GetLog", {"requestId": rid, "logType": typ,
                                   "log": {"remoteLocation": csms.files_url + "/upload"}})
    assert r["status"] == "Accepted" and r["filename"], r
    up, j = await csms.wait_for("LogStatusNotification", since=i, timeout=15)
    assert up == {"status": "Uploading", "requestId": rid}, up
    done, _ = await csms.wait_for("LogStatusNotification", since=j + 1, timeout=30)
    assert done == {"status": "Uploaded", "requestId": rid}, done
    return r["filename"]


def test_N01_diagnostics_log_uploaded_to_the_embedded_csms_TC_N_25_CS(interp, tmp_path):
    async def scenario(csms, st):
        name = await _getlog(csms, 5, "DiagnosticsLog")
        body = (tmp_path / name).read_text()
        assert body.startswith("# OCPP2.Lite DiagnosticsLog requestId 5")
        assert "connected to" in body and "registration Accepted" in body, body
    run_scenario(scenario, interp, csms_kwargs={"files_dir": str(tmp_path)})


def test_N01_security_log_uploaded_to_the_embedded_csms_TC_N_35_CS(interp, tmp_path):
    async def scenario(csms, st):
        name = await _getlog(csms, 6, "SecurityLog", "SecurityEventNotification")
        body = (tmp_path / name).read_text()
        assert body.startswith("# OCPP2.Lite SecurityLog") and "StartupOfTheDevice" in body, body
    run_scenario(scenario, interp, csms_kwargs={"files_dir": str(tmp_path)})


def test_N01_diagnostics_log_uploaded_by_ftp_STOR_TC_N_25_CS(interp, tmp_path):
    import pytest
    pytest.importorskip("pyftpdlib")
    from ocpp2lite.files import serve_ftp
    ftp = serve_ftp("127.0.0.1", 0, str(tmp_path), "lab", "pw")
    try:
        async def scenario(csms, st):
            _, i = await booted(csms)
            await csms.wait_for("StatusNotification", since=i + 1, timeout=15)
            r = await csms.call("GetLog", {"requestId": 9, "logType": "DiagnosticsLog",
                                           "log": {"remoteLocation": ftp.url + "/"}})
            assert r["status"] == "Accepted"
            done, _ = await csms.wait_for("LogStatusNotification",
                                          lambda p: p["status"] != "Uploading", since=i, timeout=30)
            assert done == {"status": "Uploaded", "requestId": 9}, done
            body = (tmp_path / r["filename"]).read_text()
            assert body.startswith("# OCPP2.Lite DiagnosticsLog requestId 9")
            assert "connected to" in body
        run_scenario(scenario, interp)
    finally:
        ftp.close()
