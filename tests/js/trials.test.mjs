// Unit tests of the dashboard's trials.js: what the pages compute from a
// search's trials. Run by `node --test tests/js/*.test.mjs` (no browser, no npm).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  better, comparator, endOrder, hyperparameterNames, paretoPoints, parseFilter, scoreBuckets,
  scoreHistory, scoreRank, visibleTrials, whichIsBetter,
} from "../../service/dashboard/static/trials.js";

/** A trial as the API returns it. */
function trial(trialId, { score = null, ended = null, status = "COMPLETED", hyperparameters = {}, metrics } = {}) {
  return { trial_id: trialId, score, ended, status, hyperparameters, metrics };
}

const ids = (trials) => trials.map((one) => one.trial_id);

describe("endOrder", () => {
  test("sorts by end time, unended trials last, ties by the id's number", () => {
    const trials = [
      trial("10", { ended: 5 }), trial("3"), trial("2", { ended: 5 }), trial("7", { ended: 1 }), trial("1"),
    ];
    assert.deepEqual(ids(endOrder(trials)), ["7", "2", "10", "1", "3"]);
  });

  test("leaves its argument as it was", () => {
    const trials = [trial("2", { ended: 2 }), trial("1", { ended: 1 })];
    endOrder(trials);
    assert.deepEqual(ids(trials), ["2", "1"]);
  });

  test("puts ids that are not numbers after numbered ones, alphabetically", () => {
    assert.deepEqual(ids(endOrder([trial("b"), trial("a"), trial("9")])), ["9", "a", "b"]);
  });
});

describe("better and whichIsBetter", () => {
  test("follow the objective's direction", () => {
    assert.equal(better(0.1, 0.2, "min"), true);
    assert.equal(better(0.1, 0.2, "max"), false);
    assert.equal(better(0.2, 0.2, "max"), false);
    assert.equal(whichIsBetter("min"), "lower is better");
    assert.equal(whichIsBetter("max"), "higher is better");
  });
});

describe("scoreRank", () => {
  const trials = [trial("1", { score: 0.5 }), trial("2", { score: 0.9 }), trial("3"), trial("4", { score: 0.9 })];

  test("counts the better scores, equal scores sharing a rank", () => {
    assert.equal(scoreRank(trials, 0.9, "max"), 1);
    assert.equal(scoreRank(trials, 0.5, "max"), 3);
    assert.equal(scoreRank(trials, 0.5, "min"), 1);
    assert.equal(scoreRank(trials, 0.9, "min"), 2);
  });

  test("has no rank for no score, and ignores trials without one", () => {
    assert.equal(scoreRank(trials, null, "max"), null);
    assert.equal(scoreRank(trials, 0, "min"), 1);
  });
});

describe("scoreHistory", () => {
  const trials = [
    trial("4", { score: 0.6, ended: 4 }), trial("1", { score: 0.5, ended: 1 }),
    trial("2", { ended: 2 }), trial("3", { score: 0.7, ended: 3 }),
  ];

  test("places each scored trial by its end order, skipping unscored ones", () => {
    assert.deepEqual(scoreHistory(trials, "max").dots,
      [{ x: 1, y: 0.5, id: "1" }, { x: 3, y: 0.7, id: "3" }, { x: 4, y: 0.6, id: "4" }]);
  });

  test("steps the best score in the search's direction up to the last dot", () => {
    assert.deepEqual(scoreHistory(trials, "max").best, [{ x: 1, y: 0.5 }, { x: 3, y: 0.7 }, { x: 4, y: 0.7 }]);
    assert.deepEqual(scoreHistory(trials, "min").best, [{ x: 1, y: 0.5 }, { x: 4, y: 0.5 }]);
  });

  test("is empty without scores", () => {
    assert.deepEqual(scoreHistory([trial("1", { ended: 1 })], "max"), { dots: [], best: [] });
  });
});

describe("hyperparameterNames", () => {
  test("puts a name first seen later right after the name before it", () => {
    const trials = [
      trial("1", { hyperparameters: { num_layers: 1, units_1: 32, activation_1: "relu", lr: 0.01 } }),
      trial("2", { hyperparameters: { num_layers: 2, units_1: 64, activation_1: "tanh", units_2: 8, lr: 0.1 } }),
    ];
    assert.deepEqual(hyperparameterNames(trials), ["num_layers", "units_1", "activation_1", "units_2", "lr"]);
  });

  test("puts a new first name at the start", () => {
    const trials = [trial("1", { hyperparameters: { b: 1 } }), trial("2", { hyperparameters: { a: 1, b: 2 } })];
    assert.deepEqual(hyperparameterNames(trials), ["a", "b"]);
  });
});

