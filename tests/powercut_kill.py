"""SIGKILL power-cut campaign for issue 4: the simulated Charging Station process is killed at random
moments during (mostly offline) transactions; afterwards every transaction must reach the CSMS
complete and consistent (OCPP 2.0.1 Part 2 E11/E12 offline transactions and power loss, E13
delivery of queued TransactionEvents).

CPython only (pytest side); the station runs as a subprocess on "cpython" or "micropython" (see
tests/harness.py). Entry points:

``run_campaign(interp, trials=60, seed=4, kill_max=None, log=None) -> CampaignResult``
    1. setup run (online, not killed): SetVariables TxUpdatedInterval=1, LocalAuthorizeOffline=true,
       OfflineTxForUnknownIdEnabled=true (C15), RetryBackOffWaitMinimum=1, RetryBackOffRandomRange=0
       (all persisted in the one OCPP_STATE_DIR used by every later start);
    2. ``trials`` trials, each: start the station, drive random hardware events on stdin (plug_in,
       token, meter, ev B/C, plug_out) with random short delays, SIGKILL it at a random moment.
       Kinds: "offline" (OCPP_CSMS_URL = a closed loopback port; transactions start with
       OfflineTxForUnknownIdEnabled), "online" (CSMS reachable; transactions start with a token
       while online or RequestStartTransaction; the connection is then dropped and/or refused,
       TransactionEvent answers are delayed or withheld, so kills also land between "sent" and
       "confirmed"), "drain" (online without chaos and a longer life, chosen when the persisted
       queue holds more than ``DRAIN_ABOVE`` entries so it never reaches the board's TX_QUEUE
       bound, where E13 would allow evicting Updated events);
    3. final run: CSMS reachable, station started normally, GetTransactionStatus (no
       transactionId) polled until messagesInQueue is false;
    4. :func:`check_transaction_events` over every TransactionEventRequest the CSMS received, plus
       every queue entry found in the state directory after a kill (each must have arrived, with
       the same content).

``check_transaction_events(events, online_prefixes=None) -> (errors, stats)``: the pure checker
(events: TransactionEventRequest payloads in arrival order). Rules per transactionId: seqNo set
= 0..n without gaps; exactly one Started, at seqNo 0; exactly one Ended, at seqNo n; everything in
between Updated; no two receipts with the same seqNo and different content (a re-send with
identical content after a reboot is allowed); first receipts arrive in seqNo order; offline=true
on every Ended with stoppedReason PowerLoss (created while booting, before any connection) and on
every message of a transaction whose boot (the transactionId prefix = the boot's messageId
prefix) never sent anything to the CSMS.

``check_energy_register(events) -> errors``: separate, not one of issue 4's criteria: the
Energy.Active.Import.Register in the first receipts (= creation order: one EVSE, one FIFO queue)
never decreases, within a transaction and across transactions (a RAM-held register restarts at 0
on boot unless the station restores it; commit c40faf4 promises it never runs backwards).
"""
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import tempfile
import time

from device_model.store import unpack
from ocpp2lite.csms import Csms, DEFAULT, SILENT
from tests.harness import Station, failure_report

STATION_ID = "PC001"
TOKEN = "AB12CD34"           # allow-listed at the CSMS
UNKNOWN_TOKEN = "0FF11NE0"   # unknown to the CSMS: Invalid online, accepted offline (C15)
DRAIN_ABOVE = 30             # persisted queue entries above which the next trial is a "drain" trial
SETUP_VARIABLES = (
    ("SampledDataCtrlr", "TxUpdatedInterval", "1"),
    ("AuthCtrlr", "LocalAuthorizeOffline", "true"),
    ("AuthCtrlr", "OfflineTxForUnknownIdEnabled", "true"),
    ("OCPPCommCtrlr", "RetryBackOffWaitMinimum", "1"),
    ("OCPPCommCtrlr", "RetryBackOffRandomRange", "0"),
)
# What a kill hit, judged from outside: "recovery" = an open transaction of an earlier kill was still
# in flash, unchanged (killed during start-up or its recovery); "start-up" = nothing printed, not
# connected; "delivery" = connected, registered and TransactionEvents queued (sent but unconfirmed or
# waiting); "tx open" = a transaction open, nothing being delivered; "idle" = the rest.
PHASES = ("start-up", "recovery", "delivery", "tx open", "idle")


