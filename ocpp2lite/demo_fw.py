"""`ocpp2lite demo --firmware`: one whole L01 secure firmware update against the embedded CSMS
(desktop, CPython; PyPI ``cryptography`` signs the image).

1. A firmware-signing PKI is made now (``ocpp2lite.fwsign``): a ManufacturerRootCertificate and a
   signing certificate; the station gets the root as its factory default
   (``OCPP_MANUFACTURER_ROOT_CERT``).
2. A desktop "image" (bytes) is written and signed (ECDSA P-256 / SHA-256, base64) and served over
   HTTP on loopback by the lab file server (``ocpp2lite.files.serve_files``: ``GET /files/<name>``).
3. The CSMS sends UpdateFirmware; the transcript shows the FirmwareStatusNotification sequence
   (Downloading, Downloaded, SignatureVerified, Installing, InstallRebooting), the in-process
   reboot, BootNotification reason FirmwareUpdate, Installed and SecurityEventNotification
   FirmwareUpdated.

``await run(demo, csms, st, state_dir, files_dir)`` drives steps 2-3 for ``ocpp2lite.demo.Demo``;
``prepare(state_dir)`` -> (env extra, files dir, signing material) does step 1. The result is OK
only with that whole sequence and zero schema violations.
"""
import asyncio
import os

from ocpp2lite import fwsign

IMAGE = "lite-fw-0.2.0.bin"
EXPECTED = ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting",
            "Installed"]


def prepare(state_dir):
    """Make the PKI, the image and its signature. -> (env extra, files dir, (cert PEM, sig b64))."""
    root, _, cert, key = fwsign.make_signer("ec")
    root_path = os.path.join(state_dir, "manufacturer_root.pem")
    with open(root_path, "wb") as f:
        f.write(fwsign.pem(root))
    files = os.path.join(state_dir, "files")
    os.makedirs(files, exist_ok=True)
    img = os.path.join(files, IMAGE)
    with open(img, "wb") as f:
        f.write(b"OCPP2Lite desktop firmware 0.2.0\n" + os.urandom(64 * 1024))
    key_path = os.path.join(state_dir, "signing.key")
    with open(key_path, "wb") as f:
        f.write(fwsign.pem(key))
    with open(key_path, "rb") as f:
        sig = fwsign.sign_file(f.read(), img)
    return {"OCPP_MANUFACTURER_ROOT_CERT": root_path}, files, (fwsign.pem(cert).decode(), sig)


async def run(demo, csms, st, files, signed):
    from ocpp2lite.files import serve_files
    a = demo.args
    sid = a.station_id
    timeout = a.timeout
    server = await serve_files("127.0.0.1", 0, files)
    try:
        await csms.wait_connected(sid, timeout=timeout)
        await csms.wait_for("BootNotification", timeout=timeout, station=sid)
        await csms.wait_for("StatusNotification", timeout=timeout, station=sid)
        url = "%s/files/%s" % (server.url, IMAGE)
        await demo.step("CSMS sends UpdateFirmware: %s, signed by a certificate of the installed "
                        "ManufacturerRootCertificate" % url)
        mark = csms.mark()
        import datetime
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        res = await csms.call("UpdateFirmware", {
            "requestId": 42, "retries": 1, "retryInterval": 5, "firmware": {
                "location": url, "retrieveDateTime": now,
                "signingCertificate": signed[0], "signature": signed[1]}},
            timeout=timeout, station=sid)
        if res.get("status") != "Accepted":
            demo.out("!! UpdateFirmware answered %s" % res.get("status"))
            return False
        await demo.step("download, signature check, install, reboot")
        await csms.wait_for("FirmwareStatusNotification",
                            lambda p: p.get("status") in ("InstallRebooting", "DownloadFailed",
                                                          "InvalidSignature", "InstallationFailed",
                                                          "InstallVerificationFailed"),
                            timeout=timeout * 3, since=mark, station=sid)
        await demo.step("the station reboots into the new image and reconnects")
        boot, _ = await csms.wait_for("BootNotification", timeout=timeout * 2, since=mark,
                                      station=sid)
        await csms.wait_for("FirmwareStatusNotification",
                            lambda p: p.get("status") in ("Installed", "InstallationFailed"),
                            timeout=timeout, since=mark, station=sid)
        try:
            await csms.wait_for("SecurityEventNotification",
                                lambda p: p.get("type") == "FirmwareUpdated",
                                timeout=5, since=mark, station=sid)
        except asyncio.TimeoutError:
            demo.out("   (no SecurityEventNotification FirmwareUpdated within 5 s)")
        await asyncio.sleep(0.3)
        seq = [p.get("status") for p, _ in csms.requests("FirmwareStatusNotification",
                                                         station=sid, since=mark)]
        await demo.step("summary")
        demo.out("firmware status  %s" % " -> ".join(seq))
        demo.out("boot reason      %s" % boot.get("reason"))
        demo.out("schema violations %d" % len(csms.violations))
        for v in csms.violations:
            demo.out("   !! " + v)
        ok = seq == EXPECTED and boot.get("reason") == "FirmwareUpdate" and not csms.violations
        demo.out("result           %s" % ("OK: signed firmware update installed" if ok
                                          else "FAILED"))
        return ok
    finally:
        server.close()
        await server.wait_closed()
