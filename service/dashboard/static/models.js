// Models: the registered models, one model's versions (each downloadable in
// the export formats), metadata and class labels, and a form that sends rows to
// `:predict` and shows the answer. With `evokt serve --public-predict` this page
// works without a token; downloading or deleting a version needs it.

import { api, download, openapiDocument, token } from "./api.js";
import { deleteButton, freedNotice, modelQuestion, versionQuestion } from "./deleting.js";
import { announce, errorBox, formatCount, formatScore, formatValue, h } from "./dom.js";

export async function render(main, [name], { signal }) {
  if (name) return renderModel(main, name, signal);
  return renderList(main, signal);
}

/** Draws a page again after a deletion, which `notice` tells of (what was freed). */
function redraw(main, draw, notice) {
  announce(notice);
  draw(h("p", { className: "notice" }, notice)).catch((error) => {
    if (error.name !== "AbortError") main.append(errorBox(error.message));
  });
}

// The export's path as the OpenAPI document names it.
const EXPORT_PATH = "/v1/models/{name}/versions/{version}/export";
/** How the download buttons name the export formats; a format not named here shows as it is. */
export const FORMAT_LABELS = {
  saved_model: "SavedModel (.tar.gz)", onnx: "ONNX", litert: "LiteRT", keras: ".keras",
};

/**
 * The formats a version can be downloaded in, each with its label: the choices
 * of the export's `format` in the API's OpenAPI document, which holds the list.
 *
 * @param {object} document_ - The OpenAPI document.
 * @returns {Array<[string, string]>} Pairs of format and label.
 */
export function exportFormats(document_) {
  const parameters = document_.paths[EXPORT_PATH]?.get?.parameters ?? [];
  const choices = parameters.find((parameter) => parameter.name === "format")?.schema?.enum ?? [];
  return choices.map((format) => [format, FORMAT_LABELS[format] ?? format]);
}

// How long a saved file's object URL lives: the browser reads the blob after
// the link's click returns, so revoking it at once could cut the download off.
const REVOKE_AFTER_MS = 10_000;

/** The status line while the formats `labels` are being prepared; empty when none is. */
export function preparingText(labels) {
  return labels.length ? `preparing ${labels.join(", ")}…` : "";
}

/** Saves `blob` as `filename` through a temporary link to it, as a link with `download` would. */
function saveFile(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), REVOKE_AFTER_MS);
}

/**
 * The download buttons of one version, one per format of `formats`. A press fetches
 * the file with the token (which a plain link could not send); the first
 * request of a format converts the model, seconds on end, so the button waits
 * disabled and the status says what is being prepared. The file is then saved;
 * a refusal of the API (422: it cannot be converted, and why) shows under the buttons.
 *
 * @param {string} name - The model's name.
 * @param {number | string} version - The version.
 * @param {Array<[string, string]>} formats - Pairs of format and label, from `exportFormats`.
 * @param {AbortSignal} signal - The page's.
 * @returns {Element}
 */
function downloadButtons(name, version, formats, signal) {
  const preparing = [];
  const status = h("span", { className: "hint", "aria-live": "polite" });
  const problem = h("div");
  const buttons = formats.map(([format, label]) => {
    const button = h("button", { type: "button", className: "quiet", "data-format": format,
      "aria-label": `Download version ${version} as ${label}` }, label);
    button.addEventListener("click", async () => {
      button.disabled = true;
      problem.replaceChildren();
      preparing.push(label);
      status.textContent = preparingText(preparing);
      let saved = null;
      try {
        const path = `/v1/models/${name}/versions/${version}/export?format=${format}`;
        const { blob, filename } = await download(path, { signal });
        saved = filename ?? `${name}-${version}`;
        saveFile(blob, saved);
      } catch (error) {
        if (error.name === "AbortError") return;
        problem.replaceChildren(errorBox(`${label}: ${error.message}`));
      } finally {
        preparing.splice(preparing.indexOf(label), 1);
        button.disabled = false;
        status.textContent = preparingText(preparing) || (saved ? `Saved ${saved}.` : "");
      }
    });
    return button;
  });
  return h("div", { className: "downloads" },
    h("div", { className: "toolbar", role: "group", "aria-label": `Download version ${version}` },
      h("span", { className: "hint" }, "Download"), buttons, status),
    problem);
}

