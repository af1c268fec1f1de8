"""RAM bench, board side, the "file transfer day": prepended to bench/ram_board.py by the host
(``bench.transfer.script``) when ``OPTS["day"] == "transfer"``; ram_board.py's ``main`` then runs
``transfer_prepare`` before its ``probes`` sample (so the fake server below is not counted) and
``transfer_day`` instead of the Core day. Same station, clock, in-memory CSMS and output lines as
the Core day; runs unchanged on the 32-bit qemu firmware and on the unix port.

The network is faked one level below the stack's HTTP client: ``asyncio.open_connection`` is
replaced by ``_fake_open``, a loopback "server" in this heap. So the firmware block's real download
path (``lite_stack.core.http.download``: request, response head read line by line, body in
``CHUNK`` (512 B) reads, each bounded on the clock, written to the image file, streaming SHA-256)
and the diagnostics block's real upload path (``http.upload``: PUT, the log file read and sent in
512 B pieces) run as on a board; only the socket is missing (no network on qemu, and the lwIP /
socket buffers are outside the GC heap on a board anyway). A GET is answered 200 with
``OPTS["size"]`` bytes of a generated image (``image_piece``: the host computes the same bytes to
sign them, bench/transfer.py); a PUT is counted and answered 201.

Steps after boot: the ManufacturerRootCertificates (OPTS["roots"]) are installed; for each of
OPTS["updates"] ([tag, signingCertificate PEM, base64 signature], e.g. ECDSA P-256 then RSA-2048):
UpdateFirmware (location ``http://files.local/fw.bin``) -> Downloading -> Downloaded ->
SignatureVerified -> Installing (the board's ``install_firmware`` is a no-op here, the image file
stays the stack's) -> InstallRebooting -> the station restarts in-process -> Installed; then a
full diagnostics log ring is uploaded with GetLog (DiagnosticsLog, ``http://logs.local/up``) ->
Uploading -> Uploaded. Each phase is bracketed by ``@R ph:<tag>`` / ``@R ph:<tag>_end`` samples;
inside, heap samples are taken every 8 kB of the download (``dl``), at every piece of the upload
(``ul``), at every 64th point doubling of the ECDSA verify (``ecdsa``), on entry to
``sigverify.verify`` (``verify``) and at every OCPP frame (the Core day's probes). At the end the
import cost of the on-demand modules is sampled: ``imp:0`` -> ``imp:fw`` (firmware, sigverify,
x509, http, ftp imported) -> released -> ``imp:0d`` -> ``imp:diag`` (diagnostics, http, ftp).
Output lines besides ram_board.py's: ``@T <key> <value>`` (bytes transferred, statuses).
"""

_T = {"base": None, "size": 0, "up": 0, "dl": 0, "ecdsa": 0, "sv": None, "dbl": None,
      "verify": None}


