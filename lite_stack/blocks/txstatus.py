"""E14 GetTransactionStatus (Part 2 E14, part of E Transactions), an on-demand block: loaded per
request and released after it (RAM: the handler is not resident).

Request ``{"transactionId"?: str}`` -> ``{"messagesInQueue": bool, "ongoingIndicator"?: bool}``:
messagesInQueue tells whether TransactionEvents of that transaction (or of any, without an id)
are still queued; ongoingIndicator, only for a given id, whether that transaction is still
running on an EVSE (Part 2 E14; Part 6 TC_E_28_CS..TC_E_30_CS).
"""


def handle(ctx, action, p, done):
    done()
    tid = p.get("transactionId")
    r = {"messagesInQueue": ctx.queue.has(tid)}
    if tid is not None:
        r["ongoingIndicator"] = any(e.tx and e.tx.id == tid for e in ctx.evses)
    return r
