"""The layering rules of the stack, read from the source (every import, also those inside
functions): layers only import downwards (hal <- device_model <- lite_stack.core <- context /
evse / shared helpers <- blocks <- station), blocks never import each other, on-demand blocks are
imported by nobody but the router, and no module of lite_stack/ or device_model/ exceeds 400
lines. CPython only (reads files; the run-time side is tests/unit/test_blocks.py)."""
import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_LINES = 400


def _modules(pkg):
    out = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, pkg)):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for f in filenames:
            if f.endswith(".py"):
                out.append(os.path.relpath(os.path.join(dirpath, f), ROOT).replace(os.sep, "/"))
    return sorted(out)


def _name(path):
    n = path[:-3].replace("/", ".")
    return n[:-9] if n.endswith(".__init__") else n


def _imports(path):
    tree = ast.parse(open(os.path.join(ROOT, path)).read(), path)
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(node.module + "." + a.name for a in node.names)
    return out


def _stack_modules():
    return _modules("lite_stack") + _modules("device_model") + _modules("hal")


LAYERS = (("hal",), ("device_model",), ("lite_stack.core", "lite_stack.clock"),
          ("lite_stack.context", "lite_stack.evse", "lite_stack.meter", "lite_stack.txqueue",
           "lite_stack.seclog", "lite_stack.diaglog", "lite_stack.txrecover"),
          ("lite_stack.blocks",))


def _layer(mod):
    """0 hal, 1 device_model, 2 core + clock, 3 context/evse/shared helpers, 4 blocks, 5 the rest
    (lite_stack.station, lite_stack.sim). ``mod`` may be ``module.name`` (from-imports)."""
    for i, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if mod == p or mod.startswith(p + "."):
                return i
    return 5


@pytest.mark.parametrize("path", _stack_modules())
def test_no_import_from_a_lower_layer_to_a_higher_one(path):
    me = _name(path)
    for imp in _imports(path):
        if not imp.split(".")[0] in ("hal", "device_model", "lite_stack"):
            continue
        if imp == "lite_stack" or imp == "lite_stack.blocks" and me.startswith("lite_stack.blocks"):
            continue  # the package itself (e.g. `from lite_stack import meter`)
        assert _layer(imp) <= _layer(me), "%s (layer %d) imports %s (layer %d)" % (
            me, _layer(me), imp, _layer(imp))


@pytest.mark.parametrize("path", _modules("lite_stack/blocks"))
def test_blocks_never_import_each_other(path):
    me = _name(path)
    for imp in _imports(path):
        if imp.startswith("lite_stack.blocks.") and me != "lite_stack.blocks":
            pytest.fail("%s imports the block %s: blocks talk through the Context" % (me, imp))


def test_on_demand_blocks_are_imported_by_nobody():
    from lite_stack.blocks import ON_DEMAND
    lazy = {"lite_stack.blocks." + n for n in ON_DEMAND[1::2]} | {"device_model.report"}
    for path in _stack_modules() + _modules("firmware") + _modules("boards"):
        hit = lazy & _imports(path)
        if path == "device_model/__init__.py":
            hit -= {"device_model.report"}   # report_parts imports it on first use
        assert not hit, "%s imports the on-demand module(s) %s" % (path, sorted(hit))


def test_on_use_modules_are_never_imported_at_module_level_and_are_released():
    # lite_stack.core.ON_USE: loaded by resident code only while used, then released (the RAM
    # bench leaves them out of the resident imports, so this must stay true)
    import ast
    from lite_stack.blocks import ON_DEMAND
    from lite_stack.core import ON_USE
    from bench.port import on_demand_modules
    # the on-demand blocks and what they release with them (RELEASE) may import them
    lazy = {"lite_stack/blocks/%s.py" % n for n in ON_DEMAND[1::2]}
    lazy |= {m.replace(".", "/") + ".py" for m in on_demand_modules(ROOT)}   # ON_USE ones too
    srcs = {p: open(os.path.join(ROOT, p)).read() for p in _stack_modules() if p not in lazy}
    for name in ON_USE:
        assert os.path.exists(os.path.join(ROOT, name.replace(".", "/") + ".py")), name
        for path, src in srcs.items():
            for node in ast.parse(src).body:   # top level only
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module] if isinstance(node, ast.ImportFrom) else []
                assert name not in mods, "%s imports %s at module level" % (path, name)
        short = name.rsplit(".", 1)[1]
        assert any("release(" in s and (name in s or short.upper() in s) for s in srcs.values()), name
    assert set(ON_USE) >= {"lite_stack.txrecover", "lite_stack.seclog", "lite_stack.core.certstore"}


def test_every_on_demand_block_exists_with_handle():
    from lite_stack.blocks import ON_DEMAND
    for name in set(ON_DEMAND[1::2]):
        src = open(os.path.join(ROOT, "lite_stack", "blocks", name + ".py")).read()
        assert "\ndef handle(ctx, action, p, done):" in src, name


@pytest.mark.parametrize("path", _modules("lite_stack") + _modules("device_model"))
def test_no_module_above_400_lines(path):
    n = len(open(os.path.join(ROOT, path)).read().splitlines())
    assert n <= MAX_LINES, "%s has %d lines" % (path, n)
