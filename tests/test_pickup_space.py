"""queue_minfree in pickup: while the queue's file system has less free
than queue_minfree besides a drop file, pickup leaves the file in
maildrop/ (logged, nothing lost) and takes it at a later scan once there is
room, in arrival order with what came after."""

import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import IS_ROOT, Instance, wait_for  # noqa: E402

PICKUP = "pickup unix n - n 60 1 pickup"


@unittest.skipUnless(IS_ROOT and shutil.which("mount"), "needs root to mount a small tmpfs")
class PickupSpaceTest(unittest.TestCase):
    def test_waits_in_maildrop_until_room(self):
        inst = Instance(params={"myorigin": "origin.test", "queue_minfree": "3m"},
                        services=[PICKUP])
        self.addCleanup(inst.cleanup)
        os.makedirs(inst.spool)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", inst.spool],
                       check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", inst.spool])
        os.chmod(inst.spool, 0o755)
        inst.start()
        filler = os.path.join(inst.spool, "filler")
        with open(filler, "wb") as f:
            f.write(b"x" * (1536 * 1024))

        def send(subject):
            result = subprocess.run(
                [inst.program("sendmail"), "-C", inst.etc, "-i", "bob@example.test"],
                input=("Subject: %s\n\nbody\n" % subject).encode(), capture_output=True,
                timeout=60)
            self.assertEqual(result.returncode, 0, result.stderr)

        def queued():
            return os.listdir(os.path.join(inst.spool, "incoming"))

        def dropped():
            return os.listdir(os.path.join(inst.spool, "maildrop"))

        send("first")
        inst.wait_log("not enough free space in %s" % inst.spool, timeout=20)
        self.assertEqual(queued(), [])
        self.assertEqual(len(dropped()), 1)
        os.unlink(filler)
        send("second")  # its drop wakes pickup, which takes both now
        wait_for(lambda: len(queued()) == 2 and dropped() == [], timeout=20,
                 what="both messages queued")
        self.assertIn("mail waits in maildrop/", inst.read_log())


if __name__ == "__main__":
    unittest.main()
