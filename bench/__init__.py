"""The bench: ROM, RAM, monthly data and CPU against the Lite targets (``ocpp2lite bench``).

It runs from a checkout and reuses helpers of ``tests/`` (the static test PKI, the in-memory
store) rather than copies of them, so the checkout root is put on ``sys.path`` (appended: it
shadows nothing) when the bench is started from another directory through the ``ocpp2lite``
command. On MicroPython (``bench.mpfs`` is used there) there is no ``os.path`` and nothing to do.
"""
try:
    import os.path
    import sys
    _root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if _root not in sys.path:
        sys.path.append(_root)
except ImportError:   # MicroPython
    pass
