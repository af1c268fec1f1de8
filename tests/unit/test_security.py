"""Security (Part 2 A01/A04/A05, B09/B10, M03-M05, Part 4 §5.3) on both interpreters: the DER
reader, the certificate store, security events and log, network profiles and the back-off, in
the in-process station on a VirtualClock (tests/unit/test_station.py Rig)."""
import asyncio
import hashlib
import sys
from binascii import hexlify

from device_model import ids
from device_model.store import Store
from lite_stack.core import x509
from lite_stack.core.certstore import CertStore, tls_failure
from lite_stack.core.link import BACKOFF_FLOOR_S
from lite_stack.seclog import LOG_MAX, RING_MAX, SecLog
from tests.unit import certs as C
from tests.unit.test_station import scenario
from tests.unit.util import MemStore, tmpdir

NOW = 1767225600   # 2026-01-01, the VirtualClock's start


def _h(b):
    return str(hexlify(hashlib.sha256(b).digest()), "ascii")


def _set(name, comp, value):
    return {"setVariableData": [{"component": {"name": comp}, "variable": {"name": name},
                                 "attributeValue": value}]}


def _get(name, comp):
    return {"getVariableData": [{"component": {"name": comp}, "variable": {"name": name}}]}


def _profile(url, sp, slot=1):
    return {"configurationSlot": slot, "connectionData": {
        "ocppVersion": "OCPP20", "ocppTransport": "JSON", "ocppCsmsUrl": url,
        "messageTimeout": 30, "securityProfile": sp, "ocppInterface": "Wired0"}}


# ---- DER reader -------------------------------------------------------------------------------

def test_x509_reads_serial_names_key_validity_and_ca():
    der = x509.pem_ders(C.ROOT_A)[0]
    c = x509.parse(der)
    assert c.ca and c.self_signed()
    assert x509.serial_hex(c.serial) == "a1b2"             # INTEGER 00 a1 b2: no leading zeros
    assert c.not_before == 1735689600 and c.not_after == 2366841600   # 2025-01-01, 2045-01-01
    assert len(c.key) == 65 and c.key[0] == 4              # uncompressed P-256 point
    h = x509.hash_data(c)
    assert h["hashAlgorithm"] == "SHA256" and h["issuerNameHash"] == _h(c.issuer)
    assert h["issuerKeyHash"] == _h(c.key) and h["serialNumber"] == "a1b2"
    leaf = x509.parse(x509.pem_ders(C.LEAF)[0])
    assert not leaf.ca and leaf.issuer == c.subject and not leaf.self_signed()


def test_x509_malformed_input_raises_value_error_never_crashes():
    der = x509.pem_ders(C.ROOT_A)[0]
    bad = [b"", b"\x30", b"\x30\x85\x00\x00\x00\x00\x01", b"\x30\x03\x02\x01", der[:50],
           der[:-1], b"\x31" + der[1:], der + b"\x00", b"\x30\x82\xff\xff" + der[4:]]
    for i in range(0, len(der), 7):                         # every 7th byte flipped
        bad.append(der[:i] + bytes([der[i] ^ 0xFF]) + der[i + 1:])
    for b in bad:
        try:
            x509.parse(b)
        except ValueError:
            pass
    for text in ("", "hello", "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----",
                 "-----BEGIN CERTIFICATE-----\nAAAA", C.ROOT_A * 5):
        try:
            x509.pem_ders(text)
            raise AssertionError("accepted %r" % text[:40])
        except ValueError:
            pass
    assert len(x509.pem_ders(C.ROOT_A + C.ROOT_B)) == 2


# ---- certificate store ------------------------------------------------------------------------

