// The API client: the token, JSON requests, file downloads and the progress event stream.
//
// The token lives in sessionStorage (gone with the tab) and leaves the page
// only as an `Authorization: Bearer` header, never in an address.

const TOKEN_KEY = "evokt.token";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// Called when the server refuses the stored token (set by the app).
let onUnauthorized = () => {};
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

function headers(extra, withToken) {
  const all = { Accept: "application/json", ...extra };
  const current = withToken ?? token();
  if (current) all.Authorization = `Bearer ${current}`;
  return all;
}

async function failure(response) {
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && typeof body.error === "string") message = body.error;
  } catch {
    // Not JSON: keep the status line.
  }
  return new ApiError(response.status, message);
}

/**
 * Calls the API and returns its JSON answer.
 *
 * @param {string} path - The path, such as "/v1/searches".
 * @param {object} [options]
 * @param {string} [options.method] - GET unless given.
 * @param {object} [options.json] - A body to send as JSON.
 * @param {FormData} [options.form] - A multipart body (uploads).
 * @param {string} [options.withToken] - A token to try instead of the stored one.
 * @param {AbortSignal} [options.signal]
 * @throws {ApiError} With the API's `error` message.
 */
export async function api(path, { method = "GET", json, form, withToken, signal } = {}) {
  const init = { method, signal, cache: "no-store", headers: headers({}, withToken) };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  } else if (form !== undefined) {
    init.body = form;
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    const error = await failure(response);
    if (response.status === 401 && withToken === undefined && token()) onUnauthorized(error);
    throw error;
  }
  return response.status === 204 ? null : response.json();
}

/**
 * The file name a `Content-Disposition` header gives, or null without one:
 * the RFC 5987 `filename*` (UTF-8, percent-encoded) where present, which
 * Flask adds for names that are not ASCII, else the plain `filename`.
 *
 * @param {string | null} header - The header's value.
 * @returns {string | null}
 */
export function attachmentName(header) {
  if (!header) return null;
  const extended = /filename\*\s*=\s*([^;]+)/i.exec(header);
  if (extended) {
    const [, encoded] = /^[^']*'[^']*'(.*)$/.exec(extended[1].trim()) ?? [];
    if (encoded !== undefined) {
      try {
        return decodeURIComponent(encoded);
      } catch {
        // A broken encoding: fall back to the plain name.
      }
    }
  }
  const plain = /(?:^|;)\s*filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/i.exec(header);
  if (!plain) return null;
  const name = plain[1] !== undefined ? plain[1].replace(/\\(.)/g, "$1") : plain[2].trim();
  return name || null;
}

/**
 * Downloads a file from the API, with the token, into memory.
 *
 * @param {string} path - The path, such as "/v1/models/iris/versions/1/export?format=onnx".
 * @param {object} [options]
 * @param {AbortSignal} [options.signal]
 * @returns {Promise<{blob: Blob, filename: string | null}>} The file and the name the
 *   server gave it in `Content-Disposition`, null without one.
 * @throws {ApiError} With the API's `error` message.
 */
export async function download(path, { signal } = {}) {
  const response = await fetch(path, {
    signal, cache: "no-store", headers: headers({ Accept: "*/*" }),
  });
  if (!response.ok) {
    const error = await failure(response);
    if (response.status === 401 && token()) onUnauthorized(error);
    throw error;
  }
  const blob = await response.blob();
  return { blob, filename: attachmentName(response.headers.get("Content-Disposition")) };
}

/** Splits one Server-Sent Events block into its event name and data. */
function parseEventBlock(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { event, data: data.join("\n") } : null;
}

/**
 * Reads a Server-Sent Events stream with fetch, which, unlike EventSource,
 * can send the Authorization header. Resolves when the stream closes.
 *
 * @param {string} path - The stream's path.
 * @param {(event: {event: string, data: string}) => void} onEvent
 * @param {AbortSignal} signal - Aborts the request (leaving the page).
 * @throws {ApiError} When the server refuses the stream.
 */
export async function readEvents(path, onEvent, signal) {
  const response = await fetch(path, {
    signal, cache: "no-store", headers: headers({ Accept: "text/event-stream" }),
  });
  if (!response.ok) {
    const error = await failure(response);
    if (response.status === 401) onUnauthorized(error);
    throw error;
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    // The service ends lines with "\n" only; a "\r" would be kept in the data.
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const parsed = parseEventBlock(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (parsed) onEvent(parsed);
    }
  }
}

/** The OpenAPI document (public), read once: it holds the lists of choices. */
let documentPromise = null;
export function openapiDocument() {
  documentPromise ??= api("/openapi.json", { withToken: "" });
  return documentPromise;
}