/** The list of models, with `notice` (an element) under its heading if given. */
async function renderList(main, signal, notice = null) {
  const { models } = await api("/v1/models", { signal });
  main.replaceChildren(h("h1", { tabindex: "-1" }, "Models"), notice ?? "");
  const canDelete = Boolean(token());
  const deleteModel = (model) => deleteButton({
    label: `model ${model.name}`, question: modelQuestion(model.name, null),
    path: `/v1/models/${model.name}`, signal,
    onDeleted: (answer) => redraw(main, (shown) => renderList(main, signal, shown),
      freedNotice(`model ${model.name}`, answer)),
  });
  if (!models.length) {
    main.append(h("p", { className: "hint" }, "No model yet: a search that succeeds stores its best model here."));
  } else {
    const columns = ["Model", "Latest version", "Task"].map((label) => h("th", { scope: "col" }, label));
    if (canDelete) columns.push(h("th", { scope: "col" }, h("span", { className: "visually-hidden" }, "Actions")));
    main.append(h("div", { className: "table-wrap" }, h("table", { className: "models" },
      h("caption", { className: "visually-hidden" }, "Models"),
      h("thead", {}, h("tr", {}, columns)),
      h("tbody", {}, models.map((model) => h("tr", { "data-model": model.name },
        h("td", {}, h("a", { href: `#/models/${model.name}` }, model.name)),
        h("td", { className: "number" }, String(model.latest_version)),
        h("td", {}, model.task),
        canDelete ? h("td", {}, deleteModel(model)) : null))))));
  }
  main.querySelector("h1").focus();
}

/**
 * Rows typed in the form, as examples of `shape`: one example per line, its
 * numbers separated by commas, semicolons or spaces (flattened in row-major
 * order for inputs of more than one axis), or a JSON list of examples.
 *
 * @throws {Error} Naming the line that is wrong.
 */
function parseRows(text, shape) {
  const trimmed = text.trim();
  if (!trimmed) throw new Error("Type at least one row.");
  if (trimmed.startsWith("[")) {
    let rows;
    try {
      rows = JSON.parse(trimmed);
    } catch (error) {
      throw new Error(`The JSON does not parse: ${error.message}`);
    }
    if (!Array.isArray(rows)) throw new Error("The JSON must be a list of examples.");
    return rows;
  }
  const size = shape.reduce((product, axis) => product * axis, 1);
  return trimmed.split("\n").filter((line) => line.trim()).map((line, index) => {
    const numbers = line.trim().split(/[\s,;]+/).map(Number);
    if (numbers.some((value) => !Number.isFinite(value))) {
      throw new Error(`Row ${index + 1}: every value must be a number.`);
    }
    if (numbers.length !== size) {
      throw new Error(`Row ${index + 1}: expected ${size} numbers, got ${numbers.length}.`);
    }
    return reshape(numbers, shape);
  });
}

function reshape(flat, shape) {
  if (shape.length <= 1) return flat;
  const inner = shape.slice(1).reduce((product, axis) => product * axis, 1);
  return Array.from({ length: shape[0] }, (_, i) => reshape(flat.slice(i * inner, (i + 1) * inner), shape.slice(1)));
}