def test_certstore_install_rejects_and_bounds_M05_FR_07_TC_M_07_CS():
    s = CertStore(MemStore(), 2)
    assert s.install("CSMSRootCertificate", C.EXPIRED, NOW) == "Rejected"
    assert s.install("CSMSRootCertificate", C.FUTURE, NOW) == "Rejected"
    assert s.install("CSMSRootCertificate", C.LEAF, NOW) == "Rejected"   # not a CA
    assert s.install("CSMSRootCertificate", "garbage", NOW) == "Rejected"
    assert s.install("V2GRootCertificate", C.ROOT_A, NOW) == "Rejected"
    assert s.count() == 0
    assert s.install("CSMSRootCertificate", C.ROOT_A, NOW) == "Accepted"
    assert s.install("CSMSRootCertificate", C.ROOT_A, NOW) == "Accepted"  # same one: no new slot
    # two more do not fit in the one slot left: Failed and nothing of the PEM stored
    assert s.install("ManufacturerRootCertificate", C.MANUFACTURER + C.ROOT_B, NOW) == "Failed"
    assert s.count() == 1
    assert s.install("ManufacturerRootCertificate", C.MANUFACTURER, NOW) == "Accepted"
    assert s.install("CSMSRootCertificate", C.ROOT_B, NOW) == "Failed"
    assert s.count() == 2


def test_certstore_persists_and_deletes_M04_TC_M_20_CS_TC_M_22_CS():
    d = tmpdir("cert")
    s = CertStore(Store(d), 4)
    s.install("CSMSRootCertificate", C.ROOT_A + C.ROOT_B, NOW)
    s2 = CertStore(Store(d), 4)                              # after a restart
    assert s2.roots() == s.roots() and len(s2.roots()) == 2
    ids_ = s2.ids(["CSMSRootCertificate"])
    h = ids_[0]["certificateHashData"]
    s2.keep_csms_root = True
    assert s2.delete(dict(h, serialNumber="00" + h["serialNumber"].upper())) == "Accepted"
    assert s2.delete(h) == "NotFound"
    last = s2.ids()[0]["certificateHashData"]
    assert s2.delete(last) == "Failed"                       # the only root the profile needs
    s2.keep_csms_root = False
    assert s2.delete(last) == "Accepted" and CertStore(Store(d), 4).count() == 0


def test_tls_failure_classification():
    assert tls_failure("SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] x')") \
        == "InvalidCsmsCertificate"
    assert tls_failure("ValueError('The certificate Common Name (CN) does not match')") \
        == "InvalidCsmsCertificate"
    assert tls_failure("OSError(-28288, 'MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION')") == "InvalidTLSVersion"
    assert tls_failure("OSError(111, 'ECONNREFUSED')") is None


# ---- security log and ring ------------------------------------------------------------------

def test_seclog_and_ring_are_bounded_oldest_dropped_first_and_counted():
    log = SecLog(MemStore())
    for i in range(LOG_MAX + 5):
        log.add(i, "E%d" % i, None)
        log.push(i, "E%d" % i, None)
    e = log.entries()
    assert len(e) == LOG_MAX and e[0][0] == 5 and e[-1] == (LOG_MAX + 4, LOG_MAX + 4, "E%d" % (LOG_MAX + 4), None)
    dropped, items = log.ring()
    assert len(items) == RING_MAX and dropped == LOG_MAX + 5 - RING_MAX
    assert items[0][1] == "E%d" % dropped
    log.clear(99)
    assert [x[2] for x in log.entries()] == ["SecurityLogWasCleared"]
    assert log.lines(str)[0] == "%d 99 SecurityLogWasCleared " % (LOG_MAX + 5)


# ---- the station ------------------------------------------------------------------------------

def _events(rig):
    return [p["type"] for p in rig.csms.of("SecurityEventNotification")]


def test_A04_critical_events_kept_offline_and_delivered_in_order_TC_A_04_CS():
    async def s(rig):
        await rig.boot()
        assert _events(rig) == ["StartupOfTheDevice"]
        rig.csms.online = False
        rig.csms.drop()
        await rig.settle(1)
        ctx = rig.station.ctx
        ctx.emit("security", None, ("InvalidCsmsCertificate", "bad chain"))
        ctx.emit("security", None, ("TamperDetectionActivated", "lid"))
        ctx.emit("security", None, ("InvalidMessages", "not critical: log only"))
        await rig.settle(1)
        assert _events(rig) == ["StartupOfTheDevice"]
        rig.csms.online = True
        await rig.csms.wait_for(lambda: len(_events(rig)) >= 3, 120)
        await rig.settle(2)
        assert _events(rig) == ["StartupOfTheDevice", "InvalidCsmsCertificate", "TamperDetectionActivated"]
        assert rig.csms.of("SecurityEventNotification")[1]["techInfo"] == "bad chain"
        kinds = [e[2] for e in SecLog(rig.station.store).entries()]
        assert kinds == ["StartupOfTheDevice", "InvalidCsmsCertificate", "TamperDetectionActivated",
                         "InvalidMessages"]
        assert SecLog(rig.station.store).ring() == (0, [])
        assert "lite_stack.seclog" not in sys.modules   # imported per event, released after
    scenario(s)