# ---- the checker --------------------------------------------------------------------------------
def _canon(obj):
    """Canonical JSON text of a payload (floats to 9 significant digits: CBOR/JSON round trips of
    two interpreters may print them differently)."""
    def fix(o):
        if isinstance(o, float):
            return float("%.9g" % o)
        if isinstance(o, dict):
            return {k: fix(v) for k, v in o.items()}
        if isinstance(o, list):
            return [fix(v) for v in o]
        return o
    return json.dumps(fix(obj), sort_keys=True, separators=(",", ":"))


def tx_prefix(tx_id):
    """The boot prefix of a lite_stack transactionId ("<8 hex>-<n>", Station.new_tx_id)."""
    return tx_id.rsplit("-", 1)[0] if "-" in tx_id else None


def _energy(p):
    """Energy.Active.Import.Register values (Wh) in a TransactionEventRequest, in order."""
    out = []
    for mv in p.get("meterValue") or ():
        for sv in mv.get("sampledValue") or ():
            if sv.get("measurand", "Energy.Active.Import.Register") == "Energy.Active.Import.Register":
                out.append(sv.get("value"))
    return out


def check_transaction_events(events, online_prefixes=None):
    """Check TransactionEventRequest payloads (arrival order). Returns (errors, stats).

    online_prefixes: set of messageId prefixes of boots that sent at least one CALL to the CSMS, or
    None to skip the "created offline" rule for whole transactions. stats: transactions, messages
    (distinct (transactionId, seqNo)), receipts, resends (identical re-sends), updated, power_loss
    (Ended with stoppedReason PowerLoss), offline_started (Started with offline=true).
    """
    errors = []
    by_tx = {}
    order = []
    for p in events:
        try:
            tid = p["transactionInfo"]["transactionId"]
            seq = p["seqNo"]
            et = p["eventType"]
        except (KeyError, TypeError):
            errors.append("malformed TransactionEvent %r" % (p,))
            continue
        if tid not in by_tx:
            by_tx[tid] = {}
            order.append(tid)
        by_tx[tid].setdefault(seq, []).append((et, _canon(p), p))
    stats = {"transactions": len(by_tx), "messages": 0, "receipts": len(events), "resends": 0,
             "updated": 0, "power_loss": 0, "offline_started": 0}
    for tid in order:
        msgs = by_tx[tid]
        stats["messages"] += len(msgs)
        seqs = sorted(msgs)
        n = seqs[-1]
        if seqs != list(range(n + 1)):
            missing = sorted(set(range(n + 1)) - set(seqs))
            errors.append("%s: seqNo not gap-free: got %s, missing %s" % (tid, seqs, missing))
        for s in seqs:
            contents = set(c for _, c, _ in msgs[s])
            if len(contents) > 1:
                errors.append("%s: seqNo %d received with %d different contents: %s"
                              % (tid, s, len(contents), " | ".join(sorted(contents))))
            stats["resends"] += len(msgs[s]) - 1
        started = [s for s in seqs if msgs[s][0][0] == "Started"]
        ended = [s for s in seqs if msgs[s][0][0] == "Ended"]
        stats["updated"] += sum(1 for s in seqs if msgs[s][0][0] == "Updated")
        if started != [0]:
            errors.append("%s: Started at seqNo %s (want exactly one, at 0)" % (tid, started))
        if ended != [n]:
            errors.append("%s: Ended at seqNo %s (want exactly one, at the highest seqNo %d)"
                          % (tid, ended, n))
        pre = tx_prefix(tid)
        for s in seqs:
            et, _, p = msgs[s][0]
            reason = p.get("transactionInfo", {}).get("stoppedReason")
            if et == "Ended" and reason == "PowerLoss":
                stats["power_loss"] += 1
            if et == "Started" and p.get("offline") is True:
                stats["offline_started"] += 1
            if et == "Ended" and reason == "PowerLoss" and p.get("offline") is not True:
                errors.append("%s seqNo %d: Ended PowerLoss (created while booting) without offline=true"
                              % (tid, s))
            if online_prefixes is not None and pre is not None and pre not in online_prefixes \
                    and p.get("offline") is not True:
                errors.append("%s seqNo %d: created in a boot that never reached the CSMS, but "
                              "offline is not true" % (tid, s))
    # first receipts of one transaction arrive in seqNo order (the queue is FIFO across reboots)
    first = {}
    for p in events:
        try:
            key = (p["transactionInfo"]["transactionId"], p["seqNo"])
        except (KeyError, TypeError):
            continue
        if key not in first:
            first[key] = len(first)
    last_seq = {}
    for (tid, seq) in sorted(first, key=lambda k: first[k]):
        if seq < last_seq.get(tid, -1):
            errors.append("%s: seqNo %d first arrived after seqNo %d" % (tid, seq, last_seq[tid]))
        last_seq[tid] = max(seq, last_seq.get(tid, -1))
    return errors, stats


