// The Workers panel of a search's page: where each of the search's workers
// runs (a node of a Ray cluster, or this machine) and what it does now, as
// the search's chief last wrote it (the API's `cluster`).

import { countOf, h, shortId } from "./dom.js";

/** A worker's states, in the order the panel counts them. */
export const WORKER_STATES = ["running", "idle", "starting", "lost", "left"];

/**
 * The search's workers, redrawn whenever the search's progress arrives
 * (the event stream carries `cluster`); shown only for a search that has
 * workers (`cluster` not null).
 *
 * @param {object} page - The search's page (see search.js).
 * @returns {{element: Element, update: () => void}}
 */
export function workersPanel(page) {
  const summary = h("p", { className: "hint workers-summary" });
  const holder = h("div", { className: "table-wrap" });
  const element = h("div", {}, summary, holder);

  function update() {
    const cluster = page.search?.cluster;
    if (!cluster) return;
    summary.textContent = clusterSummary(cluster);
    holder.replaceChildren(workersTable(cluster.workers, Date.now() / 1000));
  }
  return { element, update };
}

/**
 * Where the workers run and how many are in each state:
 * "Ray cluster at auto: 3 workers, 2 running, 1 lost".
 *
 * @param {{engine: string, address: string|null, workers: Array<{state: string}>}} cluster
 */
export function clusterSummary({ engine, address, workers }) {
  const where = engine === "ray" ? `Ray cluster${address ? ` at ${address}` : ""}` : "Local processes";
  const counts = WORKER_STATES
    .map((state) => [state, workers.filter((worker) => worker.state === state).length])
    .filter(([, count]) => count > 0)
    .map(([state, count]) => `${count} ${state}`);
  return [`${where}: ${countOf(workers.length, "worker")}`, ...counts].join(", ");
}

/** A node as the table shows it: a Ray node's long hex id cut to 8 characters, a host name whole. */
export function shortNode(node) {
  if (node === null || node === undefined) return "—";
  return /^[0-9a-f]{16,}$/i.test(node) ? shortId(node) : node;
}

/** A worker's GPUs: "0, 1", or "none". */
export function gpuText(gpus) {
  return gpus.length ? gpus.join(", ") : "none";
}

/**
 * When a worker was placed, in local time: "14:03:07" on the day of `now`,
 * "2026-01-07 14:03" before it.
 *
 * @param {number} seconds - Unix seconds.
 * @param {number} now - Unix seconds.
 */
export function placedAt(seconds, now) {
  const when = new Date(seconds * 1000);
  const today = new Date(now * 1000);
  const two = (value) => String(value).padStart(2, "0");
  const time = `${two(when.getHours())}:${two(when.getMinutes())}`;
  if (when.toDateString() === today.toDateString()) return `${time}:${two(when.getSeconds())}`;
  return `${when.getFullYear()}-${two(when.getMonth() + 1)}-${two(when.getDate())} ${time}`;
}

/** The table of the workers: one row each, a lost one with why. */
function workersTable(workers, now) {
  return h("table", { className: "workers-table" },
    h("thead", {}, h("tr", {},
      ["Worker", "State", "Node", "Host", "GPUs", "Trial", "Since"].map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, workers.map((worker) => h("tr", {
      "data-worker": worker.id, "data-state": worker.state, className: worker.state === "lost" ? "lost" : null },
    h("th", { scope: "row" }, worker.id),
    h("td", {}, h("span", { className: `badge worker-${worker.state}` }, worker.state),
      worker.error && h("span", { className: "worker-error" }, worker.error)),
    h("td", { title: worker.node ?? null }, shortNode(worker.node)),
    h("td", {}, worker.host ?? "—"),
    h("td", {}, gpuText(worker.gpus)),
    h("td", {}, worker.trial ?? "—"),
    h("td", {}, h("time", { datetime: new Date(worker.started * 1000).toISOString() },
      placedAt(worker.started, now)))))));
}
