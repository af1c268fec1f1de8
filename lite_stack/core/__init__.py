"""The OCPP-J core (OCPP 2.0.1 Part 4): ``ws`` (RFC 6455 client), ``rpc`` (CALL / CALLRESULT /
CALLERROR), ``validate`` + ``schemas`` (inbound payload checks), ``link`` (connect, Basic auth,
reconnect back-off, PING watchdog). Knows no functional block."""
