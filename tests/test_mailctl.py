"""mailctl check and config: every error names file:line, JSON output
parses, and the parameter table agrees with main.conf(5)."""

import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import InstanceTestCase  # noqa: E402

SOURCE = os.environ.get("POSTERN_SOURCE") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..")


class MailctlTest(InstanceTestCase):
    def test_check_good_config(self):
        inst = self.instance(services=["probe unix n - n - 1 svc_probe"], start=False)
        result = inst.mailctl("check")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("0 errors", result.stdout)

    def test_check_names_file_and_line(self):
        inst = self.instance(services=[
            "good unix n - n - 1 svc_probe",
            "bad  flurb n - n - 1 svc_probe",
            "missing unix n - n - 1 no_such_program",
            "short inet n",
        ], start=False)
        with open(os.path.join(inst.etc, "main.conf"), "a") as f:
            f.write("max_idle = forever\n")       # line after the written params
            f.write("no_such_parameter = 1\n")
            f.write("this line has no equals sign\n")
        lines = open(os.path.join(inst.etc, "main.conf")).read().splitlines()
        max_idle_line = lines.index("max_idle = forever") + 1
        result = inst.mailctl("check")
        out = result.stdout
        self.assertEqual(result.returncode, 1, out)
        main = os.path.join(inst.etc, "main.conf")
        master = os.path.join(inst.etc, "master.conf")
        self.assertRegex(out, re.escape("%s:%d: error:" % (main, max_idle_line)) + ".*max_idle")
        self.assertRegex(out, re.escape("%s:%d: warning:" % (main, max_idle_line + 1)) +
                         ".*unknown parameter no_such_parameter")
        self.assertIn("%s:%d: error:" % (main, max_idle_line + 2), out)
        self.assertRegex(out, re.escape("%s:3: error:" % master) + ".*flurb")
        self.assertRegex(out, re.escape("%s:4: error:" % master) + ".*no_such_program")
        self.assertIn("%s:5: error:" % master, out)

    def test_check_networks(self):
        inst = self.instance(services=["probe unix n - n - 1 svc_probe"], start=False)
        with open(os.path.join(inst.etc, "main.conf"), "a") as f:
            f.write("mynetworks = 127.0.0.0/8, 10.0.0.0/33\n")
            f.write("smtpd_client_event_limit_exceptions = not-an-address\n")
        lines = open(os.path.join(inst.etc, "main.conf")).read().splitlines()
        line = lines.index("mynetworks = 127.0.0.0/8, 10.0.0.0/33") + 1
        result = inst.mailctl("check")
        self.assertEqual(result.returncode, 1, result.stdout)
        main = os.path.join(inst.etc, "main.conf")
        self.assertIn('%s:%d: error: mynetworks: "10.0.0.0/33" is not an address or '
                      'address/prefix' % (main, line), result.stdout)
        self.assertIn('%s:%d: error: smtpd_client_event_limit_exceptions: "not-an-address"'
                      % (main, line + 1), result.stdout)

    def test_check_policy_services(self):
        inst = self.instance(services=[
            "probe unix n - n - 1 svc_probe",
            "127.0.0.1:2525 inet n - n - - smtpd"
            " -o smtpd_end_of_data_policy_services=unix:private/ok,inet:localhost:",
        ], start=False)
        with open(os.path.join(inst.etc, "main.conf"), "a") as f:
            f.write("smtpd_policy_services = inet:127.0.0.1:10023, inet:nohostport\n")
            f.write("smtpd_policy_service_default_action = MAYBE\n")
            f.write("smtpd_tls_fingerprint_digest = sha257\n")
        lines = open(os.path.join(inst.etc, "main.conf")).read().splitlines()
        line = lines.index("smtpd_policy_service_default_action = MAYBE")
        result = inst.mailctl("check")
        out = result.stdout
        self.assertEqual(result.returncode, 1, out)
        main = os.path.join(inst.etc, "main.conf")
        master = os.path.join(inst.etc, "master.conf")
        self.assertIn('%s:%d: error: smtpd_policy_services: "inet:nohostport": inet: needs '
                      'host:port' % (main, line), out)
        self.assertIn('%s:%d: error: smtpd_policy_service_default_action: "MAYBE": unknown '
                      'action' % (main, line + 1), out)
        self.assertIn('%s:3: error: service 127.0.0.1:2525: -o '
                      'smtpd_end_of_data_policy_services: "inet:localhost:": inet: needs '
                      'host:port' % master, out)
        self.assertIn("%s:%d: error: smtpd_tls_fingerprint_digest = sha257: not a digest "
                      "OpenSSL knows" % (main, line + 2), out)
        self.assertNotIn("10023", out)
        self.assertNotIn("private/ok", out)
        self.assertEqual(out.count("error:"), 4, out)

    def test_check_missing_files(self):
        inst = self.instance(start=False)
        os.unlink(os.path.join(inst.etc, "master.conf"))
        result = inst.mailctl("check")
        self.assertEqual(result.returncode, 1)
        self.assertIn("master.conf", result.stdout)

    def test_config_edit(self):
        inst = self.instance(start=False)
        main = os.path.join(inst.etc, "main.conf")
        with open(main, "w") as f:
            f.write("# kept: a comment\n"
                    "myhostname = old.example\n"
                    "\n"
                    "mynetworks = 127.0.0.0/8\n"
                    "    192.0.2.0/24\n"
                    "# kept too\n"
                    "max_use = 5\n"
                    "max_use = 6\n")
        os.chmod(main, 0o640)
        inst.mailctl("config", "-e", "myhostname=new.example", "mynetworks = 10.0.0.0/8",
                     "max_use=7", "message_size_limit=20m", check=True)
        with open(main) as f:
            self.assertEqual(f.read(), "# kept: a comment\n"
                                       "myhostname = new.example\n"
                                       "\n"
                                       "mynetworks = 10.0.0.0/8\n"
                                       "# kept too\n"
                                       "max_use = 7\n"
                                       "message_size_limit = 20m\n")
        self.assertEqual(os.stat(main).st_mode & 0o7777, 0o640)
        shown = inst.mailctl("config", "-n", check=True).stdout
        self.assertIn("max_use = 7\n", shown)
        self.assertIn("message_size_limit = 20m\n", shown)
        # A bad value, an unknown name or a missing "=": nothing is written.
        with open(main) as f:
            before = f.read()
        for args in (["max_use=ten"], ["max_use=8", "no_such_parameter=1"], ["max_use"],
                     ["max_use=$max_use"]):
            result = inst.mailctl("config", "-e", *args)
            self.assertEqual(result.returncode, 1, args)
            self.assertIn("mailctl: ", result.stderr)
            with open(main) as f:
                self.assertEqual(f.read(), before, args)
        # -X removes every setting of a name; one not set is only a warning.
        inst.mailctl("config", "-X", "max_use", "mynetworks", check=True)
        result = inst.mailctl("config", "-X", "relay_domains")
        self.assertEqual(result.returncode, 0)
        self.assertIn("relay_domains: not set in main.conf", result.stderr)
        with open(main) as f:
            self.assertEqual(f.read(), "# kept: a comment\n"
                                       "myhostname = new.example\n"
                                       "\n"
                                       "# kept too\n"
                                       "message_size_limit = 20m\n")
        self.assertEqual([n for n in os.listdir(inst.etc) if ".tmp" in n], [])

    def test_config_output(self):
        inst = self.instance(params={"max_use": "7", "myorigin": "$mydomain"}, start=False)
        result = inst.mailctl("config", "-n", check=True)
        self.assertIn("max_use = 7\n", result.stdout)
        self.assertNotIn("default_process_limit", result.stdout)
        result = inst.mailctl("config", "-x", "myorigin", check=True)
        self.assertEqual(result.stdout, "myorigin = example.test\n")
        result = inst.mailctl("config", "myorigin", check=True)
        self.assertEqual(result.stdout, "myorigin = $mydomain\n")
        result = inst.mailctl("config", "-d", "max_use", check=True)
        self.assertEqual(result.stdout, "max_use = 100\n")
        result = inst.mailctl("config", "nonsense_name")
        self.assertEqual(result.returncode, 1)
        self.assertIn("unknown parameter", result.stderr)
        data = json.loads(inst.mailctl("--json", "config", check=True).stdout)
        by_name = {p["name"]: p for p in data["parameters"]}
        self.assertEqual(by_name["max_use"]["value"], "7")
        self.assertTrue(by_name["max_use"]["set"])
        self.assertEqual(by_name["max_idle"]["type"], "time")
        self.assertFalse(by_name["max_idle"]["set"])

    def test_every_parameter_documented(self):
        inst = self.instance(start=False)
        names = [line.split(" = ")[0] for line in
                 inst.mailctl("config", "-d", check=True).stdout.splitlines()]
        self.assertGreater(len(names), 10)
        with open(os.path.join(SOURCE, "man", "main.conf.5")) as f:
            page = f.read()
        for name in names:
            self.assertRegex(page, r"(?m)^\.B %s\s*$" % re.escape(name),
                             "parameter %s missing from man/main.conf.5" % name)

    def test_man_pages_render_cleanly(self):
        mandir = os.path.join(SOURCE, "man")
        pages = sorted(p for p in os.listdir(mandir) if re.search(r"\.[0-9]$", p))
        for page in ("master.8", "mailctl.8", "main.conf.5", "master.conf.5"):
            self.assertIn(page, pages)
        for page in pages:
            result = subprocess.run(
                ["groff", "-man", "-ww", "-z", os.path.join(mandir, page)],
                capture_output=True, text=True, timeout=60)
            self.assertEqual(result.returncode, 0, page)
            self.assertEqual(result.stderr, "", "%s: %s" % (page, result.stderr))

    def test_usage_errors(self):
        inst = self.instance(start=False)
        result = inst.mailctl("frobnicate")
        self.assertEqual(result.returncode, 2)
        self.assertIn("unknown command", result.stderr)
        result = inst.mailctl("stop", "now")
        self.assertEqual(result.returncode, 2)
        result = inst.mailctl("status")
        self.assertEqual(result.returncode, 1)
        self.assertIn("not running", result.stderr)
        self.assertRegex(inst.mailctl("version", check=True).stdout, r"^postern \d+\.\d+")


if __name__ == "__main__":
    unittest.main(verbosity=2)