def test_A04_critical_events_survive_a_restart_while_offline():
    d = tmpdir("secq")

    async def first(rig):
        await rig.boot()
        rig.csms.online = False
        rig.csms.drop()
        await rig.settle(1)
        rig.station.ctx.emit("security", None, ("InvalidTLSVersion", "TLS 1.1"))
        await rig.settle(1)

    async def second(rig):
        await rig.boot()
        await rig.csms.wait_for(lambda: len(_events(rig)) >= 2, 60)
        assert _events(rig) == ["InvalidTLSVersion", "StartupOfTheDevice"]
    scenario(first, state_dir=d)
    scenario(second, state_dir=d)


def test_A01_new_password_accepted_then_reconnect_with_it_TC_A_09_CS():
    async def s(rig):
        rig.settings["password"] = "factory-password-0001"
        rig.csms.password = "factory-password-0001"
        await rig.boot()
        assert rig.csms.auths[-1] == ("CS1", "factory-password-0001")
        rig.csms.password = "the-new-password-0002"
        r = await rig.csms.call("SetVariables", _set("BasicAuthPassword", "SecurityCtrlr",
                                                      "the-new-password-0002"))
        assert r[2]["setVariableResult"][0]["attributeStatus"] == "Accepted"
        await rig.csms.wait_for(lambda: rig.csms.connects >= 2, 30)
        assert rig.csms.auths[-1] == ("CS1", "the-new-password-0002")
        assert rig.station.dm.get(ids.SECURITY_PROFILE) == 1
    scenario(s)


def test_A01_short_password_rejected_connection_kept_TC_A_10_CS():
    async def s(rig):
        rig.settings["password"] = "factory-password-0001"
        await rig.boot()
        r = await rig.csms.call("SetVariables", _set("BasicAuthPassword", "SecurityCtrlr", "short"))
        assert r[2]["setVariableResult"][0]["attributeStatus"] == "Rejected"
        await rig.settle(10)
        assert rig.csms.connects == 1 and rig.csms.auths == [("CS1", "factory-password-0001")]
    scenario(s)


def test_A02_http_401_backs_off_and_records_FailedToAuthenticateAtCsms():
    async def s(rig):
        rig.settings["password"] = "factory-password-0001"
        rig.csms.password = "another-password-0003"
        rig.driver = asyncio.create_task(rig.clock.run())
        rig.start()
        await rig.settle(60)
        att = rig.csms.attempts
        assert 2 <= len(att) < 12, att                     # backing off, not spinning
        assert all(b[0] - a[0] >= BACKOFF_FLOOR_S * 1000 for a, b in zip(att, att[1:]))
        kinds = [e[2] for e in SecLog(rig.station.store).entries()]
        assert kinds and all(k == "FailedToAuthenticateAtCsms" for k in kinds)
        rig.csms.password = "factory-password-0001"
        await rig.csms.wait_for(lambda: rig.station.accepted, 600)
    scenario(s)


def test_backoff_floor_with_both_variables_zero_never_spins():
    async def s(rig):
        await rig.boot()
        for name, v in (("RetryBackOffWaitMinimum", "0"), ("RetryBackOffRandomRange", "0")):
            r = await rig.csms.call("SetVariables", _set(name, "OCPPCommCtrlr", v))
            assert r[2]["setVariableResult"][0]["attributeStatus"] == "Accepted"
        link = rig.station.link
        assert [link.backoff(n) for n in range(4)] == [BACKOFF_FLOOR_S] * 4
        rig.csms.online = False
        rig.csms.drop()
        n0 = len(rig.csms.attempts)
        await rig.settle(20)
        att = rig.csms.attempts[n0:]
        assert 3 <= len(att) <= 20 // BACKOFF_FLOOR_S + 1, att
        rig.csms.online = True
        await rig.csms.wait_for(lambda: rig.csms.conn is not None, 60)
    scenario(s)


