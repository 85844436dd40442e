"""The dashboard in a real browser: the real `evokt serve` on 127.0.0.1, driven
through Debian's headless Chromium with Selenium and chromedriver.

One service runs for the whole module. Before it starts, a search with 10,000
synthetic trials goes into its job store; the tests then sign in (by the form
and by `/#token=`), launch a small real search from the page and watch it end
live, cancel a search, try the model it produced, and check that the token
never shows in an address, the page or the server's logs.
"""

from __future__ import annotations

import contextlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser_helpers import PHONE
from browser_helpers import add_synthetic_search
from browser_helpers import console_errors
from browser_helpers import missing_browser
from helpers import iris_rows
from helpers import write_csv
from service_helpers import TOKEN
from service_helpers import Client
from service_helpers import make_app
from service_helpers import register_iris_model
from service_helpers import running_server

from evokt.search.layout import MODEL_FILE
from evokt.search.layout import WORKERS_FILE
from evokt.service.layout import DataLayout
from evokt.service.store import JobStore

BROWSER_MISSING = missing_browser()
pytestmark = pytest.mark.skipif(
    BROWSER_MISSING is not None, reason=f"no browser to test the dashboard in: {BROWSER_MISSING}")

SYNTHETIC_ID = "synthetic10k"
SYNTHETIC_COUNT = 10_000
# A search whose chief wrote where its workers ran (workers.json): one lost.
CLUSTER_ID = "onray"
RAY_NODE = "7f3c9a0e51d2b8c4f6a1e9d0b3c7a5f2e8d4b6c0a9f1e3d5b7c2a4e6"
CLUSTER = {"engine": "ray", "address": "10.0.0.5:6379", "updated": 1767801342.7, "workers": [
    {"id": "worker0", "state": "running", "node": RAY_NODE, "host": "10.0.0.7", "pid": 48213,
     "gpus": ["0"], "resources": {"CPU": 4.0, "GPU": 1.0}, "trial": "12",
     "trials": ["03", "12"], "started": 1767800001.2, "error": None},
    {"id": "worker1", "state": "lost", "node": "c02e5b7d9f1a", "host": "10.0.0.8", "pid": 51877,
     "gpus": [], "resources": {"CPU": 4.0}, "trial": None, "trials": ["04"],
     "started": 1767800001.3, "error": "its process or node died"}]}
# Seconds to wait for what the page shows; a real search gets longer, and so does a
# conversion to ONNX (5 to 20 s on two cores).
WAIT = 20
SEARCH_WAIT = 240
EXPORT_WAIT = 120


@pytest.fixture(scope="module")
def synthetic_trials(tmp_path_factory):
    directory = tmp_path_factory.mktemp("dashboard")
    # Stored before the service (and its runner) starts.
    store = JobStore(str(directory / "data"))
    trials = add_synthetic_search(store, SYNTHETIC_ID, SYNTHETIC_COUNT)
    add_synthetic_search(store, CLUSTER_ID, 5, seed=1)
    project = Path(DataLayout(str(directory / "data")).search_dir(CLUSTER_ID))
    project.mkdir(parents=True, exist_ok=True)
    (project / WORKERS_FILE).write_text(json.dumps(CLUSTER))
    return directory, trials


@dataclass
class Service:
    """A running `evokt serve`, a JSON client of it (to check what the page shows
    against the API), and the folder that holds its logs."""

    client: Client
    directory: Path

    @property
    def base(self) -> str:
        return self.client.base

    @property
    def access_log(self) -> Path:
        return self.directory / "access.log"

    def serve_log(self) -> str:
        logs = sorted(self.directory.glob("serve-*.log"))
        return "".join(path.read_text(errors="replace") for path in logs)


