"""The embedded default CSMS: a small OCPP 2.0.1 CSMS on loopback for demos and end-to-end tests.

Desktop only (CPython 3.10+). Built on the ``ocpp`` library (``ocpp.v201.ChargePoint``: routing by
action with ``@on``, CALL/CALLRESULT/CALLERROR objects, schema validation) and ``websockets``
(asyncio server, websockets >= 13).

What it does (OCPP 2.0.1 Part 4 "OCPP-J" and the use cases named below):

- serves ``ws://host:port/<stationId>``, requires the subprotocol ``ocpp2.0.1`` (a handshake
  without it gets HTTP 400, Part 4 section 3.1.2), optional HTTP Basic authentication with
  username = stationId (security profile 1, Part 2 A00.FR.2xx; mismatch -> HTTP 401);
- answers every Charging Station -> CSMS message: BootNotification with a configurable status
  (Accepted / Pending / Rejected and interval, B01-B03), Authorize from an allow-list plus a
  token -> status map and groupIdToken (C01, C09), TransactionEvent with idTokenInfo when an
  idToken is present (E01..E07), Heartbeat with the current time (G02), and plain answers to the rest;
- records EVERY raw frame in both directions with timestamps (``Csms.messages``) and checks each
  frame the station sends with :func:`ocpp2lite.schema_check.violations` (``Csms.violations``);
- offers an async test API: wait_connected, wait_for, call, send_raw, wait_raw, set_response,
  drop_connection, ...

Command line (``ocpp2lite csms ...`` calls :func:`main`): runs until Ctrl-C and prints every frame.
"""
import argparse
import asyncio
import base64
import hmac
import http
import inspect
import json
import sys
import time
import urllib.parse
import uuid

import websockets
from websockets.asyncio.server import serve as ws_serve

from ocpp.charge_point import camel_to_snake_case
from ocpp.messages import Call, CallError, CallResult, validate_payload
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call_result

from ocpp2lite import schema_check

SUBPROTOCOL = "ocpp2.0.1"
DEFAULT_TOKENS = ("AB12CD34",)
MAX_FRAMES = 20000          # recorded frames kept; older ones are dropped in halves
MAX_PENDING = 64            # outstanding CALL ids remembered per direction and connection


class _Marker:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


#: set_response value: do not answer the CALL at all (the CSMS "goes silent" for that action).
SILENT = _Marker("SILENT")
#: set_response / callable return value: answer with the built-in default handler.
DEFAULT = _Marker("DEFAULT")


class CallErrorReply:
    """set_response value: answer the CALL with ``[4, id, code, description, details]``.

    code should be an OCPP-J error code (Part 4 section 4.3), e.g. "InternalError".
    """

    def __init__(self, code="InternalError", description="", details=None):
        self.code = code
        self.description = description
        self.details = {} if details is None else details

    def __repr__(self):
        return "CallErrorReply(%r, %r)" % (self.code, self.description)


class OcppCallError(Exception):
    """Raised by :meth:`Csms.call` when the station answers with a CALLERROR.

    Attributes: code (OCPP-J error code str), description (str), details (dict), action.
    """

    def __init__(self, action, code, description, details):
        Exception.__init__(self, "%s answered with CALLERROR %s: %s %s"
                           % (action, code, description, json.dumps(details)))
        self.action = action
        self.code = code
        self.description = description
        self.details = details


class Frame:
    """One recorded WebSocket message.

    index: absolute position in the recording (use ``since=index + 1`` to wait for later frames);
    t: seconds since the CSMS started (event-loop clock); wall: time.time();
    station: station id; sender: "CS" (station -> CSMS) or "CSMS" (CSMS -> station);
    text: the raw frame (str; bytes for a binary frame); kind: 2 CALL / 3 CALLRESULT / 4 CALLERROR /
    None (not parseable); uid: messageId or None; action: action name (for results: the action of
    the CALL they answer, when known); payload: dict for CALL/CALLRESULT, None otherwise;
    error: (code, description, details) for CALLERROR; violations: list of schema_check findings
    (station frames only).
    """

    __slots__ = ("index", "t", "wall", "station", "sender", "text", "kind", "uid", "action", "payload",
                 "error", "violations")

    def __init__(self, index, t, station, sender, text):
        self.index = index
        self.t = t
        self.wall = time.time()
        self.station = station
        self.sender = sender
        self.text = text
        self.kind = self.uid = self.action = self.payload = self.error = None
        self.violations = []
        if isinstance(text, str):
            try:
                msg = json.loads(text)
            except ValueError:
                return
            if isinstance(msg, list) and len(msg) >= 2 and msg[0] in (2, 3, 4) and isinstance(msg[1], str):
                self.kind = msg[0]
                self.uid = msg[1]
                if self.kind == 2 and len(msg) == 4 and isinstance(msg[2], str):
                    self.action = msg[2]
                    self.payload = msg[3] if isinstance(msg[3], dict) else None
                elif self.kind == 3 and len(msg) == 3:
                    self.payload = msg[2] if isinstance(msg[2], dict) else None
                elif self.kind == 4 and len(msg) == 5:
                    self.error = (msg[2], msg[3], msg[4])
                else:
                    self.kind = None

    def __repr__(self):
        return "<Frame #%d %s>" % (self.index, format_frame(self, 120))


