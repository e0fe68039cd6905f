"""`make install` puts the binary, the Lua library and the man page under
PREFIX (and DESTDIR), and the installed binary finds its library wherever
the installed tree is."""
import os
import subprocess
import unittest

import rptest


class InstallTest(unittest.TestCase):

    def test_install_into_destdir_runs_an_example(self):
        if os.environ.get("RP_SANITIZE") == "1":
            self.skipTest("installs the default build only")
        d = rptest.tempdir(self)
        dest = os.path.join(d, "stage")
        p = subprocess.run(
            ["make", "-s", "install", "PREFIX=/opt/rp", "DESTDIR=" + dest],
            cwd=rptest.SRC_DIR, capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        root = dest + "/opt/rp"
        binary = root + "/bin/replicator"
        self.assertTrue(os.access(binary, os.X_OK))
        self.assertTrue(os.path.isfile(root + "/share/man/man1/replicator.1"))
        shipped = sorted(f for f in os.listdir(
            os.path.join(rptest.SRC_DIR, "lua")) if f.endswith(".lua"))
        self.assertEqual(sorted(os.listdir(root + "/share/replicator/lua")),
                         shipped)
        # The installed binary, away from the source tree, with a script
        # that requires the shipped library.
        store = os.path.join(d, "store")
        sample = os.path.join(rptest.SRC_DIR, "examples", "sample-store.jsonl")
        p = rptest.run(["import", "--store", store, sample], binary=binary)
        self.assertEqual(p.returncode, 0, p.stderr)
        script = os.path.join(d, "convert.lua")
        rptest.write_file(script, 'local keys = require "keys"\n'
                          'function convert(r)\n'
                          '  return {{stream = keys.stream(r.key),'
                          ' type = "Seen", data = {}}}\n'
                          'end\n')
        env = {k: v for k, v in os.environ.items()
               if k != "REPLICATOR_LUA_PATH"}
        p = subprocess.run([binary, "dry-run", "--script", script, "--store",
                            store, "--count", "3"], cwd=d, env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 3)
        self.assertIn('"stream":"security-1"', lines[2])


if __name__ == "__main__":
    unittest.main()
