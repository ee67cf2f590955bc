/* The Insights tab (issue #14): resolution analytics, the A/B rollout's comparison and the content
 * gaps for a period, read from /v1/analytics/*. Every value is inserted as text. */
import { api, h } from "./dom.js";

const PERIODS = ["7d", "30d", "90d"];
const MEASURES = {
  resolution_rate: "Resolution rate", resolved_by_bot: "Resolved by the bot", handoff_rate: "Handoff rate",
  csat: "CSAT (satisfied)", time_to_first_reply: "Time to first reply", time_to_resolution: "Time to resolution",
};
const WHO = { bot: "Bot", learned: "Learned entry", agent: "Agent" };

const pct = (v) => `${Math.round(v * 100)}%`;
function secs(v) {
  const a = Math.abs(v), sign = v < 0 ? "−" : "";
  if (a < 90) return `${sign}${Math.round(a)} s`;
  if (a < 5400) return `${sign}${Math.round(a / 60)} min`;
  return `${sign}${(a / 3600).toFixed(1)} h`;
}
const est = (e, fmt) => (e && e.value !== null && e.value !== undefined
  ? `${fmt(e.value)} (95% ${fmt(e.low)} to ${fmt(e.high)}, n=${e.n})` : `— (n=${e ? e.n : 0})`);

function table(id, headers, rows, foot) {
  const tr = (cells, cell = "td") => h("tr", {}, cells.map((c) => h(cell, {}, c)));
  return h("table", { id }, h("thead", {}, tr(headers, "th")), h("tbody", {}, rows.map((r) => tr(r))),
    foot ? h("tfoot", {}, tr(foot)) : null);
}

function resolution(r) {
  const s = r.summary;
  const reasons = Object.entries(s.handoff_reasons).map(([k, n]) => `${k}: ${n}`).join(", ") || "none";
  const csat = Object.entries(WHO).flatMap(([k, label]) => [h("dt", { text: `CSAT, ${label}` }), h("dd", { text: est(s.csat[k], pct) })]);
  return h("section", { class: "card" }, h("h2", { text: "Resolution" }),
    table("resolution", [r.bucket === "week" ? "Week of" : "Day", "Conversations", "Bot-involved", "Resolved by the bot", "Pending", "Handed off"],
      s.periods.map((p) => [p.start, String(p.conversations), String(p.bot_involved), String(p.resolved_by_bot), String(p.pending), String(p.handed_off)]),
      ["Total", String(s.conversations), String(s.bot_involved), est(s.resolved_by_bot, pct), String(s.pending), String(s.periods.reduce((n, p) => n + p.handed_off, 0))]),
    h("dl", {},
      h("dt", { text: "Resolved by an agent" }), h("dd", { text: String(s.resolved_by_agent) }),
      h("dt", { text: "Handoffs by reason" }), h("dd", { text: reasons }),
      h("dt", { text: "Median time to first reply" }), h("dd", { text: est(s.first_reply_s, secs) }),
      h("dt", { text: "Median time to resolution" }), h("dd", { text: est(s.resolution_s, secs) }),
      csat));
}

function rollout(r) {
  const c = r.comparison;
  const arms = `${c.conversations.bot || 0} bot and ${c.conversations.control || 0} control conversations`;
  return h("section", { class: "card" }, h("h2", { text: "A/B rollout" }),
    h("p", { class: "meta", text: r.enabled
      ? `On: the bot answers first for ${r.bot_percent}% of new conversations (${arms}).`
      : `Off: every conversation goes to the bot (${arms}).` }),
    h("p", { id: "rollout-statement", text: c.statement }),
    c.too_small ? null : table("rollout", ["Measure", "Bot", "Control", "Difference (bot − control)", "Verdict"],
      c.metrics.map((m) => {
        const fmt = m.kind === "proportion" ? pct : secs;
        const diff = m.kind === "proportion" ? (v) => `${v > 0 ? "+" : ""}${Math.round(v * 100)} pts` : secs;
        return [MEASURES[m.name] || m.name, est(m.bot, fmt), est(m.control, fmt), est(m.difference, diff), m.verdict];
      })));
}

function gaps(g) {
  const section = h("section", { class: "card" }, h("h2", { text: "Content gaps" }),
    h("p", { class: "meta", text: `${g.questions} question(s) handed off, offered a person or answered with low confidence; ${g.unclustered} fit no topic.` }));
  if (!g.topics.length) section.append(h("p", { text: "No topics in this period." }));
  else section.append(table("gaps", ["Topic", "Questions", "Handed off", "Trend", "Key terms", "Examples"],
    g.topics.map(({ topic: t, trend }) => [t.label, String(t.count), pct(t.handed_off_share), trend,
      t.terms.join(", "), h("ul", {}, t.examples.slice(0, 3).map((e) => h("li", { text: e.question })))])));
  return section;
}

export async function showInsights(view) {
  let since = "30d", loads = 0;
  const out = h("div", {});
  const pick = h("div", { class: "filters", role: "group", "aria-label": "Period" });
  const load = async () => {
    const mine = ++loads;
    for (const b of pick.children) b.setAttribute("aria-pressed", String(b.dataset.since === since));
    const q = `since=${since}`;
    const parts = await Promise.allSettled([
      api(`/v1/analytics/resolution?${q}&bucket=${since === "90d" ? "week" : "day"}`).then(resolution),
      api(`/v1/analytics/rollout?${q}`).then(rollout),
      api(`/v1/analytics/gaps?${q}&limit=10`).then(gaps),
    ]);
    if (mine !== loads) return; // a newer period was picked meanwhile
    out.replaceChildren(...parts.map((p) => (p.status === "fulfilled" ? p.value
      : h("p", { class: "card", text: `Could not load: ${p.reason.message}` }))));
  };
  for (const p of PERIODS) {
    pick.append(h("button", { type: "button", "data-since": p, text: `Last ${p}`,
      onclick: () => { since = p; load(); } }));
  }
  view.append(h("h2", { text: "Insights" }), pick, out);
  await load();
}
