// Compare: the best score so far of two or more searches on one plot.

import { api } from "./api.js";
import { chartWidth, legend, lineChart, redrawOnResize } from "./charts.js";
import { errorBox, formatScore, h, shortId, stateBadge } from "./dom.js";
import { scoreHistory } from "./trials.js";

export async function render(main, [idList], { signal }) {
  const chosen = new Set((idList || "").split(",").filter(Boolean));
  const trialsOf = new Map(); // search id -> trials, fetched once per visit
  const searches = (await api("/v1/searches", { signal })).searches.reverse();

  const logBox = h("input", { type: "checkbox", id: "compare-log" });
  const logXBox = h("input", { type: "checkbox", id: "compare-log-x" });
  const choices = h("fieldset", { className: "choices" },
    h("legend", {}, "Searches to compare"),
    searches.map((search) => {
      const box = h("input", { type: "checkbox", id: `compare-${search.id}`, value: search.id,
        checked: chosen.has(search.id) });
      box.addEventListener("change", () => {
        if (box.checked) chosen.add(search.id);
        else chosen.delete(search.id);
        // The address keeps the choice (to share or reload) without a new history entry.
        history.replaceState(null, "", `#/compare/${[...chosen].join(",")}`);
        draw();
      });
      return h("div", { className: "choice" }, box,
        h("label", { for: `compare-${search.id}` }, `${search.model_name} · ${search.oracle} (${shortId(search.id)}) `,
          stateBadge(search.state)));
    }));
  const holder = h("div", { className: "chart-holder" });
  const notes = h("div");
  main.append(
    h("h1", { tabindex: "-1" }, "Compare searches"),
    searches.length ? choices : h("p", { className: "hint" }, "No searches yet."),
    h("section", { className: "card", "aria-labelledby": "compare-title" },
      h("h2", { id: "compare-title" }, "Best score so far"),
      h("div", { className: "toolbar" },
        h("label", { className: "check" }, logBox, "Logarithmic score axis"),
        h("label", { className: "check" }, logXBox, "Logarithmic trial axis")),
      notes, holder));
  main.querySelector("h1").focus();
  logBox.addEventListener("change", draw);
  logXBox.addEventListener("change", draw);
  redrawOnResize(holder, () => draw(), signal);

  let drawing = 0;
  async function draw() {
    const ticket = ++drawing;
    const picked = searches.filter((search) => chosen.has(search.id));
    if (picked.length < 2) {
      notes.replaceChildren();
      holder.replaceChildren(h("p", { className: "hint" }, "Choose two or more searches."));
      return;
    }
    try {
      await Promise.all(picked.filter((search) => !trialsOf.has(search.id)).map(async (search) => {
        trialsOf.set(search.id, (await api(`/v1/searches/${search.id}/trials`, { signal })).trials);
      }));
    } catch (error) {
      if (error.name !== "AbortError") notes.replaceChildren(errorBox(error.message));
      return;
    }
    if (ticket !== drawing) return; // a later choice is being drawn
    const series = picked.map((search) => ({
      label: `${search.model_name} · ${search.oracle} (${shortId(search.id)}): best ${formatScore(search.best_score)}`,
      points: scoreHistory(trialsOf.get(search.id), search.direction).best,
      step: true,
    }));
    const objectives = new Set(picked.map((search) => `${search.objective} (${search.direction})`));
    const positive = series.every((one) => one.points.every((point) => point.y > 0));
    logBox.disabled = !positive;
    notes.replaceChildren(objectives.size > 1
      ? h("p", { className: "notice" }, `These searches score different objectives: ${[...objectives].join(", ")}.`)
      : "");
    holder.replaceChildren(
      lineChart({
        title: "Best score so far of each search",
        description: series.map((one) => one.label).join("; "),
        series,
        log: positive && logBox.checked,
        logX: logXBox.checked,
        xLabel: "trials, in the order they ended",
        yLabel: picked[0].objective ?? "score",
        width: chartWidth(holder),
      }),
      legend(series.map((one) => one.label)));
  }
}
