"""The scoreboard's arithmetic: layers of a measured window, cost per event, and the month.

Measured (ocpp2lite/wire.py, per direction): WebSocket payload and headers, PING/PONG/CLOSE payload,
HTTP Upgrade head, TCP payload (TLS records included), TLS handshake records (types 20/22), and the
kernel's segment counts. Stated assumptions (not measured): IPv4 + TCP header bytes per segment
(HEADER), SYN / SYN-ACK carry 20 more option bytes (the 3 handshake segments of every connection
are taken out of the kernel's counts: SYN and ACK from the station, SYN-ACK to it).

The month: the cost measured per event times the counts of the usage profile of bench/data.py
(USAGE: 3 sessions a day; PROFILES["lite"]: TxUpdatedInterval 900 s, WebSocketPingInterval 240 s,
HeartbeatInterval 86400 s, reconnects_per_month, one Reset a month).
"""
HEADER = 52          # IPv4 20 + TCP 20 + timestamp option 12, every segment
SYN = 60             # SYN / SYN-ACK: IPv4 20 + TCP 20 + options 20
LAYERS = ("OCPP payload", "WebSocket framing", "HTTP upgrade", "TLS handshake", "TLS records",
          "TCP handshake", "TCP/IP headers")
MONTH_S = 30 * 86400


def layers(w, tls):
    """{layer: bytes} (both directions) of a window dict of ocpp2lite.score (snapshot difference)."""
    out = dict.fromkeys(LAYERS, 0)
    conns = w.get("conns", 0)
    for d, hs_segs, hs_bytes in (("up_", 2, SYN + HEADER), ("down_", 1, SYN)):
        payload = w[d + "ws_data"]
        framing = w[d + "ws_header"] + w[d + "ws_ctrl"]
        http = w[d + "http"] + w[d + "other"]
        tls_hs = w[d + "tls_hs"] if tls else 0
        out["OCPP payload"] += payload
        out["WebSocket framing"] += framing
        out["HTTP upgrade"] += http
        out["TLS handshake"] += tls_hs
        out["TLS records"] += max(0, w[d + "raw"] - payload - framing - http - tls_hs)
        out["TCP handshake"] += conns * hs_bytes
        out["TCP/IP headers"] += max(0, w[d + "segs"] - conns * hs_segs) * HEADER
    return out


def _add(a, b, k=1.0):
    return {n: a.get(n, 0) + k * b.get(n, 0) for n in LAYERS}


def _pairs(frames, action, pred=None):
    """Payload bytes of the CALLs of action (pred on triggerReason) and of the answers to them."""
    calls = [f for f in frames if f[0] == "CS" and f[1] == 2 and f[2] == action and (pred is None or pred(f[4]))]
    res = [f for f in frames if f[0] == "CSMS" and f[1] in (3, 4) and f[2] == action]
    mean_res = sum(f[3] for f in res) / len(res) if res else 0
    return len(calls), sum(f[3] for f in calls) + len(calls) * mean_res


def _frames(w):
    return w["up_frames"] + w["down_frames"]