def format_frame(frame, width=None):
    """One readable line: "CS -> CSMS  BootNotification {...}" / "CSMS -> CS  BootNotification.result
    {...}" / "... .error <code> <description> {...}"; payload JSON cut to width characters."""
    arrow = "CS -> CSMS" if frame.sender == "CS" else "CSMS -> CS"
    if frame.kind == 2:
        head, body = frame.action, json.dumps(frame.payload, separators=(",", ":"))
    elif frame.kind == 3:
        head, body = "%s.result" % (frame.action or "?"), json.dumps(frame.payload, separators=(",", ":"))
    elif frame.kind == 4:
        code, desc, details = frame.error
        head = "%s.error" % (frame.action or "?")
        body = "%s %s %s" % (code, json.dumps(desc), json.dumps(details, separators=(",", ":")))
    else:
        head, body = "(raw)", frame.text if isinstance(frame.text, str) else repr(frame.text)
    if width and len(body) > width:
        body = body[:width] + "..."
    line = "%s  %s %s" % (arrow, head, body)
    if frame.violations:
        line += "\n    !! schema: " + "\n    !! schema: ".join(frame.violations)
    return line


def now_iso():
    """Current UTC time, RFC 3339 with milliseconds: "2024-05-01T12:00:00.123Z"."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


class _Recorder:
    """The connection object handed to ocpp's ChargePoint: records every frame, then passes it on."""

    def __init__(self, csms, ws, station):
        self.csms = csms
        self.ws = ws
        self.station = station
        self.csms_pending = {}   # uid -> action of CSMS CALLs awaiting the station's answer
        self.cs_pending = {}     # uid -> action of station CALLs awaiting the CSMS's answer
        self.last = None         # last frame received

    async def recv(self):
        data = await self.ws.recv()
        self.last = self.csms._record(self, "CS", data)
        return data

    async def send(self, text):
        self.csms._record(self, "CSMS", text)
        await self.ws.send(text)


def _snake(key):
    """camelCase key -> snake_case keyword (the ocpp library's conversion)."""
    return next(iter(camel_to_snake_case({key: None})))


def _remember(d, uid, action):
    if len(d) >= MAX_PENDING:
        del d[next(iter(d))]
    d[uid] = action