def check_energy_register(events):
    """Energy.Active.Import.Register (Wh) over the first receipt of every (transactionId, seqNo), in
    arrival order, must never decrease (single EVSE: arrival order of first receipts = creation
    order). Returns a list of errors, one per decrease."""
    seen = set()
    prev = None
    errors = []
    for p in events:
        try:
            key = (p["transactionInfo"]["transactionId"], p["seqNo"])
        except (KeyError, TypeError):
            continue
        if key in seen:
            continue
        seen.add(key)
        for v in _energy(p):
            if prev is not None and v < prev[0]:   # one error per drop, not for all that follow
                errors.append("%s seqNo %d (%s %s): register %s Wh after %s Wh in %s seqNo %d" % (
                    key + (p["eventType"], p["transactionInfo"].get("stoppedReason") or p["triggerReason"],
                           v, prev[0]) + prev[1]))
            prev = (v, key)
    return errors


def check_persisted_delivered(persisted, events):
    """Every queue entry seen in the state directory after a kill ({(tx, seq): canon}) must have
    been received by the CSMS with the same content. Returns a list of errors."""
    got = {}
    for p in events:
        try:
            got.setdefault((p["transactionInfo"]["transactionId"], p["seqNo"]), set()).add(_canon(p))
        except (KeyError, TypeError):
            pass
    errors = []
    for key in sorted(persisted):
        if key not in got:
            errors.append("%s seqNo %d was in the persisted queue after a kill but never reached "
                          "the CSMS" % key)
        elif persisted[key] not in got[key]:
            errors.append("%s seqNo %d: delivered content differs from the persisted queue entry:"
                          " %s vs %s" % (key + (sorted(got[key]), persisted[key])))
    return errors


def check_owed(owed, events):
    """Every transaction left open by a kill after its Started was queued ({transactionId: its Ended
    was already queued}) must have reached the CSMS, and unless its Ended was already queued, been
    ended by the recovery: triggerReason AbnormalCondition, stoppedReason PowerLoss (E12). Returns a
    list of errors (completeness itself is check_transaction_events' job)."""
    ended = {}
    for p in events:
        try:
            if p["eventType"] == "Ended":
                ended.setdefault(p["transactionInfo"]["transactionId"], p)
        except (KeyError, TypeError):
            pass
    errors = []
    for tid in sorted(owed):
        p = ended.get(tid)
        if p is None:
            errors.append("%s was open at a kill with its Started queued, but no Ended arrived" % tid)
        elif not owed[tid] and (p.get("triggerReason") != "AbnormalCondition"
                                or p["transactionInfo"].get("stoppedReason") != "PowerLoss"):
            errors.append("%s was open at a kill, but its Ended says %s/%s, not AbnormalCondition/"
                          "PowerLoss" % (tid, p.get("triggerReason"),
                                         p["transactionInfo"].get("stoppedReason")))
    return errors


