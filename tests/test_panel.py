"""The lab's web control panel (`ocpp2lite sim --panel`) in a real headless browser.

Playwright for Python drives Debian's ``chromium`` (no browser download). The panel runs as the
real command, a subprocess, with its station as a grandchild process; the embedded CSMS runs in
this test's event loop on loopback. Every step is asserted on the page and on the CSMS side:
load the page, plug in, present a card, the transaction appears and its energy grows, EV pause,
power change, unplug, fault, clock shift, power cut (SIGKILL + restart with the state dir),
network drop and reconnect, JSONL download, token checks.

Skips (with the reason) only when chromium is not installed; ``.ci/run`` installs it.
Set ``PANEL_SCREENSHOT=docs/panel.png`` to save the screenshot taken mid-transaction there.
"""
import asyncio
import json
import os
import re
import shutil
import sys
import tempfile

import pytest

from ocpp2lite.csms import Csms
from tests.mp import ROOT

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
T = 30000  # ms: page expectations (the station boots in ~1 s; MicroPython and a busy machine are slower)


def _started(p):
    return p["eventType"] == "Started"


async def _panel_process(csms_url, state_dir, interp):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ocpp2lite", "sim", "--panel", "127.0.0.1:0", "--csms-url", csms_url,
        "--station-id", "PANEL-1", "--state-dir", state_dir, "--interpreter", interp,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=ROOT, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    lines = []
    while True:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if not line:
            raise AssertionError("panel exited: %s\n%s" % (b"".join(lines), await proc.stderr.read()))
        lines.append(line)
        m = re.search(rb"lab panel: (http://\S+)", line)
        if m:
            break
    # keep draining the pipes so the panel never blocks on a full pipe
    drains = [asyncio.ensure_future(_drain(proc.stdout)), asyncio.ensure_future(_drain(proc.stderr))]
    return proc, m.group(1).decode(), drains


async def _drain(stream):
    while await stream.readline():
        pass


async def _energy(page):
    return int((await page.locator("#evse-1-wh").inner_text()).split()[0])