class StationConnection(ChargePoint):
    """One connected Charging Station: ``ocpp.v201.ChargePoint`` with default CSMS handlers.

    Handlers read the raw camelCase request (``self._req``) and return camelCase dicts; the
    per-action overrides of :meth:`Csms.set_response` are applied before the library routing.
    """

    def __init__(self, station_id, recorder, csms):
        ChargePoint.__init__(self, station_id, recorder, response_timeout=30)
        self.csms = csms
        self.ws = recorder.ws
        self.recorder = recorder
        self._req = {}
        self._awaiting = None    # (uid, future) of the CSMS CALL in flight
        self.closed = asyncio.Event()

    # ---- routing -------------------------------------------------------------------------
    async def route_message(self, raw_msg):
        f = self.recorder.last
        if f is None or f.kind is None or f.text is not raw_msg:
            if isinstance(raw_msg, str):
                await ChargePoint.route_message(self, raw_msg)   # the library logs and drops it
            return
        if f.kind == 2:
            self._req = f.payload if f.payload is not None else {}
            ov = self.csms._take_override(f.action)
            if ov is not None:
                handled = await self._answer_override(f, ov)
                if handled:
                    return
            await ChargePoint.route_message(self, raw_msg)
            return
        aw = self._awaiting
        if aw is not None and aw[0] == f.uid and not aw[1].done():
            aw[1].set_result(f)

    async def _answer_override(self, f, ov):
        """Answer f with override ov; False means fall through to the default handler."""
        if callable(ov) and not isinstance(ov, (dict, _Marker, CallErrorReply)):
            ov = ov(self._req)
            if inspect.isawaitable(ov):
                ov = await ov
        if ov is DEFAULT or ov is None:
            return False
        if ov is SILENT:
            return True
        if isinstance(ov, CallErrorReply):
            await self._send(CallError(f.uid, ov.code, ov.description, ov.details).to_json())
            return True
        if isinstance(ov, str):   # a raw frame, sent as is
            await self._send(ov)
            return True
        await self._send(CallResult(f.uid, ov).to_json())
        return True

    def _reply(self, action, payload):
        """camelCase response dict -> the ocpp library's call_result dataclass."""
        cls = getattr(call_result, action)
        return cls(**{_snake(k): v for k, v in payload.items()})

    # ---- CSMS -> station CALL ------------------------------------------------------------
    async def raw_call(self, action, payload, timeout, validate=True):
        """Send CALL action/payload (camelCase dict); return the CALLRESULT payload (dict).

        Raises OcppCallError on CALLERROR, asyncio.TimeoutError after timeout s, ConnectionError
        when the connection closes first. One CALL in flight at a time (Part 4 section 4.1.1).
        """
        msg = Call(unique_id=str(uuid.uuid4()), action=action, payload=payload)
        if validate:
            await validate_payload(msg, self._ocpp_version)
        async with self._call_lock:
            fut = asyncio.get_running_loop().create_future()
            self._awaiting = (msg.unique_id, fut)
            try:
                if self.closed.is_set():
                    raise ConnectionError("station %s is not connected" % self.id)
                await self._send(msg.to_json())
                try:
                    f = await asyncio.wait_for(fut, timeout)
                except asyncio.TimeoutError:
                    raise asyncio.TimeoutError("station %s did not answer %s within %s s"
                                               % (self.id, action, timeout)) from None
            finally:
                self._awaiting = None
        if f.kind == 4:
            raise OcppCallError(action, *f.error)
        return f.payload

    def connection_closed(self):
        self.closed.set()
        aw = self._awaiting
        if aw is not None and not aw[1].done():
            aw[1].set_exception(ConnectionError("station %s disconnected" % self.id))

    # ---- default handlers (Charging Station -> CSMS) --------------------------------------
    @on("BootNotification")
    def on_boot_notification(self, **kw):
        """B01/B02/B03: status from Csms.boot_status, interval from Csms.heartbeat_interval."""
        c = self.csms
        return self._reply("BootNotification", {"currentTime": now_iso(), "interval": c.heartbeat_interval,
                                                "status": c.boot_status})

    @on("Heartbeat")
    def on_heartbeat(self, **kw):
        return self._reply("Heartbeat", {"currentTime": now_iso()})

    @on("Authorize")
    def on_authorize(self, **kw):
        """C01: idTokenInfo from the allow-list / token_status map (C09: groupIdToken)."""
        return self._reply("Authorize", {"idTokenInfo": self.csms.id_token_info(self._req.get("idToken"))})

    @on("TransactionEvent")
    def on_transaction_event(self, **kw):
        """E01..E07: idTokenInfo when the request carries an idToken, else an empty answer."""
        out = {}
        if "idToken" in self._req:
            out["idTokenInfo"] = self.csms.id_token_info(self._req["idToken"])
        return self._reply("TransactionEvent", out)

    @on("DataTransfer")
    def on_data_transfer(self, **kw):
        return self._reply("DataTransfer", {"status": "UnknownVendorId"})


# Plain answers for the remaining Charging Station -> CSMS messages.
_PLAIN = {
    "StatusNotification": {}, "MeterValues": {}, "NotifyReport": {}, "SecurityEventNotification": {},
    "NotifyEvent": {}, "FirmwareStatusNotification": {}, "LogStatusNotification": {},
    "NotifyMonitoringReport": {}, "NotifyCustomerInformation": {}, "ReservationStatusUpdate": {},
    "ClearedChargingLimit": {}, "NotifyChargingLimit": {}, "NotifyDisplayMessages": {},
    "ReportChargingProfiles": {}, "PublishFirmwareStatusNotification": {},
    "NotifyEVChargingNeeds": {"status": "Accepted"}, "NotifyEVChargingSchedule": {"status": "Accepted"},
    "SignCertificate": {"status": "Accepted"}, "GetCertificateStatus": {"status": "Failed"},
    "Get15118EVCertificate": {"status": "Failed", "exiResponse": ""},
}


