// Unit tests of what the dashboard says when it deletes: sizes (dom.js's
// formatBytes and countOf) and the questions and notices of deleting.js. Run
// by `node --test tests/js/*.test.mjs` (no browser, no npm).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  datasetQuestion, freedNotice, modelQuestion, searchLabel, searchQuestion, versionQuestion,
} from "../../service/dashboard/static/deleting.js";
import { countOf, formatBytes } from "../../service/dashboard/static/dom.js";

describe("formatBytes", () => {
  test("counts bytes below one KiB", () => {
    assert.equal(formatBytes(0), "0 bytes");
    assert.equal(formatBytes(1), "1 byte");
    assert.equal(formatBytes(1023), "1,023 bytes");
  });

  test("uses units of 1,024 with three significant digits, whole from 100 on", () => {
    assert.equal(formatBytes(1024), "1 KiB");
    assert.equal(formatBytes(1536), "1.5 KiB");
    assert.equal(formatBytes(12.34 * 1024 ** 2), "12.3 MiB");
    assert.equal(formatBytes(512 * 1024 ** 2), "512 MiB");
    assert.equal(formatBytes(3 * 1024 ** 3), "3 GiB");
    assert.equal(formatBytes(2 * 1024 ** 5), "2,048 TiB");
  });

  test("moves to the next unit rather than showing 1024 of one", () => {
    assert.equal(formatBytes(1024 ** 2 - 1), "1 MiB");
    assert.equal(formatBytes(1023 * 1024), "1,023 KiB");
    assert.equal(formatBytes(1023.6 * 1024), "1 MiB");
  });

  test("is a dash without a size", () => {
    assert.equal(formatBytes(null), "—");
    assert.equal(formatBytes(undefined), "—");
  });
});

describe("countOf", () => {
  test("makes the noun plural but for one", () => {
    assert.equal(countOf(1, "trial"), "1 trial");
    assert.equal(countOf(0, "trial"), "0 trials");
    assert.equal(countOf(10000, "trial"), "10,000 trials");
  });
});

describe("the questions", () => {
  test("a search's names its trials and checkpoints, and keeps its models", () => {
    assert.equal(searchQuestion({ trials_done: 12, model_version: 3 }),
      "Delete its 12 trials and their checkpoints? The model versions it registered stay.");
    assert.equal(searchQuestion({ trials_done: 1, model_version: null }),
      "Delete its 1 trial and their checkpoints?");
    assert.equal(searchQuestion({ trials_done: 0, model_version: null }),
      "Delete its record (it has no trials)?");
  });

  test("a model's names its versions where they are known", () => {
    assert.equal(modelQuestion("iris", ["1", "2", "5"]), "Delete iris and all its 3 versions?");
    assert.equal(modelQuestion("iris", ["4"]), "Delete iris and its only version (4)?");
    assert.equal(modelQuestion("iris", null), "Delete iris and every version of it?");
  });

  test("a version's and an upload's name what they are", () => {
    assert.equal(versionQuestion("iris", 2), "Delete version 2 of iris and its files?");
    assert.equal(datasetQuestion({ format: "csv", rows: 1500 }),
      "Delete the uploaded csv data (1,500 rows)?");
  });
});

describe("freedNotice", () => {
  test("says what went and how much was freed", () => {
    assert.equal(freedNotice("search iris (ab12cd34)", { deleted: true, freed_bytes: 3565158 }),
      "Deleted search iris (ab12cd34); 3.4 MiB freed.");
    assert.equal(freedNotice("model iris", { deleted_versions: [1, 2], freed_bytes: 2048 }),
      "Deleted model iris (versions 1, 2); 2 KiB freed.");
    assert.equal(freedNotice("model iris", { deleted_versions: [3], freed_bytes: 0 }),
      "Deleted model iris (version 3); 0 bytes freed.");
  });
});

describe("searchLabel", () => {
  test("is the model's name and the short id", () => {
    assert.equal(searchLabel({ model_name: "iris-dash", id: "0123456789abcdef" }), "iris-dash (01234567)");
  });
});
