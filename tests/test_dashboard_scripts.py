"""The dashboard scripts' own unit tests (`tests/js/`, Node's built-in test
runner, no npm packages), run as part of the suite."""

import glob
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_dashboard_scripts_pass_their_unit_tests():
    node = shutil.which("node")
    if node is None:
        pytest.skip("no node to run the dashboard scripts' unit tests: install Debian's nodejs")
    files = sorted(glob.glob(os.path.join(ROOT, "tests", "js", "*.test.mjs")))
    assert files
    result = subprocess.run([node, "--test", *files], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout
