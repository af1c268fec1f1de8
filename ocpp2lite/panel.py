"""`ocpp2lite sim --panel [HOST:]PORT`: the lab's web control panel beside the simulated station.

Desktop only (CPython); never imported by the stack. The station runs as a CHILD PROCESS through its
public contract (README "The simulated station"): settings in OCPP_* environment variables,
hardware events as JSON lines on its stdin, every OCPP frame on its stderr, plus the opt-in
``OCPP_SIM_STATUS=1`` status lines on its stdout (``@status {json}``, lite_stack/sim.py). So the
panel works for both interpreters, and a power cut is a real SIGKILL.

Pieces:
- :class:`Lab`: the station process, a loopback TCP proxy between the station and the CSMS (the
  "network" the panel can drop for N seconds without touching the CSMS), the parsed OCPP message
  log (bounded), recent cards, security events, and ``control(request)`` for every button.
- :func:`serve`: one ``websockets`` server on HOST:PORT answering plain HTTP for the page
  (``/``, ``/panel.js``, ``/panel.css``, ``/log.jsonl?token=``) and the WebSocket ``/ws?token=``
  that pushes state and log entries and takes control requests. Every control request carries
  the per-run token printed in the terminal; the WebSocket handshake needs it too, and a
  cross-origin handshake is refused.

The panel binds to loopback unless ``--panel-allow-remote`` is given (then it warns).
"""
import asyncio
import collections
import http
import json
import os
import secrets
import signal
import sys
import time
import urllib.parse

from ocpp2lite.demo import ROOT, StationProcess, station_command

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "panel_static")
LOG_LIMIT = 20000        # OCPP log entries kept (oldest dropped)
BACKLOG = 400            # log entries sent to a page when it connects
CARDS = 8                # recent RFID cards remembered
SECURITY_EVENTS = 10     # last SecurityEventNotifications shown
CLIENT_QUEUE = 2000      # pushed messages buffered per page before it is dropped
TOKEN_TYPES = ("ISO14443", "ISO15693", "KeyCode", "eMAID", "MacAddress", "Central", "Local",
               "NoAuthorization")


def parse_hostport(text, default_host="127.0.0.1", default_port=8180):
    """"[HOST:]PORT" -> (host, port). "" / None -> the defaults."""
    if not text:
        return default_host, default_port
    host, sep, port = text.rpartition(":")
    if not sep:
        return default_host, int(text)
    return (host.strip("[]") or default_host), int(port)


def is_loopback(host):
    return host in ("localhost", "::1") or host.startswith("127.")


def parse_frame_line(line):
    """A station stderr line "> [2,...]" / "< [...]" -> (direction "CS"|"CSMS", message list) or None."""
    if len(line) < 3 or line[1] != " " or line[0] not in "<>" or line[2] != "[":
        return None
    try:
        msg = json.loads(line[2:])
    except ValueError:
        return None
    if not isinstance(msg, list) or len(msg) < 3 or msg[0] not in (2, 3, 4):
        return None
    return ("CS" if line[0] == ">" else "CSMS"), msg


