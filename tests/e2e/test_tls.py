"""An https target: the certificate is verified by default, --cacert names
the CA to trust, and --insecure-skip-tls-verify is the explicit opt-out.
The emulator speaks plain HTTP, so a TLS-terminating relay written here
stands in front of it, with a self-signed certificate made by openssl."""
import os
import shutil
import socket
import ssl
import subprocess
import threading
import unittest

import rptest

SCRIPT = """
function convert(r)
  return {{stream = "tls-" .. r.store_version % 3, type = "Seen",
           data = {v = r.store_version}}}
end
"""


class TlsRelay:
    """Accepts TLS on a free port of 127.0.0.1 and relays the bytes to
    'port' in plain text; records the handshake failures it sees."""

    def __init__(self, test, cert, key, port):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.target = port
        self.failures = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.done = False
        threading.Thread(target=self.accept, daemon=True).start()
        test.addCleanup(self.close)

    def close(self):
        self.done = True
        self.sock.close()

    def accept(self):
        while not self.done:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        try:
            s = self.ctx.wrap_socket(c, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.failures.append(str(e))
            c.close()
            return
        u = socket.create_connection(("127.0.0.1", self.target))
        threading.Thread(target=self.pipe, args=(u, s), daemon=True).start()
        self.pipe(s, u)

    @staticmethod
    def pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        finally:
            try:
                b.shutdown(socket.SHUT_WR)
            except OSError:
                pass


class TlsTest(rptest.TestCase):

    def setUp(self):
        rptest.require(self, "run", "esdb-emu", "import", "dry-run")
        if shutil.which("openssl") is None:
            self.skipTest("openssl is not installed")
        self.dir = rptest.tempdir(self)
        self.cert = os.path.join(self.dir, "cert.pem")
        key = os.path.join(self.dir, "key.pem")
        p = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
             "-keyout", key, "-out", self.cert, "-days", "2",
             "-subj", "/CN=127.0.0.1", "-addext",
             "subjectAltName=IP:127.0.0.1"], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.emu = rptest.Emulator(self)
        self.relay = TlsRelay(self, self.cert, key, self.emu.port)
        self.target = "https://127.0.0.1:%d" % self.relay.port
        self.store = os.path.join(self.dir, "store")
        sample = os.path.join(rptest.SRC_DIR, "examples", "sample-store.jsonl")
        p = rptest.run(["import", "--store", self.store, sample])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.script = os.path.join(self.dir, "tls.lua")
        rptest.write_file(self.script, SCRIPT)

    def run_args(self, name, *extra):
        return ["run", "--script", self.script, "--store", self.store,
                "--target", self.target, "--until-caught-up", "--checkpoint",
                os.path.join(self.dir, name)] + list(extra)

    def test_tls_unknown_certificate_is_refused(self):
        r = rptest.start_replicator(self, self.run_args("cp-verify"))
        rptest.wait_for(lambda: "certificate" in r.stderr(), 30,
                        what="a certificate complaint")
        self.assertEqual(r.stop(), 0, r.stderr())
        self.assertTrue(self.relay.failures, "no handshake was refused")
        self.assertEqual(self.emu.dump(include_checkpoints=True), [])

    def test_tls_cacert_trusts_the_target(self):
        p = rptest.run(self.run_args("cp-ca", "--cacert", self.cert))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("not verified", p.stderr)
        expected = rptest.dry_run(self.script, self.store)
        self.assertSameEvents(expected, self.emu.dump())

    def test_tls_skip_verify_is_explicit_and_said(self):
        p = rptest.run(self.run_args("cp-skip", "--insecure-skip-tls-verify"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("not verified", p.stderr)
        expected = rptest.dry_run(self.script, self.store)
        self.assertSameEvents(expected, self.emu.dump())


if __name__ == "__main__":
    unittest.main()
