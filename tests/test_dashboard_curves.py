"""The learning curves in a real browser: the service's application on 127.0.0.1,
driven through Debian's headless Chromium with Selenium and chromedriver.

Two synthetic searches go into the job store: a finished one whose trials have
12 epochs each (some stopped early), and one still running, with trials that
are training. The application is served without a runner (werkzeug's threaded
server, in this process), so the running search stays as the test writes it:
the test records epochs in the store, as the search process would, and the
page follows them through its event stream.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest
from browser_helpers import add_synthetic_search
from browser_helpers import console_errors
from browser_helpers import missing_browser
from browser_helpers import synthetic_history
from service_helpers import make_app
from test_dashboard_browser import click
from test_dashboard_browser import find
from test_dashboard_browser import go
from test_dashboard_browser import sign_in
from test_dashboard_browser import text
from test_dashboard_browser import texts
from test_dashboard_browser import wait_until

from evokt.search.distributed import free_port
from evokt.service.store import RUNNING
from evokt.service.store import JobStore

BROWSER_MISSING = missing_browser()
pytestmark = pytest.mark.skipif(
    BROWSER_MISSING is not None, reason=f"no browser to test the dashboard in: {BROWSER_MISSING}")

FINISHED_ID = "curvesdone"
FINISHED_TRIALS = 40
FINISHED_EPOCHS = 12
LIVE_ID = "curveslive"
LIVE_EPOCHS = 20
# The live search's ended trials ("0" to "5") and the two it trains now, with their epochs done.
LIVE_ENDED = 6
TRAINING = {"6": 3, "7": 2}
METRICS = ["val_accuracy", "accuracy", "val_loss", "loss"]


class Served:
    """The application on a werkzeug server in a thread, its job store, and the
    synthetic searches' trials."""

    def __init__(self, data_dir: str, trials: list[dict], live_trials: list[dict]):
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not every request
        self.store = JobStore(data_dir)
        self.trials, self.live_trials = trials, live_trials
        self.server = make_server("127.0.0.1", free_port(), make_app(
            data_dir, EVENTS_POLL_SECONDS=0.1, EVENT_STREAM_SECONDS=60), threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def epoch(self, trial_id: str, epoch: int, status: str = "RUNNING") -> None:
        """Records an epoch of a trial of the live search, as its search process would."""
        # The same curve each time, one epoch longer: the trial's own generator.
        metrics = synthetic_history(0.9, epoch + 1, np.random.default_rng(int(trial_id)))[epoch]
        self.store.record_epoch(LIVE_ID, trial_id, {"num_layers": 2}, epoch, metrics, status)

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join()
        self.store.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    data_dir = str(tmp_path_factory.mktemp("dashboard-curves") / "data")
    store = JobStore(data_dir)
    trials = add_synthetic_search(store, FINISHED_ID, FINISHED_TRIALS, seed=2,
                                  epochs=FINISHED_EPOCHS)
    live_trials = add_synthetic_search(store, LIVE_ID, LIVE_ENDED, seed=3, epochs=LIVE_EPOCHS)
    store.set_state(LIVE_ID, RUNNING, finished=None)
    store.close()
    served = Served(data_dir, trials, live_trials)
    for trial_id, done in TRAINING.items():
        served.store.start_trial(LIVE_ID, trial_id, {"num_layers": 2})
        for epoch in range(done):
            served.epoch(trial_id, epoch)
    yield served
    served.close()


@pytest.fixture(autouse=True)
def no_console_errors(browser):
    """Fails a test whose pages logged an error or a refused policy violation."""
    console_errors(browser)
    yield
    assert console_errors(browser) == []


def chart(browser) -> dict:
    """What the learning-curves panel shows: its counts, the curves drawn in SVG,
    the running trials' labels, and whether its canvas has any paint on it."""
    return browser.execute_script("""
        const chart = document.querySelector('.panel-curves .curves-chart');
        if (!chart) return null;
        const canvas = chart.querySelector('canvas');
        const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i]) painted++;
        return {
            curves: Number(chart.dataset.curves), stopped: Number(chart.dataset.stopped),
            running: Number(chart.dataset.running), painted,
            chosen: [...chart.querySelectorAll('path.curve-chosen')].map((p) => p.dataset.trial),
            labels: [...chart.querySelectorAll('text.curve-label')].map((t) => t.textContent),
        };""")


def test_the_curves_show_every_trial_the_stopped_ones_and_the_chosen_one(service, browser):
    sign_in(browser, service.base)
    go(browser, service.base, f"#/searches/{FINISHED_ID}")
    wait_until(browser, lambda: chart(browser) is not None, message="no learning curves")
    shown = chart(browser)
    with_history = [trial for trial in service.trials if trial.get("history")]
    stopped = [trial for trial in with_history if trial["status"] == "STOPPED"]
    assert stopped, "the synthetic search has no stopped trial"
    best = service.store.search(FINISHED_ID)["best_trial"]
    assert shown["curves"] == len(with_history) and shown["stopped"] == len(stopped)
    assert shown["chosen"] == [best] and shown["running"] == 0 and shown["labels"] == []
    assert shown["painted"] > 1000
    assert text(browser, "#curves-metric") is not None
    assert [option for option in texts(browser, "#curves-metric option")] == METRICS

    # Another metric: the same curves, redrawn.
    browser.execute_script("""const select = document.getElementById('curves-metric');
        select.value = 'loss'; select.dispatchEvent(new Event('change'));""")
    wait_until(browser, lambda: "of loss" in (text(browser, ".panel-curves svg title") or ""))
    assert chart(browser)["curves"] == len(with_history)

    # A stopped trial says where it stopped, in the table and in its details.
    first = stopped[0]
    where = f"STOPPED at epoch {len(first['history'])} of {FINISHED_EPOCHS}"
    browser.execute_script("""const select = document.getElementById('trial-status');
        select.value = 'STOPPED'; select.dispatchEvent(new Event('change'));""")
    wait_until(browser, lambda: where in texts(browser, "table.trials tbody td"),
               message=f"no row says {where}")
    click(browser, f"table.trials tr[data-trial='{first['trial_id']}'] button")
    wait_until(browser, lambda: text(browser, "#details-title") == f"Trial {first['trial_id']}")
    facts = dict(zip(texts(browser, ".details dl dt"), texts(browser, ".details dl dd"),
                     strict=True))
    assert facts["Status"] == where
    assert facts["Epochs trained"] == f"{len(first['history'])} of {FINISHED_EPOCHS}"
    # Its curve of every metric, each point an epoch.
    assert texts(browser, ".details .metric-curve h4") == METRICS
    for metric in METRICS:
        path = find(browser, f".details .metric-curve[data-metric='{metric}'] path.series")
        assert path.get_attribute("d").count("L") == len(first["history"]) - 1
    # The trial picked is drawn on top in the panel too.
    assert browser.execute_script(
        "return document.querySelectorAll('.panel-curves path.curve-selected').length") == 1


def test_running_trials_show_their_epochs_and_follow_the_stream(service, browser):
    sign_in(browser, service.base)
    go(browser, service.base, f"#/searches/{LIVE_ID}")
    wait_until(browser, lambda: (chart(browser) or {}).get("running") == 2,
               message="the running trials are not highlighted")
    assert sorted(chart(browser)["labels"]) == ["6: epoch 3/20", "7: epoch 2/20"]
    wait_until(browser, lambda: f"RUNNING, epoch 3/{LIVE_EPOCHS}" in texts(
        browser, "table.trials tbody td"))

    # A new epoch of a running trial reaches the page through the stream.
    service.epoch("6", 3)
    wait_until(browser, lambda: "6: epoch 4/20" in chart(browser)["labels"], timeout=5,
               message="the new epoch did not arrive")

    # A trial stopped early: marked at once, and ended once its record arrives.
    service.epoch("7", 2, status="STOPPED")
    wait_until(browser, lambda: chart(browser)["labels"] == ["6: epoch 4/20"], timeout=5)
    assert chart(browser)["stopped"] == 1 + sum(
        trial["status"] == "STOPPED" for trial in service.live_trials)
    wait_until(browser, lambda: f"STOPPED at epoch 3 of {LIVE_EPOCHS}" in texts(
        browser, "table.trials tbody td"), timeout=5)

    # A trial the page has not seen yet: fetched with its first epoch.
    service.epoch("8", 0)
    wait_until(browser, lambda: "8: epoch 1/20" in chart(browser)["labels"], timeout=5,
               message="the new trial was not fetched")