@contextlib.contextmanager
def serving(directory: Path, *flags: str):
    """`evokt serve` on `directory`/data, with gunicorn's access log (every request
    line) in `directory`/access.log, through gunicorn's own `GUNICORN_CMD_ARGS`."""
    env = {"GUNICORN_CMD_ARGS": f"--access-logfile {directory / 'access.log'}"}
    with running_server(directory, "--workers", "1", "--threads", "8", *flags, env=env) as (
            client, _, _):
        yield Service(client, directory)


@pytest.fixture(scope="module")
def service(synthetic_trials):
    directory, _ = synthetic_trials
    with serving(directory) as running:
        yield running


@pytest.fixture(scope="module")
def client(service):
    return service.client


@pytest.fixture(autouse=True)
def no_console_errors(browser):
    """Fails a test whose pages logged an error: a script error, or anything the
    Content-Security-Policy refused. Refused tokens (401) are expected."""
    console_errors(browser)  # what earlier tests left
    yield
    assert console_errors(browser) == []


def wait_until(browser, condition, timeout: float = WAIT, message: str = ""):
    """Waits for `condition()`; elements the page redrew meanwhile are looked up again."""
    from selenium.common.exceptions import NoSuchElementException
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(
        browser, timeout, poll_frequency=0.1,
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    ).until(lambda _: condition(), message)


def find(browser, css: str):
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, css)


def find_all(browser, css: str):
    from selenium.webdriver.common.by import By

    return browser.find_elements(By.CSS_SELECTOR, css)


def texts(browser, css: str) -> list[str]:
    """The text of every element `css` matches, read at one moment (the page redraws
    live parts, so elements found one by one may be gone when read)."""
    return browser.execute_script(
        "return [...document.querySelectorAll(arguments[0])]"
        ".map((e) => (e.innerText ?? e.textContent).trim())", css)


def text(browser, css: str) -> str | None:
    found = texts(browser, css)
    return found[0] if found else None


def click(browser, css: str) -> None:
    """Clicks the element `css` matches, finding it again if the page redrew it."""
    wait_until(browser, lambda: find(browser, css).click() or True, message=f"cannot click {css}")


def visible_links(browser) -> list[str]:
    return [link.text for link in find_all(browser, "#nav a") if link.is_displayed()]


def heading(browser) -> str:
    return text(browser, "main h1") or ""


def open_signed_out(browser, base: str, fragment: str = "#/signin") -> None:
    """Loads the page in a tab that holds no token."""
    browser.get("about:blank")
    browser.get(base + "/#/signin")
    browser.execute_script("sessionStorage.clear()")
    browser.get("about:blank")
    browser.get(base + "/" + fragment)


def sign_in(browser, base: str) -> None:
    open_signed_out(browser, base, f"#token={TOKEN}")
    wait_until(browser, lambda: heading(browser) == "Searches", message="not signed in")


def go(browser, base: str, fragment: str) -> None:
    """Loads the page afresh at `fragment`, keeping the tab's sign-in."""
    browser.get("about:blank")
    browser.get(f"{base}/{fragment}")


def test_signing_in_with_the_form(service, browser):
    open_signed_out(browser, service.base)
    wait_until(browser, lambda: heading(browser) == "Sign in")
    assert visible_links(browser) == []
    token_input = find(browser, "input#token")
    assert token_input.get_attribute("type") == "password"
    assert find(browser, "label[for=token]").text == "API token"

    token_input.send_keys("not-the-token")
    find(browser, "form button[type=submit]").click()
    wait_until(browser, lambda: text(browser, "#sign-in-message [role=alert]"))
    assert text(browser, "#sign-in-message") == "The server refused this token."
    assert browser.execute_script("return sessionStorage.length") == 0

    token_input.clear()
    token_input.send_keys(TOKEN)
    token_input.submit()
    wait_until(browser, lambda: heading(browser) == "Searches")
    assert visible_links(browser) == ["Searches", "Compare", "Launch", "Models"]
    wait_until(browser, lambda: text(browser, f"tr[data-search={SYNTHETIC_ID}]"))
    row = text(browser, f"tr[data-search={SYNTHETIC_ID}]")
    assert "SUCCEEDED" in row and "10000/10000" in row and "genetic" in row
    assert browser.execute_script("return sessionStorage.getItem('evokt.token')") == TOKEN
    assert browser.execute_script("return localStorage.length") == 0
    assert TOKEN not in browser.current_url and TOKEN not in browser.page_source

    click(browser, "#sign-out")
    wait_until(browser, lambda: heading(browser) == "Sign in")
    assert browser.execute_script("return sessionStorage.length") == 0