def _plain_handler(action, answer):
    def handler(self, **kw):
        return self._reply(action, dict(answer))
    handler.__name__ = "on_" + _snake(action)
    return on(action)(handler)


for _action, _answer in _PLAIN.items():
    _h = _plain_handler(_action, _answer)
    setattr(StationConnection, _h.__name__, _h)


def _basic_credentials(header):
    """(username, password) from an "Authorization: Basic ..." header (RFC 7617), or None."""
    try:
        scheme, _, data = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        user, sep, pw = base64.b64decode(data.strip(), validate=True).decode("utf-8").partition(":")
        return (user, pw) if sep else None
    except (ValueError, UnicodeDecodeError):
        return None


class Csms:
    """A small OCPP 2.0.1 CSMS for tests and demos.

    Csms(host="127.0.0.1", port=0, tokens=("AB12CD34",), password=None, boot_status="Accepted",
         heartbeat_interval=300, log=None, token_status=None, group_ids=None,
         unknown_status="Invalid", ping_interval=20, tls_cert=None, tls_key=None, tls_port=None,
         connection_class=None)

    - tokens: allow-listed idToken strings (Authorize / TransactionEvent -> Accepted);
    - token_status: {idToken: AuthorizationStatus} for other answers (Blocked, Expired, Invalid,
      NoCredit, Unknown, ...); takes precedence over tokens; unknown_status for all others;
    - group_ids: {idToken: groupId} -> idTokenInfo.groupIdToken {"idToken": groupId, "type": "Central"};
    - password: when set, HTTP Basic auth with username = station id and this password is required
      (mutable: ``csms.password = "new"``); boot_status / heartbeat_interval are mutable too;
    - log: callable(str) receiving one readable line per frame and per connection event.
    - tls_cert / tls_key: PEM files (certificate chain, key): serve wss:// (security profile 2).
      With tls_port None the one listener is TLS (``url`` is wss://); with tls_port an int (0 =
      any free port) a second, TLS listener is added next to the ws:// one (``tls_url``), so a
      station can move from profile 1 to 2 (TC_A_19).
    - files_dir: a directory -> the lab file server (``ocpp2lite.files.serve_files``) is started
      with the CSMS on ``host``:``files_port`` (0 = any free port): ``GET /files/<name>`` serves
      firmware images (L01), ``PUT /upload/<name>`` receives GetLog uploads (N01) into it;
      ``files_url`` is its ``http://host:port`` (None without files_dir), so a GetLog
      ``remoteLocation`` is ``files_url + "/upload"``.
    - connection_class: a websockets ServerConnection subclass for every connection (the
      scoreboard's byte counting, ``ocpp2lite.wire.counting_connection``).
    Frames: ``messages`` (list of Frame; absolute index = frame.index), ``violations`` (list of str).
    """

    def __init__(self, host="127.0.0.1", port=0, tokens=DEFAULT_TOKENS, password=None, boot_status="Accepted",
                 heartbeat_interval=300, log=None, token_status=None, group_ids=None, unknown_status="Invalid",
                 ping_interval=20, log_width=None, tls_cert=None, tls_key=None, tls_port=None,
                 files_dir=None, files_port=0, connection_class=None):
        self.host = host
        self.files_dir = files_dir
        self.files_port = files_port
        self._files = None
        self.connection_class = connection_class   # websockets ServerConnection subclass (ocpp2lite.wire)
        self.tls = None
        if tls_cert:
            import ssl
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(tls_cert, tls_key)
        self.tls_port = tls_port
        self._tls_server = None
        self.port = port
        self.tokens = set(tokens or ())
        self.token_status = dict(token_status or {})
        self.group_ids = dict(group_ids or {})
        self.unknown_status = unknown_status
        self.password = password
        self.boot_status = boot_status
        self.heartbeat_interval = heartbeat_interval
        self.log = log
        self.log_width = log_width
        self.ping_interval = ping_interval
        self.accepting = True          # False: refuse handshakes with HTTP 503 (CSMS "down")
        self.messages = []
        self.dropped = 0               # frames dropped from the front of messages (MAX_FRAMES)
        self.violations = []
        self.stations = {}             # station id -> StationConnection (connected now)
        self.last_station = None
        self.handshakes = []           # (station id or path, HTTP status) of every handshake; bounded
        self._overrides = {}           # action -> [value, times_left or None]
        self._server = None
        self._t0 = None
        self._changed = None

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self):
        """Start listening; return the actual TCP port (useful with port=0)."""
        loop = asyncio.get_running_loop()
        self._t0 = loop.time()
        self._changed = asyncio.Event()
        kw = dict(subprotocols=[SUBPROTOCOL], process_request=self._process_request,
                  process_response=self._process_response, compression=None,
                  ping_interval=self.ping_interval, ping_timeout=self.ping_interval)
        if self.connection_class is not None:
            kw["create_connection"] = self.connection_class
        both = self.tls is not None and self.tls_port is not None
        self._server = await ws_serve(self._handler, self.host, self.port,
                                      ssl=None if both else self.tls, **kw)
        self.port = self._server.sockets[0].getsockname()[1]
        if both:
            self._tls_server = await ws_serve(self._handler, self.host, self.tls_port, ssl=self.tls, **kw)
            self.tls_port = self._tls_server.sockets[0].getsockname()[1]
        self._log("CSMS listening on %s/<stationId> (subprotocol %s%s)"
                  % (self.url, SUBPROTOCOL, ", Basic auth" if self.password else ""))
        if both:
            self._log("CSMS listening on %s/<stationId> (TLS)" % self.tls_url)
        if self.files_dir:
            from ocpp2lite.files import serve_files
            self._files = await serve_files(self.host, self.files_port, self.files_dir)
            self.files_port = self._files.port
            self._log("file server on %s: GET /files/<name>, PUT /upload/<name> (%s)"
                      % (self.files_url, self.files_dir))
        return self.port

    @property
    def files_url(self):
        """http://host:port of the lab file server (files_dir given), else None."""
        return self._files.url if self._files else None

    @property
    def url(self):
        """ws://host:port, or wss:// when the one listener is TLS (the station appends /<id>)."""
        tls = self.tls is not None and self.tls_port is None
        return "%s://%s:%d" % ("wss" if tls else "ws", self.host, self.port)

    @property
    def tls_url(self):
        """wss://host:port of the second, TLS listener (tls_port given), else None."""
        return "wss://%s:%d" % (self.host, self.tls_port) if self._tls_server else None

    async def stop(self):
        """Close every connection and the listening socket."""
        if self._files is not None:
            self._files.close()
            self._files = None
        if self._tls_server is not None:
            self._tls_server.close()
            self._tls_server = None
        if self._server is not None:
            self._server.close()
            try:
                await asyncio.wait_for(self._server.wait_closed(), 5)
            except asyncio.TimeoutError:
                pass
            self._server = None

    async def __aenter__(self):
        await self.start()
        return self

    async def __aexit__(self, *exc):
        await self.stop()

    # ---- handshake and connection -------------------------------------------------------
    def _process_request(self, connection, request):
        path = request.path.split("?", 1)[0]
        sid = urllib.parse.unquote(path.rstrip("/").rsplit("/", 1)[-1]) if path.strip("/") else ""
        status, text = None, None
        if not self.accepting:
            status, text = http.HTTPStatus.SERVICE_UNAVAILABLE, "CSMS not accepting connections\n"
        elif not sid:
            status, text = http.HTTPStatus.NOT_FOUND, "no Charging Station id in the path\n"
        elif self.password is not None:
            cred = _basic_credentials(request.headers.get("Authorization", ""))
            if cred is None or cred[0] != sid or not hmac.compare_digest(
                    cred[1].encode("utf-8", "surrogateescape"), self.password.encode("utf-8")):
                status, text = http.HTTPStatus.UNAUTHORIZED, "invalid credentials\n"
        connection.station_id = sid or path
        if status is None:
            return None
        resp = connection.respond(status, text)
        if status == http.HTTPStatus.UNAUTHORIZED:
            resp.headers["WWW-Authenticate"] = 'Basic realm="OCPP", charset="UTF-8"'
        return resp

    def _process_response(self, connection, request, response):
        who = getattr(connection, "station_id", None) or request.path
        status = response.status_code
        if len(self.handshakes) >= 1000:
            del self.handshakes[:500]
        self.handshakes.append((who, status))
        if status != 101:
            body = (response.body or b"").decode("utf-8", "replace").strip()
            self._log("handshake from %s refused: HTTP %d %s" % (who, status, body))
        self._notify()
        return None

    async def _handler(self, ws):
        sid = getattr(ws, "station_id", None)
        if ws.subprotocol != SUBPROTOCOL:   # defensive: websockets already refuses with HTTP 400
            await ws.close(1002, "subprotocol ocpp2.0.1 required")
            return
        rec = _Recorder(self, ws, sid)
        cp = StationConnection(sid, rec, self)
        old = self.stations.get(sid)
        self.stations[sid] = cp
        self.last_station = sid
        if old is not None:
            self._log("station %s connected again; closing the previous connection" % sid)
            old.connection_closed()
            old.ws.transport.abort()
        self._log("station %s connected from %s:%s (subprotocol %s)"
                  % ((sid,) + tuple(ws.remote_address[:2]) + (ws.subprotocol,)))
        self._notify()
        try:
            await cp.start()
        except websockets.ConnectionClosed as e:
            self._log("station %s disconnected (%s)" % (sid, e))
        except Exception as e:   # keep the server alive, but say what happened
            self._log("station %s connection error: %r" % (sid, e))
        finally:
            cp.connection_closed()
            if self.stations.get(sid) is cp:
                del self.stations[sid]
            self._notify()

    # ---- recording ------------------------------------------------------------------------
    def _record(self, rec, sender, text):
        loop_t = asyncio.get_running_loop().time() - self._t0
        f = Frame(self.dropped + len(self.messages), loop_t, rec.station, sender, text)
        if sender == "CS":
            if f.kind in (3, 4):
                f.action = rec.csms_pending.get(f.uid)
            f.violations = schema_check.violations(text, rec.csms_pending)
            if f.kind in (3, 4):
                rec.csms_pending.pop(f.uid, None)
            elif f.kind == 2:
                _remember(rec.cs_pending, f.uid, f.action)
            for v in f.violations:
                self.violations.append("#%d %s %s: %s" % (f.index, rec.station, f.action or "frame", v))
        else:
            if f.kind == 2:
                _remember(rec.csms_pending, f.uid, f.action)
            elif f.kind in (3, 4):
                f.action = rec.cs_pending.pop(f.uid, None)
        if len(self.messages) >= MAX_FRAMES:
            half = MAX_FRAMES // 2
            del self.messages[:half]
            self.dropped += half
        self.messages.append(f)
        if self.log is not None:
            self.log("%8.3f %s" % (f.t, format_frame(f, self.log_width)))
        self._notify()
        return f

    def _notify(self):
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    def _log(self, line):
        if self.log is not None:
            t = (asyncio.get_running_loop().time() - self._t0) if self._t0 is not None else 0.0
            self.log("%8.3f -- %s" % (t, line))

    def mark(self):
        """Absolute index the next recorded frame will get (use as since=)."""
        return self.dropped + len(self.messages)

    def frames(self, since=0):
        """Recorded frames with index >= since."""
        return self.messages[max(0, since - self.dropped):]

    def requests(self, action, station=None, since=0):
        """[(payload, index)] of every recorded station CALL of action."""
        return [(f.payload, f.index) for f in self.frames(since)
                if f.sender == "CS" and f.kind == 2 and f.action == action
                and (station is None or f.station == station)]

    def transcript(self, width=None, since=0):
        """All recorded frames as readable lines (str)."""
        return "\n".join("%8.3f %s" % (f.t, format_frame(f, width)) for f in self.frames(since))

    # ---- answers ----------------------------------------------------------------------------
    def id_token_info(self, id_token):
        """IdTokenInfoType for an IdTokenType dict (C01/C09): status, and groupIdToken if configured."""
        tok = (id_token or {}).get("idToken", "")
        typ = (id_token or {}).get("type", "")
        if tok in self.token_status:
            status = self.token_status[tok]
        elif tok in self.tokens or typ == "NoAuthorization":
            status = "Accepted"
        else:
            status = self.unknown_status
        info = {"status": status}
        if tok in self.group_ids:
            info["groupIdToken"] = {"idToken": self.group_ids[tok], "type": "Central"}
        return info

    def set_response(self, action, value, times=None):
        """Override the answer to the station's CALLs of action.

        value: a payload dict (sent as CALLRESULT without schema validation), a raw frame str (sent
        as is), SILENT (no answer), CallErrorReply(code, description) (CALLERROR), DEFAULT or None
        (remove the override), or callable(request_payload) returning one of those (may be async;
        DEFAULT/None from a callable = answer this CALL with the default handler).
        times: apply to the next N CALLs only, then fall back to the default; None = until removed.
        """
        if value is None or value is DEFAULT:
            self._overrides.pop(action, None)
        else:
            self._overrides[action] = [value, times]

    def clear_response(self, action):
        """Remove the override of action."""
        self._overrides.pop(action, None)

    def _take_override(self, action):
        ov = self._overrides.get(action)
        if ov is None:
            return None
        if ov[1] is not None:
            ov[1] -= 1
            if ov[1] <= 0:
                del self._overrides[action]
        return ov[0]

    # ---- test API ---------------------------------------------------------------------------
    def _conn(self, station):
        sid = station if station is not None else self.last_station
        cp = self.stations.get(sid)
        if cp is None:
            raise ConnectionError("station %s is not connected" % sid)
        return cp

    async def _wait(self, match, timeout, what):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            r = match()
            if r is not None:
                return r
            left = deadline - loop.time()
            if left <= 0:
                tail = "\n".join(format_frame(f, 200) for f in self.messages[-8:])
                raise asyncio.TimeoutError("timed out after %s s waiting for %s; last frames:\n%s"
                                           % (timeout, what, tail))
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def wait_until(self, cond, timeout=10, what="a condition"):
        """Re-evaluate cond() after every recorded frame / connection event until it returns something
        other than None or False; return that value. Raises asyncio.TimeoutError naming what."""
        return await self._wait(lambda: (lambda r: None if r is None or r is False else r)(cond()), timeout, what)

    async def wait_connected(self, station_id=None, timeout=10):
        """Wait until station_id (None: any station) is connected; return its id."""
        def match():
            if station_id is None:
                return self.last_station if self.last_station in self.stations else None
            return station_id if station_id in self.stations else None
        return await self._wait(match, timeout, "station %s to connect" % (station_id or "(any)"))

    async def wait_disconnected(self, station_id=None, timeout=10):
        """Wait until station_id (None: the last connected station) has no connection."""
        sid = station_id if station_id is not None else self.last_station
        return await self._wait(lambda: True if sid not in self.stations else None, timeout,
                                "station %s to disconnect" % sid)

    async def wait_for(self, action, pred=None, timeout=10, since=0, station=None):
        """Wait for a station CALL of action (index >= since, pred(payload) true when given).

        Returns (payload, index); pass since=index + 1 to wait for a later one.
        Raises asyncio.TimeoutError (message lists the last frames).
        """
        pos = [since]

        def match():
            for f in self.frames(pos[0]):
                if (f.sender == "CS" and f.kind == 2 and f.action == action
                        and (station is None or f.station == station)
                        and (pred is None or pred(f.payload if f.payload is not None else {}))):
                    return (f.payload, f.index)
            pos[0] = self.mark()
            return None
        return await self._wait(match, timeout, "%s from the station" % action)

    async def wait_raw(self, pred, timeout=10, since=0, station=None):
        """Wait for a frame the station sent with pred(text) true; return (text, index)."""
        pos = [since]

        def match():
            for f in self.frames(pos[0]):
                if f.sender == "CS" and (station is None or f.station == station) and pred(f.text):
                    return (f.text, f.index)
            pos[0] = self.mark()
            return None
        return await self._wait(match, timeout, "a matching raw frame from the station")

    async def call(self, action, payload, timeout=10, station=None, validate=True):
        """Send CALL action with payload (camelCase dict) to the station; return its CALLRESULT payload.

        validate=True checks the request against <action>Request.json first (catches test bugs;
        use send_raw for deliberately invalid frames). Raises OcppCallError (.code) on CALLERROR,
        asyncio.TimeoutError, ConnectionError.
        """
        return await self._conn(station).raw_call(action, payload, timeout, validate)

    async def send_raw(self, text, station=None):
        """Send text as is (recorded like any frame). Returns the frame's index."""
        cp = self._conn(station)
        idx = self.mark()
        await cp._send(text)
        return idx

    async def drop_connection(self, station=None, abrupt=True):
        """Simulate connection loss: abort the TCP connection (abrupt) or close with code 1001."""
        cp = self._conn(station)
        if abrupt:
            cp.ws.transport.abort()
        else:
            await cp.ws.close(1001, "going away")
        self._log("dropped the connection of %s" % cp.id)


