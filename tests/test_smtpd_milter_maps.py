"""smtpd_milter_maps (Postfix 3.2): a cidr: table picks the milters for
each client address in place of smtpd_milters; DISABLE turns them off for
that client; a client the table does not list gets smtpd_milters; a value
that is no milter list is logged and smtpd_milters apply. The filters are
tests/milter_test (libmilter), which refuse RCPT TO rcpt-reject@..."""

import os
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, free_port, wait_for  # noqa: E402
from test_milter import FilterLog, start_filter, wait_listening  # noqa: E402


class MilterMapsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.inst = Instance(params={
            "mydestination": "mx.example.test",
            "relay_domains": "example.test",
            "mynetworks": "127.0.0.0/8",
            "smtpd_error_sleep_time": "0s",
        }, services=["127.0.0.1:%d inet n - n - - smtpd" % cls.port])
        base = cls.inst.base
        ports = free_port(), free_port()
        cls.filters, logs = [], []
        for name, port in zip(("default", "mapped"), ports):
            proc, log = start_filter(base, name, [], "inet:%d@127.0.0.1" % port)
            cls.filters.append(proc)
            logs.append(FilterLog(log))
            wait_listening("inet:127.0.0.1:%d" % port)
        cls.default_log, cls.mapped_log = logs
        table = os.path.join(base, "milter_map")
        with open(table, "w") as f:
            f.write("127.0.0.2/32 DISABLE\n"
                    "127.0.0.3/32 inet:127.0.0.1:%d\n"
                    "127.0.0.4/32 tcp:not-a-milter\n" % ports[1])
        cls.inst.params["smtpd_milters"] = "inet:127.0.0.1:%d" % ports[0]
        cls.inst.params["smtpd_milter_maps"] = "cidr:" + table
        cls.inst.write_config()
        try:
            cls.inst.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        for proc in cls.filters:
            proc.kill()
            proc.wait()

    def rcpt_from(self, source):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30,
                          source_address=(source, 0)) as c:
            c.ehlo("client.test")
            self.assertEqual(c.mail("a@example.test")[0], 250)
            return c.rcpt("rcpt-reject@example.test")[0]

    @staticmethod
    def settle(log):
        """The filter is done with the last session (smtpd sends abort and
        close after the client quit): mark its log there."""
        wait_for(lambda: log.lines() and log.lines()[-1] == "close", timeout=10,
                 what="the filter to close its session")
        log.set_mark()

    def test_per_client(self):
        for log in (self.default_log, self.mapped_log):
            log.set_mark()
        # Not in the table: smtpd_milters.
        self.assertEqual(self.rcpt_from("127.0.0.1"), 550)
        self.assertTrue(any("connect" in l for l in self.default_log.since_mark()))
        self.assertEqual(self.mapped_log.since_mark(), [])
        # DISABLE: no milter sees it.
        self.settle(self.default_log)
        self.assertEqual(self.rcpt_from("127.0.0.2"), 250)
        self.assertEqual(self.default_log.since_mark(), [])
        self.assertEqual(self.mapped_log.since_mark(), [])
        # Its own milter instead of the default one.
        self.assertEqual(self.rcpt_from("127.0.0.3"), 550)
        self.assertEqual(self.default_log.since_mark(), [])
        self.assertTrue(any("127.0.0.3" in l for l in self.mapped_log.since_mark()))
        # A bad value: logged, smtpd_milters apply.
        self.settle(self.mapped_log)
        self.assertEqual(self.rcpt_from("127.0.0.4"), 550)
        self.assertTrue(any("127.0.0.4" in l for l in self.default_log.since_mark()))
        self.inst.wait_log('smtpd_milter_maps value "tcp:not-a-milter"')


if __name__ == "__main__":
    unittest.main()
