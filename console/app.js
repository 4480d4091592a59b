// The console's entry: sign-in, the session, navigation by the URL's hash, and the views.

import { currentSession, signIn, signOut } from "./api.js";
import { el, show, failure } from "./ui.js";
import { overview } from "./overview.js";
import { callers } from "./callers.js";
import { usage } from "./usage.js";
import { audit } from "./audit.js";

const views = { overview, callers, usage, audit };
let session = null;

function signInForm(notice) {
  const key = el("input", { id: "key", name: "key", type: "password", autocomplete: "off", required: true });
  const form = el("form", { id: "sign-in", class: "panel signin" },
    el("h1", {}, "Sign in"),
    notice ? el("div", { class: "alert", id: "notice", role: "alert" }, notice) : null,
    el("p", { class: "muted" }, "Your caller key is exchanged once for a session; it is not kept in the browser."),
    el("label", {}, "Caller key", key),
    el("p", {}, el("button", { class: "primary", type: "submit", id: "sign-in-button" }, "Sign in")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      session = await signIn(key.value);
      key.value = "";
      enter();
    } catch (error) {
      signInForm(error.status === 401 ? "That key is not valid." : `${error.code}: ${error.message}`);
    }
  });
  setChrome(null);
  show(form);
  key.focus();
}

function setChrome(current) {
  const nav = document.getElementById("nav");
  nav.hidden = !current;
  document.getElementById("sign-out").hidden = !current;
  document.getElementById("who").textContent = current ? `${current.caller} (${current.role})` : "";
  for (const link of nav.querySelectorAll("[data-admin]")) {
    link.hidden = !current || current.role !== "admin";
  }
}

function enter() {
  setChrome(session);
  const home = session.role === "admin" ? "#/overview" : "#/usage";
  if (!location.hash || location.hash === "#" || location.hash === "#/") location.hash = home;
  else route();
}

async function route() {
  if (!session) return;
  const name = location.hash.replace(/^#\//, "").split("?")[0] || "overview";
  const view = views[name];
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.getAttribute("href") === `#/${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!view) {
    show(el("p", {}, "No such page."));
    return;
  }
  try {
    await view(session);
  } catch (error) {
    if (error.status === 401) {
      session = null;
      signInForm("Your session has expired or ended; sign in again.");
    } else {
      show(el("h1", {}, name), failure(error));
    }
  }
  document.getElementById("main").dataset.view = name;
}

document.getElementById("sign-out").addEventListener("click", async () => {
  try {
    await signOut();
  } finally {
    session = null;
    history.replaceState(null, "", "/console");
    signInForm("Signed out.");
  }
});

window.addEventListener("hashchange", route);
window.addEventListener("console-expired", () => {
  session = null;
  signInForm("Your session has expired or ended; sign in again.");
});

session = await currentSession();
if (session) enter();
else signInForm(location.hash && location.hash !== "#/" ? "Your session has expired or ended; sign in again." : null);
