"""The README's commands and examples are the ones that work."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme() -> str:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as file:
        return file.read()


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"```bash\n(.*?)\n```", readme(), flags=re.S)
    test_command = next(command for command in commands if "pytest" in command)
    with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as file:
        ci_lines = [line.strip() for line in file if line.strip() and not line.startswith("#")]
    assert test_command.strip() in ci_lines


def test_python_examples_run(tmp_path):
    examples = re.findall(r"```python\n(.*?)\n```", readme(), flags=re.S)
    assert len(examples) == 3
    for example in examples:
        result = subprocess.run(
            [sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True,
            timeout=300, env={**os.environ, "PYTHONPATH": ROOT},
        )
        assert result.returncode == 0, result.stderr[-3000:]
    assert os.path.exists(tmp_path / "runs" / "iris" / "oracle.json")
    assert os.path.exists(tmp_path / "runs" / "custom" / "oracle.json")
    assert os.path.exists(tmp_path / "runs" / "iris-hyperband" / "oracle.json")
