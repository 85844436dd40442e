// Unit tests of the dashboard's epochs.js: what the pages compute from the
// trials' metrics epoch by epoch. Run by `node --test tests/js/*.test.mjs`
// (no browser, no npm).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  applyEpoch, curveKind, curveMetrics, curvePoints, epochProgress, historyMetrics, learningCurves,
  statusText,
} from "../../service/dashboard/static/epochs.js";

/** A trial as `GET /v1/searches/{id}/trials?history=true` returns it. */
function trial(trialId, { status = "COMPLETED", history = {}, epochsDone, stoppedEpoch = null } = {}) {
  const length = Math.max(0, ...Object.values(history).map((values) => values.length));
  return {
    trial_id: trialId, status, history, epochs_done: epochsDone ?? length, stopped_epoch: stoppedEpoch,
  };
}

describe("statusText and epochProgress", () => {
  test("say where a stopped trial stopped, counting epochs from 1", () => {
    const stopped = trial("3", { status: "STOPPED", epochsDone: 3, stoppedEpoch: 2 });
    assert.equal(statusText(stopped, 20), "STOPPED at epoch 3 of 20");
    assert.equal(statusText(stopped, undefined), "STOPPED at epoch 3");
  });

  test("say how far a running trial is", () => {
    assert.equal(statusText(trial("4", { status: "RUNNING", epochsDone: 3 }), 20), "RUNNING, epoch 3/20");
    assert.equal(statusText({ trial_id: "5", status: "RUNNING" }, 20), "RUNNING, epoch 0/20");
    assert.equal(epochProgress(7, 50), "epoch 7/50");
  });

  test("leave other statuses as they are", () => {
    assert.equal(statusText(trial("1"), 20), "COMPLETED");
    assert.equal(statusText(trial("2", { status: "FAILED" }), 20), "FAILED");
  });
});

describe("curves", () => {
  const history = { val_accuracy: [0.5, null, 0.7], loss: [1, 0.8, 0.6], multi_objective: [1, 2, 3] };

  test("curvePoints counts epochs from 1 and leaves out the epochs without a value", () => {
    assert.deepEqual(curvePoints(trial("1", { history }), "val_accuracy"), [{ x: 1, y: 0.5 }, { x: 3, y: 0.7 }]);
    assert.deepEqual(curvePoints(trial("1", { history }), "params"), []);
    assert.deepEqual(curvePoints({ trial_id: "2" }, "loss"), []);
  });

  test("historyMetrics leaves out KerasTuner's sum of the objectives", () => {
    assert.deepEqual(historyMetrics(trial("1", { history })), ["val_accuracy", "loss"]);
  });

  test("curveMetrics puts the objective first, then every metric any trial recorded", () => {
    const trials = [trial("1", { history: { loss: [1] } }), trial("2", { history: { loss: [1], auc: [0.5] } })];
    assert.deepEqual(curveMetrics(trials, "val_accuracy"), ["val_accuracy", "loss", "auc"]);
    assert.deepEqual(curveMetrics(trials, null), ["loss", "auc"]);
  });

  test("curveKind: the chosen trial, then running, stopped, the others", () => {
    assert.equal(curveKind(trial("1"), "1"), "chosen");
    assert.equal(curveKind(trial("2", { status: "RUNNING" }), "1"), "running");
    assert.equal(curveKind(trial("3", { status: "STOPPED" }), "1"), "stopped");
    assert.equal(curveKind(trial("4", { status: "FAILED" }), "1"), "done");
  });

  test("learningCurves gives a curve to each trial with the metric, stopped ones with their epoch", () => {
    const trials = [
      trial("1", { history: { val_accuracy: [0.5, 0.6] } }),
      trial("2", { status: "STOPPED", history: { val_accuracy: [0.2, 0.1] }, stoppedEpoch: 1 }),
      trial("3", { status: "FAILED" }),
      trial("4", { status: "RUNNING", history: { val_accuracy: [0.4] } }),
    ];
    const curves = learningCurves(trials, "val_accuracy", "1");
    assert.deepEqual(curves.map((curve) => [curve.id, curve.kind, curve.epochsDone, curve.stoppedEpoch]),
      [["1", "chosen", 2, null], ["2", "stopped", 2, 1], ["4", "running", 1, null]]);
  });
});

describe("applyEpoch", () => {
  test("adds the epoch's metrics to the trial's history and counts it", () => {
    const running = trial("4", { status: "RUNNING", history: { loss: [1, 0.9] } });
    const trials = [trial("1"), running];
    const changed = applyEpoch(trials, { trial_id: "4", epoch: 2, metrics: { loss: 0.8, val_loss: 1.1 }, status: "RUNNING" });
    assert.equal(changed, running);
    assert.deepEqual(running.history, { loss: [1, 0.9, 0.8], val_loss: [null, null, 1.1] });
    assert.equal(running.epochs_done, 3);
    assert.equal(running.status, "RUNNING");
  });

  test("marks a trial stopped at the epoch that stopped it", () => {
    const running = trial("4", { status: "RUNNING", history: { loss: [1] } });
    applyEpoch([running], { trial_id: "4", epoch: 1, metrics: { loss: 0.95 }, status: "STOPPED" });
    assert.equal(running.status, "STOPPED");
    assert.equal(running.stopped_epoch, 1);
    assert.equal(statusText(running, 20), "STOPPED at epoch 2 of 20");
  });

  test("starts the history anew when an epoch comes again (the trial is trained again)", () => {
    const running = trial("4", { status: "RUNNING", history: { loss: [1, 0.9, 0.8] } });
    applyEpoch([running], { trial_id: "4", epoch: 0, metrics: { loss: 1.2 }, status: "RUNNING" });
    assert.deepEqual(running.history, { loss: [1.2] });
    assert.equal(running.epochs_done, 1);
  });

  test("fills the epochs before a promoted trial's first with nothing", () => {
    const promoted = { trial_id: "9", status: "RUNNING", hyperparameters: {} };
    applyEpoch([promoted], { trial_id: "9", epoch: 3, metrics: { loss: 0.5 }, status: "RUNNING" });
    assert.deepEqual(promoted.history, { loss: [null, null, null, 0.5] });
    assert.equal(promoted.epochs_done, 4);
  });

  test("leaves an ended trial's status, and answers null for a trial it does not know", () => {
    const ended = trial("1", { history: { loss: [1] } });
    applyEpoch([ended], { trial_id: "1", epoch: 1, metrics: { loss: 0.5 }, status: "RUNNING" });
    assert.equal(ended.status, "COMPLETED");
    assert.equal(applyEpoch([ended], { trial_id: "7", epoch: 0, metrics: {}, status: "RUNNING" }), null);
  });
});
