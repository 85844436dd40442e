"""Deleting from the dashboard in a real browser: the real `evokt serve` on
127.0.0.1, driven through Debian's headless Chromium with Selenium.

Before the service starts, two finished synthetic searches (one with a 1 MiB
checkpoint) and two iris models go into its data directory. The tests delete a
search from the list and one from its page, a model version, a model, and an
uploaded dataset, each through the page's own confirmation (no browser dialog),
and check through the API that they are gone; a dataset that a search still
uses shows the API's 409 message where it was deleted.
"""

from __future__ import annotations

import os
import re

import pytest
from browser_helpers import add_synthetic_search
from browser_helpers import console_errors
from browser_helpers import missing_browser
from helpers import iris_rows
from helpers import write_csv
from service_helpers import make_app
from service_helpers import register_iris_model
from service_helpers import running_server
from test_dashboard_browser import click
from test_dashboard_browser import find
from test_dashboard_browser import find_all
from test_dashboard_browser import go
from test_dashboard_browser import heading
from test_dashboard_browser import sign_in
from test_dashboard_browser import text
from test_dashboard_browser import texts
from test_dashboard_browser import wait_until

from evokt.service.layout import DataLayout
from evokt.service.store import JobStore

BROWSER_MISSING = missing_browser()
pytestmark = pytest.mark.skipif(
    BROWSER_MISSING is not None, reason=f"no browser to test the dashboard in: {BROWSER_MISSING}")

LISTED_ID = "deletelisted"  # deleted from the searches list
PAGE_ID = "deletefrompage"  # deleted from its own page
TRIALS = 30
CHECKPOINT_BYTES = 1024 * 1024


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """`evokt serve` on a data directory that holds the synthetic searches and the models."""
    directory = tmp_path_factory.mktemp("dashboard-delete")
    data_dir = directory / "data"
    store = JobStore(str(data_dir))
    for search_id in (LISTED_ID, PAGE_ID):
        add_synthetic_search(store, search_id, TRIALS)
    checkpoint = os.path.join(DataLayout(str(data_dir)).search_dir(LISTED_ID), "trial_00")
    os.makedirs(checkpoint)
    with open(os.path.join(checkpoint, "checkpoint.weights.h5"), "wb") as file:
        file.write(b"\0" * CHECKPOINT_BYTES)
    app = make_app(str(data_dir))
    for version in (1, 2):
        register_iris_model(app, "iris-versions", version)
    register_iris_model(app, "iris-listed")
    with running_server(directory, "--workers", "1", "--threads", "8") as (client, _, _):
        yield client


@pytest.fixture(autouse=True)
def no_console_errors(browser):
    """Fails a test whose pages logged an error: a script error, or anything the
    Content-Security-Policy refused. Refused tokens (401, signing in) and the 409
    a test asks for are expected."""
    console_errors(browser)  # what earlier tests left
    yield
    assert console_errors(browser, expected=(401, 409)) == []


def no_dialog(browser) -> bool:
    """Whether the page has no window.confirm (or alert) open."""
    from selenium.common.exceptions import NoAlertPresentException

    try:
        browser.switch_to.alert  # noqa: B018 (raises when there is none)
    except NoAlertPresentException:
        return True
    return False


