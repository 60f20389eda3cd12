"""socketmap: tables (Postfix's socketmap_table(5), Sendmail's socket map
protocol), as admins use them for MTA-STS resolvers and for look-ups kept
in another program. A Python socket map server (netstrings, "OK value",
"NOTFOUND ", "TEMP reason") answers from a dict per map name and records
what it was asked.

- smtpd_recipient_access_maps = socketmap:inet:...: a REJECT entry refuses
  that recipient (the server saw the address asked), a TEMP reply answers
  451 4.3.0 and a recipient with no entry is taken.
- transport_maps = socketmap:unix:PATH:transport: qmgr routes a domain to
  the relay the server names, also when the server closes every
  connection after one answer (each look-up then reconnects).
- mailctl map query socketmap:... prints a value and exits 1 for a key the
  server does not know; mailctl check refuses a malformed socketmap name."""
import os
import smtplib
import socket
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mail_peers import RecordingServer  # noqa: E402
from postern_test import InstanceTestCase, free_port, wait_for  # noqa: E402


class SocketmapServer:
    """maps: name -> {key: value or "TEMP"}; close_each: hang up after
    each reply."""

    def __init__(self, address, maps, close_each=False):
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if family == socket.AF_INET:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(address)
        if family == socket.AF_UNIX:
            os.chmod(address, 0o666)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.maps = maps
        self.close_each = close_each
        self.lock = threading.Lock()
        self.requests = []
        self.connections = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()

    def asked(self):
        with self.lock:
            return list(self.requests)

    def _run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _read_netstring(f):
        digits = b""
        while True:
            c = f.read(1)
            if not c:
                return None
            if c == b":":
                break
            digits += c
        data = f.read(int(digits) + 1)
        assert data.endswith(b","), data
        return data[:-1].decode()

    def _serve(self, conn):
        f = conn.makefile("rb")
        try:
            while True:
                request = self._read_netstring(f)
                if request is None:
                    return
                name, _, key = request.partition(" ")
                with self.lock:
                    self.requests.append((name, key))
                value = self.maps.get(name, {}).get(key)
                if value is None:
                    reply = "NOTFOUND "
                elif value == "TEMP":
                    reply = "TEMP the database is down"
                else:
                    reply = "OK " + value
                data = reply.encode()
                conn.sendall(b"%d:%s," % (len(data), data))
                if self.close_each:
                    return
        except OSError:
            return
        finally:
            f.close()
            conn.close()


class SocketmapTest(InstanceTestCase):
    def test_smtpd_recipient_access_over_tcp(self):
        port = free_port()
        server = SocketmapServer(("127.0.0.1", port), {"access": {
            "blocked@example.test": "REJECT go away",
            "tempfail.example": "TEMP",
        }})
        self.addCleanup(server.stop)
        smtp_port = free_port()
        inst = self.instance(params={
            "mydestination": "mx.example.test, localhost",
            "relay_domains": "example.test, tempfail.example",
            "mynetworks": "127.0.0.0/8",
            "smtpd_recipient_access_maps": "socketmap:inet:127.0.0.1:%d:access" % port,
        }, services=["127.0.0.1:%d inet n - n - - smtpd" % smtp_port])
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as c:
            c.ehlo("client.test")
            self.assertEqual(c.mail("sender@client.test")[0], 250)
            code, text = c.rcpt("blocked@example.test")
            self.assertEqual(code, 554, text)
            self.assertIn(b"go away", text)
            code, text = c.rcpt("someone@tempfail.example")
            self.assertEqual(code, 451, text)
            self.assertIn(b"4.3.0", text)
            code, text = c.rcpt("fine@example.test")
            self.assertEqual(code, 250, text)
            code, text = c.data(b"Subject: t\r\n\r\nbody\r\n")
            self.assertEqual(code, 250, text)
        asked = server.asked()
        self.assertIn(("access", "blocked@example.test"), asked)
        self.assertIn(("access", "tempfail.example"), asked)
        self.assertIn(("access", "fine@example.test"), asked)
        self.assertIn("socketmap:inet:127.0.0.1:%d:access" % port, inst.read_log())
        self.assertNotIn("Sanitizer", inst.read_log())

    def test_transport_over_unix_socket_reconnects(self):
        relay_port = free_port()
        relay = RecordingServer("127.0.0.1", relay_port)
        self.addCleanup(relay.server.stop)
        inst = self.instance(params={
            "mydestination": "mx.example.test, localhost",
            "smtp_tls_security_level": "none",
        }, services=[
            "qmgr unix n - n 300 1 qmgr",
            "pickup unix n - n 60 1 pickup",
            "smtp unix - n n - - smtp",
        ], start=False)
        path = os.path.join(inst.base, "map.sock")
        server = SocketmapServer(path, {"transport": {
            "routed.example": "smtp:[127.0.0.1]:%d" % relay_port,
        }}, close_each=True)
        self.addCleanup(server.stop)
        inst.params["transport_maps"] = "socketmap:unix:%s:transport" % path
        inst.write_config()
        check = inst.mailctl("check")
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        inst.start()
        from mail_peers import submit
        for i in range(3):
            submit(inst, "sender@mx.example.test", ["user%d@routed.example" % i],
                   b"Subject: routed %d\n\nbody\n" % i)
        wait_for(lambda: len(relay.messages) == 3, timeout=60,
                 what="three messages at the relay the socket map named")
        self.assertEqual(sorted(r for m in relay.messages for r in m["rcpts"]),
                         ["user0@routed.example", "user1@routed.example",
                          "user2@routed.example"])
        self.assertGreaterEqual(len([a for a in server.asked() if a[1] == "routed.example"]), 3)
        self.assertGreaterEqual(server.connections, 3)

    def test_mailctl(self):
        path_port = free_port()
        server = SocketmapServer(("127.0.0.1", path_port), {"m": {"k": "the value"}})
        self.addCleanup(server.stop)
        inst = self.instance(start=False)
        spec = "socketmap:inet:127.0.0.1:%d:m" % path_port
        r = inst.mailctl("map", "query", spec, "k")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "the value")
        r = inst.mailctl("map", "query", spec, "unknown")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        inst.params["transport_maps"] = "socketmap:inet:127.0.0.1:m"
        inst.write_config()
        r = inst.mailctl("check")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("socketmap", r.stdout + r.stderr)
        self.assertIn("inet:HOST:PORT:NAME", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
