// Unit tests of what the Workers panel (search_workers.js) says of a search's
// workers. Run by `node --test tests/js/*.test.mjs` (no browser, no npm).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  clusterSummary, gpuText, placedAt, shortNode,
} from "../../service/dashboard/static/search_workers.js";

// Node reads the time zone again when TZ changes: the clock times below are UTC's.
process.env.TZ = "UTC";

const RAY_NODE = "7f3c9a0e51d2b8c4f6a1e9d0b3c7a5f2e8d4b6c0a9f1e3d5b7c2a4e6";

describe("clusterSummary", () => {
  test("names the Ray cluster and counts the workers in each state, running first", () => {
    const workers = [{ state: "lost" }, { state: "running" }, { state: "idle" }, { state: "running" }];
    assert.equal(clusterSummary({ engine: "ray", address: "ray://10.0.0.5:10001", workers }),
      "Ray cluster at ray://10.0.0.5:10001: 4 workers, 2 running, 1 idle, 1 lost");
  });

  test("says local processes, and one worker", () => {
    assert.equal(clusterSummary({ engine: "local", address: null, workers: [{ state: "starting" }] }),
      "Local processes: 1 worker, 1 starting");
    assert.equal(clusterSummary({ engine: "ray", address: null, workers: [] }), "Ray cluster: 0 workers");
  });
});

describe("shortNode", () => {
  test("cuts a Ray node's hex id to 8 characters and keeps a host name whole", () => {
    assert.equal(shortNode(RAY_NODE), "7f3c9a0e");
    assert.equal(shortNode("ip-10-0-0-7.ec2.internal"), "ip-10-0-0-7.ec2.internal");
    assert.equal(shortNode("deadbeef"), "deadbeef");
  });

  test("is a dash before the worker is placed", () => {
    assert.equal(shortNode(null), "—");
  });
});

describe("gpuText", () => {
  test("lists the GPUs a worker sees, or none", () => {
    assert.equal(gpuText(["0"]), "0");
    assert.equal(gpuText(["2", "3"]), "2, 3");
    assert.equal(gpuText([]), "none");
  });
});

describe("placedAt", () => {
  const now = Date.UTC(2026, 0, 7, 15, 0, 0) / 1000;

  test("is the clock time on the same day", () => {
    assert.equal(placedAt(Date.UTC(2026, 0, 7, 14, 3, 7) / 1000, now), "14:03:07");
    assert.equal(placedAt(Date.UTC(2026, 0, 7, 0, 0, 0.5) / 1000, now), "00:00:00");
  });

  test("adds the date before that day", () => {
    assert.equal(placedAt(Date.UTC(2026, 0, 6, 23, 59, 59) / 1000, now), "2026-01-06 23:59");
    assert.equal(placedAt(Date.UTC(2025, 11, 31, 9, 5) / 1000, now), "2025-12-31 09:05");
  });
});