# ---- state directory inspection ---------------------------------------------------------------------
def read_state(state_dir):
    """({name: object}, [leftover .tmp names]) of a store directory as the next boot will see it,
    read without touching it (a Store would sweep/promote temporaries): like Store.load, a valid
    ``name`` wins, else a complete ``name.tmp`` (a kill between writing and renaming it), else the
    name is absent; an unreadable ``name`` without a valid temporary maps to None."""
    objs, tmps = {}, []
    names = sorted(os.listdir(state_dir))

    def load(name):
        try:
            with open(os.path.join(state_dir, name), "rb") as f:
                return unpack(f.read())[0]
        except (OSError, ValueError):
            return None
    for name in names:
        if name.endswith(".tmp"):
            tmps.append(name)
        else:
            objs[name] = load(name)
    for t in tmps:
        base = t[:-4]
        if objs.get(base) is None:
            v = load(t)
            if v is not None:
                objs[base] = v
    return objs, tmps


def _tx_bytes(state_dir, objs):
    """Bytes of the open-transaction record the next boot will see (tx1, or a complete tx1.tmp)."""
    if objs.get("tx1") is None:
        return None
    b = _file_bytes(os.path.join(state_dir, "tx1"))
    try:
        unpack(b)
        return b
    except (TypeError, ValueError):
        return _file_bytes(os.path.join(state_dir, "tx1.tmp"))


def _file_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _watch(state_dir, proc, start_at, deadline, target):
    """Thread: from time.monotonic() start_at on, poll state_dir and SIGKILL pid at the first sign of
    a write: target "tmp" = a new ``*.tmp`` exists (the kill lands inside Store.save), "new" = a queue
    file appeared (the kill lands right after a TransactionEvent was queued, e.g. between the
    recovered Ended and the removal of the open transaction). Returns 1 if it killed, 0 at the
    deadline (the caller kills then)."""
    while time.monotonic() < start_at:
        time.sleep(0.001)
    try:
        before = set(os.listdir(state_dir))
    except OSError:
        before = set()
    while time.monotonic() < deadline and proc.returncode is None:
        try:
            names = os.listdir(state_dir)
        except OSError:
            names = []
        for n in names:
            if n not in before and (n.endswith(".tmp") if target == "tmp"
                                    else n.startswith("txq.") and not n.endswith(".tmp")):
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    return 0
                return 1
        time.sleep(0.0002)
    return 0


