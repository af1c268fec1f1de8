"""OCPP-J RPC framework (OCPP 2.0.1 Part 4 §4): CALL / CALLRESULT / CALLERROR over one connection.

Frames (Part 4 §4.2): ``[2, messageId, action, payload]``, ``[3, messageId, payload]``,
``[4, messageId, errorCode, errorDescription, errorDetails]``; messageId a string of at most 36
characters, unique per sender.

Rules kept here:
- At most one outstanding CALL per direction (Part 4 §4.1.1): ``call`` serialises the station's CALLs
  through a lock; at most ``max_queue`` callers may wait behind it (bounded send queue), one more
  raises ``QueueFull`` (the caller decides: drop a Heartbeat, retry a TransactionEvent later).
- A CALL that gets no answer within ``timeout`` seconds (OCPPCommCtrlr.MessageTimeout) raises
  ``RpcTimeout``; a CALLERROR answer raises ``CallError``.
- Every inbound CALL is answered exactly once: by the handler's payload, or by a CALLERROR —
  NotImplemented (unknown action), FormatViolation / TypeConstraintViolation /
  OccurrenceConstraintViolation / PropertyConstraintViolation (schema, lite_stack.core.validate),
  InternalError (handler failure). Unparseable frames get ``[4,"-1","RpcFrameworkError",...]``
  (Part 4 §4.2.3: "-1" when the messageId cannot be read); a readable messageId with an unknown
  MessageTypeId gets MessageTypeNotSupported (Part 4 §4.4); a CALLRESULT or CALLERROR is never
  answered. Nothing here ever raises out of ``on_frame``.
- A message over the receive buffer (the WebSocket skipped its rest and hands over its head,
  ``lite_stack.core.ws.Oversized``): a CALL is answered FormatViolation with the messageId read
  from the head (as a request above BytesPerMessage, B06.FR.17), an unknown type
  MessageTypeNotSupported, an unreadable head RpcFrameworkError "-1"; the connection stays.
- A CALLRESULT with the outstanding messageId means the CALL was delivered. A payload that fails
  our own schema check is logged and raised as ``InvalidResult`` (a ``CallError`` that carries
  the payload): a caller that must not lose a delivered message (the TransactionEvent sender,
  E13) treats it as delivered.
- A write that fails (OSError: reset, broken pipe, closed) means the connection is dead, whether
  or not its reader has noticed yet: ``conn`` is cleared, the outstanding CALL fails, the
  ``on_lost(conn)`` hook (the link) takes the connection down, and the caller gets
  ``NotConnected`` - so no caller can retry at once on a dead link (issue 13: the send spin).
"""
import asyncio
import json

from lite_stack.clock import Kick
from lite_stack.core import validate
from lite_stack.core.frames import head_id

CALL = 2
CALLRESULT = 3
CALLERROR = 4


class CallError(Exception):
    """A CALLERROR: ``code`` (Part 4 §4.3 error code string), ``description``, ``details`` dict."""

    def __init__(self, code, description="", details=None):
        super().__init__(code)
        self.code = code
        self.description = description
        self.details = details


class InvalidResult(CallError):
    """A CALLRESULT to our CALL (so: delivered) whose payload fails our schema check: ``code`` the
    violation, ``payload`` the payload as received (or None when it could not be read)."""

    def __init__(self, code, description="", payload=None):
        super().__init__(code, description)
        self.payload = payload


class RpcTimeout(Exception):
    """No CALLRESULT/CALLERROR within the message timeout."""


class QueueFull(Exception):
    """More than ``max_queue`` CALLs waiting to be sent."""


class NotConnected(Exception):
    """No connection to the CSMS (or it dropped while the CALL was outstanding)."""


def dumps(obj):
    try:
        return json.dumps(obj, separators=(",", ":"))
    except TypeError:  # MicroPython: already compact, no separators argument
        return json.dumps(obj)