describe("scoreBuckets", () => {
  const trials = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((score) => trial(String(score), { score }));

  test("ranks into five buckets, 4 for the best", () => {
    const buckets = scoreBuckets(trials, "max");
    assert.deepEqual(ids(trials).map((id) => buckets.get(id)), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
  });

  test("turns over for a score to minimise, and leaves unscored trials out", () => {
    const buckets = scoreBuckets([...trials, trial("none")], "min");
    assert.equal(buckets.get("1"), 4);
    assert.equal(buckets.get("10"), 0);
    assert.equal(buckets.has("none"), false);
  });
});

describe("paretoPoints", () => {
  const trials = [
    trial("1", { metrics: { loss: 0.3, params: 1000 } }),
    trial("2", { metrics: { loss: 0.2, params: 5000 } }),
    trial("3", { metrics: { loss: 0.4 } }),
    trial("4", { metrics: { loss: Number.NaN, params: 10 } }),
    trial("5"),
  ];

  test("makes a dot of every trial with both metrics measured", () => {
    assert.deepEqual(paretoPoints(trials, [], { x: "params", y: "loss" }).dots,
      [{ x: 1000, y: 0.3, id: "1" }, { x: 5000, y: 0.2, id: "2" }]);
  });

  test("orders the front's points by x", () => {
    const front = [trials[1], trials[0]];
    assert.deepEqual(paretoPoints(trials, front, { x: "params", y: "loss" }).front,
      [{ x: 1000, y: 0.3 }, { x: 5000, y: 0.2 }]);
    assert.deepEqual(paretoPoints(trials, front, { x: "loss", y: "params" }).front,
      [{ x: 0.2, y: 5000 }, { x: 0.3, y: 1000 }]);
  });
});

describe("visibleTrials", () => {
  const trials = [
    trial("1", { score: 0.5 }), trial("2", { score: 0.9, status: "FAILED" }), trial("3"),
    trial("4", { score: 0.7 }), trial("5", { score: 0.6 }),
  ];
  const all = () => true;

  test("keeps the status chosen and what the filter passes, in order", () => {
    assert.deepEqual(ids(visibleTrials(trials, { status: "", filter: all, top: null }, "max")), ["1", "2", "3", "4", "5"]);
    assert.deepEqual(ids(visibleTrials(trials, { status: "COMPLETED", filter: all, top: null }, "max")),
      ["1", "3", "4", "5"]);
    assert.deepEqual(ids(visibleTrials(trials, { status: "", filter: (one) => one.trial_id > "3", top: null }, "max")),
      ["4", "5"]);
  });

  test("keeps only the best scored ones, best first, with top", () => {
    assert.deepEqual(ids(visibleTrials(trials, { status: "COMPLETED", filter: all, top: 2 }, "max")), ["4", "5"]);
    assert.deepEqual(ids(visibleTrials(trials, { status: "", filter: all, top: 3 }, "min")), ["1", "5", "4"]);
    assert.deepEqual(ids(visibleTrials(trials, { status: "", filter: all, top: 10 }, "max")), ["2", "4", "5", "1"]);
  });
});

describe("parseFilter", () => {
  const trials = [
    trial("1", { score: 0.95, hyperparameters: { num_layers: 1, activation: "relu" } }),
    trial("2", { score: 0.8, status: "FAILED", hyperparameters: { num_layers: 2, activation: "tanh", units_2: 8 } }),
    trial("3", { hyperparameters: { num_layers: 2, activation: "ReLU", units_2: 16 } }),
  ];
  const passing = (text) => ids(trials.filter(parseFilter(text)));

  test("passes every trial when empty", () => {
    assert.deepEqual(passing("   "), ["1", "2", "3"]);
  });

  test("matches a plain word in the id, status or values, in any case", () => {
    assert.deepEqual(passing("RELU"), ["1", "3"]);
    assert.deepEqual(passing("failed"), ["2"]);
    assert.deepEqual(passing("units_2=1"), []);
  });

  test("compares a hyperparameter or the score by name", () => {
    assert.deepEqual(passing("num_layers=2"), ["2", "3"]);
    assert.deepEqual(passing("activation=relu"), ["1", "3"]);
    assert.deepEqual(passing("units_2>10"), ["3"]);
    assert.deepEqual(passing("units_2<10"), ["2"]);
    assert.deepEqual(passing("score>0.9"), ["1"]);
    assert.deepEqual(passing("score<0.9"), ["2"]);
  });

  test("finds inactive hyperparameters, and compares numbers only", () => {
    assert.deepEqual(passing("units_2=inactive"), ["1"]);
    assert.deepEqual(passing("activation>a"), []);
  });

  test("needs every word to match", () => {
    assert.deepEqual(passing("num_layers=2 relu"), ["3"]);
    assert.deepEqual(passing("num_layers=2 score>0.5"), ["2"]);
  });
});

describe("comparator", () => {
  const trials = [
    trial("10", { score: 0.7, status: "COMPLETED", ended: 3, hyperparameters: { activation: "tanh", units: 64 } }),
    trial("2", { score: null, status: "FAILED", ended: 1, hyperparameters: { activation: "relu" } }),
    trial("1", { score: 0.9, status: "COMPLETED", ended: 2, hyperparameters: { activation: "relu", units: 8 } }),
  ];
  const sorted = (column, descending) => ids([...trials].sort(comparator(column, descending)));

  test("sorts ids by their number either way", () => {
    assert.deepEqual(sorted("trial", false), ["1", "2", "10"]);
    assert.deepEqual(sorted("trial", true), ["10", "2", "1"]);
  });

  test("puts missing scores and inactive values last in both directions", () => {
    assert.deepEqual(sorted("score", false), ["10", "1", "2"]);
    assert.deepEqual(sorted("score", true), ["1", "10", "2"]);
    assert.deepEqual(sorted("units", false), ["1", "10", "2"]);
    assert.deepEqual(sorted("units", true), ["10", "1", "2"]);
  });

  test("sorts texts alphabetically, ties by id", () => {
    assert.deepEqual(sorted("activation", false), ["1", "2", "10"]);
    assert.deepEqual(sorted("status", true), ["2", "1", "10"]);
    assert.deepEqual(sorted("ended", false), ["2", "1", "10"]);
  });
});
