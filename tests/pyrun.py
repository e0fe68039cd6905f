#!/usr/bin/env python3
"""Runs the end-to-end tests (Python unittest, test_*.py) in the folders
given on the command line and closes with one 'N passed, N failed' line.

RP_TEST_FILTER=substring runs only the tests whose id contains it."""
import os
import sys
import unittest


def flatten(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from flatten(item)
        else:
            yield item


def main(dirs):
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    loader = unittest.TestLoader()
    tests = []
    for d in dirs:
        if os.path.isdir(d):
            tests.extend(flatten(loader.discover(d, pattern="test_*.py",
                                                 top_level_dir=d)))
    only = os.environ.get("RP_TEST_FILTER")
    if only:
        tests = [t for t in tests if only in t.id()]
    for t in tests:
        if isinstance(t, unittest.loader._FailedTest):
            print("cannot load:", t.id(), file=sys.stderr)
    result = unittest.TextTestRunner(verbosity=2).run(
        unittest.TestSuite(tests))
    failed = len(result.failures) + len(result.errors)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    print("e2e: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
