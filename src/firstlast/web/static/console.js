/* The agent console: sign-in, the tabs, and the views (inbox.js, lists.js, insights.js). */
import { api, say, session, whenSignedOut } from "./dom.js";
import { showInbox } from "./inbox.js";
import { showInsights } from "./insights.js";
import { showFeedback, showKnowledge, showLearned, showMisses, showReports, showSuggestions, countSuggestions } from "./lists.js";

const views = {
  inbox: showInbox, suggestions: showSuggestions, learned: showLearned, misses: showMisses,
  reports: showReports, feedback: showFeedback, insights: showInsights, knowledge: showKnowledge,
};
const $ = (id) => document.getElementById(id);
let cleanup = null;

async function open(name) {
  if (cleanup) cleanup();
  cleanup = null;
  say("");
  for (const b of document.querySelectorAll("#tabs button")) {
    if (b.dataset.view === name) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
  const view = $("view");
  view.replaceChildren();
  try {
    cleanup = (await views[name](view)) || null;
  } catch (err) {
    say(`Could not load ${name}: ${err.message}`);
  }
  countSuggestions().catch(() => {});
}

function signedIn(s) {
  Object.assign(session, s);
  $("sign-in").hidden = true;
  $("tabs").hidden = false;
  $("sign-out").hidden = false;
  $("who").textContent = `${s.name} (${s.scope})`;
  for (const b of document.querySelectorAll("[data-admin]")) b.hidden = s.scope !== "admin";
  open("inbox");
}

function signedOut() {
  if (cleanup) cleanup();
  cleanup = null;
  Object.assign(session, { csrf: "", name: "", scope: "" });
  $("tabs").hidden = true;
  $("sign-out").hidden = true;
  $("who").textContent = "";
  $("view").replaceChildren();
  $("sign-in").hidden = false;
  $("sign-in").querySelector("input").focus();
}
whenSignedOut(signedOut);

$("sign-in").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  const body = { name: form.elements.name.value, key: form.elements.key.value };
  form.elements.key.value = "";
  try {
    signedIn(await api("/console/session", { method: "POST", body }));
    say("");
  } catch (err) {
    say(`Sign-in refused: ${err.message}`);
  }
});
$("sign-out").addEventListener("click", async () => {
  await api("/console/session", { method: "DELETE" }).catch(() => {});
  signedOut();
});
for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => open(b.dataset.view));

api("/console/session").then(signedIn, signedOut);
