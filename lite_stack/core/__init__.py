"""The OCPP-J core (OCPP 2.0.1 Part 4): ``ws`` (RFC 6455 client), ``rpc`` (CALL / CALLRESULT /
CALLERROR), ``validate`` + ``schemas`` (inbound payload checks), ``link`` (connect, Basic auth,
reconnect back-off, PING watchdog). Knows no functional block.

``release(*names)``: forget modules loaded for one use (on-demand blocks, the security helpers).
``ON_USE``: the modules resident code imports only while it uses them and then releases (the
on-demand blocks and what they release with them are listed in ``lite_stack.blocks``): tools such
as the RAM bench leave them out of the resident imports.
"""
import sys

ON_USE = ("lite_stack.txrecover", "lite_stack.seclog", "lite_stack.core.certstore",
          "lite_stack.core.netconf", "lite_stack.core.x509", "lite_stack.core.wsopen",
          "lite_stack.core.net")


def release(*names):
    """Forget the modules ``names`` (full dotted names): out of ``sys.modules`` and off their parent
    package, so nothing references their code objects any more and the GC can take them back."""
    for full in names:
        if full in sys.modules:
            del sys.modules[full]
        i = full.rfind(".")
        parent = sys.modules.get(full[:i])
        if parent is not None:
            try:
                delattr(parent, full[i + 1:])
            except (AttributeError, KeyError, TypeError):
                pass

