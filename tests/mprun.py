"""Run the test functions of one tests/unit module on this interpreter (made for MicroPython).

Usage (from the repository root): micropython tests/mprun.py tests.unit.test_clock [name ...]
Prints one line per test: "PASS name" / "FAIL name: error", then "N passed, N failed"; exits 1 on a
failure.
"""
import sys

sys.path.insert(0, "") if "" not in sys.path else None


def main(argv):
    modname = argv[1]
    only = argv[2:]
    mod = __import__(modname)
    for part in modname.split(".")[1:]:
        mod = getattr(mod, part)
    names = [n for n in dir(mod) if n.startswith("test_") and (not only or n in only)]
    names.sort()
    ok = bad = 0
    for n in names:
        try:
            getattr(mod, n)()
            print("PASS", n)
            ok += 1
        except Exception as e:  # report and go on
            bad += 1
            print("FAIL %s: %s %s" % (n, type(e).__name__, e))
            try:
                sys.print_exception(e)
            except AttributeError:
                import traceback
                traceback.print_exc()
    print("%d passed, %d failed" % (ok, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
