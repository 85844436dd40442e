// Launch: upload a CSV or NPZ file or pick (or delete) a dataset, choose the
// hypermodel, the oracle and the budget, and start a search. The choices come
// from the API's own description (/openapi.json), so they never drift from it.

import { api, openapiDocument } from "./api.js";
import { datasetQuestion, deleteButton, freedNotice } from "./deleting.js";
import { announce, errorBox, formatCount, h, shortId } from "./dom.js";

function field(id, label, control, hint) {
  control.id = id;
  if (hint) control.setAttribute("aria-describedby", `${id}-hint`);
  return h("div", { className: "field" },
    h("label", { for: id }, label), control,
    hint ? h("span", { id: `${id}-hint`, className: "hint" }, hint) : null);
}

function datasetLabel(dataset) {
  const name = dataset.builtin ? dataset.id : `${dataset.id.slice(0, 8)} (uploaded ${dataset.format})`;
  return `${name}: ${formatCount(dataset.rows)} rows, ${formatCount(dataset.features)} features, ${dataset.task}`;
}

export async function render(main, _params, { signal }) {
  const [document_, { datasets }] = await Promise.all([
    openapiDocument(), api("/v1/datasets", { signal }),
  ]);
  signal.throwIfAborted(); // the document is shared, so its request is not aborted with the page
  const request = document_.components.schemas.SearchRequest.properties;

  // Upload ------------------------------------------------------------------------------
  const fileInput = h("input", { type: "file", accept: ".csv,.npz", required: true });
  const targetInput = h("input", { type: "text", autocomplete: "off", spellcheck: "false" });
  const taskSelect = h("select", {},
    h("option", { value: "" }, "from the data"),
    h("option", { value: "classification" }, "classification"),
    h("option", { value: "regression" }, "regression"));
  const uploadMessage = h("div", { id: "upload-message", "aria-live": "polite" });
  const uploadForm = h("form", { id: "upload-form", className: "card", "aria-labelledby": "upload-title" },
    h("h2", { id: "upload-title" }, "Upload data"),
    field("upload-file", "CSV or NPZ file", fileInput, "An NPZ holds arrays x and y."),
    field("upload-target", "Target column (CSV)", targetInput, "The column to predict."),
    field("upload-task", "Task", taskSelect),
    h("button", { type: "submit" }, "Upload"),
    uploadMessage);

  // Search ------------------------------------------------------------------------------
  const datasetSelect = h("select", { required: true },
    datasets.map((dataset) => h("option", { value: dataset.id }, datasetLabel(dataset))));
  const datasetsById = new Map(datasets.map((dataset) => [dataset.id, dataset]));
  // The chosen dataset's delete button (uploads only: the bundled ones stay) and what it freed.
  const datasetTools = h("div", { id: "dataset-tools", className: "field" });
  const showDatasetTools = (notice = null) => {
    const dataset = datasetsById.get(datasetSelect.value);
    const tools = [notice && h("p", { className: "notice" }, notice),
      dataset && !dataset.builtin && deleteDataset(dataset)].filter(Boolean);
    datasetTools.replaceChildren(...tools);
    datasetTools.hidden = !tools.length;
  };
  const deleteDataset = (dataset) => {
    const label = `uploaded dataset ${shortId(dataset.id)}`;
    return deleteButton({
      label, question: datasetQuestion(dataset), path: `/v1/datasets/${dataset.id}`, signal,
      text: "Delete this dataset",
      onDeleted: (answer) => {
        datasetsById.delete(dataset.id);
        uploadMessage.replaceChildren(); // it said the upload was chosen
        [...datasetSelect.options].find((option) => option.value === dataset.id)?.remove();
        const notice = freedNotice(label, answer);
        showDatasetTools(notice);
        announce(notice);
      },
    });
  };
  datasetSelect.addEventListener("change", () => showDatasetTools());
  showDatasetTools();
  // Every default, bound and pattern below is the API's own (SearchRequest).
  const choice = (name) => {
    const select = h("select", {}, request[name].enum.map((value) => h("option", { value }, value)));
    select.value = request[name].default;
    return select;
  };
  const hypermodelSelect = choice("hypermodel");
  const oracleSelect = choice("oracle");
  const number = (name, value = request[name].default) => h("input", {
    type: "number", step: "1", min: request[name].minimum, max: request[name].maximum,
    value, inputmode: "numeric",
  });
  const maxTrials = number("max_trials");
  const epochs = number("epochs");
  const workers = number("workers");
  const seed = number("seed", "");
  const modelName = h("input", {
    type: "text", pattern: request.model_name.pattern.replace(/^\^|\$$/g, ""),
    autocomplete: "off", spellcheck: "false",
  });
  const startMessage = h("div", { id: "search-message" });
  const searchForm = h("form", { id: "search-form", className: "card", "aria-labelledby": "search-title" },
    h("h2", { id: "search-title" }, "Search"),
    field("launch-dataset", "Dataset", datasetSelect),
    datasetTools,
    field("launch-hypermodel", "Hypermodel", hypermodelSelect, "auto chooses by the data's shape."),
    field("launch-oracle", "Oracle", oracleSelect),
    h("div", { className: "row" },
      field("launch-max-trials", "Trials (budget)", maxTrials),
      field("launch-epochs", "Epochs per trial", epochs),
      field("launch-workers", "Workers", workers, "Trials trained at once.")),
    h("div", { className: "row" },
      field("launch-seed", "Seed", seed, "Optional."),
      field("launch-model-name", "Model name", modelName, "Optional; letters, digits, _ and -. The best model is stored under it.")),
    h("button", { type: "submit" }, "Start search"),
    startMessage);

  main.append(h("h1", { tabindex: "-1" }, "Launch a search"), h("div", { className: "two-columns" }, searchForm, uploadForm));
  main.querySelector("h1").focus();

  uploadForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    uploadMessage.replaceChildren();
    const form = new FormData();
    form.append("file", fileInput.files[0]);
    if (targetInput.value.trim()) form.append("target", targetInput.value.trim());
    if (taskSelect.value) form.append("task", taskSelect.value);
    try {
      const dataset = await api("/v1/datasets", { method: "POST", form, signal });
      datasetSelect.append(h("option", { value: dataset.id }, datasetLabel(dataset)));
      datasetsById.set(dataset.id, dataset);
      datasetSelect.value = dataset.id;
      showDatasetTools();
      uploadMessage.append(h("p", { className: "notice" },
        `Uploaded ${fileInput.files[0].name}: ${datasetLabel(dataset)}. It is chosen for the search.`));
      announce("Upload done");
    } catch (error) {
      if (error.name !== "AbortError") uploadMessage.append(errorBox(error.message));
    }
  });

  searchForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    startMessage.replaceChildren();
    const body = {
      dataset: datasetSelect.value,
      hypermodel: hypermodelSelect.value,
      oracle: oracleSelect.value,
      max_trials: Number(maxTrials.value),
      epochs: Number(epochs.value),
      workers: Number(workers.value),
    };
    if (seed.value !== "") body.seed = Number(seed.value);
    if (modelName.value.trim()) body.model_name = modelName.value.trim();
    try {
      const search = await api("/v1/searches", { method: "POST", json: body, signal });
      announce("Search queued");
      location.hash = `#/searches/${search.id}`;
    } catch (error) {
      if (error.name !== "AbortError") startMessage.append(errorBox(error.message));
    }
  });
}