def test_signing_in_by_the_address_fragment_takes_the_token_out_of_the_address(service, browser):
    open_signed_out(browser, service.base, "#token=wrong-token")
    wait_until(browser, lambda: heading(browser) == "Sign in")
    assert "wrong-token" not in browser.current_url
    assert "refused" in text(browser, "#sign-in-message")

    sign_in(browser, service.base)
    assert browser.current_url == service.base + "/#/searches"
    assert TOKEN not in browser.page_source

    # Pasted into a tab that already shows the dashboard, the link signs in too.
    browser.execute_script("sessionStorage.clear(); location.hash = '#/signin'")
    wait_until(browser, lambda: heading(browser) == "Sign in")
    browser.execute_script(f"location.hash = '#token={TOKEN}'")
    wait_until(browser, lambda: heading(browser) == "Searches")
    assert TOKEN not in browser.current_url


@pytest.fixture(scope="module")
def launched_search(service, browser, tmp_path_factory):
    """A search launched from the Launch page on an uploaded iris CSV, watched
    on its page until it ends. Returns its id, the states the page showed, and
    whether the page stayed the same document throughout."""
    csv_path = write_csv(tmp_path_factory.mktemp("upload") / "iris.csv",
                         ["sl", "sw", "pl", "pw", "species"], iris_rows())
    sign_in(browser, service.base)
    click(browser, "#nav a[href='#/launch']")
    wait_until(browser, lambda: heading(browser) == "Launch a search")

    find(browser, "#upload-file").send_keys(csv_path)
    find(browser, "#upload-target").send_keys("species")
    find(browser, "#upload-form button[type=submit]").click()
    notice = wait_until(browser, lambda: text(browser, "#upload-message .notice"))
    assert "Uploaded iris.csv" in notice and "150 rows, 4 features, classification" in notice

    from selenium.webdriver.support.ui import Select

    Select(find(browser, "#launch-hypermodel")).select_by_value("mlp")
    Select(find(browser, "#launch-oracle")).select_by_value("genetic")
    for field, value in (("#launch-max-trials", "2"), ("#launch-epochs", "1")):
        find(browser, field).clear()
        find(browser, field).send_keys(value)
    find(browser, "#launch-model-name").send_keys("iris-dash")
    find(browser, "#launch-seed").send_keys("3")
    find(browser, "#search-form button[type=submit]").click()
    wait_until(browser, lambda: "#/searches/" in browser.current_url)
    search_id = browser.current_url.rsplit("/", 1)[1]
    browser.execute_script("window.sameDocument = true")

    states = []

    def ended():
        badge = text(browser, "main h1 .badge")
        if badge and (not states or states[-1] != badge):
            states.append(badge)
        return states and states[-1] in ("SUCCEEDED", "FAILED", "CANCELLED")

    wait_until(browser, ended, timeout=SEARCH_WAIT, message="the search page never showed the end")
    same_document = browser.execute_script("return window.sameDocument === true")
    return search_id, states, same_document