async def _scenario(interp, shot):
    from playwright.async_api import async_playwright, expect

    csms = Csms(heartbeat_interval=300)
    await csms.start()
    state_dir = tempfile.mkdtemp(prefix="ocpp2lite-panel-")
    proc, url, drains = await _panel_process(csms.url, state_dir, interp)
    token = url.split("token=", 1)[1]
    base = url.split("/?", 1)[0]
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = await browser.new_page(viewport={"width": 1500, "height": 1100})
            await page.goto(url)

            # ---- boot: identity, firmware version as sent, registration -------------------------
            boot, i = await csms.wait_for("BootNotification", timeout=30)
            await expect(page.locator("#reg")).to_have_text("Accepted", timeout=T)
            await expect(page.locator("#conn")).to_have_text("connected", timeout=T)
            await expect(page.locator("#fw")).to_have_text(boot["chargingStation"]["firmwareVersion"])
            await expect(page.locator("#station-id")).to_have_text("PANEL-1")
            await expect(page.locator("#vendor-model")).to_have_text(
                "%s %s" % (boot["chargingStation"]["vendorName"], boot["chargingStation"]["model"]))
            await expect(page.locator("#csms-url")).to_have_text(csms.url)
            await expect(page.locator("#profile")).to_have_text("0")   # ws://, no password (A00)
            await expect(page.locator("#interp")).to_have_text(interp)
            await expect(page.locator("#evse-1-status")).to_have_text("Available", timeout=T)
            await expect(page.locator("#security li").first).to_contain_text("StartupOfTheDevice", timeout=T)
            await expect(page.locator("#log tbody tr[data-action='BootNotification']").first).to_be_visible()
            r = await csms.call("SetVariables", {"setVariableData": [
                {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"},
                 "attributeValue": "2"}]})
            assert r["setVariableResult"][0]["attributeStatus"] == "Accepted"

            # ---- plug in ---------------------------------------------------------------------------
            await page.click("#evse-1-plug-in")
            await csms.wait_for("StatusNotification", lambda p: p["connectorStatus"] == "Occupied", since=i)
            await expect(page.locator("#evse-1-status")).to_have_text("Occupied", timeout=T)
            await expect(page.locator("#evse-1-cable")).to_have_text("plugged in")
            await expect(page.locator("#evse-1-pilot")).to_have_text("B")

            # ---- card -> transaction, energy grows -------------------------------------------------
            await page.fill("#card-id", "AB12CD34")
            await page.select_option("#card-type", "ISO14443")
            await page.click("#card-send")
            a, _ = await csms.wait_for("Authorize", since=i, timeout=30)
            assert a["idToken"] == {"idToken": "AB12CD34", "type": "ISO14443"}
            te, k = await csms.wait_for("TransactionEvent", _started, since=i, timeout=30)
            tx_id = te["transactionInfo"]["transactionId"]
            await expect(page.locator("#evse-1-tx")).to_have_text(tx_id, timeout=T)
            await expect(page.locator("#evse-1-state")).to_have_text("Charging")
            await expect(page.locator("#evse-1-pilot")).to_have_text("C")
            await expect(page.locator("#cards button").first).to_have_text("AB12CD34 (ISO14443)")
            await expect(page.locator("#evse-1-w")).to_have_text("7400 W", timeout=T)
            wh0 = await _energy(page)
            for _ in range(100):
                if await _energy(page) > wh0:
                    break
                await asyncio.sleep(0.2)
            assert await _energy(page) > wh0, "energy register did not grow on the page"
            upd, _ = await csms.wait_for("TransactionEvent", lambda p: p["eventType"] == "Updated",
                                         since=k + 1, timeout=30)
            await page.fill("#log-filter", "TransactionEvent")
            await expect(page.locator("#log tbody tr[data-action='TransactionEvent']").first).to_be_visible()
            await expect(page.locator("#log tbody tr[data-action='BootNotification']")).to_have_count(0)
            await page.fill("#log-filter", "")
            if shot:
                await page.screenshot(path=shot, full_page=True)

            # ---- power change and EV pause / resume ------------------------------------------------
            await page.fill("#evse-1-power", "11000")
            await page.click("#evse-1-set-power")
            await expect(page.locator("#evse-1-w")).to_have_text("11000 W", timeout=T)
            await page.click("#evse-1-ev-b")
            await csms.wait_for("TransactionEvent", lambda p: p["transactionInfo"].get("chargingState") == "SuspendedEV",
                                since=k + 1, timeout=30)
            await expect(page.locator("#evse-1-state")).to_have_text("SuspendedEV", timeout=T)
            await page.click("#evse-1-ev-c")
            await expect(page.locator("#evse-1-state")).to_have_text("Charging", timeout=T)

            # ---- unplug: transaction ends ------------------------------------------------------------
            await page.click("#evse-1-plug-out")
            end, e = await csms.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", since=k + 1,
                                         timeout=30)
            assert end["transactionInfo"]["stoppedReason"] == "EVDisconnected"
            await expect(page.locator("#evse-1-tx")).to_have_text("-", timeout=T)
            await expect(page.locator("#evse-1-status")).to_have_text("Available", timeout=T)
            await expect(page.locator("#txq")).to_have_text("0", timeout=T)

            # ---- fault raise / clear ---------------------------------------------------------------------
            m = csms.mark()
            await page.click("#evse-1-fault-on")
            await csms.wait_for("StatusNotification", lambda p: p["connectorStatus"] == "Faulted", since=m)
            await expect(page.locator("#evse-1-status")).to_have_text("Faulted", timeout=T)
            m = csms.mark()
            await page.click("#evse-1-fault-off")
            await csms.wait_for("StatusNotification", lambda p: p["connectorStatus"] == "Available", since=m)
            await expect(page.locator("#evse-1-fault")).to_have_text("none", timeout=T)

            # ---- clock shift -------------------------------------------------------------------------------
            await page.fill("#shift-s", "3600")
            await page.click("#shift")
            await expect(page.locator("#offset")).to_have_text(re.compile(r"^\+(359\d|360\d) s$"), timeout=T)

            # ---- power cut: SIGKILL, restart with the state dir, boots again -------------------------------
            pid = await page.locator("#process").inner_text()
            m = csms.mark()
            await page.click("#power-cut")
            await csms.wait_disconnected("PANEL-1", timeout=30)
            boot2, _ = await csms.wait_for("BootNotification", since=m, timeout=60)
            assert boot2["reason"] == "PowerUp"
            await expect(page.locator("#reg")).to_have_text("Accepted", timeout=T)
            await expect(page.locator("#process")).not_to_have_text(pid, timeout=T)
            await expect(page.locator("#process")).to_contain_text("running")
            await expect(page.locator("#log tbody tr.d-lab", has_text="power cut: SIGKILL")).to_have_count(1)

            # ---- reboot: orderly stop, the same state dir, boots again ------------------------------------
            pid = await page.locator("#process").inner_text()
            m = csms.mark()
            await page.click("#reboot")
            await csms.wait_for("BootNotification", since=m, timeout=60)
            await expect(page.locator("#reg")).to_have_text("Accepted", timeout=T)
            await expect(page.locator("#process")).not_to_have_text(pid, timeout=T)

            # ---- network drop and reconnect (the CSMS is not touched) ---------------------------------
            await page.fill("#offline-s", "120")
            await page.click("#offline")
            await csms.wait_disconnected("PANEL-1", timeout=30)
            await expect(page.locator("#conn")).to_have_text("disconnected", timeout=T)
            await expect(page.locator("#network")).to_contain_text("offline")
            await page.click("#online")
            await expect(page.locator("#network")).to_have_text("online", timeout=T)
            await csms.wait_connected("PANEL-1", timeout=60)
            await expect(page.locator("#conn")).to_have_text("connected", timeout=T)

            # ---- JSONL download and tokens -------------------------------------------------------------------
            resp = await page.request.get(base + "/log.jsonl?token=" + token)
            assert resp.status == 200
            entries = [json.loads(x) for x in (await resp.text()).splitlines()]
            assert any(x["action"] == "TransactionEvent" and x["dir"] == "CS" and x["kind"] == 2 for x in entries)
            assert (await page.request.get(base + "/log.jsonl?token=wrong")).status == 403
            ack = await page.evaluate("""(base) => new Promise((ok) => {
                const ws = new WebSocket(base.replace('http', 'ws') + '/ws?token=' + new URLSearchParams(location.search).get('token'));
                ws.onmessage = (ev) => { const m = JSON.parse(ev.data);
                    if (m.type === 'hello') ws.send(JSON.stringify({cmd: 'plug_in', evse: 1, token: 'forged', req: 7}));
                    if (m.type === 'ack') { ok(m); ws.close(); } };
            })""", base)
            assert ack == {"type": "ack", "req": 7, "ok": False, "error": "bad token"}
            bad = await page.evaluate("""(base) => new Promise((ok) => {
                const ws = new WebSocket(base.replace('http', 'ws') + '/ws?token=forged');
                ws.onopen = () => ok('open'); ws.onerror = () => ok('refused');
            })""", base)
            assert bad == "refused"
            await browser.close()
        assert not csms.violations, csms.violations
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
        for d in drains:
            d.cancel()
        await csms.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
    assert proc.returncode == 0