def test_reconnect_after_loss_waits_minimum_then_doubles_TC_B_57_CS():
    async def s(rig):
        await rig.boot()
        for name, v in (("RetryBackOffWaitMinimum", "10"), ("RetryBackOffRandomRange", "0"),
                        ("RetryBackOffRepeatTimes", "2")):
            await rig.csms.call("SetVariables", _set(name, "OCPPCommCtrlr", v))
        t0 = rig.clock.ms()
        rig.csms.drop()                                                   # step 1
        await rig.csms.wait_for(lambda: rig.csms.connects == 2, 60)
        assert rig.csms.attempts[-1][0] - t0 >= 10000                     # step 2
        rig.csms.online = False                                           # step 6: refused
        t1 = rig.clock.ms()
        rig.csms.drop()                                                   # step 4
        await rig.csms.wait_for(lambda: len(rig.csms.attempts) >= 3, 60)
        a5 = rig.csms.attempts[-1][0]
        assert a5 - t1 >= 10000                                           # step 5
        rig.csms.online = True
        await rig.csms.wait_for(lambda: rig.csms.connects == 3, 60)
        assert rig.csms.attempts[-1][0] - a5 >= 2 * (a5 - t1)             # step 7: doubled
    scenario(s)


def test_backoff_doubles_up_to_repeat_times_then_constant_Part4_5_3():
    async def s(rig):
        await rig.boot()
        for name, v in (("RetryBackOffWaitMinimum", "5"), ("RetryBackOffRandomRange", "0"),
                        ("RetryBackOffRepeatTimes", "3")):
            await rig.csms.call("SetVariables", _set(name, "OCPPCommCtrlr", v))
        assert [rig.station.link.backoff(n) for n in range(6)] == [5, 10, 20, 40, 40, 40]
    scenario(s)


def test_M03_M05_install_get_delete_TC_M_01_CS_TC_M_02_CS_TC_M_12_CS_TC_M_13_CS_TC_M_17_CS_TC_M_18_CS_TC_M_19_CS_TC_M_20_CS_TC_M_22_CS():
    async def s(rig):
        await rig.boot()
        r = await rig.csms.call("GetInstalledCertificateIds", {})
        assert r[2] == {"status": "NotFound"}                                  # TC_M_19
        for typ, pem in (("CSMSRootCertificate", C.ROOT_A), ("ManufacturerRootCertificate", C.MANUFACTURER)):
            r = await rig.csms.call("InstallCertificate", {"certificateType": typ, "certificate": pem})
            assert r[2] == {"status": "Accepted"}, r
        assert rig.station.dm.get(ids.CERTIFICATE_ENTRIES) == 2
        r = await rig.csms.call("GetInstalledCertificateIds", {"certificateType": ["CSMSRootCertificate"]})
        chain = r[2]["certificateHashDataChain"]
        c = x509.parse(x509.pem_ders(C.ROOT_A)[0])
        assert r[2]["status"] == "Accepted" and len(chain) == 1
        assert chain[0] == {"certificateType": "CSMSRootCertificate",
                            "certificateHashData": x509.hash_data(c)}
        r = await rig.csms.call("GetInstalledCertificateIds", {"certificateType": [
            "ManufacturerRootCertificate"]})
        m = r[2]["certificateHashDataChain"]                                   # TC_M_13
        assert [c["certificateType"] for c in m] == ["ManufacturerRootCertificate"]
        assert m[0]["certificateHashData"] == x509.hash_data(x509.parse(x509.pem_ders(C.MANUFACTURER)[0]))
        r = await rig.csms.call("GetInstalledCertificateIds", {"certificateType": [
            "CSMSRootCertificate", "ManufacturerRootCertificate"]})
        assert len(r[2]["certificateHashDataChain"]) == 2                      # TC_M_17
        r = await rig.csms.call("GetInstalledCertificateIds", {"certificateType": [
            "V2GRootCertificate", "MORootCertificate", "CSMSRootCertificate", "V2GCertificateChain",
            "ManufacturerRootCertificate"]})
        assert sorted(c["certificateType"] for c in r[2]["certificateHashDataChain"]) == [
            "CSMSRootCertificate", "ManufacturerRootCertificate"]              # TC_M_18
        r = await rig.csms.call("GetInstalledCertificateIds", {"certificateType": ["V2GRootCertificate"]})
        assert r[2]["status"] == "NotFound"                                    # TC_M_19
        r = await rig.csms.call("DeleteCertificate", {"certificateHashData": chain[0]["certificateHashData"]})
        assert r[2] == {"status": "Accepted"}                                  # TC_M_20
        r = await rig.csms.call("DeleteCertificate", {"certificateHashData": chain[0]["certificateHashData"]})
        assert r[2] == {"status": "NotFound"}                                  # TC_M_22
        assert rig.station.dm.get(ids.CERTIFICATE_ENTRIES) == 1
        assert "lite_stack.blocks.certificates" not in sys.modules             # on demand, released
    scenario(s)