def test_a_search_launched_from_the_page_is_followed_live_to_its_end(client, browser,
                                                                   launched_search):
    search_id, states, same_document = launched_search
    assert states[-1] == "SUCCEEDED", text(browser, ".summary")
    # It showed the search before its end, and followed it without a reload.
    assert states[0] in ("PENDING", "RUNNING") and same_document
    _, search, _ = client.request("GET", f"/v1/searches/{search_id}")
    assert (search["oracle"], search["hypermodel"], search["max_trials"], search["epochs"]) == (
        "genetic", "mlp", 2, 1)
    assert search["model_name"] == "iris-dash" and search["dataset"] != "iris"

    wait_until(browser, lambda: text(browser, "#trial-count") == "2 trials")
    rows = texts(browser, "table.trials tbody tr[data-trial]")
    assert len(rows) == 2 and all("COMPLETED" in row for row in rows)
    assert text(browser, "dd[data-field=model]") == "iris-dash version 1"
    _, trials, _ = client.request("GET", f"/v1/searches/{search_id}/trials")
    best = max(trials["trials"], key=lambda trial: trial["score"])
    assert text(browser, "dd[data-field=best-score]") == (
        f"{best['score']:.4g} (val_accuracy, higher is better; trial {best['trial_id']})")
    assert len(find_all(browser, ".panel-history svg path.dots")) == 1
    axes = texts(browser, ".panel-parallel .pc-axis .label")
    assert axes[0] == "num_layers" and axes[-1] == "score" and "units_0" in axes
    # Its learning curves: one per trial, the chosen one emphasised.
    curves = find(browser, ".panel-curves .curves-chart")
    assert curves.get_attribute("data-curves") == "2"
    assert [path.get_attribute("data-trial") for path in find_all(
        browser, ".panel-curves path.curve-chosen")] == [best["trial_id"]]

    second = trials["trials"][1]
    click(browser, f"table.trials tr[data-trial='{second['trial_id']}'] button")
    wait_until(browser, lambda: text(browser, "#details-title") == f"Trial {second['trial_id']}")
    assert browser.switch_to.active_element.get_attribute("id") == "details-title"
    shown = dict(zip(texts(browser, ".hp-table tbody th"), texts(browser, ".hp-table tbody td"),
                     strict=True))
    assert shown["num_layers"] == str(second["hyperparameters"]["num_layers"])
    for name, value in shown.items():
        assert (value == "inactive") == (name not in second["hyperparameters"])


def test_the_models_page_shows_the_model_and_predicts(service, client, browser, launched_search):
    # The worker's watcher loads the version as the server starts: LOADING until then.
    # A version not yet loaded whose file is whole also reads AVAILABLE, and turns
    # LOADING while it loads: a prediction, which loads it, comes first.
    assert client.request("POST", "/v1/models/iris-dash:predict",
                          {"instances": [iris_rows()[0][:4]]})[0] == 200
    wait_until(browser, lambda: client.request("GET", "/v1/models/iris-dash")[1][
        "model_version_status"][0]["state"] == "AVAILABLE")
    go(browser, service.base, "#/models")
    click(browser, "a[href='#/models/iris-dash']")
    wait_until(browser, lambda: heading(browser) == "iris-dash")
    about = text(browser, "section[aria-labelledby=about-title]")
    assert "Features\nsl, sw, pl, pw" in about and "version 1: AVAILABLE" in about
    labels = texts(browser, "ol.labels li")
    assert labels == ["setosa", "versicolor", "virginica"]

    rows = [row[:4] for row in iris_rows()[:3]]
    find(browser, "#predict-rows").send_keys("1, 2, 3")
    find(browser, "#predict-form button[type=submit]").click()
    wait_until(browser, lambda: text(browser, "#predict-answer [role=alert]"))
    assert text(browser, "#predict-answer") == "Row 1: expected 4 numbers, got 3."

    find(browser, "#predict-rows").clear()
    find(browser, "#predict-rows").send_keys("\n".join(", ".join(map(str, row)) for row in rows))
    find(browser, "#predict-form button[type=submit]").click()
    wait_until(browser, lambda: text(browser, "#predict-answer table"))
    _, answer, _ = client.request("POST", "/v1/models/iris-dash:predict", {"instances": rows})
    expected = [labels[max(range(3), key=probabilities.__getitem__)]
                for probabilities in answer["predictions"]]
    assert texts(browser, "#predict-answer td.predicted") == expected
    first_row = texts(browser, "#predict-answer tbody tr:first-child td.number")
    assert first_row == [f"{p:.3f}" for p in answer["predictions"][0]]