def test_panel_in_headless_chromium(interp):
    if not CHROMIUM:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does it)")
    shot = os.environ.get("PANEL_SCREENSHOT") if interp == "cpython" else None
    asyncio.run(asyncio.wait_for(_scenario(interp, shot), 400))


def test_panel_helpers():
    from ocpp2lite import panel
    assert panel.parse_hostport(None) == ("127.0.0.1", 8180)
    assert panel.parse_hostport("9000") == ("127.0.0.1", 9000)
    assert panel.parse_hostport("0.0.0.0:81") == ("0.0.0.0", 81)
    assert panel.parse_hostport("[::1]:81") == ("::1", 81)
    assert panel.is_loopback("127.0.0.1") and panel.is_loopback("::1") and not panel.is_loopback("0.0.0.0")
    assert panel.parse_frame_line('> [2,"a-1","Heartbeat",{}]') == ("CS", [2, "a-1", "Heartbeat", {}])
    assert panel.parse_frame_line('< [3,"a-1",{"currentTime":"x"}]') == ("CSMS", [3, "a-1", {"currentTime": "x"}])
    assert panel.parse_frame_line("registration Accepted") is None
    assert panel.parse_frame_line("> not json") is None


def test_panel_refuses_a_network_address_without_the_flag():
    import subprocess
    p = subprocess.run([sys.executable, "-m", "ocpp2lite", "sim", "--panel", "0.0.0.0:0"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode != 0 and "--panel-allow-remote" in p.stderr + p.stdout
    p = subprocess.run([sys.executable, "-m", "ocpp2lite", "sim", "--interpreter", "micropython"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 2 and "need --panel" in p.stderr


def test_panel_on_a_network_address_warns(tmp_path):
    async def run():
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ocpp2lite", "sim", "--panel", "0.0.0.0:0", "--panel-allow-remote",
            "--csms-url", "ws://127.0.0.1:9", "--state-dir", str(tmp_path), cwd=ROOT,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        out = b""
        try:
            while b"lab panel:" not in out:
                line = await asyncio.wait_for(proc.stdout.readline(), 30)
                assert line, out
                out += line
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 15)
        return out.decode()
    out = asyncio.run(run())
    assert "WARNING" in out and "reachable from the network" in out


def test_lab_stops_restarting_a_station_that_keeps_crashing(tmp_path):
    from ocpp2lite.panel import Lab

    async def run():
        env = dict(os.environ, OCPP_BOARD="no_such_board", OCPP_STATE_DIR=str(tmp_path))
        lab = Lab("ws://127.0.0.1:9", env)
        await lab.start()
        try:
            for _ in range(100):
                if lab.process.startswith("crashed"):
                    break
                await asyncio.sleep(0.1)
            assert lab.process.startswith("crashed"), lab.process
            assert lab.starts == 3
            for bad in ({"cmd": "nope"}, {"cmd": "plug_in", "evse": 0}, {"cmd": "ev", "state": "A"},
                        {"cmd": "token", "id": ""}, {"cmd": "meter", "power_w": -1}, {"cmd": "plug_in"}):
                with pytest.raises(ValueError):
                    await lab.control(bad)
        finally:
            await lab.stop()
    asyncio.run(run())