def test_M04_last_csms_root_kept_while_security_profile_2_is_in_use_TC_M_12_CS():
    async def s(rig):
        rig.settings["csms_url"] = "wss://csms"     # factory profile: security profile 2
        await rig.boot()
        assert rig.station.dm.get(ids.SECURITY_PROFILE) == 2
        for pem in (C.ROOT_A, C.ROOT_B):
            r = await rig.csms.call("InstallCertificate", {"certificateType": "CSMSRootCertificate",
                                                           "certificate": pem})
            assert r[2] == {"status": "Accepted"}, r
        r = await rig.csms.call("GetInstalledCertificateIds", {"certificateType": ["CSMSRootCertificate"]})
        chain = r[2]["certificateHashDataChain"]
        assert len(chain) == 2
        r = await rig.csms.call("DeleteCertificate", {"certificateHashData": chain[0]["certificateHashData"]})
        assert r[2] == {"status": "Accepted"}                                  # one to spare
        r = await rig.csms.call("DeleteCertificate", {"certificateHashData": chain[1]["certificateHashData"]})
        assert r[2] == {"status": "Failed"}                # the profile in use needs the last one
        assert rig.station.dm.get(ids.CERTIFICATE_ENTRIES) == 1
        assert "lite_stack.core.certstore" not in sys.modules   # read per request, released
        assert "lite_stack.core.x509" not in sys.modules        # the DER reader too
    scenario(s)