def test_deleting_a_finished_search_from_the_list_asks_first(service, browser):
    sign_in(browser, service.base)
    row = f"tr[data-search='{LISTED_ID}']"
    button = f"{row} button[data-key='{LISTED_ID}:delete']"
    wait_until(browser, lambda: text(browser, button) == "Delete")
    assert find(browser, button).get_attribute("aria-label") == (
        f"Delete search synthetic-{LISTED_ID} ({LISTED_ID[:8]})")

    # No first: nothing goes.
    click(browser, button)
    question = wait_until(browser, lambda: text(browser, f"{row} .confirm-question"))
    assert question == f"Delete its {TRIALS} trials and their checkpoints?"
    assert no_dialog(browser)
    no = f"{row} button[data-key='{LISTED_ID}:delete-no']"
    assert browser.switch_to.active_element.get_attribute("data-key") == f"{LISTED_ID}:delete-no"
    click(browser, no)
    wait_until(browser, lambda: find(browser, button).is_displayed())
    assert not find(browser, f"{row} .confirm-ask").is_displayed()
    assert service.request("GET", f"/v1/searches/{LISTED_ID}")[0] == 200

    click(browser, button)
    click(browser, f"{row} button[data-key='{LISTED_ID}:delete-yes']")
    notice = wait_until(browser, lambda: text(browser, "main .notice"))
    assert notice == f"Deleted search synthetic-{LISTED_ID} ({LISTED_ID[:8]}); 1 MiB freed."
    wait_until(browser, lambda: not find_all(browser, row))
    assert service.request("GET", f"/v1/searches/{LISTED_ID}")[0] == 404
    assert service.request("GET", f"/v1/searches/{LISTED_ID}/trials")[0] == 404
    wait_until(browser, lambda: text(browser, "#status") == notice)


def test_deleting_a_search_from_its_page(service, browser):
    sign_in(browser, service.base)
    go(browser, service.base, f"#/searches/{PAGE_ID}")
    wait_until(browser, lambda: find(browser, "main[data-rendered]"))
    click(browser, "main .page-head .confirm button.danger")
    assert text(browser, "main .page-head .confirm-question") == (
        f"Delete its {TRIALS} trials and their checkpoints?")
    click(browser, f"main .page-head button[aria-label='Yes, delete search synthetic-{PAGE_ID} "
                   f"({PAGE_ID[:8]})']")
    wait_until(browser,
               lambda: heading(browser) == f"Search synthetic-{PAGE_ID} ({PAGE_ID[:8]}) deleted")
    assert re.fullmatch(rf"Deleted search synthetic-{PAGE_ID} \({PAGE_ID[:8]}\); \d+ bytes freed\. "
                        r"Back to the searches\.", text(browser, "main .notice"))
    assert service.request("GET", f"/v1/searches/{PAGE_ID}")[0] == 404
    click(browser, "main .notice a")
    wait_until(browser, lambda: heading(browser) == "Searches")


def test_deleting_a_model_version_then_the_model(service, browser):
    sign_in(browser, service.base)
    go(browser, service.base, "#/models/iris-versions")
    wait_until(browser, lambda: heading(browser) == "iris-versions")
    version_one = "ul.versions li[data-version='1']"
    click(browser, f"{version_one} button[aria-label='Delete version 1 of iris-versions']")
    assert text(browser, f"{version_one} .confirm-question") == (
        "Delete version 1 of iris-versions and its files?")
    click(browser, f"{version_one} button[aria-label='Yes, delete version 1 of iris-versions']")
    wait_until(browser, lambda: texts(browser, "ul.versions li > span:first-child")
               == ["version 2: AVAILABLE"])
    assert re.fullmatch(r"Deleted version 1 of iris-versions; \d+(\.\d+)? KiB freed\.",
                        text(browser, "main .notice"))
    assert service.request("GET", "/v1/models/iris-versions/versions/1")[0] == 404
    assert service.request("GET", "/v1/models/iris-versions/versions/2")[0] == 200

    click(browser, "main .page-head button[aria-label='Delete model iris-versions']")
    assert text(browser, "main .page-head .confirm-question") == (
        "Delete iris-versions and its only version (2)?")
    click(browser, "main .page-head button[aria-label='Yes, delete model iris-versions']")
    wait_until(browser, lambda: heading(browser) == "Models")
    assert browser.current_url.endswith("#/models")
    assert re.fullmatch(r"Deleted model iris-versions \(version 2\); \d+(\.\d+)? KiB freed\.",
                        text(browser, "main .notice"))
    assert service.request("GET", "/v1/models/iris-versions")[0] == 404
    assert find_all(browser, "tr[data-model='iris-versions']") == []