def month(result):
    """The month extrapolation of one result of ocpp2lite.score (None when the run did not finish)."""
    import sys
    from ocpp2lite.demo import ROOT
    if ROOT not in sys.path:      # bench/data.py imports tests.unit.certs from the repository root
        sys.path.insert(0, ROOT)
    from bench.data import PROFILES, USAGE
    if result["status"] != "ok":
        return None
    prof = PROFILES["lite"]
    lite = {v: int(val) for _, v, val in prof["variables"] if val.isdigit()}
    tls, W, run = result["tls"], result["windows"], result["run"]
    ses = W["session"]
    # per data frame overhead of every layer but the payload, measured over the session windows
    nfr = sum(_frames(w) for w in ses) or 1
    tot = {}
    for w in ses:
        tot = _add(tot, layers(w, tls))
    per_frame = {n: (0 if n == "OCPP payload" else tot[n] / nfr) for n in LAYERS}

    def pair_cost(n_calls, payload):
        c = {n: 2 * n_calls * per_frame[n] for n in LAYERS}
        c["OCPP payload"] = payload
        return c

    periodic = lambda tr: tr == "MeterValuePeriodic"   # noqa: E731
    n_per = sum(_pairs(w["frames_list"], "TransactionEvent", periodic)[0] for w in ses)
    pay_per = sum(_pairs(w["frames_list"], "TransactionEvent", periodic)[1] for w in ses)
    c_periodic = pair_cost(1, pay_per / n_per) if n_per else dict.fromkeys(LAYERS, 0)
    fixed = dict.fromkeys(LAYERS, 0)
    for w in ses:
        fixed = _add(fixed, layers(w, tls), 1.0 / len(ses))
    fixed = _add(fixed, c_periodic, -n_per / len(ses))
    tx_s = (sum(USAGE["charge_s"]) + sum(USAGE["idle_after_s"])) / 2
    accepted = result["set_variables"].get("TxUpdatedInterval") == "Accepted"
    per_session = int(tx_s // lite["TxUpdatedInterval"]) if accepted else \
        n_per / len(ses) / run["charge_s"] * tx_s
    session = _add(fixed, c_periodic, per_session)
    idle = W["idle"][0]
    il = layers(idle, tls)
    n_hb, pay_hb = _pairs(idle["frames_list"], "Heartbeat")
    c_hb = pair_cost(1, pay_hb / n_hb) if n_hb else dict.fromkeys(LAYERS, 0)
    pings = idle["up_pings"]
    rest = _add(il, pair_cost(n_hb, pay_hb), -1)
    c_ping = {n: max(0, rest[n]) / pings for n in LAYERS} if pings else dict.fromkeys(LAYERS, 0)
    ping_ok = result.get("set_variables_idle", {}).get("WebSocketPingInterval") == "Accepted"
    seen_ping = run["idle_s"] / pings if pings else None
    ping_period = (lite["WebSocketPingInterval"] * seen_ping / run["ping_s"] if ping_ok else seen_ping) \
        if pings else None
    hb_period = prof["heartbeat_s"] * (run["idle_s"] / n_hb) / run["heartbeat_s"] if n_hb else None
    rp = W["replay"][0]
    n_tx, pay_tx = _pairs(rp["frames_list"], "TransactionEvent")
    reconnect = _add(layers(rp, tls), pair_cost(n_tx, pay_tx), -1)
    reconnect = {n: max(0, v) for n, v in reconnect.items()}
    # the Reset window runs at the shortened intervals: its PINGs and Heartbeats are counted apart
    rw = W["Reset"][0]
    n_hb_r, pay_hb_r = _pairs(rw["frames_list"], "Heartbeat")
    reset = _add(_add(layers(rw, tls), pair_cost(n_hb_r, pay_hb_r), -1), c_ping, -rw["up_pings"])
    reset = {n: max(0, v) for n, v in reset.items()}
    sessions = len(USAGE["plug_in_s"]) * 30
    items = {
        "sessions": (sessions, session),
        "WebSocket PING/PONG": ((MONTH_S / ping_period) if ping_period else 0, c_ping),
        "Heartbeat": ((MONTH_S / hb_period) if hb_period else 0, c_hb),
        "reconnects": (prof["reconnects_per_month"], reconnect),
        "Reset": (1, reset),
    }
    total = dict.fromkeys(LAYERS, 0)
    rows = {}
    for k, (count, cost) in items.items():
        m = {n: count * cost[n] for n in LAYERS}
        total = _add(total, m)
        rows[k] = {"count": round(count, 2), "measured_cost_b": round(sum(cost.values()), 1),
                   "month_b": round(sum(m.values()))}
    return {"layers_b": {n: round(v) for n, v in total.items()}, "total_b": round(sum(total.values())),
            "items": rows, "per_frame_overhead_b": round(sum(per_frame.values()), 1),
            "periodic_per_session": round(per_session, 2), "ping_period_s": ping_period,
            "heartbeat_period_s": hb_period,
            "idle_hour_b": round((3600 / ping_period * sum(c_ping.values()) if ping_period else 0)
                                 + (3600 / hb_period * sum(c_hb.values()) if hb_period else 0), 1),
            "profile": {"sessions_per_month": sessions, "tx_s_per_session": tx_s,
                        "TxUpdatedInterval": lite["TxUpdatedInterval"],
                        "WebSocketPingInterval": lite["WebSocketPingInterval"],
                        "HeartbeatInterval": prof["heartbeat_s"],
                        "reconnects_per_month": prof["reconnects_per_month"], "resets_per_month": 1}}
