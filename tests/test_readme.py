"""The README's commands and examples are the ones that work."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import onnxruntime
from helpers import iris_rows
from helpers import write_csv
from service_helpers import TOKEN
from service_helpers import register_iris_model
from service_helpers import running_server

from evokt.service.app import create_app

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


# Each example in a namespace of its own, one after another in one interpreter (as
# cells of a notebook): TensorFlow is imported once, not once per example.
RUN_EXAMPLES = """
import json, sys
for number, example in enumerate(json.load(sys.stdin)):
    exec(compile(example, f"<README example {number}>", "exec"), {"__name__": "__main__"})
"""


def test_python_examples_run(tmp_path):
    examples = re.findall(r"```python\n(.*?)\n```", readme(), flags=re.S)
    assert len(examples) == 6
    result = subprocess.run(
        [sys.executable, "-c", RUN_EXAMPLES], input=json.dumps(examples), cwd=tmp_path,
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert os.path.exists(tmp_path / "runs" / "iris" / "oracle.json")
    assert os.path.exists(tmp_path / "runs" / "custom" / "oracle.json")
    assert os.path.exists(tmp_path / "runs" / "iris-front" / "oracle.json")
    assert os.path.exists(tmp_path / "runs" / "quadratic" / "oracle.json")
    assert os.path.exists(tmp_path / "runs" / "iris-hyperband" / "oracle.json")
    assert os.path.exists(tmp_path / "runs" / "iris-stop" / "oracle.json")


def service_examples() -> list[str]:
    """The README's `curl` commands, continuation lines joined, comments dropped."""
    block = next(command for command in re.findall(r"```bash\n(.*?)\n```", readme(), flags=re.S)
                 if command.startswith("evokt serve"))
    commands = re.sub(r"\\\n\s*", "", block).splitlines()
    return [re.sub(r"\s+# .*$", "", command) for command in commands if command.startswith("curl")]


def test_the_service_examples_work_as_pasted(tmp_path):
    with running_server(tmp_path, "--workers", "1") as (client, data_dir, _):
        app = create_app({"DATA_DIR": str(data_dir), "API_TOKEN": TOKEN})
        register_iris_model(app)
        write_csv(tmp_path / "iris.csv", ["sl", "sw", "pl", "pw", "species"], iris_rows())
        upload, search, events, predict, infer, export = service_examples()
        port = client.base.rsplit(":", 1)[1]

        def run(command: str) -> str:
            result = subprocess.run(
                ["bash", "-c", command.replace("localhost:8000", f"127.0.0.1:{port}")],
                cwd=tmp_path, env={**os.environ, "TOKEN": TOKEN}, capture_output=True,
                text=True, timeout=180)
            assert result.returncode == 0, result.stderr
            return result.stdout

        assert json.loads(run(upload))["classes"] == ["setosa", "versicolor", "virginica"]
        queued = json.loads(run(search))
        assert queued["state"] == "PENDING" and queued["model_name"] == "iris"
        client.request("POST", f"/v1/searches/{queued['id']}/cancel")
        client.wait_for(queued["id"], {"CANCELLED"}, timeout=60)
        assert run(events.replace("SEARCH_ID", queued["id"])).rstrip().split("\n\n")[-1].startswith(
            "event: end")
        predictions = json.loads(run(predict))["predictions"]
        assert len(predictions) == 2 and all(len(row) == 3 for row in predictions)
        output = json.loads(run(infer))["outputs"][0]
        assert output["shape"] == [2, 3]
        assert np.allclose(output["data"], np.ravel(predictions), atol=1e-6)
        run(export)
        session = onnxruntime.InferenceSession(str(tmp_path / "iris-1.onnx"),
                                               providers=["CPUExecutionProvider"])
        rows = np.asarray([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], np.float32)
        assert np.allclose(session.run(["output_0"], {"inputs": rows})[0], predictions,
                           atol=1e-5)


def test_every_service_setting_is_documented():
    from evokt.service.config import SETTINGS

    for name in SETTINGS:
        assert f"| `EVOKT_{name}` |" in readme(), name
