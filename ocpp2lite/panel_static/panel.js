// OCPP2.Lite lab panel: live state over one WebSocket (/ws?token=...), controls as JSON requests on it.
"use strict";
(function () {
  const token = new URLSearchParams(location.search).get("token") || "";
  const $ = (id) => document.getElementById(id);
  const MAX_ROWS = 3000;
  let ws = null, reqN = 0, evseCount = -1, log = [], state = null;

  function text(id, v) { const el = $(id); if (el && el.textContent !== String(v)) el.textContent = String(v); }
  function pill(id, v, cls) { const el = $(id); text(id, v); el.className = "pill " + (cls || ""); }
  function flash(msg) { const m = $("msg"); m.textContent = msg; m.style.display = "block"; setTimeout(() => { m.style.display = "none"; }, 4000); }
  function utc(t) { return new Date(t * 1000).toISOString().slice(11, 23); }

  function send(req) {
    if (!ws || ws.readyState !== 1) { flash("not connected to the panel"); return; }
    req.token = token; req.req = ++reqN;
    ws.send(JSON.stringify(req));
  }

  // ---- state -------------------------------------------------------------------------------------
  function evseHtml(n) {
    const row = (label, key, cls) => `<tr><th>${label}</th><td id="evse-${n}-${key}" class="${cls || ""}"></td></tr>`;
    return `<div class="evse" id="evse-${n}"><h2>EVSE ${n} / connector 1</h2><table>` +
      row("connector status", "status", "big") + row("cable", "cable") + row("EV state (IEC 61851)", "pilot") +
      row("lock", "lock") + row("fault", "fault") + row("transaction id", "tx") + row("chargingState", "state") +
      row("energy register", "wh", "big") + row("power", "w") + `</table>
      <button data-cmd="plug_in" data-evse="${n}" id="evse-${n}-plug-in">Plug in</button>
      <button data-cmd="plug_out" data-evse="${n}" id="evse-${n}-plug-out">Unplug</button>
      <button data-cmd="ev" data-state="B" data-evse="${n}" id="evse-${n}-ev-b">EV state B (pause)</button>
      <button data-cmd="ev" data-state="C" data-evse="${n}" id="evse-${n}-ev-c">EV state C (charge)</button><br>
      <button data-cmd="fault" data-on="1" data-evse="${n}" id="evse-${n}-fault-on">Raise fault</button>
      <button data-cmd="fault" data-on="0" data-evse="${n}" id="evse-${n}-fault-off">Clear fault</button>
      power <input id="evse-${n}-power" value="7400" size="6"> W
      <button data-cmd="meter" data-evse="${n}" id="evse-${n}-set-power">Set power</button></div>`;
  }

  function render(s) {
    state = s;
    const st = s.station || {};
    text("station-id", st.station || "?");
    text("vendor-model", st.vendor ? `${st.vendor} ${st.model}` : "");
    text("serial", st.serial || "?");
    text("fw", st.fw || "?");
    text("csms-url", s.csms_url);
    text("profile", st.profile == null ? "?" : st.profile);
    text("interp", s.interpreter);
    text("process", s.process + (s.pid ? ` (pid ${s.pid})` : ""));
    if (s.station) {
      pill("conn", st.online ? "connected" : "disconnected", st.online ? "ok" : "bad");
      pill("reg", st.registration || "none", st.registration === "Accepted" ? "ok" : (st.registration ? "warn" : ""));
    } else {
      pill("conn", "station down", "bad");
      pill("reg", "-", "");
    }
    text("network", s.network + (s.offline_left != null ? ` (${s.offline_left} s left)` : ""));
    text("time", st.time ? new Date(st.time * 1000).toISOString().replace(".000", "") : "?");
    text("offset", s.time_offset == null ? "?" : `${s.time_offset >= 0 ? "+" : ""}${s.time_offset} s`);
    text("txq", st.txq == null ? "?" : st.txq);
    const evs = st.evses || [];
    if (evs.length && evs.length !== evseCount) {
      evseCount = evs.length;
      $("evses").innerHTML = evs.map((e) => evseHtml(e.id)).join("");
    }
    for (const e of evs) {
      const n = e.id;
      text(`evse-${n}-status`, e.status || "?");
      text(`evse-${n}-cable`, e.plugged ? "plugged in" : "unplugged");
      text(`evse-${n}-pilot`, e.pilot);
      text(`evse-${n}-lock`, e.lock == null ? "none (fixed cable)" : e.lock);
      text(`evse-${n}-fault`, e.fault || "none");
      text(`evse-${n}-tx`, e.tx || "-");
      text(`evse-${n}-state`, e.state || "-");
      text(`evse-${n}-wh`, `${e.wh} Wh`);
      text(`evse-${n}-w`, `${e.w} W`);
    }
    const cards = $("cards");
    const ch = s.cards.map((c) => `<button data-card="${encodeURIComponent(c.id)}" data-type="${c.type}">${escapeHtml(c.id)} (${c.type})</button>`).join("");
    if (cards.dataset.h !== ch) { cards.dataset.h = ch; cards.innerHTML = ch ? "recent: " + ch : ""; }
    const sec = s.security.map((e) => `<li>${escapeHtml(e.timestamp || "")} <b>${escapeHtml(e.type || "")}</b> ${escapeHtml(e.techInfo || "")}</li>`).join("");
    if ($("security").dataset.h !== sec) { $("security").dataset.h = sec; $("security").innerHTML = sec || "<li>none yet</li>"; }
  }

  function escapeHtml(v) {
    return String(v).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  // ---- log ---------------------------------------------------------------------------------------
  function label(e) {
    if (e.dir === "lab") return "(panel)";
    const a = e.action || "?";
    if (e.kind === 2) return a;
    if (e.kind === 3) return a + " \u2190 result";
    return a + " \u2190 CALLERROR " + (e.error ? e.error[0] : "");
  }
  function entryText(e) {
    return [e.dir, label(e), typeof e.payload === "string" ? e.payload : JSON.stringify(e.payload)].join(" ");
  }
  function matches(e) {
    if (e.dir === "lab" && !$("log-lab").checked) return false;
    const f = $("log-filter").value.trim().toLowerCase();
    return !f || entryText(e).toLowerCase().includes(f);
  }
  function row(e) {
    const tr = document.createElement("tr");
    tr.className = "d-" + e.dir + (e.kind === 4 ? " err" : "");
    tr.dataset.action = e.action || "";
    tr.dataset.dir = e.dir;
    const dir = e.dir === "CS" ? "CS\u2192CSMS" : e.dir === "CSMS" ? "CSMS\u2192CS" : "lab";
    const p = typeof e.payload === "string" ? e.payload : JSON.stringify(e.kind === 4 ? e.error : e.payload);
    for (const [cls, v] of [["t", utc(e.t)], ["d", dir], ["a", label(e)], ["p", p]]) {
      const td = document.createElement("td"); td.className = cls; td.textContent = v; tr.appendChild(td);
    }
    return tr;
  }
  function addLog(entries, rerender) {
    for (const e of entries) { log.push(e); }
    if (log.length > MAX_ROWS * 2) log = log.slice(-MAX_ROWS);
    const body = document.querySelector("#log tbody");
    if (rerender) body.innerHTML = "";
    const src = rerender ? log : entries;
    for (const e of src) if (matches(e)) body.appendChild(row(e));
    while (body.rows.length > MAX_ROWS) body.deleteRow(0);
    text("log-count", `(${body.rows.length} shown)`);
    if ($("log-follow").checked) { const sc = $("log-scroll"); sc.scrollTop = sc.scrollHeight; }
  }

  // ---- connection --------------------------------------------------------------------------------
  function connect() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    ws = new WebSocket(`${proto}://${location.host}/ws?token=${encodeURIComponent(token)}`);
    ws.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      if (m.type === "hello") {
        const sel = $("card-type");
        if (!sel.options.length) sel.innerHTML = m.token_types.map((t) => `<option>${t}</option>`).join("");
        log = []; addLog(m.log, true); render(m.state);
        document.body.dataset.ready = "1";
      } else if (m.type === "state") render(m.state);
      else if (m.type === "log") addLog([m.entry], false);
      else if (m.type === "ack" && !m.ok) flash(m.error || "refused");
    };
    ws.onclose = () => { document.body.dataset.ready = ""; pill("conn", "panel disconnected", "bad"); setTimeout(connect, 1000); };
  }

  document.addEventListener("click", (ev) => {
    const b = ev.target.closest("button");
    if (!b) return;
    const d = b.dataset;
    if (d.cmd) {
      const req = { cmd: d.cmd, evse: Number(d.evse) };
      if (d.state) req.state = d.state;
      if (d.on) req.on = d.on === "1";
      if (d.cmd === "meter") req.power_w = Number($(`evse-${d.evse}-power`).value);
      send(req);
    } else if (d.card) {
      send({ cmd: "token", id: decodeURIComponent(d.card), type: d.type });
    } else if (b.id === "card-send") {
      send({ cmd: "token", id: $("card-id").value.trim(), type: $("card-type").value });
    } else if (b.id === "power-cut") {
      send({ cmd: "power_cut", off_s: Number($("off-s").value) });
    } else if (b.id === "reboot") {
      send({ cmd: "reboot" });
    } else if (b.id === "offline") {
      send({ cmd: "offline", seconds: Number($("offline-s").value) });
    } else if (b.id === "online") {
      send({ cmd: "online" });
    } else if (b.id === "shift") {
      send({ cmd: "clock", shift_s: parseInt($("shift-s").value, 10) });
    }
  });
  $("log-filter").addEventListener("input", () => addLog([], true));
  $("log-lab").addEventListener("change", () => addLog([], true));
  $("log-download").href = "/log.jsonl?token=" + encodeURIComponent(token);
  $("link").textContent = location.origin + "/";
  connect();
})();
