"""The dashboard's page and files as the service serves them (no browser needed)."""

import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest
from service_helpers import AUTH
from service_helpers import TOKEN
from service_helpers import make_app

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATIC = os.path.join(ROOT, "service", "dashboard", "static")


@pytest.fixture
def client(tmp_path):
    return make_app(str(tmp_path / "data")).test_client()


def test_the_page_and_its_files_need_no_token_and_carry_the_policy(client):
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', page.text)
    styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page.text)
    assert scripts == ["/dashboard/app.js"] and styles == ["/dashboard/style.css"]
    for path in scripts + styles:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Content-Security-Policy"] == policy
    assert client.get("/dashboard/app.js").mimetype in ("text/javascript", "application/javascript")


def test_the_page_holds_no_inline_script_no_token_and_no_outside_address(client):
    page = client.get("/", headers=AUTH).text
    assert TOKEN not in page
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline script"
    assert " style=" not in page and "<style" not in page
    for name in os.listdir(STATIC):
        with open(os.path.join(STATIC, name), encoding="utf-8") as file:
            text = file.read()
        # Everything works offline: no file loads anything from another origin.
        assert not re.search(r"""(src|href|import|from|url)\s*\(?\s*["']https?://""", text), name
        assert "innerHTML" not in text and "eval(" not in text, name


def test_every_module_the_page_imports_is_served(client):
    pending, seen = ["app.js"], set()
    while pending:
        name = pending.pop()
        seen.add(name)
        response = client.get(f"/dashboard/{name}")
        assert response.status_code == 200, name
        for imported in re.findall(r'from "\./([a-z_]+\.js)"', response.text):
            if imported not in seen:
                pending.append(imported)
    assert {"api.js", "charts.js", "table.js", "search.js", "models.js"} <= seen
    # The search page's panels, one module each.
    assert {f"search_{panel}.js" for panel in ("summary", "pareto", "history", "curves",
                                                 "parallel", "trials", "details")} <= seen


def test_the_api_still_needs_the_token(client):
    assert client.get("/v1/searches").status_code == 401
    assert client.get("/v1/searches", headers=AUTH).status_code == 200
    assert client.get("/dashboard/../auth.py").status_code == 404
    assert client.get("/dashboard/missing.js").status_code == 404


def test_the_wheel_ships_the_dashboard(tmp_path):
    # Built from a copy, so no build folder is left in the checkout.
    source = tmp_path / "source"
    for name in ("tuner_ext", "hypermodels", "service"):
        shutil.copytree(os.path.join(ROOT, name), source / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), source / name)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = os.listdir(tmp_path / "dist")
    with zipfile.ZipFile(tmp_path / "dist" / wheel) as archive:
        shipped = set(archive.namelist())
    assert "evokt/service/dashboard/__init__.py" in shipped
    for name in os.listdir(STATIC):
        assert f"evokt/service/dashboard/static/{name}" in shipped, name
    # One import name: every package of the three folders is under evokt/,
    # and nothing else is at the top of the wheel but its metadata.
    assert {top.split("/")[0] for top in shipped if ".dist-info/" not in top} == {"evokt"}
    installed_as = {"tuner_ext": "evokt", "hypermodels": "evokt/hypermodels",
                    "service": "evokt/service"}
    for folder, package in installed_as.items():
        for directory, _, files in os.walk(os.path.join(ROOT, folder)):
            if "__init__.py" in files:
                relative = os.path.relpath(directory, os.path.join(ROOT, folder))
                assert os.path.normpath(f"{package}/{relative}/__init__.py") in shipped
