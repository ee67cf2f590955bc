/* The inbox of handoffs (open / assigned / mine / resolved), live from /v1/inbox/events, and the
 * packet an agent opens: transcript, customer context, reason, draft and sources, summary, the
 * suggested reply; assign, reply, resolve; the learning prompt right after resolving. */
import { api, h, link, rich, say, session, stream, when } from "./dom.js";
import { suggestionCard, verdictNote } from "./learning.js";

const FILTERS = ["open", "assigned", "mine", "resolved"];

export async function showInbox(view) {
  let filter = "open";
  let selected = null;
  let packetStream = null;
  const list = h("ul", { class: "list", "aria-label": "Handoffs" });
  const packet = h("div", { id: "packet" }, h("p", { class: "meta", text: "Choose a handoff to open it." }));
  const filters = h("div", { class: "filters", role: "group", "aria-label": "Filter" });
  for (const f of FILTERS) {
    filters.append(h("button", { type: "button", "aria-pressed": String(f === filter), "data-filter": f, text: f,
      onclick: (e) => {
        filter = f;
        filters.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b === e.currentTarget)));
        load();
      } }));
  }
  view.append(h("div", { class: "split" }, h("div", {}, filters, list), packet));

  async function load() {
    const status = filter === "mine" ? "assigned" : filter;
    let items = await api(`/v1/handoffs?status=${status}`);
    if (filter === "mine") items = items.filter((x) => x.agent === session.name);
    list.replaceChildren(...items.map((x) => h("li", {},
      h("button", { type: "button", class: "item", "data-handoff": x.id, "aria-current": String(x.id === selected),
        onclick: () => openPacket(x.id) },
        h("strong", { text: x.question }), h("br"),
        h("span", { class: "meta", text: `${x.reason} · ${x.status}${x.agent ? ` · ${x.agent}` : ""} · ${when(x.created_at)}` })))));
    if (!items.length) list.append(h("li", { class: "meta", text: `No ${filter} handoffs.` }));
  }

  async function openPacket(id) {
    selected = id;
    list.querySelectorAll("button.item").forEach((b) => b.setAttribute("aria-current", String(b.dataset.handoff === id)));
    if (packetStream) packetStream.stop();
    const p = await api(`/v1/handoffs/${id}`);
    renderPacket(p);
    const lastId = Math.max(0, ...(p.transcript || []).map((t) => t.message_id || 0));
    packetStream = stream(`/v1/conversations/${p.conversation_id}/events`, (event) => {
      if (event === "message" || event === "status") refresh(id);
    }, lastId);
  }
  let refreshing = null;
  const signature = (p) => `${p.status}|${p.assignee}|${(p.transcript || []).length}`;
  function refresh(id) {
    clearTimeout(refreshing);
    refreshing = setTimeout(async () => {
      if (selected !== id) return;
      const p = await api(`/v1/handoffs/${id}`).catch(() => null);
      if (p && signature(p) !== parts.shown) renderInfo(p); // only when something changed
    }, 150);
  }

  const parts = {};
  function renderPacket(p) {
    parts.info = h("div", {});
    parts.learning = h("div", { id: "learning" });
    const reply = h("textarea", { id: "reply-text", "aria-label": "Your reply", placeholder: "Write your reply…", maxlength: "8000" });
    parts.reply = reply;
    const act = (path, body) => api(`/v1/handoffs/${p.id}/${path}`, { method: "POST", body });
    const afterResolve = async (out) => {
      reply.value = "";
      const fresh = await api(`/v1/handoffs/${p.id}`);
      renderInfo(fresh);
      parts.learning.replaceChildren(out.suggestion ? suggestionCard(out.suggestion) : verdictNote(fresh.events));
      parts.learning.scrollIntoView({ block: "nearest" });
      load();
    };
    const reassign = h("input", { "aria-label": "Assign to", placeholder: "agent name", maxlength: "128" });
    const guard = (fn) => async () => {
      try {
        await fn();
        say("");
      } catch (err) {
        say(err.message);
      }
    };
    packet.replaceChildren(
      parts.info,
      h("div", { class: "card" },
        h("h3", { text: "Reply" }), reply,
        h("div", { class: "row" },
          h("button", { type: "button", text: "Send reply", onclick: guard(async () => {
            await act("reply", { agent: session.name, text: reply.value, resolve: false });
            reply.value = "";
            renderInfo(await api(`/v1/handoffs/${p.id}`));
            load();
          }) }),
          h("button", { type: "button", text: "Reply and resolve", onclick: guard(async () =>
            afterResolve(await act("reply", { agent: session.name, text: reply.value, resolve: true }))) }),
          h("button", { type: "button", class: "secondary", text: "Resolve", onclick: guard(async () =>
            afterResolve(await act("resolve", { agent: session.name }))) })),
        h("div", { class: "row" },
          h("button", { type: "button", class: "secondary", text: "Assign to me", onclick: guard(async () => {
            renderInfo({ ...(await api(`/v1/handoffs/${p.id}`)), ...(await act("assign", { agent: session.name })) });
            load();
          }) }),
          reassign,
          h("button", { type: "button", class: "secondary", text: "Reassign", onclick: guard(async () => {
            await act("assign", { agent: reassign.value, by: session.name });
            renderInfo(await api(`/v1/handoffs/${p.id}`));
            load();
          }) }))),
      parts.learning,
    );
    renderInfo(p);
  }

  function renderInfo(p) {
    parts.shown = signature(p);
    const ctx = p.customer_context || {};
    const facts = [];
    const add = (k, v, badge) => facts.push(h("dt", { text: k }), h("dd", {}, v, badge ? " " : "", badge));
    if (ctx.identity) add("Customer", `${ctx.identity.name || ""} ${ctx.identity.email || ""} (${ctx.identity.user_id})`, h("span", { class: "badge ok", text: "verified" }));
    if (ctx.unverified_identity) {
      const u = ctx.unverified_identity;
      add("Claims to be", `${u.name || ""} ${u.email || ""} ${u.user_id ? `(${u.user_id})` : ""}`, h("span", { class: "badge warn", text: "unverified" }));
    }
    if (ctx.page_url) add("Page", link(ctx.page_url, ctx.page_url));
    if (ctx.locale) add("Language", ctx.locale);
    for (const [k, v] of Object.entries(ctx.attributes || {})) add(k, String(v));
    const draft = p.draft || {};
    const suggested = p.suggested_reply;
    parts.info.replaceChildren(
      h("div", { class: "card" },
        h("h2", { text: p.question }),
        h("div", { class: "row" }, h("span", { class: "badge", text: p.status }), h("span", { class: "badge warn", text: p.reason }),
          h("span", { class: "meta", text: `${p.assignee ? `assigned to ${p.assignee} · ` : ""}${when(p.created_at)}` })),
        p.detail ? h("p", { class: "meta", text: p.detail }) : null,
        facts.length ? h("dl", { class: "context" }, facts) : h("p", { class: "meta", text: "No customer context." })),
      h("div", { class: "card" }, h("h3", { text: "Transcript" }),
        h("div", { class: "transcript", id: "transcript" }, (p.transcript || []).map(line))),
      h("div", { class: "card" }, h("h3", { text: "Bot's draft" }),
        h("p", {}, rich(draft.text || "(none)")),
        h("p", { class: "meta", text: draft.confidence != null ? `confidence ${draft.confidence.toFixed(2)}` : "" }),
        h("ul", {}, (p.sources || []).map((s) => h("li", {}, link(s.title || s.doc_id, s.url || ""), ` (${s.score.toFixed(3)})`)))),
      (p.summary || []).length ? h("div", { class: "card" }, h("h3", { text: "Summary" }), h("ul", {}, p.summary.map((s) => h("li", { text: s })))) : null,
      suggested && suggested.text ? h("div", { class: "card" }, h("h3", { text: "Suggested reply" }), h("p", { text: suggested.text }),
        h("button", { type: "button", class: "secondary", text: "Use suggested reply",
          onclick: () => { parts.reply.value = suggested.text; parts.reply.focus(); } })) : null,
    );
    const lines = parts.info.querySelector("#transcript");
    lines.scrollTop = lines.scrollHeight;
    api(`/v1/feedback?conversation_id=${p.conversation_id}`).then((items) => {
      if (!items.length) return;
      parts.info.append(h("div", { class: "card", id: "csat" }, h("h3", { text: "Customer satisfaction" }),
        items.map((f) => h("p", { text: `${f.rating ? `${f.rating}/5` : `thumbs ${f.thumbs}`}${f.comment ? ` — ${f.comment}` : ""}` }))));
    }, () => {});
  }

  function line(t) {
    const node = h("div", { class: `line ${t.role}${t.after_handoff ? " after" : ""}`, "data-message": t.message_id },
      h("span", { class: "meta", text: `${t.role}${t.author ? ` · ${t.author}` : ""}${t.after_handoff ? " · after handoff" : ""}` }), h("br"),
      t.role === "bot" ? rich(t.text) : document.createTextNode(t.text));
    if (t.role === "bot" && t.message_id) {
      const note = h("input", { "aria-label": "What was wrong", placeholder: "What was wrong?", maxlength: "2000", hidden: true });
      const send = h("button", { type: "button", class: "danger", text: "Send report", hidden: true, onclick: async () => {
        try {
          const r = await api("/v1/reports", { method: "POST", body: { message_id: t.message_id, reporter: session.name, note: note.value } });
          node.querySelector(".report").replaceChildren(h("span", { class: "badge warn",
            text: `Reported${r.learned_entry_id ? ` (learned entry ${r.learned_entry_id})` : ""}` }));
        } catch (err) {
          say(err.message);
        }
      } });
      node.append(h("div", { class: "row report" },
        h("button", { type: "button", class: "secondary", text: "Report bad answer",
          onclick: (e) => { e.currentTarget.hidden = true; note.hidden = false; send.hidden = false; note.focus(); } }),
        note, send));
    }
    return node;
  }

  const inbox = stream("/v1/inbox/events", (event, data) => {
    if (event !== "handoff") return;
    load();
    if (data.handoff && data.handoff.id === selected) refresh(selected);
  });
  await load();
  return () => {
    inbox.stop();
    if (packetStream) packetStream.stop();
  };
}
