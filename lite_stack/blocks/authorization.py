"""C Authorization (Part 2 C01, C09, C15; ClearCache C11) and the authorization side of E03/F01.

A presented IdToken (event ``token``):
1. E07/C09 local stop: the IdToken of a running transaction, or one whose groupIdToken equals the
   transaction's (after authorization), ends it (event ``stop``: StopAuthorized / Local).
2. Otherwise it is looked up (``lookup``: ``(idToken dict) -> idTokenInfo dict or None``, first
   non-None answer wins; today: the CSMS Authorize when online (C01), then the offline rule C15:
   with AuthCtrlr.OfflineTxForUnknownIdEnabled an unknown IdToken is Accepted offline and judged
   by the CSMS when the queued Started arrives (E05); without it nothing starts (C15.FR.02)). A
   local list (D), an authorization cache (C10) or reservations (H) plug in there.
3. Accepted: the authorization is held on an EVSE (``Evse.auth``), a plugged-in one first, for
   the next power-path close (the transactions block starts the transaction). The EVSE is chosen
   after the lookup, in one step with no await, among EVSEs holding no authorization, so two
   swipes never share an EVSE; an IdToken holds at most one EVSE: presented again while its
   lookup runs or while it is held (no transaction yet), it is ignored (C01: one authorization
   per presented IdToken; no second Authorize, no second EVSE).
RequestStartTransaction (event ``remote_start``): with AuthCtrlr.AuthorizeRemoteStart the IdToken
is authorized first (F02.FR.01, TC_F_02), else held at once with trigger RemoteStart. The remote
block Accepts only for an EVSE without a held authorization; one that appears while the Authorize
of AuthorizeRemoteStart is under way is not overwritten (the remote start is then dropped, logged).
EVConnectionTimeOut: an authorization with no cable within the timeout is cleared (E03.FR.05).
Event ``customer_clear`` (N10 Clear Customer Information, from the customerinfo block): an
authorization held for that IdToken (no transaction yet) is dropped.
ClearCache: Rejected, there is no cache (C11.FR.04): the on-demand block blocks/clearcache.py.
Logs name an idToken only by its hash (``diaglog.token_ref``): the log goes to the diagnostics
log in flash (N01), which holds no personal data.
"""
from device_model import ids
from lite_stack.context import same_token
from lite_stack.diaglog import token_ref


class Authorization:
    HANDLERS = ()   # ClearCache (C11): the on-demand block blocks/clearcache.py

    def __init__(self, ctx):
        self.ctx = ctx
        self._busy = []   # IdTokens whose lookup is under way (at most one per token)

    def on_event(self, kind, evse, data):
        if kind == "token":
            return self.present({"idToken": data[0], "type": data[1]})
        if kind == "remote_start":
            self._remote_start(evse, data)
        if kind == "plugged":
            if evse.auth and not evse.tx:
                evse.auth[4] = "CablePluggedIn"
        elif kind == "unplugged":
            evse.auth = None
        elif kind == "customer_clear":   # N10.FR.03/FR.06
            e = self._held(data)
            if e and not e.tx:
                e.auth = None

    def poll(self, e, now):
        if e.auth and not e.plugged and not e.tx:
            if now - e.auth[3] >= self.ctx.dm.get(ids.EV_CONNECTION_TIMEOUT) * 1000:
                self.ctx.log("EVSE %d: EVConnectionTimeOut, authorization cleared" % e.id)
                e.auth = None

    def hold(self, e, tok, group, remote_id=None, trigger="Authorized"):
        """Hold an authorization on EVSE ``e`` for the next power-path close (C01 / F01 / F02)."""
        e.auth = [tok, group, remote_id, self.ctx.clock.ms(), trigger]
        self.ctx.wake()

    # ---- lookup chain -----------------------------------------------------------------------------
    async def lookup(self, tok):
        """The idTokenInfo of ``tok``: the CSMS's (C01) while online, else Accepted when
        OfflineTxForUnknownIdEnabled (C15), else None."""
        info = await self._csms(tok)
        if info is None and not self.ctx.online() and self.ctx.dm.get(ids.OFFLINE_TX_FOR_UNKNOWN_ID):
            info = {"status": "Accepted"}  # C15
        return info

    async def _csms(self, tok):
        """C01: AuthorizeRequest while online; the idTokenInfo, or None (offline, no answer)."""
        if not self.ctx.online():
            return None
        r = await self.ctx.send("Authorize", {"idToken": tok})
        return r.get("idTokenInfo") if r else None

    # ---- presented IdToken ------------------------------------------------------------------------
    def _stop_by(self, tok, group):
        """E07/C09: the EVSE whose transaction ``tok`` (or its group) may stop, or None."""
        for e in self.ctx.evses:
            tx = e.tx
            if not tx:
                continue
            same = same_token(tx.token, tok)
            if same or (group and tx.group and group.get("idToken") == tx.group.get("idToken")):
                self.ctx.emit("stop", e, ("StopAuthorized", "Local", None if same else tok))
                self.ctx.wake()
                return e
        return None

    def _held(self, tok):
        for e in self.ctx.evses:
            a = e.auth
            if a and same_token(a[0], tok):
                return e
        return None

    async def present(self, tok):
        """An IdToken was presented at the reader (C01; E07 local stop)."""
        ctx = self.ctx
        if self._stop_by(tok, None):
            return
        key = (tok.get("idToken"), tok.get("type"))
        if key in self._busy or self._held(tok):
            ctx.log("IdToken %s already being authorized or held: ignored" % token_ref(tok["idToken"]))
            return
        self._busy.append(key)
        try:
            info = await self.lookup(tok)
        finally:
            self._busy.remove(key)
        status = info.get("status") if info else None
        if status != "Accepted":
            ctx.log("IdToken %s not authorized: %s" % (token_ref(tok["idToken"]), status))
            return
        group = info.get("groupIdToken")
        if self._stop_by(tok, group):
            return
        target = None
        for e in ctx.evses:
            if not e.tx and ctx.may_start(e) and e.plugged and not e.auth:
                target = e
                break
        if target is None:
            for e in ctx.evses:
                if not e.tx and ctx.may_start(e) and not e.auth:
                    target = e
                    break
        if target:
            self.hold(target, tok, group)

    def _remote_start(self, e, data):
        tok, group, rid = data
        if not self.ctx.dm.get(ids.AUTHORIZE_REMOTE_START):
            self.hold(e, tok, group, rid, "RemoteStart")
            return

        async def authorize_then_hold():  # after the RequestStartTransactionResponse
            info = await self._csms(tok)
            if info and info.get("status") == "Accepted":
                if e.auth or e.tx:   # taken while the Authorize was under way: not overwritten
                    self.ctx.log("EVSE %d taken meanwhile: remote start %s dropped" % (e.id, rid))
                    return
                self.hold(e, tok, info.get("groupIdToken"), rid, "RemoteStart")
        self.ctx.after(authorize_then_hold)
