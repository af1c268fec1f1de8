"""Handlers of CSMS-initiated requests, routed by action name (payloads already schema-checked
by lite_stack.validate). Each returns the response payload; work that must follow the response
(the triggered message, NotifyReport parts, the Reset itself) goes to ``rpc.after``.

Not listed here -> CALLERROR NotImplemented (e.g. GetReport: Advanced Device Management; smart
charging, reservations, local list, display messages).
"""
from device_model import ids
from lite_stack.rpc import CallError
from lite_stack import meter


def table(st):
    """dict action -> handler(payload) for station ``st``."""

    def status(s, reason=None):
        r = {"status": s}
        if reason:
            r["statusInfo"] = {"reasonCode": reason}
        return r

    # ---- B: provisioning ----------------------------------------------------------------------
    def get_variables(p):
        items = p["getVariableData"]
        code = st.dm.check_request_size("GetVariables", len(items), _size(p))
        if code:
            raise CallError(code, "GetVariables above ItemsPerMessage/BytesPerMessage")
        return {"getVariableResult": st.dm.get_variables(items)}

    def set_variables(p):
        items = p["setVariableData"]
        code = st.dm.check_request_size("SetVariables", len(items), _size(p))
        if code:
            raise CallError(code, "SetVariables above ItemsPerMessage/BytesPerMessage")
        return {"setVariableResult": st.dm.set_variables(items)}

    def get_base_report(p):
        parts = st.dm.report_parts(p["reportBase"])
        if parts is None:
            return status("NotSupported")  # B07.FR.02: SummaryInventory (TC_B_15)
        rid = p["requestId"]

        async def send_parts():
            generated = st.iso_now()
            seq = 0
            for part, tbc in parts:  # one part in RAM at a time; tbc: more follow
                msg = {"requestId": rid, "generatedAt": generated, "seqNo": seq}
                if part:
                    msg["reportData"] = part
                if tbc:
                    msg["tbc"] = True
                await st.send("NotifyReport", msg)
                seq += 1
        st.rpc.after.append(send_parts)
        return status("Accepted")

    def reset(p):
        if "evseId" in p:
            return status("Rejected", "UnsupportedRequest")  # per-EVSE reset (TC_B_28/TC_B_29)
        kind = p["type"]
        busy = any(e.tx for e in st.evses)
        if kind == "OnIdle" and busy:
            st.reset_pending = "OnIdle"
            return status("Scheduled")  # B12.FR.01

        async def do_reset():
            st.request_reset(kind)
        st.rpc.after.append(do_reset)
        return status("Accepted")

    # ---- C: authorization -----------------------------------------------------------------------
    def clear_cache(p):
        return status("Rejected")  # no authorization cache (C11.FR.04)

    # ---- E: transactions --------------------------------------------------------------------------
    def get_transaction_status(p):
        tid = p.get("transactionId")
        r = {"messagesInQueue": st.txq.has(tid)}
        if tid is not None:
            r["ongoingIndicator"] = any(e.tx and e.tx.id == tid for e in st.evses)
        return r

    # ---- F: remote control --------------------------------------------------------------------------
    def request_start(p):
        evse = None
        eid = p.get("evseId")
        if eid is not None:
            evse = st.evse(eid)
        else:
            for e in st.evses:
                if not e.tx and not e.auth and e.is_operative():
                    evse = e
                    break
        if evse is None or evse.tx or not evse.is_operative() or not st.accepted:
            return status("Rejected")
        tok = p["idToken"]
        rid = p["remoteStartId"]
        if st.dm.get(ids.AUTHORIZE_REMOTE_START):
            async def auth_then_start():
                info = await st.authorize(tok)
                if info and info.get("status") == "Accepted":
                    evse.authorize(tok, info.get("groupIdToken"), rid, "RemoteStart")
                    st.wake()
            st.rpc.after.append(auth_then_start)
        else:
            evse.authorize(tok, p.get("groupIdToken"), rid, "RemoteStart")
            st.wake()
        # chargingProfile is ignored: no Smart Charging (TC_K_38)
        return status("Accepted")

    def request_stop(p):
        for e in st.evses:
            if e.tx and e.tx.id == p["transactionId"]:
                e.stop_request = ("RemoteStop", "Remote", None)
                st.wake()
                return status("Accepted")
        return status("Rejected")  # F03.FR.? unknown transaction (TC_F_09)

    def unlock_connector(p):
        e = st.evse(p["evseId"])
        if e is None or p["connectorId"] != 1:
            return status("UnknownConnector")
        if e.tx:
            return status("OngoingAuthorizedTransaction")
        if e.hal.lock is None or not e.hal.lock.unlock():
            return status("UnlockFailed")  # fixed cable: nothing to unlock
        return status("Unlocked")

    def trigger_message(p):
        what = p["requestedMessage"]
        ev = p.get("evse")
        targets = st.evses
        if ev is not None:
            e = st.evse(ev.get("id"))
            if e is None or ev.get("connectorId", 1) != 1:
                return status("Rejected")
            targets = [e]
        if what == "BootNotification":
            if st.accepted:
                return status("Rejected")  # F06.FR.17 (TC_F_26)
            st.rpc.after.append(_set_boot_trigger(st))
            return status("Accepted")
        if what == "Heartbeat":
            st.rpc.after.append(st.heartbeat)
        elif what == "StatusNotification":
            async def send_status():
                for e in targets:
                    await st._notify_status(e, True)
            st.rpc.after.append(send_status)
        elif what == "MeterValues":
            async def send_mv():
                for e in targets:
                    svs = meter.sampled_values(e.hal.meter, st.dm.get(ids.ALIGNED_MEASURANDS), "Trigger")
                    if svs:
                        await st.send("MeterValues", {"evseId": e.id, "meterValue": [
                            {"timestamp": st.iso_now(), "sampledValue": svs}]})
            st.rpc.after.append(send_mv)
        elif what == "TransactionEvent":
            todo = [e for e in targets if e.tx]
            if not todo:
                return status("Rejected")

            async def send_te():
                for e in todo:
                    if e.tx:
                        mv = meter.sample(st, e, ids.SAMPLED_TX_UPDATED_MEASURANDS, "Trigger")
                        e.event("Updated", "Trigger", charging_state=e.tx.state,
                                meter_values=[mv] if mv else None)
            st.rpc.after.append(send_te)
        else:
            return status("NotImplemented")
        return status("Accepted")

    # ---- G: availability ----------------------------------------------------------------------------
    def change_availability(p):
        op = p["operationalStatus"] == "Operative"
        ev = p.get("evse")
        if ev is None or ev.get("id", 0) == 0:
            if any(e.tx for e in st.evses) and st.operative != op:
                st.pending_station_op = op
                return status("Scheduled")
            st.operative = op
            st.pending_station_op = None
        else:
            e = st.evse(ev["id"])
            if e is None or ev.get("connectorId", 1) != 1:
                return status("Rejected")
            if e.tx and e.operative != op:
                e.pending_op = op
                return status("Scheduled")
            e.operative = op
            e.pending_op = None
        st._save_state()
        st.wake()
        return status("Accepted")

    # ---- P: data transfer ---------------------------------------------------------------------------
    def data_transfer(p):
        return status("UnknownVendorId")  # P01.FR.? no vendor extensions (TC_P_01)

    return {
        "GetVariables": get_variables,
        "SetVariables": set_variables,
        "GetBaseReport": get_base_report,
        "Reset": reset,
        "ClearCache": clear_cache,
        "GetTransactionStatus": get_transaction_status,
        "RequestStartTransaction": request_start,
        "RequestStopTransaction": request_stop,
        "UnlockConnector": unlock_connector,
        "TriggerMessage": trigger_message,
        "ChangeAvailability": change_availability,
        "DataTransfer": data_transfer,
    }


def _set_boot_trigger(st):
    async def fn():
        st._boot_trigger.set()
    return fn


def _size(p):
    from lite_stack.rpc import dumps
    return len(dumps(p))
