/* The learning prompt: "I hadn't seen this question before — is it right that …?" with Approve,
 * Edit and approve, Reject; a conflict shows both answers side by side. Used inline right after a
 * resolution and in the suggestions queue. */
import { api, h, say, session } from "./dom.js";

export function suggestionCard(s, onDone = () => {}) {
  const card = h("div", { class: "card prompt", "data-suggestion": s.id });
  const done = (text) => {
    card.replaceChildren(h("p", { text }));
    onDone();
  };
  const decide = async (action, body) => {
    try {
      const out = await api(`/v1/suggestions/${s.id}/${action}`, { method: "POST", body });
      done(action === "reject" ? "Rejected: nothing is learned." : `Approved: learned as ${out.learned_doc_id}.`);
    } catch (err) {
      say(`Could not ${action}: ${err.message}`);
    }
  };
  const pending = s.status === "pending";
  card.append(
    h("p", { class: "ask", text: s.prompt }),
    h("dl", {},
      h("dt", { text: "Question" }), h("dd", { text: s.question }),
      h("dt", { text: "Answer" }), h("dd", { text: s.answer }),
      h("dt", { text: "Asked" }), h("dd", { text: `${s.count || 1} time(s), ${(s.sources || []).length} source conversation(s)` }),
      h("dt", { text: "Status" }), h("dd", { text: s.status })),
  );
  if (s.conflict) {
    card.append(
      h("p", {}, h("span", { class: "badge warn", text: "Conflict" }), " existing knowledge says otherwise:"),
      h("div", { class: "sidebyside" },
        h("div", { class: "card" }, h("strong", { text: `Existing (${s.conflict.doc_id})` }), h("p", { text: s.conflict.text })),
        h("div", { class: "card" }, h("strong", { text: "This answer" }), h("p", { text: s.answer }))),
    );
  }
  if (!pending) return card;
  const editor = h("textarea", { "aria-label": "Edited answer", hidden: true, maxlength: "8000" });
  editor.value = s.answer;
  const save = h("button", { type: "button", hidden: true, text: "Save and approve",
    onclick: () => decide("approve", { approver: session.name, answer: editor.value }) });
  const note = h("input", { "aria-label": "Why reject (optional)", placeholder: "Why reject (optional)", maxlength: "2000" });
  card.append(
    h("div", { class: "row" },
      h("button", { type: "button", text: "Approve", onclick: () => decide("approve", { approver: session.name }) }),
      h("button", { type: "button", class: "secondary", text: "Edit and approve",
        onclick: () => { editor.hidden = false; save.hidden = false; editor.focus(); } }),
      note,
      h("button", { type: "button", class: "danger", text: "Reject",
        onclick: () => decide("reject", { approver: session.name, note: note.value }) })),
    editor, save,
  );
  return card;
}

/* After a resolution without a suggestion: what the learning loop decided instead, and why. */
export function verdictNote(events) {
  const verdict = [...events].reverse().find((e) => e.action === "verdict");
  if (!verdict) return h("p", { class: "card", text: "Resolved without learning." });
  const d = verdict.detail || {};
  const text = {
    retrieval_miss: `Nothing new to learn: the knowledge base already says this (${d.doc_id || "a document"}); retrieval missed it, so it is listed under Retrieval misses.`,
    customer_specific: "Nothing is learned: this answer was specific to this customer.",
    new_knowledge: "New knowledge: a suggestion is waiting in the Suggestions queue.",
  }[d.kind] || `Verdict: ${d.kind}`;
  return h("div", { class: "card" }, h("p", { text }), h("p", { class: "meta", text: d.reason || "" }));
}
