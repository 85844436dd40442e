// Unit tests of the pure parts of the dashboard's charts.js: widths, extents,
// scales, ticks and the axes of parallel coordinates. Run by
// `node --test tests/js/*.test.mjs` (no browser, no npm).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  chartWidth, describeAxes, extent, logTicks, niceTicks, padded, scale,
} from "../../service/dashboard/static/charts.js";

/** Asserts that two numbers agree to nine decimals. */
function near(actual, expected) {
  assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} is not ${expected}`);
}

describe("chartWidth", () => {
  test("is the holder's whole width, at least 280 pixels", () => {
    assert.equal(chartWidth({ clientWidth: 1000.7 }), 1000);
    assert.equal(chartWidth({ clientWidth: 100 }), 280);
  });

  test("is 640 pixels for a holder not laid out yet", () => {
    assert.equal(chartWidth({ clientWidth: 0 }), 640);
  });
});

describe("extent", () => {
  test("is the smallest and the largest value", () => {
    assert.deepEqual(extent([3, -1, 2]), [-1, 3]);
    assert.deepEqual(extent([]), [Infinity, -Infinity]);
  });
});

describe("niceTicks", () => {
  test("steps by 1, 2 or 5 times a power of ten", () => {
    assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(niceTicks(0, 100, 4), [0, 50, 100]);
    assert.deepEqual(niceTicks(-3, 3, 5), [-2, 0, 2]);
  });

  test("starts at the first round number in the span", () => {
    assert.deepEqual(niceTicks(0.13, 0.87, 5), [0.2, 0.4, 0.6, 0.8]);
  });

  test("is the one value of an empty span", () => {
    assert.deepEqual(niceTicks(5, 5), [5]);
  });
});

describe("logTicks", () => {
  test("adds 2 and 5 times each power within two decades", () => {
    assert.deepEqual(logTicks(1, 100), [1, 2, 5, 10, 20, 50, 100]);
    assert.deepEqual(logTicks(0.01, 0.5), [0.01, 0.02, 0.05, 0.1, 0.2, 0.5]);
  });

  test("keeps to the powers of ten over more decades", () => {
    assert.deepEqual(logTicks(1, 1e4), [1, 10, 100, 1000, 10000]);
  });

  test("falls back to the ends when no tick lies between", () => {
    assert.deepEqual(logTicks(3, 4), [3, 4]);
  });
});

describe("scale", () => {
  test("maps linearly, pixels running either way", () => {
    const x = scale(0, 10, 0, 100);
    assert.equal(x(5), 50);
    assert.equal(x(10), 100);
    const y = scale(0, 10, 200, 0);
    assert.equal(y(0), 200);
    assert.equal(y(10), 0);
    assert.equal(y(2.5), 150);
  });

  test("maps by the logarithm on a log axis", () => {
    const x = scale(1, 100, 0, 100, true);
    near(x(10), 50);
    near(x(100), 100);
  });

  test("centres a single value", () => {
    assert.equal(scale(5, 5, 0, 100)(5), 50);
    assert.equal(scale(10, 10, 0, 100, true)(10), 50);
  });

  test("gives round ticks, or powers of ten on a log axis", () => {
    assert.deepEqual(scale(0, 1, 0, 100).ticks(5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(scale(1, 1e4, 0, 100, true).ticks(5), [1, 10, 100, 1000, 10000]);
  });
});

describe("padded", () => {
  test("widens by 3 % of the span on each side", () => {
    const [low, high] = padded(0, 10, false);
    near(low, -0.3);
    near(high, 10.3);
  });

  test("widens by the same factor on each side of a log axis", () => {
    const [low, high] = padded(1, 100, true);
    const factor = 100 ** 0.03;
    near(low, 1 / factor);
    near(high, 100 * factor);
  });
});

describe("describeAxes", () => {
  const trials = [
    { trial_id: "1", score: 0.9, hyperparameters: { units: 32, activation: "relu", lr: 1e-3, batch_norm: true } },
    { trial_id: "2", score: null, hyperparameters: { units: 64, activation: "tanh", lr: 0.1, dropout: 0.5, batch_norm: false } },
    { trial_id: "3", score: 0.8, hyperparameters: { units: 32, activation: "relu", lr: 1e-4, batch_norm: true } },
  ];
  const axes = describeAxes(["units", "activation", "lr", "dropout", "batch_norm"], trials);
  const axis = (name) => axes.find((one) => one.name === name);

  test("gives one axis per name, in order, and the score's last", () => {
    assert.deepEqual(axes.map((one) => one.name), ["units", "activation", "lr", "dropout", "batch_norm", "score"]);
  });

  test("spans numbers, on a log axis when positive over two decades or more", () => {
    assert.deepEqual(axis("units"), { name: "units", kind: "number", values: [32, 64, 32], conditional: false });
    assert.equal(axis("lr").kind, "log");
    const spans = describeAxes(["wide", "narrow", "from_zero"], [
      { score: null, hyperparameters: { wide: 1, narrow: 1, from_zero: 0 } },
      { score: null, hyperparameters: { wide: 100, narrow: 99, from_zero: 1000 } },
    ]);
    assert.deepEqual(spans.map((one) => one.kind), ["log", "number", "number", "number"]);
  });

  test("lists the sorted categories of texts, of one number and of other values as the trials hold them", () => {
    assert.deepEqual(axis("activation"), { name: "activation", kind: "category", values: ["relu", "tanh"],
      conditional: false });
    assert.deepEqual(axis("batch_norm").values, [false, true]);
    assert.deepEqual(axis("dropout"), { name: "dropout", kind: "category", values: [0.5], conditional: true });
  });

  test("puts the scores on the last axis, conditional when some trial has none", () => {
    assert.deepEqual(axis("score"), { name: "score", kind: "number", values: [0.9, 0.8], conditional: true });
  });

  test("has a score axis at zero without trials", () => {
    assert.deepEqual(describeAxes([], []), [{ name: "score", kind: "number", values: [0], conditional: false }]);
  });
});
