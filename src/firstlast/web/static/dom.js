/* Shared by the console's modules: safe DOM building, the JSON API with the session cookie and
 * CSRF token, and server-sent events read with fetch. Nothing here parses text as HTML. */

export const session = { csrf: "", name: "", scope: "" };

export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

export function link(label, url) {
  try {
    const u = new URL(url, location.href);
    if (u.protocol === "https:" || u.protocol === "http:") {
      return h("a", { href: u.href, target: "_blank", rel: "noopener noreferrer", text: label });
    }
  } catch (_) { /* not a URL: plain text */ }
  return document.createTextNode(label);
}

/* Markdown links and **bold** in a bot reply as nodes (as the widget shows them); everything else
 * stays text, and a link is made only from an http(s) URL. */
export function rich(text) {
  const frag = document.createDocumentFragment();
  let at = 0;
  for (const m of text.matchAll(/\[([^\]\n]+)\]\(([^)\s]+)\)|\*\*([^*\n]+)\*\*/g)) {
    frag.append(document.createTextNode(text.slice(at, m.index)));
    frag.append(m[1] !== undefined ? link(m[1], m[2]) : h("strong", { text: m[3] }));
    at = m.index + m[0].length;
  }
  frag.append(document.createTextNode(text.slice(at)));
  return frag;
}

export const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");

export function say(text) {
  document.getElementById("status").textContent = text;
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

let onSignedOut = () => {};
export const whenSignedOut = (fn) => (onSignedOut = fn);

export async function api(path, { method = "GET", body, form, raw = false } = {}) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = session.csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: form !== undefined ? form : body !== undefined ? JSON.stringify(body) : undefined,
  });
  if (r.status === 401 && !path.startsWith("/console/session")) onSignedOut();
  if (!r.ok) {
    const detail = (await r.json().catch(() => ({}))).detail || r.statusText;
    throw new ApiError(r.status, typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  if (raw) return r;
  return r.status === 204 ? null : r.json();
}

/* An SSE stream read with fetch (the cookie goes along; Last-Event-ID is ours to send), reconnected
 * until `stop()`; `onEvent(event, data, id)`; `after`: resume after that event id. */
export function stream(path, onEvent, after = null) {
  const ctl = new AbortController();
  let last = after === null ? null : String(after);
  (async () => {
    while (!ctl.signal.aborted) {
      try {
        const headers = last !== null ? { "Last-Event-ID": last } : {};
        const r = await fetch(path, { headers, signal: ctl.signal, credentials: "same-origin" });
        if (!r.ok) throw new ApiError(r.status, r.statusText);
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, "\n");
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            let event = "message", data = "", id = null;
            for (const line of block.split("\n")) {
              if (line.startsWith("event: ")) event = line.slice(7);
              else if (line.startsWith("data: ")) data += line.slice(6);
              else if (line.startsWith("id: ")) id = line.slice(4);
            }
            if (id !== null) last = id;
            if (data) onEvent(event, JSON.parse(data), id);
          }
        }
      } catch (err) {
        if (ctl.signal.aborted) return;
        if (err.status === 401 || err.status === 403) return;
      }
      await new Promise((ok) => setTimeout(ok, 1000));
    }
  })();
  return { stop: () => ctl.abort() };
}