# ---- command line ----------------------------------------------------------------------------
def _parse_args(argv):
    p = argparse.ArgumentParser(
        prog="ocpp2lite csms",
        description="Run a small OCPP 2.0.1 CSMS (built on the `ocpp` library) until Ctrl-C, logging "
                    "every message. Stations connect to ws://HOST:PORT/<stationId> with subprotocol "
                    "ocpp2.0.1.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=9000, help="TCP port (default 9000; 0 = any free port)")
    p.add_argument("--token", action="append", default=None, metavar="IDTOKEN",
                   help="allow-listed idToken, Authorize -> Accepted (repeatable; default AB12CD34)")
    p.add_argument("--token-status", action="append", default=[], metavar="IDTOKEN=STATUS",
                   help="answer STATUS (Blocked, Expired, Invalid, NoCredit, Unknown, ...) for IDTOKEN")
    p.add_argument("--group-id", action="append", default=[], metavar="IDTOKEN=GROUP",
                   help="send groupIdToken GROUP with the idTokenInfo of IDTOKEN")
    p.add_argument("--unknown-status", default="Invalid",
                   help="authorization status for tokens not listed (default Invalid)")
    p.add_argument("--password", default=None,
                   help="require HTTP Basic auth (security profile 1): username = station id, this password")
    p.add_argument("--tls-cert", default=None, metavar="PEM",
                   help="serve wss:// (security profile 2) with this certificate chain (PEM)")
    p.add_argument("--tls-key", default=None, metavar="PEM", help="the private key of --tls-cert (PEM)")
    p.add_argument("--boot-status", default="Accepted", choices=("Accepted", "Pending", "Rejected"),
                   help="BootNotification status (default Accepted)")
    p.add_argument("--heartbeat-interval", type=int, default=300,
                   help="interval in the BootNotification answer, s (default 300)")
    p.add_argument("--files", default=None, metavar="DIR",
                   help="also run the lab file server on --files-port: GET /files/<name> serves DIR "
                        "(firmware), PUT /upload/<name> stores GetLog uploads in DIR")
    p.add_argument("--files-port", type=int, default=9001, help="port of --files (default 9001)")
    p.add_argument("--ftp-port", type=int, default=None, metavar="PORT",
                   help="with --files: also serve DIR by FTP (pyftpdlib; user lab, password lab)")
    p.add_argument("--width", type=int, default=0, help="cut logged payloads to this many characters (0 = full)")
    return p.parse_args(argv)


def _pairs(items, what):
    out = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k or not v:
            raise SystemExit("%s: expected IDTOKEN=VALUE, got %r" % (what, item))
        out[k] = v
    return out


def _printer(line):
    print(line, flush=True)


async def _serve(args, token_status, group_ids):
    csms = Csms(host=args.host, port=args.port, tokens=args.token or DEFAULT_TOKENS, password=args.password,
                boot_status=args.boot_status, heartbeat_interval=args.heartbeat_interval, log=_printer,
                token_status=token_status, group_ids=group_ids, unknown_status=args.unknown_status,
                log_width=args.width or None, tls_cert=args.tls_cert, tls_key=args.tls_key,
                files_dir=args.files, files_port=args.files_port)
    await csms.start()
    ftp = None
    if args.files and args.ftp_port is not None:
        from ocpp2lite.files import serve_ftp
        ftp = serve_ftp(args.host, args.ftp_port, args.files)
        _printer("FTP server on %s (%s)" % (ftp.url, args.files))
    try:
        await asyncio.Event().wait()
    finally:
        if ftp:
            ftp.close()
        await csms.stop()


def main(argv=None):
    """`ocpp2lite csms [options]`: serve until Ctrl-C; returns the exit code (0; 1 when the port cannot
    be opened; 2 on bad arguments)."""
    try:
        args = _parse_args(sys.argv[1:] if argv is None else argv)
        token_status = _pairs(args.token_status, "--token-status")
        group_ids = _pairs(args.group_id, "--group-id")
    except SystemExit as e:
        if isinstance(e.code, str):
            print("ocpp2lite csms: " + e.code, file=sys.stderr)
            return 2
        return e.code or 0
    try:
        asyncio.run(_serve(args, token_status, group_ids))
    except KeyboardInterrupt:
        pass
    except OSError as e:
        print("ocpp2lite csms: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
