/* The console's lists: suggestions, learned entries, retrieval misses, reported answers, feedback,
 * and (admins) the knowledge base with upload and delete. */
import { api, h, link, say, session, when } from "./dom.js";
import { suggestionCard } from "./learning.js";

export async function countSuggestions() {
  const pending = await api("/v1/suggestions?status=pending&limit=500");
  document.getElementById("suggestion-count").textContent = pending.length ? String(pending.length) : "";
}

function table(headers, rows) {
  return h("table", {}, h("thead", {}, h("tr", {}, headers.map((x) => h("th", { text: x })))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c))))));
}

export async function showSuggestions(view) {
  const items = await api("/v1/suggestions?status=pending");
  view.append(h("h2", { text: `Suggestions waiting for approval (${items.length})` }));
  if (!items.length) view.append(h("p", { class: "meta", text: "Nothing to approve." }));
  for (const s of items) view.append(suggestionCard(s, () => countSuggestions().catch(() => {})));
}

export async function showLearned(view) {
  const [items, reports] = await Promise.all([api("/v1/learned"), api("/v1/reports?limit=500")]);
  const act = (id, what) => async () => {
    try {
      await api(`/v1/learned/${id}/${what}`, { method: "POST", body: { actor: session.name } });
      view.replaceChildren();
      await showLearned(view);
    } catch (err) {
      say(err.message);
    }
  };
  view.append(h("h2", { text: "Learned entries" }), table(
    ["Question", "Answer", "Status", "Version", "Used", "Feedback", "Reports", "Review", ""],
    items.map((e) => {
      const fb = e.feedback || {};
      const reported = reports.filter((r) => r.learned_entry_id === e.id).length;
      return [
        e.question, e.answer, e.status, String(e.version), String(e.usage_count),
        `👍 ${fb.thumbs_up || 0} 👎 ${fb.thumbs_down || 0}${fb.mean_rating ? ` ★ ${Number(fb.mean_rating).toFixed(1)}` : ""}`,
        String(reported), e.review_at || "",
        e.status === "active" ? h("div", { class: "row" },
          h("button", { type: "button", class: "danger", text: "Retire", onclick: act(e.id, "retire") }),
          h("button", { type: "button", class: "secondary", text: "Roll back", onclick: act(e.id, "rollback") })) : "",
      ];
    })));
}

export async function showMisses(view) {
  const items = await api("/v1/learning/misses");
  view.append(h("h2", { text: "Retrieval misses: answers the knowledge base already held" }), table(
    ["Question", "Agent's answer", "Document that had it", "When"],
    items.map((m) => [m.question, m.answer, `${m.title || ""} (${m.doc_id})`, when(m.created_at)])));
}

export async function showReports(view) {
  const items = await api("/v1/reports");
  view.append(h("h2", { text: "Reported bot answers" }), table(
    ["Answer", "Note", "Reporter", "Cited", "Learned entry", "When"],
    items.map((r) => [r.answer, r.note, r.reporter, r.cited.join(", "), r.learned_entry_id || "", when(r.created_at)])));
}

export async function showFeedback(view) {
  const items = await api("/v1/feedback");
  view.append(h("h2", { text: "Customer feedback" }), table(
    ["Rating", "Comment", "Conversation", "When"],
    items.map((f) => [f.rating ? `${f.rating}/5` : `thumbs ${f.thumbs}`, f.comment, f.conversation_id, when(f.created_at)])));
}

/* Upload answers 202 with a job to poll at Location until it is done (its result is the ingest
 * report) or failed. */
async function upload(files) {
  const form = new FormData();
  for (const f of files) form.append("files", f, f.name);
  const r = await api("/v1/knowledge", { method: "POST", form, raw: true });
  let body = await r.json();
  const where = r.headers.get("Location");
  if (r.status === 202 && where) {
    for (let i = 0; i < 600 && !["done", "failed"].includes(body.status); i++) {
      say(`Upload ${body.status}…`);
      await new Promise((ok) => setTimeout(ok, 1000));
      body = await api(where);
    }
    if (body.status === "failed") throw new Error(body.error || body.detail || "the upload failed");
    if (body.status !== "done") throw new Error(`the upload is still ${body.status}; look again later`);
  }
  return body.result || body;
}

export async function showKnowledge(view) {
  const docs = await api("/v1/knowledge");
  const input = h("input", { type: "file", multiple: true, "aria-label": "Files to upload", accept: ".md,.markdown,.html,.htm,.txt,.pdf,.jsonl" });
  const reload = async () => {
    view.replaceChildren();
    await showKnowledge(view);
  };
  view.append(
    h("h2", { text: `Knowledge base (${docs.length} documents)` }),
    h("div", { class: "card row" }, input, h("button", { type: "button", text: "Upload", onclick: async () => {
      try {
        const out = await upload(input.files);
        say(out.added === undefined ? `Uploaded: ${JSON.stringify(out)}` :
          `Uploaded: ${out.added} added, ${out.updated} updated, ${out.unchanged} unchanged.`);
        await reload();
      } catch (err) {
        say(`Upload failed: ${err.message}`);
      }
    } })),
    table(["Title", "Document", "Source", "Chunks", ""], docs.map((d) => [
      link(d.title || d.doc_id, d.url || ""), d.doc_id, d.source, String(d.chunks),
      d.source === "learned" ? h("span", { class: "meta", text: "retire it under Learned" }) :
        h("button", { type: "button", class: "danger", text: "Delete", onclick: async () => {
          try {
            await api(`/v1/knowledge/${d.doc_id.split("/").map(encodeURIComponent).join("/")}`, { method: "DELETE" });
            await reload();
          } catch (err) {
            say(err.message);
          }
        } }),
    ])),
  );
}