def test_a_version_downloads_in_an_export_format_and_a_refusal_shows_why(
        service, client, browser, tmp_path):
    name = "iris-export"
    app = make_app(str(service.directory / "data"))
    register_iris_model(app, name=name, version=1)
    register_iris_model(app, name=name, version=2)
    # Version 2's file is cut in half: its export is refused (503) before anything is built.
    damaged = Path(app.extensions["evokt.layout"].model_dir(name, 2)) / MODEL_FILE
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior",
                            {"behavior": "allow", "downloadPath": str(downloads)})
    try:
        sign_in(browser, service.base)
        go(browser, service.base, f"#/models/{name}")
        wait_until(browser, lambda: heading(browser) == name)
        first = "li[data-version='1'] .downloads"
        assert texts(browser, f"{first} button") == ["SavedModel (.tar.gz)", "ONNX", "LiteRT",
                                                     ".keras"]
        onnx_button = find(browser, f"{first} button[data-format=onnx]")
        assert onnx_button.get_attribute("aria-label") == "Download version 1 as ONNX"

        # The first ONNX download converts the model: the button waits and the page says so.
        onnx_button.click()
        assert text(browser, f"{first} [aria-live]") == "preparing ONNX…"
        assert not onnx_button.is_enabled()
        saved = downloads / f"{name}-1.onnx"
        # Chromium writes a .crdownload and renames it once the file is whole.
        wait_until(browser, saved.exists, timeout=EXPORT_WAIT, message="no ONNX file arrived")
        wait_until(browser, lambda: text(browser, f"{first} [aria-live]") == f"Saved {saved.name}.")
        assert onnx_button.is_enabled()
        import onnx

        onnx.checker.check_model(onnx.load(str(saved)))

        click(browser, f"{first} button[data-format=keras]")
        saved = downloads / f"{name}-1.keras"
        wait_until(browser, saved.exists, message="no .keras file arrived")
        assert zipfile.is_zipfile(saved) and "config.json" in zipfile.ZipFile(saved).namelist()
        model_file = Path(app.extensions["evokt.layout"].model_dir(name, 1)) / MODEL_FILE
        assert saved.read_bytes() == model_file.read_bytes()

        # A refusal shows beside the version's buttons, with the API's message.
        click(browser, "li[data-version='2'] .downloads button[data-format=keras]")
        refusal = wait_until(browser, lambda: text(browser, "li[data-version='2'] [role=alert]"))
        status, answer, _ = client.request(
            "GET", f"/v1/models/{name}/versions/2/export?format=keras")
        assert status == 503 and refusal == f".keras: {answer['error']}"
        assert "damaged" in refusal
        assert find(browser, "li[data-version='2'] button[data-format=keras]").is_enabled()
        assert sorted(path.name for path in downloads.iterdir()) == [f"{name}-1.keras",
                                                                    f"{name}-1.onnx"]
        # The refused request is the only error the page logged.
        assert console_errors(browser, expected=(401, 503)) == []
    finally:
        browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "default"})


