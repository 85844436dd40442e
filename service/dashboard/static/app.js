// The dashboard's entry: sign-in, navigation and routing by the address's
// fragment (#/searches, #/searches/ID, #/compare/ID,ID, #/launch, #/models).

import { ApiError, api, setToken, token, whenUnauthorized } from "./api.js";
import { announce, errorBox, h } from "./dom.js";
import * as compare from "./compare.js";
import * as launch from "./launch.js";
import * as models from "./models.js";
import * as search from "./search.js";
import * as searches from "./searches.js";

// `/#token=TOKEN` signs in; the fragment is taken out of the address and
// history at once (it never reaches the server: browsers do not send it).
function takeTokenFromAddress() {
  const match = /^#token=([^&]+)/.exec(location.hash);
  if (!match) return null;
  history.replaceState(null, "", `${location.pathname}#/searches`);
  return decodeURIComponent(match[1]);
}

const main = document.getElementById("main");
const signOut = document.getElementById("sign-out");

// Pages, by route; `needs` is "token" or "models" (open to all with --public-predict).
const ROUTES = [
  { pattern: /^#\/searches\/([A-Za-z0-9_-]{1,64})$/, page: search, needs: "token" },
  { pattern: /^#\/searches$/, page: searches, needs: "token" },
  { pattern: /^#\/compare(?:\/([A-Za-z0-9_,-]*))?$/, page: compare, needs: "token" },
  { pattern: /^#\/launch$/, page: launch, needs: "token" },
  { pattern: /^#\/models(?:\/([A-Za-z0-9_-]{1,64}))?$/, page: models, needs: "models" },
];

let publicModels = false;
let leavePage = null;
let signInNotice = null;

function allowed(needs) {
  return Boolean(token()) || (needs === "models" && publicModels);
}

function updateNavigation() {
  for (const item of document.querySelectorAll("#nav [data-needs]")) {
    item.hidden = !allowed(item.dataset.needs);
    const link = item.querySelector("a");
    const active = location.hash.startsWith(link.getAttribute("href"));
    if (active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  signOut.hidden = !token();
}

function route() {
  leavePage?.abort();
  const controller = new AbortController();
  leavePage = controller;
  const hash = location.hash || (token() ? "#/searches" : "#/signin");
  const match = ROUTES.map((entry) => ({ entry, groups: entry.pattern.exec(hash) }))
    .find(({ groups }) => groups);
  updateNavigation();
  if (!match) {
    renderSignInOrHome(hash);
    return;
  }
  if (!allowed(match.entry.needs)) {
    signInNotice = "Sign in with the API token to see this page.";
    location.replace("#/signin");
    return;
  }
  main.replaceChildren();
  match.entry.page.render(main, match.groups.slice(1), { signal: controller.signal })
    .catch((error) => {
      if (error.name === "AbortError" || controller.signal.aborted) return;
      main.append(errorBox(error.message));
    });
}

function renderSignInOrHome(hash) {
  if (hash !== "#/signin") {
    location.replace(token() ? "#/searches" : "#/signin");
    return;
  }
  main.replaceChildren(signInForm());
  main.querySelector("h1").focus();
}

function signInForm() {
  // No name: were the form ever submitted natively, the token would not go with it.
  const input = h("input", {
    id: "token", type: "password", autocomplete: "off", required: true,
    spellcheck: "false", "aria-describedby": "token-help",
  });
  const message = h("div", { id: "sign-in-message" });
  if (signInNotice) message.append(h("p", { className: "notice" }, signInNotice));
  signInNotice = null;
  const form = h("form", { className: "card narrow", "aria-labelledby": "sign-in-title" },
    h("h1", { id: "sign-in-title", tabindex: "-1" }, "Sign in"),
    h("label", { for: "token" }, "API token"),
    input,
    h("p", { id: "token-help", className: "hint" },
      "The token that evokt serve stored in its data directory (api-token) or took from ",
      h("code", {}, "EVOKT_API_TOKEN"),
      ". It stays in this tab only and is sent only in the Authorization header."),
    h("button", { type: "submit" }, "Sign in"),
    message,
    publicModels
      ? h("p", {}, "Without a token you can still ", h("a", { href: "#/models" }, "try the models"), ".")
      : null);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const candidate = input.value.trim();
    message.replaceChildren();
    if (await signIn(candidate, message)) {
      input.value = "";
      location.hash = "#/searches";
    }
  });
  return form;
}

/** Checks a token against the API and keeps it for this tab if it is good. */
async function signIn(candidate, messageBox) {
  try {
    await api("/v1/searches?state=RUNNING", { withToken: candidate });
  } catch (error) {
    const text = error instanceof ApiError && error.status === 401
      ? "The server refused this token." : `Cannot sign in: ${error.message}`;
    messageBox.append(errorBox(text));
    return false;
  }
  setToken(candidate);
  announce("Signed in");
  return true;
}

async function probePublicModels() {
  try {
    await api("/v1/models", { withToken: "" });
    return true;
  } catch {
    return false;
  }
}

whenUnauthorized(() => {
  setToken(null);
  signInNotice = "The server refused the token; sign in again.";
  location.replace("#/signin");
});

signOut.addEventListener("click", () => {
  setToken(null);
  announce("Signed out");
  location.hash = "#/signin";
});

/** Signs in with a token from the address, if it holds one, then shows the page. */
async function navigate() {
  const candidate = takeTokenFromAddress();
  if (candidate) {
    const box = h("div");
    if (!(await signIn(candidate, box))) {
      signInNotice = box.textContent;
      history.replaceState(null, "", `${location.pathname}#/signin`);
    }
  }
  if (!token()) publicModels = await probePublicModels();
  route();
}

window.addEventListener("hashchange", navigate);
navigate();