def closed_port():
    """(socket, port): a loopback port bound but not listening -> connections are refused. Keep the
    socket open while the port must stay closed (nobody else can take it)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


# ---- the campaign -------------------------------------------------------------------------------------
class CampaignResult:
    """Outcome of run_campaign: trials, kinds {kind: n}, timings {early|snipe|watch|random: n},
    watch_hits (watch trials killed at the write they waited for), phases {phase: n} (see
    PHASES), tmp_left (kills that left a .tmp, i.e. landed inside a Store.save), recovery_cut (kills
    after a recovered Ended was queued but before the open transaction was cleared),
    tx_started_in_trials (kills with a new transaction open), owed {transactionId: Ended already
    queued} (those with their Started queued), persisted {(transactionId, seqNo): canonical JSON}
    (queue entries seen after kills), queue_max (most persisted queue entries seen), stats
    (checker), errors (list of str: issue 4's criteria), energy_errors (list of str:
    check_energy_register), kept_dir (the state directory, kept when something failed), seconds,
    summary (str)."""

    def __init__(self, interp, seed):
        self.interp = interp
        self.seed = seed
        self.trials = 0
        self.kinds = {}
        self.phases = dict((p, 0) for p in PHASES)
        self.tmp_left = 0
        self.recovery_cut = 0
        self.queue_max = 0
        self.tx_started_in_trials = 0
        self.owed = {}
        self.timings = {}
        self.watch_hits = 0
        self.persisted = {}
        self.stats = {}
        self.errors = []
        self.energy_errors = []
        self.kept_dir = None
        self.seconds = 0.0
        self.summary = ""

    def make_summary(self):
        s = self.stats
        self.summary = (
            "power-cut campaign on %s (seed %d): %d trials (%s; kill timing %s, %d watch hits) in %.1f s; "
            "transactions open at a kill: %d (%d with their Started queued); kills by phase: %s; "
            "kills inside a store write (.tmp left): %d; kills between a recovered Ended and clearing "
            "the open transaction: %d; persisted queue max %d entries; verified %d transactions, %d "
            "messages (%d Updated), %d started offline, %d ended by PowerLoss recovery, %d receipts "
            "incl. %d identical re-sends, %d persisted queue entries traced to the CSMS; %d error(s); "
            "energy register ran backwards %d time(s)%s"
            % (self.interp, self.seed, self.trials,
               ", ".join("%s %d" % kv for kv in sorted(self.kinds.items())),
               ", ".join("%s %d" % kv for kv in sorted(self.timings.items())), self.watch_hits,
               self.seconds,
               self.tx_started_in_trials, len(self.owed),
               ", ".join("%s %d" % (p, self.phases[p]) for p in PHASES), self.tmp_left,
               self.recovery_cut, self.queue_max, s.get("transactions", 0), s.get("messages", 0),
               s.get("updated", 0), s.get("offline_started", 0), s.get("power_loss", 0),
               s.get("receipts", 0), s.get("resends", 0), len(self.persisted),
               len(self.errors), len(self.energy_errors),
               "; state directory kept: %s" % self.kept_dir if self.kept_dir else ""))
        return self.summary


async def _hardware(st, csms, rng, online, until, snipe_after=None):
    """Random hardware events with short random delays until the time `until` (loop clock) or the
    process dies. online: the CSMS is reachable (token needs the boot first; RequestStartTransaction
    is another way to start). snipe_after: loop time after which the first event that makes the
    station write (token, ev, plug_out) is followed within 0..25 ms by the kill: the task then
    returns "kill"."""
    loop = asyncio.get_running_loop()
    plugged = tokened = False
    while loop.time() < until:
        await asyncio.sleep(rng.uniform(0.02, 0.3))
        r = rng.random()
        writes = plugged and (r < 0.3 or r >= 0.6)
        try:
            if not plugged:
                if r < 0.65:
                    await st.plug_in()
                    plugged = True
                elif r < 0.85 and not tokened:
                    await _authorize(st, csms, rng, online)
                    tokened = True
                else:
                    await st.meter(rng.choice((3700, 7400, 11000)))
            else:
                if r < 0.3 and (not tokened or rng.random() < 0.3):
                    # first swipe starts (or is remembered for the plug); a later one stops (E07)
                    await _authorize(st, csms, rng, online)
                    tokened = not tokened
                elif r < 0.6:
                    await st.meter(rng.randrange(1000, 11000, 100))
                elif r < 0.75:
                    await st.ev("B")
                elif r < 0.93:
                    await st.ev("C")
                else:
                    await st.plug_out()
                    plugged = tokened = False
        except (ConnectionError, BrokenPipeError, OSError):
            return None
        if writes and snipe_after is not None and loop.time() >= snipe_after:
            await asyncio.sleep(rng.uniform(0, 0.025))
            return "kill"
    return None


async def _authorize(st, csms, rng, online):
    if online and STATION_ID in csms.stations and rng.random() < 0.4:
        try:   # F01/F02 remote start (fire and forget: the kill may come first)
            await csms.call("RequestStartTransaction", {
                "idToken": {"idToken": "REMOTE%d" % rng.randrange(100), "type": "Central"},
                "remoteStartId": rng.randrange(1, 1000)}, timeout=2)
        except Exception:
            pass
        return
    await st.token(UNKNOWN_TOKEN if rng.random() < 0.15 else TOKEN)


async def _chaos(csms, rng, until, mode):
    """Network trouble during an online trial: "drop" (abort the connection; the station reconnects
    after RetryBackOffWaitMinimum), "refuse" (abort and refuse handshakes: offline for the rest of
    the trial), "steady"."""
    loop = asyncio.get_running_loop()
    if mode == "steady":
        return
    await asyncio.sleep(max(0.0, rng.uniform(0.2, 1.0) * (until - loop.time())))
    if mode == "refuse":
        csms.accepting = False
    try:
        await csms.drop_connection(STATION_ID)
    except Exception:
        pass


def _te_answer(rng, mode):
    """TransactionEvent answer policy of the CSMS during a trial: always the default answer, after a
    random delay (widens the sent-but-unconfirmed window), and in "silent" mode sometimes no answer
    at all (the station waits MessageTimeout; the kill comes first, the message is re-sent)."""
    async def answer(req):
        if mode == "silent" and rng.random() < 0.3:
            return SILENT
        await asyncio.sleep(rng.uniform(0, 0.15))
        return DEFAULT
    return answer


async def _trial(res, n, st, csms, rng, offline_url, kill_max, early_max, log):
    loop = asyncio.get_running_loop()
    state_dir = st.state_dir
    objs, _ = read_state(state_dir)
    depth = sum(1 for k in objs if k.startswith("txq."))
    if depth > DRAIN_ABOVE:
        kind = "drain"
    else:
        kind = "offline" if rng.random() < 0.6 else "online"
    res.kinds[kind] = res.kinds.get(kind, 0) + 1
    pre_tx = _tx_bytes(state_dir, objs)
    pre_tx_obj = objs.get("tx1")
    csms.accepting = True
    csms.set_response("TransactionEvent", None)
    mode = "steady"
    timing = rng.random()
    if kind == "offline":
        st.csms_url = offline_url
        life = rng.uniform(0, kill_max)
    elif kind == "online":
        st.csms_url = csms.url
        mode = rng.choice(("drop", "refuse", "silent", "steady"))
        csms.set_response("TransactionEvent", _te_answer(random.Random(rng.random()), mode))
        life = rng.uniform(0, kill_max + 1.0)
    else:
        st.csms_url = csms.url
        csms.set_response("TransactionEvent", _te_answer(random.Random(rng.random()), "steady"))
        life = rng.uniform(1.0, 2.5)
        timing = 1.0
    watch = None
    if timing < 0.15:     # early: interpreter start-up, imports, recovery of the open transaction
        life = rng.uniform(0, early_max)
        how = "early"
    elif timing < 0.35:   # snipe: right after an event that makes the station write
        how = "snipe"
    elif timing < 0.6:    # watch: kill the moment the state directory shows a write (see _watch)
        how = "watch"
        if pre_tx is not None and rng.random() < 0.6:
            watch = (0.0, rng.choice(("new", "tmp")))      # the recovery of the open transaction
        else:
            watch = (rng.uniform(0, kill_max), rng.choice(("new", "tmp")))
    else:
        how = "random"
    res.timings[how] = res.timings.get(how, 0) + 1
    mark = csms.mark()
    await st.start()
    t0 = loop.time()
    until = t0 + (life if how in ("early", "random") else kill_max + 1.0)
    hw = asyncio.ensure_future(_hardware(st, csms, random.Random(rng.random()), kind != "offline", until,
                                         t0 + rng.uniform(0, kill_max) if how == "snipe" else None))
    tasks = [hw]
    if kind == "online":
        tasks.append(asyncio.ensure_future(_chaos(csms, random.Random(rng.random()), until, mode)))
    if watch is not None:
        hit = await loop.run_in_executor(None, _watch, state_dir, st.proc, t0 + watch[0], until,
                                         watch[1])
        res.watch_hits += hit
    else:
        await asyncio.wait([hw], timeout=max(0.0, until - loop.time()))
    life = loop.time() - t0
    # what was going on at the kill
    printed = bool(st.stderr_text().strip().split("----- station start #%d -----" % st.starts)[-1].strip())
    connected = STATION_ID in csms.stations
    booted_now = any(f.sender == "CS" and f.action == "BootNotification" for f in csms.frames(mark))
    if st.proc.returncode is None:
        try:
            os.kill(st.proc.pid, signal.SIGKILL)
        except ProcessLookupError:   # _watch killed it and it was already reaped
            pass
    await st.proc.wait()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await st.stop()
    # inspect what the power cut left behind
    objs, tmps = read_state(state_dir)
    queue = dict((k, v) for k, v in objs.items() if k.startswith("txq."))
    res.queue_max = max(res.queue_max, len(queue))
    for name, msg in queue.items():
        if msg is None:
            res.errors.append("trial %d: unreadable queue file %s after the kill" % (n, name))
            continue
        key = (msg["transactionInfo"]["transactionId"], msg["seqNo"])
        c = _canon(msg)
        if res.persisted.setdefault(key, c) != c:
            res.errors.append("trial %d: queue entry %s seqNo %d changed content between kills"
                              % ((n,) + key))
    if tmps:
        res.tmp_left += 1
    post_tx = _tx_bytes(state_dir, objs)
    if pre_tx is not None and post_tx == pre_tx:
        phase = "recovery"
        tid = (pre_tx_obj or {}).get("id")
        if any(m and m["eventType"] == "Ended" and m["transactionInfo"]["transactionId"] == tid
               for m in queue.values()):
            res.recovery_cut += 1
    elif not printed and not connected:
        phase = "start-up"
    elif connected and booted_now and queue:
        phase = "delivery"
    elif post_tx is not None:
        phase = "tx open"
    else:
        phase = "idle"
    res.phases[phase] += 1
    t1 = objs.get("tx1")
    if t1 and t1.get("id") != (pre_tx_obj or {}).get("id"):
        res.tx_started_in_trials += 1
        tid = t1["id"]
        mine = [m for m in queue.values() if m and m["transactionInfo"]["transactionId"] == tid]
        if t1.get("seq", 0) >= 1 or mine:   # its Started was queued: an Ended is owed (E12)
            res.owed[tid] = any(m["eventType"] == "Ended" for m in mine)
    if log:
        log("trial %2d %-7s %-7s %-6s life %.2f s -> %-8s queue %2d%s" % (
            n, kind, mode, how, life, phase, len(queue), " tmp" if tmps else ""))


async def _final_delivery(st, csms, timeout=60):
    """Start the station against the reachable CSMS and wait until its queue is empty."""
    loop = asyncio.get_running_loop()
    csms.accepting = True
    csms.set_response("TransactionEvent", None)
    st.csms_url = csms.url
    mark = csms.mark()
    await st.start()
    await csms.wait_for("BootNotification", since=mark, timeout=30, station=STATION_ID)
    deadline = loop.time() + timeout
    while True:
        try:
            r = await csms.call("GetTransactionStatus", {}, timeout=5, station=STATION_ID)
            if r["messagesInQueue"] is False:
                break
        except (ConnectionError, asyncio.TimeoutError):
            pass
        if loop.time() > deadline:
            raise AssertionError("the station still reports messagesInQueue after %d s" % timeout)
        await asyncio.sleep(0.3)
    await st.stop()


async def campaign_async(interp, trials=60, seed=4, kill_max=None, log=None):
    res = CampaignResult(interp, seed)
    rng = random.Random(seed)
    if kill_max is None:
        kill_max = 1.5 if interp == "micropython" else 1.8  # CPython needs ~0.3 s more to start
    early_max = 0.2  # start-up incl. the recovery of an open tx: done after 0.06-0.15 s on both
    t_start = time.monotonic()
    csms = Csms(heartbeat_interval=300)
    await csms.start()
    sock, port = closed_port()
    state_dir = tempfile.mkdtemp(prefix="ocpp2lite-powercut-")
    st = Station(interp, csms.url, STATION_ID, state_dir=state_dir)
    try:
        # 1. online setup run: the variables persist in state_dir
        await st.start()
        await csms.wait_for("BootNotification", timeout=30, station=STATION_ID)
        r = await csms.call("SetVariables", {"setVariableData": [
            {"component": {"name": c}, "variable": {"name": v}, "attributeValue": val}
            for c, v, val in SETUP_VARIABLES]}, station=STATION_ID)
        bad = [x for x in r["setVariableResult"] if x["attributeStatus"] != "Accepted"]
        assert not bad, "setup SetVariables not accepted: %r" % bad
        await st.stop()
        # 2. the trials
        for n in range(trials):
            await _trial(res, n, st, csms, rng, "ws://127.0.0.1:%d" % port, kill_max, early_max, log)
            res.trials += 1
        # 3. deliver everything
        await _final_delivery(st, csms)
        objs, tmps = read_state(state_dir)
        left = [k for k in objs if k.startswith("txq.") or k.startswith("tx")]
        if left:
            res.errors.append("after the final delivery the state still holds %s" % left)
        # 4. check
        events = [p for p, _ in csms.requests("TransactionEvent", station=STATION_ID)]
        prefixes = set(f.uid.rsplit("-", 1)[0] for f in csms.frames()
                       if f.sender == "CS" and f.kind == 2 and f.uid and "-" in f.uid)
        errors, res.stats = check_transaction_events(events, prefixes)
        res.errors += errors
        res.errors += check_persisted_delivered(res.persisted, events)
        res.errors += check_owed(res.owed, events)
        res.energy_errors = check_energy_register(events)
        if csms.violations:
            res.errors.append("%d schema violation(s): %s" % (len(csms.violations), csms.violations[:5]))
        if csms.dropped:
            res.errors.append("the CSMS recording overflowed (%d frames dropped)" % csms.dropped)
    except Exception as e:
        raise AssertionError(failure_report("power-cut campaign on %s failed: %s: %s"
                                            % (interp, type(e).__name__, e), csms, st)) from e
    finally:
        res.seconds = time.monotonic() - t_start
        await st.stop()
        await csms.stop()
        sock.close()
        if not res.errors and not res.energy_errors:
            shutil.rmtree(state_dir, ignore_errors=True)
        else:
            res.kept_dir = state_dir
        res.make_summary()
    return res


def run_campaign(interp, trials=60, seed=4, kill_max=None, log=None):
    """Run the campaign (see the module docstring); returns a CampaignResult (errors list filled,
    never raises for a failed check; raises AssertionError with the transcript if the run itself
    breaks, e.g. the final delivery never empties the queue)."""
    return asyncio.run(campaign_async(interp, trials, seed, kill_max, log))


if __name__ == "__main__":
    import sys
    interp = sys.argv[1] if len(sys.argv) > 1 else "cpython"
    trials = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    r = run_campaign(interp, trials, seed, log=print)
    print(r.summary)
    for e in r.errors[:50]:
        print("ERROR", e)
    for e in r.energy_errors[:20]:
        print("ENERGY", e)
    sys.exit(1 if r.errors or r.energy_errors else 0)