def test_comparing_two_searches_chosen_in_the_list(service, browser, launched_search):
    search_id, _, _ = launched_search
    go(browser, service.base, "#/searches")
    compare_button = "main .toolbar button"
    wait_until(browser, lambda: find_all(browser, f"tr[data-search='{search_id}']"))
    assert not find(browser, compare_button).is_enabled()
    for chosen in (SYNTHETIC_ID, search_id):
        click(browser, f"tr[data-search='{chosen}'] input[type=checkbox]")
    click(browser, compare_button)
    wait_until(browser, lambda: heading(browser) == "Compare searches")
    assert browser.current_url.endswith(f"#/compare/{SYNTHETIC_ID},{search_id}")
    wait_until(browser, lambda: len(texts(browser, ".legend li")) == 2)
    legend = texts(browser, ".legend li")
    assert legend[0].startswith(f"iris-dash · genetic ({search_id[:8]}): best ")
    assert legend[1].startswith("synthetic-synthetic10k · genetic (syntheti): best 0.9")
    assert len(find_all(browser, "svg.chart path.series")) == 2

    # Unchecking one leaves too few to compare; the address keeps the choice.
    click(browser, f"#compare-{SYNTHETIC_ID}")
    wait_until(browser, lambda: text(browser, ".chart-holder") == "Choose two or more searches.")
    assert browser.current_url.endswith(f"#/compare/{search_id}")


def test_cancelling_a_search_from_the_list(service, client, browser):
    _, search, _ = client.request("POST", "/v1/searches", {
        "dataset": "digits", "max_trials": 50, "epochs": 20, "oracle": "random",
        "model_name": "to-cancel"})
    sign_in(browser, service.base)
    button = f"tr[data-search='{search['id']}'] button.danger"
    wait_until(browser, lambda: text(browser, button) == "Cancel")
    label = find(browser, button).get_attribute("aria-label")
    assert label == f"Cancel to-cancel ({search['id'][:8]})"
    click(browser, button)
    browser.switch_to.alert.accept()
    from selenium.webdriver.support.ui import Select

    Select(find(browser, "#state-filter")).select_by_value("CANCELLED")
    row = f"tr[data-search='{search['id']}']"
    wait_until(browser, lambda: "CANCELLED" in (text(browser, row) or ""), timeout=60)
    assert find_all(browser, f"{row} button[data-key='{search['id']}:cancel']") == []
    assert all("CANCELLED" in one for one in texts(browser, "tr[data-search]"))
    _, after, _ = client.request("GET", f"/v1/searches/{search['id']}")
    assert after["state"] == "CANCELLED"


def test_a_multi_objective_search_shows_its_front_and_publishes_a_trial(service, client, browser):
    _, search, _ = client.request("POST", "/v1/searches", {
        "dataset": "iris", "hypermodel": "mlp", "max_trials": 3, "epochs": 1, "seed": 5,
        "objective": ["val_accuracy", "params:min"], "model_name": "iris-front"})
    sign_in(browser, service.base)
    go(browser, service.base, f"#/searches/{search['id']}")
    wait_until(browser, lambda: text(browser, "main h1 .badge") == "SUCCEEDED",
               timeout=SEARCH_WAIT, message="the multi-objective search never ended")
    _, pareto, _ = client.request("GET", f"/v1/searches/{search['id']}/pareto")
    front = [trial["trial_id"] for trial in pareto["front"]]
    wait_until(browser, lambda: [row.get_attribute("data-trial") for row in
                                 find_all(browser, ".front-table tbody tr")] == front)
    assert text(browser, ".front-table caption") == (
        f"{len(front)} trials on the front, by val_accuracy")
    assert texts(browser, ".front-table thead th") == ["Trial", "val_accuracy", "params", "Publish"]
    first = pareto["front"][0]
    cells = texts(browser, f".front-table tr[data-trial='{first['trial_id']}'] td")
    assert float(cells[1]) == pytest.approx(first["metrics"]["params"], rel=1e-3)  # 4 digits
    # Every scored trial is a dot; the front is one line.
    assert len(find_all(browser, ".panel-pareto svg path.dots")) == 1
    assert len(find_all(browser, ".panel-pareto svg path.series")) == 1

    chosen = pareto["front"][-1]["trial_id"]  # the smallest model of the front
    click(browser, f".front-table tr[data-trial='{chosen}'] "
                   f"button[aria-label='Publish trial {chosen}']")
    notice = wait_until(browser, lambda: text(browser, ".panel-pareto .notice"))
    _, models, _ = client.request("GET", "/v1/models/iris-front")
    published = max(int(version["version"]) for version in models["model_version_status"])
    assert notice == f"Trial {chosen} is iris-front version {published}."
    _, metadata, _ = client.request(
        "GET", f"/v1/models/iris-front/versions/{published}/metadata")
    assert metadata["evokt"]["trial_id"] == chosen
    click(browser, ".panel-pareto .notice a")
    wait_until(browser, lambda: browser.current_url.endswith("#/models/iris-front"))