class _Proxy:
    """Loopback TCP proxy station <-> CSMS; ``offline(seconds)`` drops every connection and refuses
    new ones until the time is up (the CSMS is not touched)."""

    def __init__(self, host, port, on_change):
        self.host = host
        self.port = port
        self.on_change = on_change
        self.server = None
        self.listen_port = None
        self.offline_until = None
        self.conns = set()
        self._timer = None

    async def start(self):
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.listen_port = self.server.sockets[0].getsockname()[1]

    async def stop(self):
        self._abort_all()
        if self.server is not None:
            self.server.close()
            try:
                await asyncio.wait_for(self.server.wait_closed(), 2)
            except asyncio.TimeoutError:
                pass

    def is_offline(self):
        return self.offline_until is not None

    def offline(self, seconds):
        loop = asyncio.get_running_loop()
        self.offline_until = time.time() + seconds
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_later(seconds, self.online)
        self._abort_all()
        self.on_change()

    def online(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.offline_until = None
        self.on_change()

    def _abort_all(self):
        for w in list(self.conns):
            try:
                w.transport.abort()
            except Exception:
                pass
        self.conns.clear()

    async def _client(self, reader, writer):
        if self.is_offline():
            writer.transport.abort()
            return
        try:
            ur, uw = await asyncio.open_connection(self.host, self.port)
        except OSError:
            writer.transport.abort()
            return
        self.conns.update((writer, uw))

        async def pipe(r, w):
            try:
                while True:
                    data = await r.read(65536)
                    if not data:
                        break
                    w.write(data)
                    await w.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                try:
                    w.close()
                except Exception:
                    pass

        try:
            await asyncio.gather(pipe(reader, uw), pipe(ur, writer))
        finally:
            self.conns.discard(writer)
            self.conns.discard(uw)


class _Process(StationProcess):
    """StationProcess that also hands every stdout line to on_stdout (the status lines)."""

    def __init__(self, cmd, env, on_stderr, on_stdout):
        StationProcess.__init__(self, cmd, env=env, cwd=ROOT, on_stderr=on_stderr)
        self.on_stdout = on_stdout

    async def start(self):
        self.proc = await asyncio.create_subprocess_exec(
            *self.cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=self.env, cwd=self.cwd)
        self._readers = [asyncio.ensure_future(self._pump(self.proc.stderr, self._err, self.on_stderr)),
                         asyncio.ensure_future(self._pump(self.proc.stdout, self._out, self.on_stdout))]
        return self


class Lab:
    """The station child process and everything the panel shows about it.

    Lab(csms_url, env, interpreter="cpython", proxy=True, echo=None)
      csms_url: where the station should connect (ws://host:port[/path]); env: the station's
      environment (OCPP_* settings; OCPP_CSMS_URL and OCPP_SIM_STATUS are set here);
      proxy: route the station through the loopback proxy (needed for go offline);
      echo: callable(str) receiving every station stderr line (the terminal log).
    """

    def __init__(self, csms_url, env, interpreter="cpython", proxy=True, echo=None):
        self.csms_url = csms_url
        self.interpreter = interpreter
        self.base_env = dict(env)
        self.echo = echo
        u = urllib.parse.urlsplit(csms_url)
        self.proxy = _Proxy(u.hostname, u.port or (443 if u.scheme == "wss" else 80), self._changed) \
            if proxy else None
        self._url = u
        self.cmd = station_command(interpreter)
        self.proc = None
        self.status = None              # last @status object from the station
        self.process = "stopped"        # running | power cut | rebooting | stopped | exited
        self.starts = 0
        self.log = collections.deque(maxlen=LOG_LIMIT)
        self.seq = 0
        self.cards = []
        self.security = collections.deque(maxlen=SECURITY_EVENTS)
        self._pending = {}              # (sender, messageId) -> action
        self._clients = set()
        self._watch = None
        self._busy = False
        self._closing = False
        self._quick_exits = 0

    # ---- lifecycle ------------------------------------------------------------------------------
    async def start(self):
        if self.proxy is not None:
            await self.proxy.start()
        await self._start_station()

    def station_url(self):
        if self.proxy is None:
            return self.csms_url
        u = self._url
        return urllib.parse.urlunsplit((u.scheme, "127.0.0.1:%d" % self.proxy.listen_port, u.path, u.query, ""))

    async def _start_station(self):
        env = dict(self.base_env)
        env["OCPP_CSMS_URL"] = self.station_url()
        env["OCPP_SIM_STATUS"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.proc = _Process(self.cmd, env, self._on_stderr, self._on_stdout)
        await self.proc.start()
        self.starts += 1
        self.process = "running"
        self._note("station process started (pid %d, %s)" % (self.proc.proc.pid, self.interpreter))
        self._watch = asyncio.ensure_future(self._watch_exit(self.proc))
        self._changed()

    async def _watch_exit(self, proc):
        t0 = time.time()
        rc = await proc.proc.wait()
        if proc is not self.proc or self._busy or self._closing:
            return
        # the station ended by itself (e.g. Reset with OCPP_EXIT_ON_RESET=1): boot it again, unless
        # it keeps dying right after the start (then wait for the Reboot button)
        self._quick_exits = self._quick_exits + 1 if time.time() - t0 < 3 else 0
        if self._quick_exits >= 3:
            self.process = "crashed (exit code %s)" % rc
            self._note("station process exited with code %s three times within 3 s of its start; not "
                       "restarted (Reboot tries again; the station log is in the terminal)" % rc)
            self._changed()
            return
        self.process = "exited"
        self._note("station process exited with code %s; starting it again" % rc)
        self._changed()
        await asyncio.sleep(0.5)
        if proc is self.proc and not self._busy and not self._closing:
            await self._start_station()

    async def stop(self):
        self._closing = True
        if self.proc is not None:
            await self.proc.stop()
        if self.proxy is not None:
            await self.proxy.stop()
        self.process = "stopped"
        for q in list(self._clients):
            q.put_nowait(None)

    async def power_cut(self, off_s=1.0):
        """SIGKILL the station (no chance to flush anything), keep the power off off_s seconds, start
        it again with the same state directory."""
        self._busy = True
        try:
            p = self.proc.proc
            if p.returncode is None:
                p.kill()
                await p.wait()
            self.process = "power cut"
            self.status = None
            self._note("power cut: SIGKILL pid %d" % p.pid)
            self._changed()
            await asyncio.sleep(off_s)
            await self._start_station()
        finally:
            self._busy = False

    async def reboot(self):
        """Orderly restart: close stdin, SIGTERM (SIGKILL after 3 s), start again."""
        self._busy = True
        self._quick_exits = 0
        try:
            self.process = "rebooting"
            self._changed()
            await self.proc.stop(3)
            self.status = None
            self._note("reboot: station stopped (exit code %s)" % self.proc.returncode)
            await self._start_station()
        finally:
            self._busy = False

    # ---- station output ----------------------------------------------------------------------
    def _on_stdout(self, line):
        if line.startswith("@status "):
            try:
                self.status = json.loads(line[8:])
            except ValueError:
                return
            self._changed()

    def _on_stderr(self, line):
        if self.echo is not None:
            self.echo(line)
        f = parse_frame_line(line)
        if f is None:
            return
        sender, msg = f
        kind, mid = msg[0], msg[1]
        action, payload, error = None, None, None
        if kind == 2 and len(msg) == 4:
            action, payload = msg[2], msg[3]
            self._pending[(sender, mid)] = action
            if len(self._pending) > 256:
                del self._pending[next(iter(self._pending))]
            if sender == "CS" and action == "SecurityEventNotification" and isinstance(payload, dict):
                self.security.appendleft({"type": payload.get("type"), "timestamp": payload.get("timestamp"),
                                          "techInfo": payload.get("techInfo")})
        else:
            other = "CSMS" if sender == "CS" else "CS"
            action = self._pending.pop((other, mid), None)
            if kind == 3:
                payload = msg[2]
            else:
                error = msg[2:5]
        self.seq += 1
        entry = {"n": self.seq, "t": round(time.time(), 3), "dir": sender, "kind": kind, "id": mid,
                 "action": action, "payload": payload}
        if error is not None:
            entry["error"] = error
        self.log.append(entry)
        self._push({"type": "log", "entry": entry})

    def _note(self, text):
        """A panel event line in the log (dir "lab")."""
        self.seq += 1
        entry = {"n": self.seq, "t": round(time.time(), 3), "dir": "lab", "kind": None, "id": None,
                 "action": None, "payload": text}
        self.log.append(entry)
        self._push({"type": "log", "entry": entry})

    # ---- state and push -------------------------------------------------------------------------
    def snapshot(self):
        st = self.status
        offset = None
        if st and isinstance(st.get("time"), int):
            offset = st["time"] - int(time.time())
        px = self.proxy
        return {"csms_url": self.csms_url, "interpreter": self.interpreter, "process": self.process,
                "pid": self.proc.proc.pid if self.proc and self.proc.proc else None,
                "starts": self.starts, "proxy": px is not None,
                "network": "n/a" if px is None else ("offline" if px.is_offline() else "online"),
                "offline_left": None if px is None or not px.is_offline()
                else max(0, round(px.offline_until - time.time())),
                "time_offset": offset, "cards": self.cards, "security": list(self.security),
                "station": st}

    def subscribe(self):
        q = asyncio.Queue(CLIENT_QUEUE)
        self._clients.add(q)
        return q

    def unsubscribe(self, q):
        self._clients.discard(q)

    def _push(self, msg):
        for q in list(self._clients):
            try:
                q.put_nowait(msg)
            except asyncio.QueueFull:   # a page that stopped reading: drop it
                self._clients.discard(q)

    def _changed(self):
        self._push({"type": "state", "state": self.snapshot()})

    # ---- controls -----------------------------------------------------------------------------------
    async def _send(self, event):
        if self.proc is None or self.proc.returncode is not None or self.process != "running":
            raise ValueError("the station is not running (%s)" % self.process)
        await self.proc.send(event)

    async def control(self, req):
        """Apply one control request (dict with "cmd"); raise ValueError with a reason when refused."""
        cmd = req.get("cmd")
        evse = req.get("evse", 1)
        if cmd in ("plug_in", "plug_out", "fault", "ev", "meter"):
            if not isinstance(evse, int) or isinstance(evse, bool) or evse < 1:
                raise ValueError("evse must be a positive integer")
        if cmd in ("plug_in", "plug_out"):
            await self._send({"cmd": cmd, "evse": evse, "connector": 1})
        elif cmd == "ev":
            if req.get("state") not in ("B", "C"):
                raise ValueError("EV state must be B or C")
            await self._send({"cmd": "ev", "evse": evse, "state": req["state"]})
        elif cmd == "fault":
            await self._send({"cmd": "fault", "evse": evse, "connector": 1, "on": bool(req.get("on", True))})
        elif cmd == "meter":
            p = req.get("power_w")
            if not isinstance(p, (int, float)) or isinstance(p, bool) or p < 0:
                raise ValueError("power_w must be a number >= 0")
            await self._send({"cmd": "meter", "evse": evse, "power_w": p})
        elif cmd == "token":
            tid, typ = req.get("id"), req.get("type", "ISO14443")
            if not isinstance(tid, str) or not 1 <= len(tid) <= 36:
                raise ValueError("card id must be 1..36 characters")
            if typ not in TOKEN_TYPES:
                raise ValueError("unknown token type")
            await self._send({"cmd": "token", "id": tid, "type": typ})
            card = {"id": tid, "type": typ}
            self.cards = [card] + [c for c in self.cards if c != card][:CARDS - 1]
            self._changed()
        elif cmd == "power_cut":
            off = req.get("off_s", 1)
            if not isinstance(off, (int, float)) or not 0 <= off <= 3600:
                raise ValueError("off_s must be 0..3600")
            asyncio.ensure_future(self.power_cut(off))
        elif cmd == "reboot":
            asyncio.ensure_future(self.reboot())
        elif cmd == "offline":
            if self.proxy is None:
                raise ValueError("started with --no-proxy: no network control")
            s = req.get("seconds", 30)
            if not isinstance(s, (int, float)) or not 0 < s <= 86400:
                raise ValueError("seconds must be 1..86400")
            self.proxy.offline(s)
            self._note("network dropped for %s s" % s)
        elif cmd == "online":
            if self.proxy is None:
                raise ValueError("started with --no-proxy: no network control")
            self.proxy.online()
            self._note("network back")
        elif cmd == "clock":
            d = req.get("shift_s")
            if not isinstance(d, int) or isinstance(d, bool):
                raise ValueError("shift_s must be an integer")
            await self._send({"cmd": "clock", "shift_s": d})
            self._note("station clock shifted by %+d s" % d)
        else:
            raise ValueError("unknown cmd %r" % (cmd,))


# ---- HTTP + WebSocket front end ---------------------------------------------------------------------
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8"}
_FILES = {"/": "index.html", "/index.html": "index.html", "/panel.js": "panel.js", "/panel.css": "panel.css"}


def _respond(connection, status, body, ctype):
    resp = connection.respond(status, "")
    resp.body = body
    for k in ("Content-Length", "Content-Type"):
        del resp.headers[k]
    resp.headers["Content-Length"] = str(len(body))
    resp.headers["Content-Type"] = ctype
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "default-src 'self'; connect-src 'self'; img-src 'self' data:"
    return resp


class Panel:
    """The HTTP/WebSocket server of one Lab."""

    def __init__(self, lab, host="127.0.0.1", port=8180, token=None):
        self.lab = lab
        self.host = host
        self.port = port
        self.token = token or secrets.token_urlsafe(16)
        self.server = None

    @property
    def url(self):
        h = self.host if ":" not in self.host else "[%s]" % self.host
        return "http://%s:%d/?token=%s" % (h, self.port, self.token)

    def _token_ok(self, value):
        return isinstance(value, str) and secrets.compare_digest(value, self.token)

    def _process_request(self, connection, request):
        u = urllib.parse.urlsplit(request.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/ws":
            if not self._token_ok((q.get("token") or [""])[0]):
                return connection.respond(http.HTTPStatus.FORBIDDEN, "token required\n")
            origin = request.headers.get("Origin")
            if origin is not None and urllib.parse.urlsplit(origin).netloc != request.headers.get("Host"):
                return connection.respond(http.HTTPStatus.FORBIDDEN, "cross-origin request refused\n")
            return None
        if u.path == "/log.jsonl":
            if not self._token_ok((q.get("token") or [""])[0]):
                return connection.respond(http.HTTPStatus.FORBIDDEN, "token required\n")
            body = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in list(self.lab.log)).encode()
            resp = _respond(connection, http.HTTPStatus.OK, body, "application/x-ndjson")
            resp.headers["Content-Disposition"] = 'attachment; filename="ocpp-log.jsonl"'
            return resp
        name = _FILES.get(u.path)
        if name is None:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "not found\n")
        with open(os.path.join(STATIC, name), "rb") as f:
            body = f.read()
        return _respond(connection, http.HTTPStatus.OK, body, _TYPES[os.path.splitext(name)[1]])

    async def _ws(self, ws):
        lab = self.lab
        q = lab.subscribe()
        await ws.send(json.dumps({"type": "hello", "state": lab.snapshot(), "log": list(lab.log)[-BACKLOG:],
                                  "token_types": TOKEN_TYPES}))

        async def pusher():
            while True:
                msg = await q.get()
                if msg is None:
                    await ws.close()
                    return
                await ws.send(json.dumps(msg))

        push = asyncio.ensure_future(pusher())
        try:
            async for text in ws:
                try:
                    req = json.loads(text)
                    if not isinstance(req, dict):
                        raise ValueError("not a JSON object")
                except ValueError as e:
                    await ws.send(json.dumps({"type": "ack", "ok": False, "error": str(e)}))
                    continue
                rid = req.get("req")
                if not self._token_ok(req.get("token")):
                    await ws.send(json.dumps({"type": "ack", "req": rid, "ok": False, "error": "bad token"}))
                    continue
                try:
                    await lab.control(req)
                    ack = {"type": "ack", "req": rid, "ok": True}
                except (ValueError, ConnectionError, OSError) as e:
                    ack = {"type": "ack", "req": rid, "ok": False, "error": str(e)}
                await ws.send(json.dumps(ack))
        except Exception:
            pass
        finally:
            push.cancel()
            lab.unsubscribe(q)

    async def start(self):
        from websockets.asyncio.server import serve
        self.server = await serve(self._ws, self.host, self.port, process_request=self._process_request,
                                  compression=None, max_size=65536)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self):
        if self.server is not None:
            self.server.close()
            try:
                await asyncio.wait_for(self.server.wait_closed(), 3)
            except asyncio.TimeoutError:
                pass


