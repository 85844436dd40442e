// Unit tests of the model page's downloads: the file name read from
// `Content-Disposition`, api.js's download (its request and its errors, against a
// stand-in fetch) and the labels and status of the buttons. Run by
// `node --test tests/js/*.test.mjs` (no browser, no npm).

import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";

import { ApiError, attachmentName, download } from "../../service/dashboard/static/api.js";
import { exportFormats, preparingText } from "../../service/dashboard/static/models.js";

/** An OpenAPI document with the export's `format` choices as the service describes them. */
function documentWith(choices) {
  return { paths: { "/v1/models/{name}/versions/{version}/export": { get: { parameters: [
    { name: "name", in: "path", required: true, schema: { type: "string" } },
    { name: "format", in: "query", required: true, schema: { enum: choices } },
  ] } } } };
}

describe("attachmentName", () => {
  test("reads a plain file name, quoted or not", () => {
    assert.equal(attachmentName("attachment; filename=iris-1.onnx"), "iris-1.onnx");
    assert.equal(attachmentName('attachment; filename="iris-1-saved_model.tar.gz"'),
      "iris-1-saved_model.tar.gz");
    assert.equal(attachmentName('attachment;filename="a \\"quoted\\" name.keras"'),
      'a "quoted" name.keras');
    assert.equal(attachmentName('attachment; filename="semi;colon.tflite"; size=3'),
      "semi;colon.tflite");
  });

  test("prefers the UTF-8 name of filename*, as Flask sends for names not in ASCII", () => {
    assert.equal(attachmentName("attachment; filename=model-1.onnx; filename*=UTF-8''mod%C3%A8le-1.onnx"),
      "modèle-1.onnx");
    // A broken encoding falls back to the plain name.
    assert.equal(attachmentName("attachment; filename=plain.onnx; filename*=UTF-8''%E0%A4%A"), "plain.onnx");
  });

  test("is null without a name", () => {
    assert.equal(attachmentName(null), null);
    assert.equal(attachmentName(""), null);
    assert.equal(attachmentName("attachment"), null);
    assert.equal(attachmentName("attachment; filename="), null);
  });
});

describe("download", () => {
  const realFetch = globalThis.fetch;
  let requests;

  /** Answers every fetch with `response`, recording the requests. */
  function answerWith(response) {
    globalThis.fetch = async (path, init) => {
      requests.push({ path, init });
      return response;
    };
  }

  beforeEach(() => {
    requests = [];
    const stored = new Map([["evokt.token", "secret-token"]]);
    globalThis.sessionStorage = {
      getItem: (key) => stored.get(key) ?? null,
      setItem: (key, value) => stored.set(key, value),
      removeItem: (key) => stored.delete(key),
    };
  });

  afterEach(() => {
    globalThis.fetch = realFetch;
    delete globalThis.sessionStorage;
  });

  test("sends the token as a header only and returns the file and its name", async () => {
    const bytes = new Uint8Array([0x50, 0x4b, 3, 4]);
    answerWith(new Response(bytes, {
      status: 200,
      headers: { "Content-Type": "application/zip", "Content-Disposition": "attachment; filename=iris-1.keras" },
    }));
    const path = "/v1/models/iris/versions/1/export?format=keras";
    const { blob, filename } = await download(path);
    assert.equal(filename, "iris-1.keras");
    assert.deepEqual(new Uint8Array(await blob.arrayBuffer()), bytes);
    assert.equal(requests.length, 1);
    assert.equal(requests[0].path, path);
    assert.equal(requests[0].init.headers.Authorization, "Bearer secret-token");
    assert.ok(!requests[0].path.includes("secret-token"));
  });

  test("gives no name when the server sends none", async () => {
    answerWith(new Response("data", { status: 200 }));
    assert.equal((await download("/file")).filename, null);
  });

  test("throws the API's error message with its status", async () => {
    answerWith(new Response(JSON.stringify({ error: "cannot convert to onnx: Erfinv" }), {
      status: 422, headers: { "Content-Type": "application/json" },
    }));
    await assert.rejects(download("/v1/models/odd/versions/1/export?format=onnx"), (error) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.status, 422);
      assert.equal(error.message, "cannot convert to onnx: Erfinv");
      return true;
    });
  });

  test("keeps the status line when the error is not JSON", async () => {
    answerWith(new Response("<html>bad gateway</html>", { status: 502, statusText: "Bad Gateway" }));
    await assert.rejects(download("/file"), { status: 502, message: "502 Bad Gateway" });
  });
});

describe("the download buttons", () => {
  test("offer every format the API documents, by the names people know", () => {
    assert.deepEqual(exportFormats(documentWith(["saved_model", "onnx", "litert", "keras"])), [
      ["saved_model", "SavedModel (.tar.gz)"], ["onnx", "ONNX"], ["litert", "LiteRT"], ["keras", ".keras"],
    ]);
  });

  test("show a format they have no label for by its name, and none without the route", () => {
    assert.deepEqual(exportFormats(documentWith(["onnx", "tfjs"])), [["onnx", "ONNX"], ["tfjs", "tfjs"]]);
    assert.deepEqual(exportFormats({ paths: {} }), []);
  });

  test("say what is being prepared", () => {
    assert.equal(preparingText([]), "");
    assert.equal(preparingText(["ONNX"]), "preparing ONNX…");
    assert.equal(preparingText(["ONNX", "LiteRT"]), "preparing ONNX, LiteRT…");
  });
});
