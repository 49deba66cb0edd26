"""systemd/ictmond.service as systemd itself reads it: `systemd-analyze verify` finds
nothing to say, and `systemd-analyze security` rates its exposure no worse than the
README says. The unit is checked with ExecStart pointing at this build's ictmond."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

import harness

UNIT = os.path.join(harness.SOURCE_DIR, "systemd", "ictmond.service")
ANALYZE = shutil.which("systemd-analyze")
EXPOSURE_MAX = 1.2      # README, Operations


@unittest.skipIf(ANALYZE is None, "systemd-analyze is not installed")
class Unit(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="ictmon-unit-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        with open(UNIT) as f:
            text = f.read()
        cls.unit = os.path.join(cls.dir, "ictmond.service")
        with open(cls.unit, "w") as f:
            f.write(text.replace("/usr/local/bin/ictmond", harness.ICTMOND))

    def analyze(self, *args):
        return subprocess.run([ANALYZE, *args], capture_output=True, text=True, timeout=60)

    def test_verify_is_silent(self):
        proc = self.analyze("verify", self.unit)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual([l for l in proc.stderr.splitlines() if "ictmond" in l], [])

    def test_security_exposure(self):
        proc = self.analyze("security", "--offline=true", self.unit)
        if "--offline" in proc.stderr:
            self.skipTest("this systemd-analyze has no --offline")
        m = re.search(r"Overall exposure level for ictmond\.service: ([0-9.]+)", proc.stdout)
        self.assertIsNotNone(m, proc.stdout + proc.stderr)
        self.assertLessEqual(float(m.group(1)), EXPOSURE_MAX, proc.stdout)


if __name__ == "__main__":
    unittest.main()