def test_M05_bad_input_rejected_or_callerror_nothing_persisted_TC_M_07_CS():
    async def s(rig):
        await rig.boot()
        for typ, pem in (("CSMSRootCertificate", C.EXPIRED), ("CSMSRootCertificate", C.FUTURE),
                         ("CSMSRootCertificate", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"),
                         ("CSMSRootCertificate", "not a certificate"), ("V2GRootCertificate", C.ROOT_A)):
            r = await rig.csms.call("InstallCertificate", {"certificateType": typ, "certificate": pem})
            assert r[2] == {"status": "Rejected"}, (typ, r)
        big = C.ROOT_A[:-26] + "A" * 10000 + C.ROOT_A[-26:]                   # a 10 kB certificate
        r = await rig.csms.call("InstallCertificate", {"certificateType": "CSMSRootCertificate",
                                                      "certificate": big})
        assert r[0] == 4, r
        r = await rig.csms.call("InstallCertificate", {"certificateType": "SomethingElse",
                                                      "certificate": C.ROOT_A})
        assert r[0] == 4, r
        assert rig.station.certs.count() == 0
        assert rig.station.dm.get(ids.CERTIFICATE_ENTRIES) == 0
    scenario(s)


def test_B09_profile_slot_and_downgrade_rejected_TC_B_43_CS_TC_A_22_CS():
    async def s(rig):
        rig.settings["password"] = "factory-password-0001"
        await rig.boot()
        assert rig.station.dm.get(ids.SECURITY_PROFILE) == 1
        r = await rig.csms.call("SetNetworkProfile", _profile("ws://other", 1, slot=7))
        assert r[2]["status"] == "Rejected"                                    # not a slot
        r = await rig.csms.call("SetNetworkProfile", _profile("ws://other", 0))
        assert r[2]["status"] == "Rejected"                                    # downgrade, A05.FR.07
        r = await rig.csms.call("SetNetworkProfile", _profile("ws://other", 2))
        assert r[2]["status"] == "Rejected"                                    # profile 2 needs wss
        r = await rig.csms.call("SetNetworkProfile", _profile("ws://other", 3))
        assert r[2]["status"] == "Rejected"                                    # no profile 3
        assert rig.station.net.get(1) is None
        r = await rig.csms.call("SetNetworkProfile", _profile("ws://other", 1))
        assert r[2] == {"status": "Accepted"}
        assert "lite_stack.core.netconf" not in sys.modules   # read per use, released
        assert rig.station.net.get(1)["ocppCsmsUrl"] == "ws://other"
    scenario(s)


def test_A05_priority_needs_csms_root_for_profile_2_TC_A_20_CS():
    async def s(rig):
        rig.settings["password"] = "factory-password-0001"
        await rig.boot()
        r = await rig.csms.call("SetNetworkProfile", _profile("wss://csms2", 2))
        assert r[2] == {"status": "Accepted"}
        r = await rig.csms.call("SetVariables", _set("NetworkConfigurationPriority", "OCPPCommCtrlr", "1,0"))
        assert r[2]["setVariableResult"][0]["attributeStatus"] == "Rejected"  # A05.FR.02
        r = await rig.csms.call("SetVariables", _set("NetworkConfigurationPriority", "OCPPCommCtrlr", "0,1"))
        assert r[2]["setVariableResult"][0]["attributeStatus"] == "RebootRequired"
    scenario(s)


def test_B10_after_reset_first_profile_then_fallback_after_attempts_TC_B_45_CS_TC_B_46_CS():
    d = tmpdir("b10")

    async def first(rig):
        await rig.boot()
        r = await rig.csms.call("SetNetworkProfile", _profile("ws://csms-b", 0))
        assert r[2] == {"status": "Accepted"}
        await rig.csms.call("SetVariables", _set("NetworkProfileConnectionAttempts", "OCPPCommCtrlr", "2"))
        r = await rig.csms.call("SetVariables", _set("NetworkConfigurationPriority", "OCPPCommCtrlr", "1,0"))
        assert r[2]["setVariableResult"][0]["attributeStatus"] == "RebootRequired"
        r = await rig.csms.call("Reset", {"type": "OnIdle"})
        assert r[2]["status"] == "Accepted"
        await rig.csms.wait_for(lambda: rig.task.done(), 30)
        assert await rig.task == "reset"

    async def second(rig):
        rig.settings["csms_url"] = "ws://ignored-after-first-start"
        await rig.boot()
        assert rig.csms.url == "ws://csms-b/CS1"                              # slot 1 first
        assert rig.station.link.slot == "1"
        r = await rig.csms.call("GetVariables", _get("NetworkConfigurationPriority", "OCPPCommCtrlr"))
        assert r[2]["getVariableResult"][0]["attributeValue"] == "1,0"

    async def third(rig):
        orig = rig.csms.factory

        async def only_a(url, auth, max_frame, clock):
            if "csms-b" in url:
                rig.csms.attempts.append((clock.ms(), url))
                raise OSError("unreachable")
            return await orig(url, auth, max_frame, clock)
        rig.csms.factory = only_a
        await rig.boot()
        urls = [u for _, u in rig.csms.attempts]
        assert urls[:2] == ["ws://csms-b/CS1"] * 2 and urls[2] == "ws://csms/CS1", urls  # B10.FR.04
        assert rig.station.link.slot == "0"
    scenario(first, state_dir=d)
    scenario(second, state_dir=d)
    scenario(third, state_dir=d)
