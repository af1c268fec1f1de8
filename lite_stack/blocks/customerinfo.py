"""N09 Get / N10 Clear Customer Information (Part 2 N09, N10), an on-demand block: loaded when a
CustomerInformationRequest arrives, released when its NotifyCustomerInformation messages have
been sent (see ``lite_stack.blocks``).

Request ``{requestId, report, clear, idToken?, customerCertificate?, customerIdentifier?}``;
response ``{status}`` with CustomerInformationStatusEnumType:
- ``Rejected`` (reasonCode ``InvalidValue``) when ``report`` and ``clear`` are both false
  (N09.FR.07, N10.FR.07).
- ``Invalid`` (reasonCode ``MissingParam``) when the request names no customer: none of
  ``idToken``, ``customerCertificate``, ``customerIdentifier`` (the CSMS must give one: N09.FR.04,
  N10.FR.08). Part 6 TC_N_29 expects ``Invalid`` from a station that cannot process the request;
  inferred from that test case: a request without a reference is the one such request here.
- ``Accepted`` otherwise (N09.FR.02, N10.FR.01); what is held is read and cleared before the
  response is sent (so Accepted means cleared, even if the messages below are lost); then, once
  the response has been sent:
  - ``report`` true: NotifyCustomerInformation messages, ``data`` of at most ``CHUNK`` (512)
    characters each, ``seqNo`` from 0, ``tbc`` true on all but the last, one ``generatedAt`` and
    the request's ``requestId`` for all (N09.FR.05; with ``clear``, what was cleared and what is
    kept: N10.FR.03); ``"No data found"`` in one message when the station holds nothing for the
    customer (N09.FR.06, N10.FR.04).
  - ``clear`` true and ``report`` false: one NotifyCustomerInformation ``"Customer data cleared"``
    (N10.FR.06, Part 6 TC_N_32), also when there was nothing to clear.
  Sending stops at the first message not delivered (offline, CALLERROR, timeout: ``ctx.send``
  returns None); the parts are not queued across a disconnection.

What the station holds for an IdToken (matched on ``idToken`` and ``type``) and what ``clear``
does with it (everything except a Local Authorization List, which only the CSMS changes: N10.FR.02;
this station has none):
- an authorization held on an EVSE for the next power-path close (``Evse.auth``, C01/F01):
  cleared, through the event ``customer_clear`` (None, idToken dict) that the authorization block
  owning ``Evse.auth`` reacts to; the customer presents the card again to charge.
- an ongoing transaction started by it (``Evse.tx``): kept until it ends, since the IdToken is
  what may stop it locally (E07) and the CSMS already knows it; reported by transactionId.
- queued TransactionEventRequests carrying it (flash, ``lite_stack.txqueue``): kept, since they
  must still reach the CSMS (E11/E12: billing); reported by transactionId.
- no Authorization Cache (AuthCacheCtrlr absent, C10) and no Local Authorization List (D).
``customerCertificate``: the station stores no customer certificates (no ISO 15118 contract
certificates); ``customerIdentifier``: it stores no customer identifiers (PICS C-14 No). Both are
Accepted and answered ``"No data found"`` / ``"Customer data cleared"``.
The report names EVSEs and transaction ids, never the IdToken itself (the CSMS sent it).
Bounds: the text is at most two lines per EVSE plus one per queued transaction (the queue is
bounded, board ``TX_QUEUE``), read from flash one queued message at a time.
"""
from lite_stack.context import same_token, status

# the customer references under which the station holds data: no customerIdentifier (PICS C-14
# No), no customerCertificate
REFERENCES = ("idToken",)
CHUNK = 512          # NotifyCustomerInformationRequest.data is string[512]
NO_DATA = "No data found"
CLEARED = "Customer data cleared"


def handle(ctx, action, p, done):
    report = p["report"]
    clear = p["clear"]
    if not report and not clear:
        done()
        return status("Rejected", "InvalidValue")
    tok = p.get("idToken")
    if tok is None and "customerCertificate" not in p and "customerIdentifier" not in p:
        done()
        return status("Invalid", "MissingParam")
    rid = p["requestId"]
    text = []   # (an exception here: the Router calls done and the answer is InternalError)
    for what, kept in (held(ctx, tok) if tok is not None else ()):
        if clear:
            what += " (kept)" if kept else " (cleared)"
        text.append(what)
    if clear and tok is not None:   # before the answer: Accepted means cleared
        ctx.emit("customer_clear", None, tok)
        ctx.log("CustomerInformation %d: data of an IdToken cleared" % rid)

    async def notify():
        try:
            await send_all(ctx, rid, (text or [NO_DATA]) if report else [CLEARED])
        finally:
            done()
    ctx.after(notify, done)   # done also when the job never starts (task set full)
    return status("Accepted")


def held(ctx, tok):
    """What the station holds for IdToken ``tok``: a list of ``(text, kept_on_clear)``."""
    out = []
    for e in ctx.evses:
        a = e.auth
        if a and same_token(a[0], tok):
            out.append(("EVSE %d: authorization held for the next charge" % e.id, False))
        tx = e.tx
        if tx and same_token(tx.token, tok):
            out.append(("EVSE %d: transaction %s ongoing" % (e.id, tx.id), True))
    for tx_id in ctx.queue.tx_ids_with_token(tok):
        out.append(("transaction %s: TransactionEvents queued for the CSMS" % tx_id, True))
    return out


async def send_all(ctx, rid, lines):
    """Send ``lines`` joined by "; " as NotifyCustomerInformation parts of at most CHUNK
    characters (seqNo from 0, tbc on all but the last); False when one was not delivered."""
    generated = ctx.iso_now()
    text = "; ".join(lines)
    seq = 0
    i = 0
    while True:
        part = text[i:i + CHUNK]
        i += CHUNK
        msg = {"data": part, "seqNo": seq, "generatedAt": generated, "requestId": rid}
        if i < len(text):
            msg["tbc"] = True
        if await ctx.send("NotifyCustomerInformation", msg) is None:
            return False
        if i >= len(text):
            return True
        seq += 1