/** One model's page, with `notice` (an element) under its heading if given. */
async function renderModel(main, name, signal, notice = null) {
  const [status, metadata, document_] = await Promise.all([
    api(`/v1/models/${name}`, { signal }),
    api(`/v1/models/${name}/metadata`, { signal }),
    openapiDocument(),
  ]);
  main.replaceChildren();
  const versions = status.model_version_status.map((entry) => entry.version);
  const about = metadata.evokt;
  const classes = about.class_labels;
  const facts = [
    ["Latest version", metadata.model_spec.version],
    ["Task", about.task],
    ["Input shape", JSON.stringify(about.input_shape)],
  ];
  if (about.objective) facts.push(["Score", `${formatScore(about.score)} (${about.objective.name})`]);
  if (about.strategy) facts.push(["Found by", `${about.strategy}, trial ${about.trial_id}`]);
  if (about.search_id && token()) {
    facts.push(["Search", h("a", { href: `#/searches/${about.search_id}` }, about.search_id.slice(0, 8))]);
  }
  if (about.feature_names) facts.push(["Features", about.feature_names.join(", ")]);
  if (classes) facts.push(["Class labels", h("ol", { className: "labels", start: "0" }, classes.map((label) => h("li", {}, String(label))))]);

  const versionSelect = h("select", { id: "predict-version" },
    h("option", { value: "" }, "latest"),
    [...versions].reverse().map((version) => h("option", { value: version }, `version ${version}`)));
  const example = about.feature_names ? about.feature_names.join(", ") : `${about.input_shape.join(" × ")} numbers`;
  const rowsInput = h("textarea", {
    id: "predict-rows", rows: 5, spellcheck: "false", "aria-describedby": "predict-rows-hint", required: true,
  });
  const answer = h("div", { id: "predict-answer", "aria-live": "polite" });
  const form = h("form", { id: "predict-form", className: "card", "aria-labelledby": "predict-title" },
    h("h2", { id: "predict-title" }, "Predict"),
    h("div", { className: "field" }, h("label", { for: "predict-version" }, "Version"), versionSelect),
    h("div", { className: "field" },
      h("label", { for: "predict-rows" }, "Rows"),
      rowsInput,
      h("span", { id: "predict-rows-hint", className: "hint" },
        `One example per line: ${example}, separated by commas or spaces; or a JSON list of examples.`)),
    h("button", { type: "submit" }, "Predict"),
    answer);

  // Deleting and downloading need the token; the exports are the weights themselves, which
  // stay behind it even under --public-predict.
  const signedIn = Boolean(token());
  const formats = exportFormats(document_);
  const deleteModel = signedIn ? deleteButton({
    label: `model ${name}`, question: modelQuestion(name, versions), path: `/v1/models/${name}`,
    text: "Delete model", signal,
    onDeleted: (answer) => {
      history.replaceState(null, "", "#/models");
      redraw(main, (shown) => renderList(main, signal, shown), freedNotice(`model ${name}`, answer));
    },
  }) : null;
  const deleteVersion = (version) => deleteButton({
    label: `version ${version} of ${name}`, question: versionQuestion(name, version),
    path: `/v1/models/${name}/versions/${version}`, signal,
    onDeleted: (answer) => {
      const notice = freedNotice(`version ${version} of ${name}`, answer);
      if (versions.length > 1) {
        redraw(main, (shown) => renderModel(main, name, signal, shown), notice);
      } else {
        // The model's last version: the model is gone with it.
        history.replaceState(null, "", "#/models");
        redraw(main, (shown) => renderList(main, signal, shown), notice);
      }
    },
  });

  main.append(
    h("p", { className: "crumbs" }, h("a", { href: "#/models" }, "Models"), " / "),
    h("div", { className: "page-head" }, h("h1", { tabindex: "-1" }, name), deleteModel),
    notice ?? "",
    h("div", { className: "two-columns" },
      h("section", { className: "card", "aria-labelledby": "about-title" },
        h("h2", { id: "about-title" }, "About"),
        h("dl", { className: "summary" }, facts.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
        h("h3", {}, "Versions"),
        h("ul", { className: "versions" }, status.model_version_status.map((entry) =>
          h("li", { "data-version": entry.version }, h("span", {}, `version ${entry.version}: ${entry.state}`),
            signedIn ? deleteVersion(entry.version) : null,
            signedIn ? downloadButtons(name, entry.version, formats, signal) : null))),
        about.hyperparameters ? h("details", {},
          h("summary", {}, "Hyperparameters of the latest version"),
          h("dl", { className: "summary" }, Object.entries(about.hyperparameters).flatMap(([key, value]) =>
            [h("dt", {}, key), h("dd", {}, formatValue(value))]))) : null),
      form));
  main.querySelector("h1").focus();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    answer.replaceChildren();
    let instances;
    try {
      instances = parseRows(rowsInput.value, about.input_shape);
    } catch (error) {
      answer.append(errorBox(error.message));
      return;
    }
    const path = versionSelect.value
      ? `/v1/models/${name}/versions/${versionSelect.value}:predict` : `/v1/models/${name}:predict`;
    try {
      const { predictions } = await api(path, { method: "POST", json: { instances }, signal });
      answer.append(predictionTable(predictions, classes));
    } catch (error) {
      if (error.name !== "AbortError") answer.append(errorBox(error.message));
    }
  });
}

function predictionTable(predictions, classes) {
  const caption = h("caption", {}, `${formatCount(predictions.length)} predictions`);
  if (!classes) {
    return h("table", { className: "predictions" }, caption,
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Row"), h("th", { scope: "col" }, "Prediction"))),
      h("tbody", {}, predictions.map((output, index) => h("tr", {},
        h("th", { scope: "row" }, String(index + 1)),
        h("td", { className: "number" }, (Array.isArray(output) ? output : [output]).map(formatScore).join(", "))))));
  }
  return h("table", { className: "predictions" }, caption,
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Row"), h("th", { scope: "col" }, "Class"),
      classes.map((label) => h("th", { scope: "col" }, `P(${label})`)))),
    h("tbody", {}, predictions.map((probabilities, index) => {
      const best = probabilities.indexOf(Math.max(...probabilities));
      return h("tr", {},
        h("th", { scope: "row" }, String(index + 1)),
        h("td", { className: "predicted" }, String(classes[best])),
        probabilities.map((probability, i) => h("td", { className: i === best ? "number best" : "number" },
          probability.toFixed(3))));
    })));
}
