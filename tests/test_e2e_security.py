"""End-to-end security (Part 2 A00/A04/A05, Part 4 §5): the simulated station as a subprocess on
CPython and on the MicroPython unix port against the embedded CSMS serving wss:// with a test
PKI made at run time (tests/pki.py); every frame is checked against the OCPP 2.0.1 schemas."""
import asyncio
import ssl

import pytest

pytest.importorskip("cryptography")
from ocpp2lite.csms import Csms  # noqa: E402
from tests.harness import Station, booted, failure_report  # noqa: E402
from tests.pki import make_pki  # noqa: E402

PASSWORD = "0123456789abcdef-sp2"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(str(tmp_path_factory.mktemp("pki")))


def _get(comp, var):
    return {"getVariableData": [{"component": {"name": comp}, "variable": {"name": var}}]}


async def _value(csms, comp, var):
    r = await csms.call("GetVariables", _get(comp, var))
    return r["getVariableResult"][0].get("attributeValue")


def _run(main, timeout=120):
    return asyncio.run(asyncio.wait_for(main(), timeout))


def test_A00_sp2_station_verifies_the_csms_and_boots_over_wss_TC_A_04_CS(interp, pki):
    async def main():
        csms = Csms(password=PASSWORD, tls_cert=pki["srv_pem"], tls_key=pki["srv_key"])
        await csms.start()
        assert csms.url.startswith("wss://")
        st = Station(interp, csms.url, password=PASSWORD,
                     env={"OCPP_CSMS_ROOT_CERT": pki["root_cert_pem"]})
        try:
            await st.start()
            boot, _ = await booted(csms, timeout=30)
            assert boot["reason"] == "PowerUp"
            assert await _value(csms, "SecurityCtrlr", "SecurityProfile") == "2"
            r = await csms.call("GetInstalledCertificateIds", {})
            assert [c["certificateType"] for c in r["certificateHashDataChain"]] == ["CSMSRootCertificate"]
            assert not csms.violations, csms.violations
        except Exception as e:
            raise AssertionError(failure_report(e, csms, st)) from e
        finally:
            await st.cleanup()
            await csms.stop()
    _run(main)


@pytest.mark.parametrize("case", ["wrong_root", "wrong_host", "tls_1_1"])
def test_A00_refused_handshake_no_ocpp_then_event_sent_once_connected_TC_A_05_CS_TC_A_06_CS(
        interp, pki, case):
    """A refused TLS handshake is no OCPP connection; the station records the security event
    (InvalidCsmsCertificate / InvalidTLSVersion) and sends it once a connection succeeds."""
    async def main():
        cert, key = (pki["wrong_pem"], pki["wrong_key"]) if case == "wrong_host" \
            else (pki["srv_pem"], pki["srv_key"])
        bad = Csms(password=PASSWORD, tls_cert=cert, tls_key=key)
        if case == "tls_1_1":
            bad.tls.set_ciphers("ALL:@SECLEVEL=0")
            bad.tls.minimum_version = ssl.TLSVersion.TLSv1
            bad.tls.maximum_version = ssl.TLSVersion.TLSv1_1
        await bad.start()
        port = bad.port
        root = pki["other_cert_pem"] if case == "wrong_root" else pki["root_cert_pem"]
        st = Station(interp, bad.url, password=PASSWORD, env={"OCPP_CSMS_ROOT_CERT": root})
        good = None
        try:
            await st.start()
            await asyncio.sleep(8)
            assert not bad.stations and not bad.handshakes and not bad.messages   # no OCPP at all
            await bad.stop()
            if case == "wrong_root":   # the station trusts only the other root: serve a chain of it
                return
            good = Csms(password=PASSWORD, port=port, tls_cert=pki["srv_pem"], tls_key=pki["srv_key"])
            await good.start()
            await booted(good, timeout=60)
            want = "InvalidTLSVersion" if case == "tls_1_1" else "InvalidCsmsCertificate"
            if case == "tls_1_1" and interp == "cpython":
                want = None   # OpenSSL's server resets the connection: no reason the client can name
            ev, _ = await good.wait_for("SecurityEventNotification",
                                        lambda p: p["type"] != "StartupOfTheDevice" or want is None,
                                        timeout=20)
            if want:
                assert ev["type"] == want, ev
            assert not good.violations, good.violations
        except Exception as e:
            raise AssertionError(failure_report(e, good or bad, st)) from e
        finally:
            await st.cleanup()
            await bad.stop()
            if good:
                await good.stop()
    _run(main)