def test_a_single_objective_search_has_no_pareto_panel(service, browser, launched_search):
    sign_in(browser, service.base)
    go(browser, service.base, f"#/searches/{launched_search[0]}")
    wait_until(browser, lambda: find(browser, "main[data-rendered]"))
    assert not find(browser, ".panel-pareto").is_displayed()
    assert find(browser, ".panel-history").is_displayed()


def test_a_search_s_workers_panel_shows_where_each_ran_and_why_one_was_lost(service, browser):
    sign_in(browser, service.base)
    go(browser, service.base, f"#/searches/{CLUSTER_ID}")
    wait_until(browser, lambda: find(browser, ".panel-workers tbody tr"))
    assert find(browser, ".panel-workers").is_displayed()
    assert text(browser, ".workers-summary") == (
        "Ray cluster at 10.0.0.5:6379: 2 workers, 1 running, 1 lost")
    rows = [row.split("\t") for row in texts(browser, ".workers-table tbody tr")]
    assert [row[0] for row in rows] == ["worker0", "worker1"]
    running, lost = (find(browser, f".workers-table tr[data-worker={worker}]")
                     for worker in ("worker0", "worker1"))
    assert running.get_attribute("data-state") == "running"
    assert "7f3c9a0e" in running.text and "10.0.0.7" in running.text and "12" in running.text
    assert lost.get_attribute("data-state") == "lost"
    assert "its process or node died" in lost.text and "none" in lost.text
    # A search without workers has no such panel.
    go(browser, service.base, f"#/searches/{SYNTHETIC_ID}")
    wait_until(browser, lambda: find(browser, "main[data-rendered]"))
    assert not find(browser, ".panel-workers").is_displayed()


def test_ten_thousand_trials_render_virtualised_and_sort(service, browser, synthetic_trials):
    _, trials = synthetic_trials
    sign_in(browser, service.base)
    go(browser, service.base, f"#/searches/{SYNTHETIC_ID}")
    wait_until(browser, lambda: find(browser, "main").get_attribute("data-rendered") == "10000")
    assert text(browser, "#trial-count") == "10,000 trials"
    table = find(browser, "table.trials")
    assert table.get_attribute("aria-rowcount") == str(SYNTHETIC_COUNT + 1)
    dom_rows = find_all(browser, "table.trials tbody tr[data-trial]")
    assert 10 <= len(dom_rows) <= 60
    assert dom_rows[0].get_attribute("data-trial") == trials[0]["trial_id"]

    # Inactive conditional hyperparameters have their own mark under their axes.
    marks = find_all(browser, ".panel-parallel .pc-inactive-mark")
    assert len(marks) == 5  # units_1, activation_1, units_2, activation_2, and "no score"

    # Sorted from the keyboard: Enter on the column's button, which keeps the focus.
    from selenium.webdriver.common.keys import Keys

    find(browser, "table.trials th.col-score button").send_keys(Keys.ENTER)
    sorted_by = "table.trials th.col-score[aria-sort=descending]"
    wait_until(browser, lambda: find_all(browser, sorted_by))
    assert browser.switch_to.active_element.get_attribute("data-column") == "score"
    best = max(trials, key=lambda trial: -1 if trial["score"] is None else trial["score"])
    first = find_all(browser, "table.trials tbody tr[data-trial]")[0]
    assert first.get_attribute("data-trial") == best["trial_id"]
    assert first.get_attribute("aria-rowindex") == "2"

    # Scrolled to the end, the last rows are drawn and the DOM stays small.
    browser.execute_script("const box = document.querySelector('.table-scroll');"
                           "box.scrollTop = box.scrollHeight")
    last_row = f"table.trials tr[aria-rowindex='{SYNTHETIC_COUNT + 1}']"
    wait_until(browser, lambda: find_all(browser, last_row))
    assert len(find_all(browser, "table.trials tbody tr[data-trial]")) <= 60
    last_id = find(browser, last_row).get_attribute("data-trial")
    assert trials_by_id(trials)[last_id]["score"] is None  # trials without a score come last

    find(browser, "#trial-filter").send_keys("num_layers=1 score>0.95")
    expected = sum(1 for trial in trials if trial["hyperparameters"]["num_layers"] == 1
                   and trial["score"] is not None and trial["score"] > 0.95)
    shown = f"Showing {expected:,} of 10,000 trials"
    wait_until(browser, lambda: text(browser, "#trial-count") == shown)


