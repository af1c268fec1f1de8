"""``ocpp2lite`` command line (desktop only; never imported by the stack).

  ocpp2lite sim      the simulated Charging Station (settings from OCPP_* environment variables);
                     with --panel [HOST:]PORT also the lab's web control panel
  ocpp2lite csms     the embedded OCPP 2.0.1 CSMS on loopback (built on the `ocpp` library)
  ocpp2lite demo     CSMS + simulated station + a scripted charging session, printed as a transcript
                     (--firmware: a whole signed firmware update instead, L01)
  ocpp2lite sign-firmware --key KEY.pem [--cert CERT.pem] [--out FILE] IMAGE
                     base64 signature of IMAGE for UpdateFirmware (RSA PKCS#1 v1.5 / ECDSA P-256,
                     SHA-256; needs PyPI cryptography)
  ocpp2lite deploy   copy the compiled stack and a board configuration to a device with mpremote
  ocpp2lite bench    ROM, RAM, monthly data and CPU against the Lite targets (report + plots)
  ocpp2lite pics     the Protocol Implementation Conformance Statement (Markdown or JSON), generated
  ocpp2lite perf     the Test Procedure's performance parameters, measured on loopback
  ocpp2lite score    footprint scoreboard: any station of docs/sim-contract.md through the same
                     scripted Lite scenario, bytes on the wire per layer, a month extrapolated
  ocpp2lite conformance   --run: the certification-named tests on both interpreters, reported per
                     test case in docs/conformance.md (+ .json); --from-junit FILE; --check
"""
import sys

USAGE = __doc__


def _sim(argv):
    import argparse
    import os
    ap = argparse.ArgumentParser(
        prog="ocpp2lite sim",
        description="Run the simulated OCPP 2.0.1 Charging Station. Hardware events are JSON lines on "
                    "stdin, e.g. {\"cmd\":\"plug_in\",\"evse\":1,\"connector\":1}, "
                    "{\"cmd\":\"token\",\"id\":\"AB12CD34\",\"type\":\"ISO14443\"}, "
                    "{\"cmd\":\"plug_out\",\"evse\":1,\"connector\":1}, "
                    "{\"cmd\":\"fault\",\"evse\":1,\"connector\":1,\"on\":true}, "
                    "{\"cmd\":\"ev\",\"evse\":1,\"state\":\"B\"}, {\"cmd\":\"meter\",\"evse\":1,\"power_w\":7400}, "
                    "and the lab aid {\"cmd\":\"clock\",\"shift_s\":3600}. "
                    "Every station flag mirrors an environment variable, which it overrides; --panel, "
                    "--panel-allow-remote, --interpreter and --no-proxy are the lab panel's.")
    ap.add_argument("--csms-url", help="OCPP_CSMS_URL: CSMS URL, the station appends /<id> "
                                       "(default ws://127.0.0.1:9000)")
    ap.add_argument("--station-id", help="OCPP_STATION_ID (default LITE-SIM-1)")
    ap.add_argument("--password", help="OCPP_BASIC_AUTH_PASSWORD: HTTP Basic auth, security profile 1")
    ap.add_argument("--security-profile", help="OCPP_SECURITY_PROFILE: 0, 1 or 2 (default from the "
                    "URL: ws 0, ws + password 1, wss 2)")
    ap.add_argument("--csms-root-cert", help="OCPP_CSMS_ROOT_CERT: PEM installed as CSMSRootCertificate")
    ap.add_argument("--manufacturer-root-cert",
                    help="OCPP_MANUFACTURER_ROOT_CERT: PEM installed as ManufacturerRootCertificate")
    ap.add_argument("--state-dir", help="OCPP_STATE_DIR: persisted state (default ./ocpp_state)")
    ap.add_argument("--evses", type=int, help="OCPP_EVSES: EVSEs, one connector each (default 1)")
    ap.add_argument("--exit-on-reset", action="store_true",
                    help="OCPP_EXIT_ON_RESET=1: exit with code 0 after executing a Reset")
    ap.add_argument("--board", help="OCPP_BOARD: board definition (default desktop)")
    ap.add_argument("--status-lines", action="store_true",
                    help="OCPP_SIM_STATUS=1: print a JSON status line (@status {...}) on stdout on every change")
    ap.add_argument("--panel", nargs="?", const="127.0.0.1:8180", metavar="[HOST:]PORT",
                    help="also serve the lab's web control panel (default 127.0.0.1:8180; the station "
                         "then runs as a child process; the URL with the per-run token is printed)")
    ap.add_argument("--panel-allow-remote", action="store_true",
                    help="allow --panel on a non-loopback address (prints a warning)")
    ap.add_argument("--interpreter", choices=("cpython", "micropython"), default="cpython",
                    help="with --panel: run the station on CPython (default) or the MicroPython unix port")
    ap.add_argument("--no-proxy", action="store_true",
                    help="with --panel: connect the station straight to the CSMS (no loopback proxy, so "
                         "no go-offline control; e.g. for a wss:// CSMS whose certificate names its host)")
    a = ap.parse_args(argv)
    env = {"OCPP_CSMS_URL": a.csms_url, "OCPP_STATION_ID": a.station_id,
           "OCPP_BASIC_AUTH_PASSWORD": a.password, "OCPP_STATE_DIR": a.state_dir,
           "OCPP_SECURITY_PROFILE": a.security_profile, "OCPP_CSMS_ROOT_CERT": a.csms_root_cert,
           "OCPP_MANUFACTURER_ROOT_CERT": a.manufacturer_root_cert,
           "OCPP_EVSES": None if a.evses is None else str(a.evses),
           "OCPP_EXIT_ON_RESET": "1" if a.exit_on_reset else None, "OCPP_BOARD": a.board,
           "OCPP_SIM_STATUS": "1" if a.status_lines else None}
    for k, v in env.items():
        if v is not None:
            os.environ[k] = v
    if a.panel is not None:
        from ocpp2lite import panel
        return panel.main(a.panel, a.interpreter, a.panel_allow_remote, not a.no_proxy)
    if a.interpreter != "cpython" or a.no_proxy or a.panel_allow_remote:
        ap.error("--interpreter, --no-proxy and --panel-allow-remote need --panel")
    from lite_stack import sim
    return sim.main()


