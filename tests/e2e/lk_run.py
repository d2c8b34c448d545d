"""lk_run: runs one e2e test module as `python3 -m unittest -v` does, and
on LK_BACKEND=postgresql first skips the tests lk_harness.SQLITE_ONLY
lists, printing how many (shared/DECISIONS.md, "Tests on both backends").
tests/CMakeLists.txt runs the e2e_pg_* tests through it:

    LK_BACKEND=postgresql LK_TEST_PG=URI python3 lk_run.py test_NAME
"""
import sys
import unittest

import lk_db
import lk_harness


def _tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _tests(t)
        else:
            yield t


def main(argv):
    if len(argv) != 1:
        print("usage: lk_run.py test_MODULE", file=sys.stderr)
        return 2
    suite = unittest.defaultTestLoader.loadTestsFromName(argv[0])
    skipped = 0
    if lk_db.POSTGRESQL:
        for t in _tests(suite):
            why = lk_harness.sqlite_only(t.id())
            if why is None:
                continue
            # The method is replaced on this instance only: unittest then
            # reports it as skipped, with its reason.
            name = t._testMethodName
            setattr(t, name, unittest.skip("SQLite only: " + why)(
                getattr(t, name)))
            skipped += 1
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    print("latchkey: %s on %s: %d SQLite-only test(s) skipped"
          % (argv[0], lk_db.BACKEND, skipped), file=sys.stderr)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