def trials_by_id(trials):
    return {trial["trial_id"]: trial for trial in trials}


def test_the_search_page_fits_a_phone(service, browser):
    sign_in(browser, service.base)
    browser.set_window_size(*PHONE)
    try:
        go(browser, service.base, f"#/searches/{SYNTHETIC_ID}")
        wait_until(browser, lambda: find(browser, "main").get_attribute("data-rendered") == "10000")
        # Nothing is wider than the screen: the wide table and plot scroll inside their boxes.
        page_width = browser.execute_script("return document.documentElement.scrollWidth")
        assert page_width <= PHONE[0]
        assert find(browser, "#trial-filter").is_displayed()
    finally:
        browser.set_window_size(1366, 900)


def test_public_predict_opens_the_models_page_without_a_token(service, browser, tmp_path_factory):
    directory = tmp_path_factory.mktemp("public")
    register_iris_model(make_app(str(directory / "data")), name="open-iris")
    with serving(directory, "--public-predict") as public:
        open_signed_out(browser, public.base)
        wait_until(browser, lambda: heading(browser) == "Sign in")
        assert visible_links(browser) == ["Models"]
        click(browser, "main a[href='#/models']")
        click(browser, "a[href='#/models/open-iris']")
        wait_until(browser, lambda: heading(browser) == "open-iris")
        find(browser, "#predict-rows").send_keys("5.1, 3.5, 1.4, 0.2\n6.3 3.3 6.0 2.5")
        find(browser, "#predict-form button[type=submit]").click()
        wait_until(browser, lambda: text(browser, "#predict-answer table"))
        assert len(find_all(browser, "#predict-answer td.predicted")) == 2
        assert browser.execute_script("return sessionStorage.length") == 0
        # The exports are the weights: without the token, no download is offered.
        assert find_all(browser, ".downloads") == []

        # Everything else still needs the token.
        browser.execute_script("location.hash = '#/searches'")
        wait_until(browser, lambda: heading(browser) == "Sign in")
        assert "Sign in with the API token" in text(browser, "#sign-in-message")


def test_the_token_is_in_no_address_and_no_log(service, browser):
    sign_in(browser, service.base)
    go(browser, service.base, f"#/searches/{SYNTHETIC_ID}")
    wait_until(browser, lambda: find(browser, "main").get_attribute("data-rendered") == "10000")
    access = service.access_log.read_text()
    serve = service.serve_log()
    # The log records the page's requests, the API calls and the stream, without the token.
    for request_line in ('"GET / HTTP', '"GET /dashboard/app.js',
                         f'"GET /v1/searches/{SYNTHETIC_ID}/trials',
                         f'"GET /v1/searches/{SYNTHETIC_ID}/events'):
        assert request_line in access
    assert TOKEN not in access and TOKEN not in serve
    assert "token=" not in access
