/* firstlast chat widget: one <script> tag, isolated in a shadow DOM, no dependencies.
 *
 *   <script>window.firstlastSettings = {widgetKey: "pk-...", locale: "ja",
 *     user: {user_id: "42", email: "dana@example.com", name: "Dana", user_hash: "<hmac>"},
 *     attributes: {plan: "team"}, position: "right"};</script>
 *   <script src="https://support.example.com/widget.js" async></script>
 *
 * or, on pages whose CSP forbids inline scripts, data attributes on the script tag
 * (data-widget-key, data-locale, data-position). JS API: Firstlast.boot(settings),
 * Firstlast.update({attributes, page_url, page_title}), Firstlast.shutdown() (on logout), open(), close().
 *
 * When the server has proactive help on, opening the panel opens the conversation and shows up to
 * three "Suggested articles" for this page (location and document.title); a click is recorded.
 *
 * Everything shown is built with textContent and createElement: no text from the server or the
 * customer is ever parsed as HTML. Links are made only from http(s) URLs.
 */
(() => {
  "use strict";
  if (window.Firstlast && window.Firstlast.version) return;
  const script = document.currentScript;
  const BASE = script && script.src ? new URL(script.src).origin : location.origin;

  const CSS = `
:host { all: initial; }
* { box-sizing: border-box; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
.launcher { position: fixed; bottom: 20px; z-index: 2147483000; border: 0; border-radius: 24px;
  padding: 12px 18px; background: #2f5bea; color: #fff; font-size: 15px; cursor: pointer;
  box-shadow: 0 4px 14px rgba(0,0,0,.25); }
.launcher:focus-visible, button:focus-visible, textarea:focus-visible, a:focus-visible {
  outline: 3px solid #ffb400; outline-offset: 2px; }
.right { right: 20px; } .left { left: 20px; }
.panel { position: fixed; bottom: 80px; z-index: 2147483001; width: 370px; max-width: calc(100vw - 24px);
  height: 560px; max-height: calc(100vh - 100px); display: flex; flex-direction: column;
  background: #fff; color: #1d1f24; border-radius: 14px; box-shadow: 0 10px 40px rgba(0,0,0,.3);
  overflow: hidden; font-size: 14px; }
.panel[hidden] { display: none; }
header { display: flex; align-items: center; justify-content: space-between; padding: 12px 14px;
  background: #2f5bea; color: #fff; font-weight: 600; }
header button { background: transparent; border: 0; color: #fff; font-size: 20px; cursor: pointer;
  line-height: 1; padding: 2px 6px; }
.log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 8px;
  background: #f6f7fb; }
.msg { max-width: 85%; padding: 8px 11px; border-radius: 12px; white-space: pre-wrap;
  overflow-wrap: anywhere; line-height: 1.4; }
.customer { align-self: flex-end; background: #2f5bea; color: #fff; border-bottom-right-radius: 3px; }
.bot, .agent { align-self: flex-start; background: #fff; border: 1px solid #e1e4ec;
  border-bottom-left-radius: 3px; }
.agent { border-color: #1b9e63; }
.notice { background: #fff8e1; border-color: #f0c14b; }
.who { display: block; font-size: 11px; color: #6b7080; margin-bottom: 2px; }
.msg a { color: inherit; text-decoration: underline; }
.sources { margin-top: 6px; font-size: 12px; color: #4a4f5c; }
.sources a { color: #2f5bea; }
.choices, .csat { align-self: flex-start; display: flex; gap: 6px; flex-wrap: wrap; }
.choices button, .csat button, form button { border: 1px solid #2f5bea; background: #fff; color: #2f5bea;
  border-radius: 16px; padding: 6px 14px; cursor: pointer; font-size: 14px; }
.csat { flex-direction: column; background: #fff; border: 1px solid #e1e4ec; border-radius: 12px;
  padding: 10px; width: 100%; }
.stars { display: flex; gap: 4px; }
.stars button { padding: 4px 10px; }
.stars button[aria-pressed="true"] { background: #2f5bea; color: #fff; }
.csat textarea { width: 100%; min-height: 44px; }
form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #e1e4ec; background: #fff; }
form textarea { flex: 1; resize: none; height: 42px; padding: 10px; border: 1px solid #cfd3de;
  border-radius: 10px; font-size: 14px; }
form button { background: #2f5bea; color: #fff; border-radius: 10px; }
.typing { opacity: .7; }
.suggested { align-self: flex-start; max-width: 85%; background: #fff; border: 1px solid #e1e4ec;
  border-radius: 12px; padding: 8px 11px; font-size: 13px; }
.suggested ul { margin: 4px 0 0; padding-left: 18px; }
.suggested a { color: #2f5bea; }
@media (max-width: 480px) {
  .panel { inset: 0; width: 100vw; max-width: 100vw; height: 100%; max-height: 100vh; border-radius: 0; }
  .launcher { bottom: 12px; }
}`;

  const state = {};
  const el = (tag, props = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c) node.append(c);
    return node;
  };
  const safeUrl = (url) => {
    try {
      const u = new URL(url, location.href);
      return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
    } catch (_) {
      return null;
    }
  };
  const link = (label, url) => {
    const href = safeUrl(url);
    return href ? el("a", { href, target: "_blank", rel: "noopener noreferrer", text: label }) : document.createTextNode(label);
  };
  /* Markdown links and **bold** as nodes; everything else stays text. */
  function rich(text) {
    const frag = document.createDocumentFragment();
    const pattern = /\[([^\]\n]+)\]\(([^)\s]+)\)|\*\*([^*\n]+)\*\*/g;
    let at = 0;
    for (const m of text.matchAll(pattern)) {
      frag.append(document.createTextNode(text.slice(at, m.index)));
      frag.append(m[1] !== undefined ? link(m[1], m[2]) : el("strong", { text: m[3] }));
      at = m.index + m[0].length;
    }
    frag.append(document.createTextNode(text.slice(at)));
    return frag;
  }
  const randomKey = () =>
    crypto.randomUUID ? crypto.randomUUID() : [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");

  /* -- HTTP ------------------------------------------------------------------------------ */
  const storeKey = () => `firstlast:${state.settings.widgetKey}`;
  const saved = () => {
    try {
      return JSON.parse(localStorage.getItem(storeKey()) || "null");
    } catch (_) {
      return null;
    }
  };
  const save = (value) => localStorage.setItem(storeKey(), JSON.stringify(value));
  function headers(extra = {}) {
    const h = { Authorization: `Bearer ${state.settings.widgetKey}`, ...extra };
    if (state.conv) h["X-Conversation-Token"] = state.conv.token;
    return h;
  }
  async function api(path, options = {}) {
    const response = await fetch(BASE + path, { ...options, headers: headers(options.headers), signal: state.abort.signal });
    if (!response.ok) {
      const err = new Error(`HTTP ${response.status}`);
      err.status = response.status;
      throw err;
    }
    return response;
  }
  /* Server-sent events over fetch (EventSource cannot send our headers). */
  async function readEvents(response, onEvent) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const ev = { event: "message", data: "", id: null };
        for (const line of block.split("\n")) {
          const colon = line.indexOf(":");
          if (colon === 0) continue;
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") ev.event = val;
          else if (field === "data") ev.data += (ev.data ? "\n" : "") + val;
          else if (field === "id") ev.id = val;
        }
        if (ev.data) onEvent(ev.event, JSON.parse(ev.data), ev.id);
      }
    }
  }

  /* -- the conversation ---------------------------------------------------------------------- */
  function context() {
    return {
      page_url: (state.settings.page_url || location.href).slice(0, 2000),
      // only a title the host page sets: a site-wide document.title misleads retrieval (README)
      page_title: (state.settings.page_title || "").slice(0, 300),
      attributes: state.settings.attributes || {},
    };
  }
  /* One conversation even when suggestions and the first message ask for it at the same time. */
  function ensureConversation() {
    if (state.conv) return Promise.resolve(state.conv);
    if (!state.opening) state.opening = openConversation().finally(() => (state.opening = null));
    return state.opening;
  }
  async function openConversation() {
    const body = { channel: "chat", context: context(), locale: state.strings.lang };
    if (state.settings.user) body.user = state.settings.user;
    const r = await api("/v1/conversations", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const created = await r.json();
    state.conv = { id: created.id, token: created.token };
    save(state.conv);
    listen();
    return state.conv;
  }
  async function send(text) {
    text = text.trim();
    if (!text || state.busy) return;
    state.busy = true;
    clearChoices();
    const mine = addBubble({ role: "customer", text });
    const reply = addBubble({ role: "bot", text: "" });
    reply.classList.add("typing");
    let streamed = "";
    try {
      await ensureConversation();
      const r = await api(`/v1/conversations/${state.conv.id}/messages`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream", "Idempotency-Key": randomKey() },
        body: JSON.stringify({ text, context: context() }),
      });
      await readEvents(r, (event, data) => {
        if (event === "delta") {
          streamed += data.text;
          reply.replaceChildren(rich(streamed));
          scroll();
        } else if (event === "final") {
          state.seen.add(data.message.id);
          state.lastId = Math.max(state.lastId, data.message.id);
          mine.dataset.id = data.message.id;
          if (data.reply) {
            state.seen.add(data.reply.id);
            state.lastId = Math.max(state.lastId, data.reply.id);
            fillBubble(reply, data.reply);
            if (data.reply.decision === "offer") showChoices();
          } else reply.remove();
        } else if (event === "error") throw new Error(data.detail);
      });
    } catch (err) {
      if (err.name === "AbortError") return;
      reply.replaceChildren(document.createTextNode(state.strings.error));
      reply.classList.add("notice");
    } finally {
      reply.classList.remove("typing");
      state.busy = false;
      flushPending();
    }
  }
  /* The conversation's event stream: agent replies (and anything said in another tab) live. */
  async function listen() {
    const conv = state.conv;
    let failures = 0;
    while (state.conv === conv && !state.abort.signal.aborted) {
      try {
        const r = await api(`/v1/conversations/${conv.id}/events`, { headers: { "Last-Event-ID": String(state.lastId) } });
        failures = 0;
        await readEvents(r, onStreamEvent);
      } catch (err) {
        if (err.name === "AbortError") return;
        if (err.status === 403 || err.status === 404) return forget();
        failures += 1;
        if (failures > 2) await catchUp().catch(() => {}); // polling, only as the fallback
      }
      await new Promise((ok) => setTimeout(ok, Math.min(1000 * 2 ** failures, 15000)));
    }
  }
  function onStreamEvent(event, data) {
    if (event === "message") {
      if (state.busy) state.pending.push(data);
      else showMessage(data);
    } else if (event === "status") {
      state.status = data.status;
      if (data.status === "resolved" && !state.busy) showCsat();
    }
  }
  function flushPending() {
    for (const m of state.pending.splice(0)) showMessage(m);
    if (state.status === "resolved") showCsat();
  }
  async function catchUp() {
    const r = await api(`/v1/conversations/${state.conv.id}`);
    const conv = await r.json();
    conv.messages.forEach(showMessage);
    state.status = conv.status;
    if (conv.feedback && conv.feedback.length) state.rated = true;
    if (conv.status === "resolved") showCsat();
  }
  function forget() {
    state.conv = null;
    state.lastId = 0;
    localStorage.removeItem(storeKey());
  }

  /* -- rendering ----------------------------------------------------------------------------- */
  function addBubble(m) {
    const bubble = el("div", { class: `msg ${m.role}` });
    state.log.append(bubble);
    if (m.text) fillBubble(bubble, m);
    scroll();
    return bubble;
  }
  function fillBubble(bubble, m) {
    bubble.replaceChildren();
    bubble.className = `msg ${m.role}`;
    if (m.id) bubble.dataset.id = m.id;
    if (m.decision === "handoff" || m.decision === "offer") bubble.classList.add("notice");
    if (m.role === "agent") bubble.append(el("span", { class: "who", text: m.author || "" }));
    bubble.append(rich(m.text));
    const cites = (m.citations || []).filter((c) => safeUrl(c.url || ""));
    if (cites.length) {
      const list = el("div", { class: "sources", text: `${state.strings.sources}: ` });
      cites.forEach((c, i) => list.append(i ? ", " : "", link(c.title || c.url, c.url)));
      bubble.append(list);
    }
  }
  function showMessage(m) {
    if (state.seen.has(m.id)) return;
    state.seen.add(m.id);
    state.lastId = Math.max(state.lastId, m.id);
    clearChoices();
    addBubble(m);
    if (m.role === "bot" && m.decision === "offer") showChoices();
  }
  function clearChoices() {
    state.log.querySelectorAll(".choices").forEach((n) => n.remove());
  }
  function showChoices() {
    const s = state.strings;
    const row = el("div", { class: "choices", role: "group" });
    for (const word of [s.yes, s.no]) row.append(el("button", { type: "button", text: word, onclick: () => send(word) }));
    state.log.append(row);
    scroll();
  }
  function showCsat() {
    if (state.rated || state.log.querySelector(".csat") || !state.conv) return;
    const s = state.strings;
    let rating = 0;
    const box = el("div", { class: "csat", role: "group", "aria-label": s.csat_prompt }, el("div", { text: s.csat_prompt }));
    const stars = el("div", { class: "stars" });
    for (let i = 1; i <= 5; i++) {
      stars.append(
        el("button", {
          type: "button", text: "★".repeat(i), "aria-label": `${i} / 5`, "aria-pressed": "false",
          onclick: (e) => {
            rating = i;
            stars.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b === e.currentTarget)));
          },
        }),
      );
    }
    const comment = el("textarea", { "aria-label": s.csat_comment, placeholder: s.csat_comment, maxlength: "2000" });
    const submit = el("button", {
      type: "button", text: s.csat_submit,
      onclick: async () => {
        if (!rating) return stars.querySelector("button").focus();
        try {
          await api(`/v1/conversations/${state.conv.id}/feedback`, {
            method: "POST", headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ rating, comment: comment.value.slice(0, 2000) }),
          });
          state.rated = true;
          box.replaceChildren(el("div", { text: s.csat_thanks }));
        } catch (_) {
          box.append(el("div", { text: s.error }));
        }
      },
    });
    box.append(stars, comment, submit);
    state.log.append(box);
    scroll();
  }
  const scroll = () => (state.log.scrollTop = state.log.scrollHeight);

  /* Proactive help: articles for this page, once per boot, before the customer has typed. */
  async function suggest() {
    if (!state.proactive || state.suggested || state.log.querySelector(".customer")) return;
    state.suggested = true;
    try {
      const conv = await ensureConversation();
      const query = new URLSearchParams({ page_url: context().page_url, page_title: document.title.slice(0, 300) });
      const found = await (await api(`/v1/conversations/${conv.id}/articles?${query}`)).json();
      const items = found.filter((a) => safeUrl(a.url || "")).map((a) => {
        const anchor = link(a.title || a.url, a.url);
        anchor.addEventListener("click", () => {
          const path = `/v1/conversations/${conv.id}/articles/${encodeURIComponent(a.doc_id)}/click`;
          api(path, { method: "POST", keepalive: true }).catch(() => {}); // the link opens regardless
        });
        return el("li", {}, anchor);
      });
      if (!items.length || state.log.querySelector(".customer")) return;
      const s = state.strings;
      state.log.append(el("div", { class: "suggested", role: "group", "aria-label": s.suggested }, el("div", { text: s.suggested }), el("ul", {}, ...items)));
      scroll();
    } catch (_) {
      /* suggestions are optional: the chat works without them */
    }
  }

  function build() {
    const s = state.strings;
    const host = el("div", { id: "firstlast-widget" });
    const root = host.attachShadow({ mode: "open" });
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
    const side = state.settings.position === "left" ? "left" : "right";
    const launcher = el("button", { class: `launcher ${side}`, type: "button", "aria-expanded": "false", "aria-controls": "fl-panel", text: s.launcher });
    const log = el("div", { class: "log", role: "log", "aria-live": "polite" }, el("div", { class: "msg bot", text: s.welcome }));
    const input = el("textarea", { "aria-label": s.placeholder, placeholder: s.placeholder, maxlength: "4000", rows: "1" });
    const form = el("form", {}, input, el("button", { type: "submit", text: s.send }));
    const close = el("button", { type: "button", "aria-label": s.close, text: "×" });
    const panel = el("div", { class: `panel ${side}`, id: "fl-panel", role: "dialog", "aria-label": s.title, hidden: "" },
      el("header", {}, el("span", { text: s.title }), close), log, form);
    const setOpen = (open) => {
      panel.hidden = !open;
      launcher.setAttribute("aria-expanded", String(open));
      (open ? input : launcher).focus();
      if (open) scroll();
      if (open) suggest();
    };
    launcher.addEventListener("click", () => setOpen(panel.hidden));
    close.addEventListener("click", () => setOpen(false));
    panel.addEventListener("keydown", (e) => e.key === "Escape" && setOpen(false));
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const text = input.value;
      input.value = "";
      send(text);
    });
    root.append(launcher, panel);
    document.body.append(host);
    Object.assign(state, { host, log, input, setOpen });
  }

  /* -- the JS API ---------------------------------------------------------------------------- */
  async function boot(settings) {
    if (state.host) shutdown();
    if (!settings || !settings.widgetKey) throw new Error("firstlast: boot() needs a widgetKey");
    Object.assign(state, { settings: { ...settings }, abort: new AbortController(), seen: new Set(), pending: [], lastId: 0, busy: false, rated: false, conv: null, status: null });
    const locale = settings.locale || navigator.language || "en";
    const r = await api(`/v1/widget/config?locale=${encodeURIComponent(locale)}`);
    const config = await r.json();
    state.strings = config.strings;
    state.proactive = config.proactive === true;
    build();
    performance.mark("firstlast:interactive");
    const kept = saved();
    if (kept && kept.id && kept.token) {
      state.conv = kept;
      try {
        await catchUp();
        listen();
      } catch (_) {
        forget();
      }
    }
  }
  function shutdown() {
    if (state.abort) state.abort.abort();
    if (state.settings) localStorage.removeItem(storeKey());
    if (state.host) state.host.remove();
    for (const k of Object.keys(state)) delete state[k];
  }
  const update = (patch = {}) => {
    if (!state.settings) return;
    if (patch.attributes) state.settings.attributes = { ...(state.settings.attributes || {}), ...patch.attributes };
    if (patch.page_url) state.settings.page_url = patch.page_url;
    if (patch.page_title) state.settings.page_title = patch.page_title;
  };
  window.Firstlast = { version: "1", boot, update, shutdown, open: () => state.setOpen && state.setOpen(true), close: () => state.setOpen && state.setOpen(false) };

  const data = script ? script.dataset : {};
  const settings = { ...(window.firstlastSettings || {}) };
  if (data.widgetKey) settings.widgetKey = data.widgetKey;
  if (data.locale) settings.locale = data.locale;
  if (data.position) settings.position = data.position;
  if (settings.widgetKey) {
    const start = () => boot(settings).catch((e) => console.error("firstlast widget:", e));
    document.readyState === "loading" ? document.addEventListener("DOMContentLoaded", start) : start();
  }
})();