class Rpc:
    """The message layer of one station.

    handlers: object with ``get(action)`` -> callable(payload) or None (a dict, or the station's
    router): the callable returns the response payload dict, or a ``CallError`` instance to
    answer with, or raises ``CallError``. A handler may queue zero-argument coroutine functions
    with ``add_after`` (at most ``MAX_AFTER``); they start as tasks once the response has been
    sent (e.g. the triggered message of F06, the Reset of B11/B12).
    log: callable(direction, text) or None, direction "<" received, ">" sent.
    """

    MAX_AFTER = 4

    def __init__(self, clock, handlers, max_queue=8, log=None, boot_id=None):
        self.clock = clock
        self.handlers = handlers
        self.max_queue = max_queue
        self.log = log
        self.conn = None
        self.after = []
        self.gate = None  # callable(action) -> CallError or None: refuse inbound CALLs (e.g. boot Rejected)
        self.spawn = self._spawn  # the station sets its bounded TaskSet.spawn
        self.on_lost = None  # callable(conn): a write on conn failed (the link takes it down)
        self._tasks = []
        self.in_len = 0   # characters of the last received frame
        self._lock = asyncio.Lock()
        self._ev = Kick()
        self._waiting = 0
        self._pending = None  # (messageId, action) of the outstanding CALL
        self._result = None
        self._error = None
        self._n = 0
        if boot_id is None:
            import os
            boot_id = "%08x" % int.from_bytes(os.urandom(4), "big")
        self.boot_id = boot_id  # 8 hex digits, random per boot: prefix of messageIds and transactionIds

    # ---- outbound -------------------------------------------------------------------------------
    def new_id(self):
        """A messageId unique across reboots: 8 hex digits random per boot + a counter (<= 36 chars)."""
        self._n += 1
        return "%s-%d" % (self.boot_id, self._n)

    def add_after(self, fn, dropped=None):
        """Queue the zero-argument coroutine function ``fn`` to start once the response to the CALL
        being handled has been sent. Bound: ``MAX_AFTER`` per CALL; one more is dropped (logged).
        ``dropped`` (zero-argument callable or None) is called instead when ``fn`` will never start:
        dropped at the bound, refused by a full task set (``spawn`` returned None), the handler
        failed, or the answer was interrupted (cancelled) before the job started; an on-demand
        block passes its ``done`` so that it is released all the same."""
        if len(self.after) >= self.MAX_AFTER:
            self._report(OverflowError("more than %d jobs after one CALL" % self.MAX_AFTER))
            if dropped:
                dropped()
            return
        self.after.append((fn, dropped))

    def _drop(self, jobs):
        for fn, dropped in jobs:
            if dropped:
                try:
                    dropped()
                except Exception as e:
                    self._report(e)

    def busy(self):
        """Number of CALLs waiting or outstanding."""
        return self._waiting

    async def call(self, action, payload, timeout):
        """Send a CALL and return the CALLRESULT payload. Raises QueueFull, NotConnected, RpcTimeout,
        CallError (CALLERROR received, or an invalid CALLRESULT: its code is the violation)."""
        if self._waiting >= self.max_queue:
            raise QueueFull(action)
        self._waiting += 1
        try:   # one coroutine frame per CALL in flight (RAM: a nested _call frame was ~0.1 kB)
            await self._lock.acquire()
            try:
                if self.conn is None:
                    raise NotConnected(action)
                mid = self.new_id()
                self._pending = (mid, action)
                self._result = self._error = None
                self._ev.clear()
                text = dumps([CALL, mid, action, payload])
                try:
                    await self._send(text)
                    text = None   # not held while the answer is awaited
                    if not await self.clock.wait(self._ev, timeout):
                        raise RpcTimeout(action)
                finally:
                    self._pending = None
                if self._error is not None:
                    raise self._error
                return self._result
            finally:
                self._lock.release()
        finally:
            self._waiting -= 1

    async def _send(self, text):
        conn = self.conn
        if conn is None:
            raise NotConnected()
        if self.log:
            self.log(">", text)
        try:
            await conn.send(text)
        except OSError as e:
            self.lost(conn, e)
            raise NotConnected()

    def lost(self, conn, why=None):
        """A write on ``conn`` failed: it is dead even if its reader has not noticed yet. Clear
        ``conn`` and fail the outstanding CALL (``disconnected``), then tell the link
        (``on_lost``), so every waiting sender waits for the next connection."""
        if self.conn is not conn:
            return
        if self.log:
            self.log("x", "send failed, connection lost: %s" % (why,))
        self.disconnected()
        if self.on_lost:
            self.on_lost(conn)

    def disconnected(self):
        """The connection is gone: fail the outstanding CALL with NotConnected."""
        self.conn = None
        if self._pending is not None:
            self._error = NotConnected(self._pending[1])
            self._ev.set()

    # ---- inbound --------------------------------------------------------------------------------
    async def on_frame(self, text):
        """Handle one received text frame. Never raises."""
        try:
            await self._on_frame(text)
        except Exception as e:  # last line of defence: log, keep the connection
            self._report(e)

    async def _on_frame(self, text):
        if not isinstance(text, str):
            await self._on_oversized(text)
            return
        if self.log:
            self.log("<", text)
        self.in_len = len(text)   # the size of the message being handled (BytesPerMessage checks)
        try:
            msg = json.loads(text)
        except Exception:  # ValueError on CPython, ValueError/other on MicroPython
            await self._reply_error("-1", "RpcFrameworkError", "Frame is not valid JSON")
            return
        if not isinstance(msg, list) or not msg:
            await self._reply_error("-1", "RpcFrameworkError", "Not an OCPP-J RPC frame")
            return
        kind = msg[0]
        mid = msg[1] if len(msg) > 1 and isinstance(msg[1], str) and len(msg[1]) <= 36 else None
        if kind == CALLRESULT or kind == CALLERROR:   # an answer is never answered
            if mid is not None and len(msg) >= 3:
                self._on_answer(kind, mid, msg)
            return
        if mid is None:
            await self._reply_error("-1", "RpcFrameworkError", "MessageId not readable")
        elif kind != CALL:
            await self._reply_error(mid, "MessageTypeNotSupported", "Unknown MessageTypeId")
        elif len(msg) != 4 or not isinstance(msg[2], str):
            await self._reply_error(mid, "RpcFrameworkError", "CALL must be [2,id,action,payload]")
        else:
            await self._on_call(mid, msg[2], msg[3])

    async def _on_oversized(self, big):
        # a message over the receive buffer: only its head was kept (lite_stack.core.ws.Oversized)
        h = head_id(big.head)
        if self.log:
            self.log("<", "[%d bytes over the receive buffer] %s" % (big.size, big.head[:64]))
        if h is None:
            await self._reply_error("-1", "RpcFrameworkError", "Message too large, head unreadable")
        elif h[0] == CALL:
            await self._reply_error(h[1], "FormatViolation",
                                    "Message of %d bytes above the receive buffer" % big.size)
        elif h[0] == CALLRESULT or h[0] == CALLERROR:
            p = self._pending
            if p is not None and p[0] == h[1]:
                self._answer(InvalidResult("FormatViolation", "answer too large")
                             if h[0] == CALLRESULT else CallError("FormatViolation", "too large"))
        else:
            await self._reply_error(h[1], "MessageTypeNotSupported", "Unknown MessageTypeId")

    def _answer(self, err, result=None):
        if isinstance(err, InvalidResult) and self.log:
            self.log("!", "InvalidResult %s: %s (delivered)" % (err.code, err.description))
        self._error = err
        self._result = result
        self._ev.set()

    def _on_answer(self, kind, mid, msg):
        p = self._pending
        if p is None or p[0] != mid:
            return  # late or unknown answer: ignored (Part 4 §4.1.1)
        if kind == CALLRESULT:
            if len(msg) != 3:
                self._answer(InvalidResult("RpcFrameworkError", "bad CALLRESULT"))
                return
            bad = validate.check(p[1], msg[2], True)
            if bad:
                self._answer(InvalidResult(bad[0], "%s answer: %s" % (p[1], bad[1]), msg[2]))
                return
            self._result = msg[2]
        else:
            code = msg[2]
            desc = msg[3] if len(msg) > 3 else ""
            self._error = CallError(code if isinstance(code, str) else "GenericError", desc,
                                    msg[4] if len(msg) > 4 else None)
        self._ev.set()

    async def _on_call(self, mid, action, payload):
        handler = self.handlers.get(action)
        if handler is None:
            await self._reply_error(mid, "NotImplemented", "Unknown action " + action[:64])
            return
        bad = validate.check(action, payload)
        if bad:
            await self._reply_error(mid, bad[0], bad[1])
            return
        if self.gate:
            err = self.gate(action)
            if err is not None:
                await self._reply_error(mid, err.code, err.description)
                return
        self.after = []
        try:
            res = handler(payload)
            if isinstance(res, CallError):
                raise res
        except CallError as e:
            after, self.after = self.after, []
            self._drop(after)
            await self._reply_error(mid, e.code, e.description)
            return
        except Exception as e:  # a handler bug must never take the station down
            after, self.after = self.after, []
            self._drop(after)
            self._report(e)
            await self._reply_error(mid, "InternalError", "Handler failed")
            return
        after, self.after = self.after, []
        try:
            try:
                await self._send(dumps([CALLRESULT, mid, res]))
            except NotConnected:
                pass
            while after:  # as tasks: they may send CALLs, which need this receive loop running
                fn, dropped = after.pop(0)
                if self.spawn(fn()) is None and dropped:   # spawn logs a failing job
                    dropped()
        finally:
            self._drop(after)   # cancelled before they could start

    def _spawn(self, coro):
        # without a station (tests, tools): keep a reference until the task ends, report a failure
        self._tasks = [t for t in self._tasks if not t.done()]
        t = asyncio.create_task(self._guard(coro))
        self._tasks.append(t)
        return t

    async def _guard(self, coro):
        try:
            await coro
        except Exception as e:
            self._report(e)

    async def _reply_error(self, mid, code, desc):
        try:
            await self._send(dumps([CALLERROR, mid, code, desc[:255], {}]))
        except NotConnected:
            pass

    def _report(self, e):
        if self.log:
            self.log("!", "%s: %s" % (type(e).__name__, e))