async def _forward_stdin(lab):
    """Keep the stdin contract: JSON lines typed into the panel's terminal go to the station."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except (ValueError, OSError):
        return
    while True:
        line = await reader.readline()
        if not line:
            return
        line = line.strip()
        if line and lab.proc is not None and lab.proc.returncode is None:
            try:
                await lab.proc.send(line.decode("utf-8", "replace"))
            except (ConnectionError, OSError):
                pass


async def run(hostport, interpreter="cpython", allow_remote=False, proxy=True, out=print, env=None):
    """Run station + panel until Ctrl-C / SIGTERM. env: the station environment (OCPP_* settings)."""
    env = dict(os.environ if env is None else env)
    host, port = parse_hostport(hostport)
    if not is_loopback(host):
        if not allow_remote:
            raise SystemExit("ocpp2lite sim: --panel %s is not a loopback address; add --panel-allow-remote "
                             "to serve the panel on the network" % host)
        out("WARNING: the panel listens on %s, reachable from the network: anyone who has the token "
            "below can drive the station" % host)
    sd = env.get("OCPP_STATE_DIR") or "ocpp_state"
    env["OCPP_STATE_DIR"] = os.path.abspath(sd)   # the station runs with cwd = the repository root
    csms_url = env.get("OCPP_CSMS_URL") or "ws://127.0.0.1:9000"
    lab = Lab(csms_url, env, interpreter, proxy, echo=lambda line: sys.stderr.write(line + "\n"))
    panel = Panel(lab, host, port)
    await panel.start()
    await lab.start()
    out("OCPP2.Lite lab panel: %s" % panel.url)
    out("  station %s on %s, CSMS %s%s, state dir %s" % (
        env.get("OCPP_STATION_ID") or "LITE-SIM-1", interpreter, csms_url,
        " via loopback proxy %s" % lab.station_url() if proxy else "", env["OCPP_STATE_DIR"]))
    out("  every control request needs the token above; Ctrl-C stops station and panel")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    fwd = asyncio.ensure_future(_forward_stdin(lab))
    try:
        await stop.wait()
    finally:
        fwd.cancel()
        await lab.stop()
        await panel.stop()
    return 0


def main(hostport, interpreter="cpython", allow_remote=False, proxy=True):
    def out(text):
        print(text, flush=True)
    try:
        return asyncio.run(run(hostport, interpreter, allow_remote, proxy, out))
    except KeyboardInterrupt:
        return 130
    except OSError as e:
        print("ocpp2lite sim --panel: %s" % e, file=sys.stderr)
        return 1