def image_piece(off, n):
    """Bytes [off, off+n) of the generated image: base[o % 512], except the first two bytes of
    every 512-byte block, which hold the block number (little end first)."""
    base = _T["base"]
    o = off % 512
    if o + n <= 512:
        b = bytearray(base[o:o + n])
        if o == 0 and n >= 2:
            k = off // 512
            b[0] = k & 255
            b[1] = (k >> 8) & 255
        return bytes(b)
    out = bytearray(n)
    for i in range(n):
        p = off + i
        q = p % 512
        out[i] = (p // 512 & 255) if q == 0 else ((p // 512 >> 8) & 255) if q == 1 else base[q]
    return bytes(out)


class _FakeConn:
    # both ends of one fake TCP connection (what asyncio streams offer the client)
    def __init__(self):
        self.head = None
        self.hi = 0
        self.size = 0
        self.off = 0

    def write(self, data):
        if self.head is None:       # the request head: the first write
            if bytes(data[:4]) == b"GET ":
                self.size = _T["size"]
                self.head = ("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % self.size).encode()
            else:
                self.head = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
            return
        _T["up"] += len(data)
        sample("ul")

    async def drain(self):
        pass

    def close(self):
        pass

    async def wait_closed(self):
        pass

    async def read(self, n):
        if self.hi < len(self.head):
            b = self.head[self.hi:self.hi + n]
            self.hi += len(b)
            return b
        n = min(n, self.size - self.off)
        if n <= 0:
            return b""
        if self.off % 8192 == 0:
            sample("dl")
        b = image_piece(self.off, n)
        self.off += n
        _T["dl"] += n
        return b

    async def readexactly(self, n):
        return await self.read(n)


async def _fake_open(host, port, ssl=None):
    _hook()
    c = _FakeConn()
    return c, c


def _dbl_probe(X, Y, Z):
    _T["ecdsa"] += 1
    if _T["ecdsa"] % 64 == 1:
        sample("ecdsa")
    return _T["dbl"](X, Y, Z)


def _verify_probe(cert, digest, sig):
    sample("verify")
    return _T["verify"](cert, digest, sig)


def _hook():
    # probes inside the signature check of the sigverify module loaded now (firmware imports it
    # with the UpdateFirmware request; a new one after each release): replacing existing module
    # attributes allocates nothing
    import sys
    sv = sys.modules.get("lite_stack.core.sigverify")
    if sv is None or sv is _T["sv"]:
        return
    _T["sv"] = sv
    _T["dbl"] = sv._dbl
    _T["verify"] = sv.verify
    sv._dbl = _dbl_probe
    sv.verify = _verify_probe


def _noop_install(path, state_dir):
    pass


def _booted(state_dir):
    return True


def transfer_prepare(board):
    """Before the ``probes`` sample: the generated image's 512-byte base block, the fake network
    and the no-op board install (bench objects, not the stack's)."""
    import asyncio
    _T["base"] = bytes(((i * 7) + (i >> 5) + 1) & 255 for i in range(512))
    _T["size"] = OPTS["size"]  # noqa: F821 - set by the host
    asyncio.open_connection = _fake_open
    board.install_firmware = _noop_install
    board.firmware_booted = _booted
    for k in ("up", "dl", "ecdsa"):
        _T[k] = 0


def _accepted(p):
    return p.get("status") == "Accepted"


def _fw_request(rid, when, cert, sig):
    # the UpdateFirmware payload as JSON text, built in a frame of its own (see Csms.call)
    import json
    return json.dumps({"requestId": rid, "firmware": {
        "location": "http://files.local/fw.bin", "retrieveDateTime": when,
        "signingCertificate": cert, "signature": sig}})


def _final_fw(action, p):
    if action == "FirmwareStatusNotification" and p["status"] in (
            "Installed", "DownloadFailed", "InvalidSignature", "InstallationFailed",
            "InstallVerificationFailed"):
        return p["status"]
    return None


def _final_log(action, p):
    if action == "LogStatusNotification" and p["status"] != "Uploading":
        return p["status"]
    return None


async def transfer_day(csms, st_holder, evse_hw, rfid, clock):
    from lite_stack.clock import iso
    csms.expect(is_action("SecurityEventNotification"))
    await csms.wait("boot")
    sample("step:boot")
    st = st_holder[0]
    for pem in OPTS["roots"]:  # noqa: F821
        if st.certs.install("ManufacturerRootCertificate", pem) != "Accepted":
            raise AssertionError("root certificate refused")
    import sys
    if "lite_stack.core.x509" not in OPTS["imports"]:  # noqa: F821
        # the certificate store loaded the DER reader to install the roots; a station whose
        # roots were installed before its last start has not loaded it: start from there
        from lite_stack import blocks
        blocks.release("lite_stack.core.x509")
    sample("step:certs")
    rid = 0
    for tag, cert, sig in OPTS["updates"]:  # noqa: F821
        rid += 1
        _T["dl"] = 0
        sample("ph:" + tag)
        csms.expect(_final_fw)
        await csms.call("UpdateFirmware", _fw_request(rid, iso(clock.now() - 60), cert, sig), _accepted)
        got = await csms.wait("firmware %s" % tag, 3600)
        print("@T fw_%s %s %d" % (tag, got, _T["dl"]))
        if got != "Installed":
            raise AssertionError("firmware %s ended %s" % (tag, got))
        await clock.sleep(2)
        sample("ph:%s_end" % tag)
    if not OPTS.get("log", True):  # noqa: F821
        sample("step:end")
        return
    st = st_holder[0]
    for i in range(80):  # a full ring (2 x diaglog.SEG_BYTES): what the upload reads
        st.diag.add("bench line %d: %s" % (i, "x" * 80))
    _T["up"] = 0
    sample("ph:log")
    csms.expect(_final_log)
    await csms.call("GetLog", '{"requestId":9,"logType":"DiagnosticsLog",'
                    '"log":{"remoteLocation":"http://logs.local/up"}}', _accepted)
    got = await csms.wait("log upload", 3600)
    print("@T log %s %d" % (got, _T["up"]))
    if got != "Uploaded":
        raise AssertionError("GetLog ended %s" % got)
    await clock.sleep(2)
    sample("ph:log_end")
    # the import cost of the on-demand modules while they are loaded, on this heap
    from lite_stack import blocks
    for label, names in (("fw", ("lite_stack.blocks.firmware", "lite_stack.core.sigverify",
                                 "lite_stack.core.x509", "lite_stack.core.http",
                                 "lite_stack.core.ftp")),
                         ("diag", ("lite_stack.blocks.diagnostics", "lite_stack.core.http",
                                   "lite_stack.core.ftp"))):
        sample("imp:0" + label)
        for n in names:
            __import__(n)
        sample("imp:" + label)
        blocks.release(*names)
    sample("step:end")