def test_deleting_a_model_from_the_list(service, browser):
    sign_in(browser, service.base)
    go(browser, service.base, "#/models")
    row = "tr[data-model='iris-listed']"
    click(browser, f"{row} button[aria-label='Delete model iris-listed']")
    assert text(browser, f"{row} .confirm-question") == (
        "Delete iris-listed and every version of it?")
    click(browser, f"{row} button[aria-label='Yes, delete model iris-listed']")
    wait_until(browser, lambda: not find_all(browser, row))
    assert re.fullmatch(r"Deleted model iris-listed \(version 1\); \d+(\.\d+)? KiB freed\.",
                        text(browser, "main .notice"))
    assert service.request("GET", "/v1/models/iris-listed")[0] == 404


def test_a_dataset_a_search_uses_shows_the_409_and_goes_once_the_search_ended(
        service, browser, tmp_path):
    sign_in(browser, service.base)
    go(browser, service.base, "#/launch")
    wait_until(browser, lambda: heading(browser) == "Launch a search")
    # A bundled dataset has no delete.
    assert find(browser, "#launch-dataset").get_attribute("value") in ("digits", "iris", "wine")
    assert find_all(browser, "#dataset-tools button") == []

    csv_path = write_csv(tmp_path / "iris.csv", ["sl", "sw", "pl", "pw", "species"], iris_rows())
    find(browser, "#upload-file").send_keys(str(csv_path))
    find(browser, "#upload-target").send_keys("species")
    find(browser, "#upload-form button[type=submit]").click()
    wait_until(browser, lambda: text(browser, "#upload-message .notice"))
    dataset_id = find(browser, "#launch-dataset").get_attribute("value")
    label = f"uploaded dataset {dataset_id[:8]}"

    _, search, _ = service.request("POST", "/v1/searches", {
        "dataset": dataset_id, "max_trials": 50, "epochs": 50, "oracle": "random"})
    try:
        click(browser, f"#dataset-tools button[aria-label='Delete {label}']")
        assert text(browser, "#dataset-tools .confirm-question") == (
            "Delete the uploaded csv data (150 rows)?")
        click(browser, f"#dataset-tools button[aria-label='Yes, delete {label}']")
        error = wait_until(browser, lambda: text(browser, "#dataset-tools [role=alert]"))
        status, refused, _ = service.request("DELETE", f"/v1/datasets/{dataset_id}")
        assert status == 409 and error == refused["error"] and search["id"] in error
        # The button is back, to try again; the dataset is still there to choose.
        assert find(browser, f"#dataset-tools button[aria-label='Delete {label}']").is_displayed()
        assert find(browser, "#launch-dataset").get_attribute("value") == dataset_id
        # A search that has not ended has no delete in the list, only its cancel.
        go(browser, service.base, "#/searches")
        row = f"tr[data-search='{search['id']}']"
        wait_until(browser, lambda: texts(browser, f"{row} button") == ["Cancel"])
    finally:
        service.request("POST", f"/v1/searches/{search['id']}/cancel")
    service.wait_for(search["id"], {"CANCELLED"}, timeout=60)

    go(browser, service.base, "#/launch")
    wait_until(browser, lambda: heading(browser) == "Launch a search")
    from selenium.webdriver.support.ui import Select

    Select(find(browser, "#launch-dataset")).select_by_value(dataset_id)
    click(browser, f"#dataset-tools button[aria-label='Delete {label}']")
    click(browser, f"#dataset-tools button[aria-label='Yes, delete {label}']")
    notice = wait_until(browser, lambda: text(browser, "#dataset-tools .notice"))
    assert re.fullmatch(rf"Deleted {label}; \d+(\.\d+)? KiB freed\.", notice)
    assert dataset_id not in [option.get_attribute("value")
                              for option in find_all(browser, "#launch-dataset option")]
    assert service.request("GET", f"/v1/datasets/{dataset_id}")[0] == 404