def _sign_firmware(argv):
    import argparse
    ap = argparse.ArgumentParser(
        prog="ocpp2lite sign-firmware",
        description="Sign a firmware image for UpdateFirmware (OCPP 2.0.1 Part 2 L01, FirmwareType."
                    "signature): prints the base64 signature over the whole file (RSASSA-PKCS1-v1_5 "
                    "with an RSA key, DER ECDSA with a P-256 key; SHA-256). Needs PyPI cryptography.")
    ap.add_argument("--key", required=True, help="PEM private key (unencrypted) of the signing certificate")
    ap.add_argument("--cert", help="PEM signing certificate: checked to match the key (it goes in "
                                   "firmware.signingCertificate)")
    ap.add_argument("--out", help="also write the base64 signature to this file")
    ap.add_argument("image", help="the firmware image file")
    a = ap.parse_args(argv)
    from ocpp2lite import fwsign
    try:
        with open(a.key, "rb") as f:
            key_pem = f.read()
        sig = fwsign.sign_file(key_pem, a.image)
        if a.cert:
            with open(a.cert, "rb") as f:
                if not fwsign.matches(f.read(), key_pem):
                    print("sign-firmware: %s does not hold the public key of %s" % (a.cert, a.key),
                          file=sys.stderr)
                    return 1
    except (OSError, ValueError, TypeError) as e:
        print("sign-firmware: %s" % e, file=sys.stderr)
        return 1
    if a.out:
        with open(a.out, "w") as f:
            f.write(sig + "\n")
    print(sig)
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "sim":
        return _sim(rest)
    if cmd == "csms":
        from ocpp2lite import csms
        return csms.main(rest)
    if cmd == "demo":
        from ocpp2lite import demo
        return demo.main(rest)
    if cmd == "sign-firmware":
        return _sign_firmware(rest)
    if cmd == "deploy":
        from ocpp2lite import deploy
        return deploy.main(rest)
    if cmd == "pics":
        from ocpp2lite import pics
        return pics.main(rest)
    if cmd == "conformance":
        from ocpp2lite import conformance
        return conformance.main(rest)
    if cmd == "perf":
        from ocpp2lite import perf
        return perf.main(rest)
    if cmd == "score":
        from ocpp2lite import score_cli
        return score_cli.main(rest)
    if cmd == "bench":
        from bench import cli as bench_cli
        return bench_cli.main(rest)
    print("unknown command %r\n%s" % (cmd, USAGE), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