def test_A05_upgrade_sp1_to_sp2_end_to_end_TC_A_19_CS(interp, pki):
    async def main():
        csms = Csms(password=PASSWORD, tls_cert=pki["srv_pem"], tls_key=pki["srv_key"], tls_port=0)
        await csms.start()
        assert csms.url.startswith("ws://") and csms.tls_url.startswith("wss://")
        st = Station(interp, csms.url, password=PASSWORD, exit_on_reset=True)
        try:
            await st.start()
            await booted(csms, timeout=30)
            assert await _value(csms, "SecurityCtrlr", "SecurityProfile") == "1"
            with open(pki["root_cert_pem"]) as f:
                r = await csms.call("InstallCertificate", {"certificateType": "CSMSRootCertificate",
                                                           "certificate": f.read()})
            assert r["status"] == "Accepted"
            r = await csms.call("SetNetworkProfile", {"configurationSlot": 1, "connectionData": {
                "ocppVersion": "OCPP20", "ocppTransport": "JSON", "ocppCsmsUrl": csms.tls_url,
                "messageTimeout": 30, "securityProfile": 2, "ocppInterface": "Wired0"}})
            assert r["status"] == "Accepted"
            r = await csms.call("SetVariables", {"setVariableData": [{
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "NetworkConfigurationPriority"}, "attributeValue": "1,0"}]})
            assert r["setVariableResult"][0]["attributeStatus"] in ("Accepted", "RebootRequired")
            r = await csms.call("Reset", {"type": "OnIdle"})
            assert r["status"] == "Accepted"
            assert await st.wait_exit(15) == 0
            i = csms.mark()
            await st.start()
            await booted(csms, timeout=30, since=i)
            assert await _value(csms, "SecurityCtrlr", "SecurityProfile") == "2"
            assert "0" not in (await _value(csms, "OCPPCommCtrlr", "NetworkConfigurationPriority")).split(",")
            assert "connected with network profile slot 1 (security profile 2)" in st.stderr_text()
            assert not csms.violations, csms.violations
        except Exception as e:
            raise AssertionError(failure_report(e, csms, st)) from e
        finally:
            await st.cleanup()
            await csms.stop()
    _run(main, 150)


def test_demo_tls_runs_the_main_job_over_wss_with_sp2(capsys):
    from ocpp2lite import demo
    rc = demo.main(["--tls", "--interval", "1", "--updates", "1", "--timeout", "20"])
    out = capsys.readouterr().out
    assert rc == 0, out[-3000:]
    assert "listening on wss://" in out and "schema violations 0" in out


def test_B10_migrate_to_new_csms_with_new_root_TC_B_50_CS(interp, pki, tmp_path):
    pki2 = make_pki(str(tmp_path), " 2")   # the new CSMS: another root

    async def main():
        old = Csms(password=PASSWORD, tls_cert=pki["srv_pem"], tls_key=pki["srv_key"])
        new = Csms(password=PASSWORD, tls_cert=pki2["srv_pem"], tls_key=pki2["srv_key"])
        await old.start()
        await new.start()
        st = Station(interp, old.url, password=PASSWORD, exit_on_reset=True,
                     env={"OCPP_CSMS_ROOT_CERT": pki["root_cert_pem"]})
        try:
            await st.start()
            await booted(old, timeout=30)
            with open(pki2["root_cert_pem"]) as f:
                r = await old.call("InstallCertificate", {"certificateType": "CSMSRootCertificate",
                                                          "certificate": f.read()})
            assert r["status"] == "Accepted"
            r = await old.call("SetNetworkProfile", {"configurationSlot": 1, "connectionData": {
                "ocppVersion": "OCPP20", "ocppTransport": "JSON", "ocppCsmsUrl": new.url,
                "messageTimeout": 30, "securityProfile": 2, "ocppInterface": "Wired0"}})
            assert r["status"] == "Accepted"
            r = await old.call("SetVariables", {"setVariableData": [{
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "NetworkConfigurationPriority"}, "attributeValue": "1,0"}]})
            assert r["setVariableResult"][0]["attributeStatus"] in ("Accepted", "RebootRequired")
            assert (await old.call("Reset", {"type": "OnIdle"}))["status"] == "Accepted"
            assert await st.wait_exit(15) == 0
            await st.start()
            boot, _ = await booted(new, timeout=30)     # TLS verified against the new root
            assert boot["reason"] == "RemoteReset"
            assert await _value(new, "SecurityCtrlr", "SecurityProfile") == "2"
            assert not old.violations and not new.violations
        except Exception as e:
            raise AssertionError(failure_report(e, new, st)) from e
        finally:
            await st.cleanup()
            await old.stop()
            await new.stop()
    _run(main, 150)
