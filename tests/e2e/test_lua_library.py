"""The lua/ library's own tests: every tests/lua/test_*.lua is a script
whose loading runs its checks in the real sandbox (`replicator dry-run` on
an empty store); a failed check stops the loading with its file and line."""
import glob
import os
import unittest

import rptest

LUA_ENV = {"REPLICATOR_LUA_PATH": os.path.join(rptest.SRC_DIR, "lua")}


class LuaLibrary(unittest.TestCase):
    def test_lua_files(self):
        rptest.require(self, "dry-run")
        store = rptest.tempdir(self)
        files = sorted(glob.glob(os.path.join(rptest.SRC_DIR, "tests", "lua",
                                              "test_*.lua")))
        self.assertGreater(len(files), 0)
        for path in files:
            with self.subTest(file=os.path.basename(path)):
                p = rptest.run(["dry-run", "--script", path, "--store",
                                store], env=LUA_ENV)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout, "")

    def test_a_failing_check_fails(self):
        rptest.require(self, "dry-run")
        d = rptest.tempdir(self)
        check = os.path.join(rptest.SRC_DIR, "tests", "lua", "check.lua")
        with open(check) as f:
            rptest.write_file(os.path.join(d, "check.lua"), f.read())
        s = rptest.write_file(os.path.join(d, "test_x.lua"),
                              'local check = require "check"\n'
                              'check.test("t", function()\n'
                              '  check.eq(1, 2, "one")\n'
                              'end)\n'
                              'function convert() end\n')
        p = rptest.run(["dry-run", "--script", s, "--store", d], env=LUA_ENV)
        self.assertEqual(p.returncode, 1)
        self.assertIn("test t failed", p.stderr)
        self.assertIn("test_x.lua:3: one: got 1, want 2", p.stderr)


if __name__ == "__main__":
    unittest.main()
