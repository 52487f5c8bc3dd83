// Fathom support-lead console. No dependencies. Every value from the server is written with
// textContent (never as HTML); eval reports open in a sandboxed frame that can run nothing.
"use strict";

(() => {
  const KEY_STORAGE = "fathom.console.adminKey";
  const $ = (id) => document.getElementById(id);

  /** An element with a class and text; children appended in order. */
  function el(tag, options = {}, ...children) {
    const node = document.createElement(tag);
    if (options.className) node.className = options.className;
    if (options.text !== undefined && options.text !== null) node.textContent = String(options.text);
    for (const [name, value] of Object.entries(options.attrs || {})) node.setAttribute(name, String(value));
    for (const child of children) if (child) node.append(child);
    return node;
  }

  // Icons as inline SVG, always beside a text label: they show without an emoji font.
  const ICONS = {
    up: "M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.4-1.1L13.2 1 6.6 7.6C6.2 8 6 8.5 6 9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z",
    down: "M22 3h-4v12h4V3zM2 14a2 2 0 0 0 2 2h6.3l-1 4.6v.3c0 .4.2.8.4 1.1l1.1 1 6.6-6.6c.4-.4.6-.9.6-1.4V5a2 2 0 0 0-2-2H7c-.8 0-1.5.5-1.8 1.2l-3 7.1c-.1.2-.2.5-.2.7v2z",
    comment: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z",
  };
  const RATING_LABELS = { up: "thumbs up", down: "thumbs down", comment: "comment" };

  function icon(name) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "icon");
    svg.setAttribute("data-icon", name);
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.appendChild(document.createElementNS(ns, "path")).setAttribute("d", ICONS[name]);
    return svg;
  }

  /** An icon and its label: "👍 thumbs up" without the emoji. */
  function rating(name, suffix = "") {
    return el("span", { className: "rating", attrs: { "data-rating": name } }, icon(name), ` ${RATING_LABELS[name]}${suffix}`);
  }

  const percent = (value) => (value === null || value === undefined ? "—" : (value * 100).toFixed(1) + "%");
  const when = (ms) => new Date(ms).toISOString().replace("T", " ").slice(0, 16) + " UTC";
  const RESOLVED = new Set(["confirmed", "quiet"]);
  const NOT_COUNTED = new Set(["pending", "no_question"]);
  const outcomeClass = (outcome) =>
    RESOLVED.has(outcome) ? "resolved" : NOT_COUNTED.has(outcome) ? "not-counted" : "unresolved";
  const OUTCOME_LABELS = {
    confirmed: "confirmed by the customer",
    quiet: "answered, customer stayed away",
    handed_off: "handed off",
    rejected: "thumbs-down",
    came_back: "came back, not answered",
    not_answered: "never answered",
    pending: "pending (inside the quiet window)",
    no_question: "no question asked",
  };

  class AuthError extends Error {}

  async function api(path, accept = "application/json") {
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (!key) throw new AuthError("no key");
    const response = await fetch(path, {
      headers: { Authorization: "Bearer " + key, Accept: accept },
      cache: "no-store",
    });
    if (response.status === 401) throw new AuthError("key refused");
    if (!response.ok) {
      let code = String(response.status);
      try {
        code = (await response.json()).code || code;
      } catch (_) { /* not JSON */ }
      throw new Error("request failed: " + code);
    }
    return accept === "application/json" ? response.json() : response.text();
  }

  function showLogin(message) {
    sessionStorage.removeItem(KEY_STORAGE);
    $("app").hidden = true;
    $("signout").hidden = true;
    $("login").hidden = false;
    $("workspace").textContent = "";
    $("login-error").hidden = !message;
    $("login-error").textContent = message || "";
    $("key").focus();
  }

  function showApp() {
    $("login").hidden = true;
    $("app").hidden = false;
    $("signout").hidden = false;
  }

  function windowQuery() {
    return $("window").value + "&quiet_hours=" + encodeURIComponent($("quiet").value);
  }

  // --- sections ------------------------------------------------------------------------

  function renderResolution(summary) {
    const r = summary.resolution;
    $("rate").textContent = percent(r.rate);
    $("rate").dataset.value = r.rate === null ? "" : String(r.rate);
    $("rate-interval").textContent = r.rate === null
      ? "95% interval — (nothing decided yet)"
      : `95% interval ${percent(r.rate_low)} – ${percent(r.rate_high)} (Wilson), ${r.resolved} of ${r.resolved + r.unresolved}`;
    $("resolved-count").textContent = r.resolved;
    $("unresolved-count").textContent = r.unresolved;
    $("not-counted-count").textContent = r.not_counted;
    $("conversation-count").textContent = r.conversations;
    const rows = Object.keys(OUTCOME_LABELS).map((outcome) =>
      el("tr", { className: outcomeClass(outcome), attrs: { "data-outcome": outcome } },
        el("td", { text: OUTCOME_LABELS[outcome] }),
        el("td", { className: "count", text: r.by_outcome[outcome] ?? 0 })));
    $("outcomes").replaceChildren(...rows);
    $("definition").textContent = summary.definition;
  }

  function renderHandoffs(summary) {
    const entries = Object.entries(summary.handoffs.by_reason).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    const max = Math.max(1, ...entries.map(([, n]) => n));
    $("handoffs-total").textContent = summary.handoffs.total;
    $("handoffs-empty").hidden = entries.length > 0;
    const rows = entries.map(([reason, count]) => {
      const bar = el("div", { className: "bar" });
      bar.style.width = (100 * count / max).toFixed(1) + "%";
      return el("div", { className: "bar-row", attrs: { "data-reason": reason } },
        el("span", { className: "label", text: reason.replaceAll("_", " "), attrs: { title: reason } }),
        el("div", { className: "bar-track" }, bar),
        el("span", { className: "count", text: count }));
    });
    $("handoffs").replaceChildren(...rows);
  }

  function transcriptButton(conversationId, label = "open transcript") {
    const button = el("button", { className: "linkish", text: label, attrs: { type: "button", "data-conversation": conversationId } });
    button.addEventListener("click", () => openTranscript(conversationId));
    return button;
  }

  function renderFeedback(summary) {
    const f = summary.feedback;
    $("feedback-up").textContent = f.up;
    $("feedback-down").textContent = f.down;
    $("feedback-comments").textContent = f.comments;
    const items = f.items.map((item) => {
      const kind = item.rating === "up" || item.rating === "down" ? item.rating : "comment";
      return el("li", { attrs: { "data-rating": item.rating || "none" } },
        rating(kind, ` ${when(item.created_at_ms)} `),
        transcriptButton(item.conversation_id),
        item.comment ? el("span", { className: "comment", text: item.comment }) : null,
        item.rated_text ? el("span", { className: "rated", text: "on: " + item.rated_text }) : null);
    });
    if (items.length === 0) items.push(el("li", { className: "muted", text: "No feedback in this window." }));
    $("feedback-list").replaceChildren(...items);
  }

  function renderConversations(summary) {
    const rows = summary.conversations.map((c) =>
      el("tr", { attrs: { "data-id": c.conversation_id, "data-outcome": c.outcome } },
        el("td", { text: when(c.created_at_ms) }),
        el("td", { text: c.state + (c.handoff_reason ? ` (${c.handoff_reason})` : "") }),
        el("td", {}, el("span", { className: "outcome-tag " + outcomeClass(c.outcome), text: c.outcome })),
        el("td", { text: c.question || "—" }),
        el("td", { className: "lang", text: c.language || "—" }),
        el("td", {}, transcriptButton(c.conversation_id, "transcript"))));
    if (rows.length === 0) rows.push(el("tr", {}, el("td", { className: "muted", text: "No conversations in this window.", attrs: { colspan: 6 } })));
    $("conversations").replaceChildren(...rows);
  }

  function renderQuestions(view) {
    $("questions-total").textContent = view.questions;
    $("questions-method").textContent = view.method;
    const groups = view.groups.map((group) =>
      el("li", { className: "group", attrs: { "data-count": group.count, "data-language": group.language || "" } },
        group.language ? el("span", { className: "lang-tag", text: group.language }) : null,
        el("span", { className: "terms", text: group.terms.length ? group.terms.join(" · ") : "(no content terms)" }),
        el("span", { className: "muted", text: ` — ${group.count} question${group.count === 1 ? "" : "s"}` }),
        el("ul", {}, ...group.questions.map((q) =>
          el("li", { attrs: { "data-decision": q.decision } },
            el("span", { text: `“${q.text}” ` }),
            el("span", { className: "muted", text: `${q.decision}: ${q.reason} ` }),
            transcriptButton(q.conversation_id, "transcript"))))));
    if (groups.length === 0) groups.push(el("li", { className: "muted", text: "Every question in this window was answered." }));
    $("question-groups").replaceChildren(...groups);
  }

  function safeHref(url) {
    try {
      const parsed = new URL(url);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (_) {
      return null;
    }
  }

  function renderDecision(decision) {
    const citations = (decision.citations || []).map((c) => {
      const href = c.url ? safeHref(c.url) : null;
      const title = href
        ? el("a", { text: c.title, attrs: { href, target: "_blank", rel: "noopener noreferrer" } })
        : el("span", { text: c.title });
      return el("li", { className: "citation" }, title,
        el("span", { className: "muted", text: ` (${c.article_id}; chunks ${(c.chunk_ids || []).join(", ") || "—"})` }));
    });
    const evidence = decision.evidence_ids || [];
    return el("div", { className: "decision" },
      el("div", {},
        el("strong", { text: "decision " }), el("span", { className: "kind", text: decision.kind }),
        el("strong", { text: " · reason " }), el("span", { className: "reason", text: decision.reason }),
        el("strong", { text: " · confidence " }), el("span", { className: "confidence", text: Number(decision.confidence).toFixed(2) })),
      decision.summary ? el("div", { text: "summary: " + decision.summary }) : null,
      citations.length ? el("div", {}, el("strong", { text: "citations" }), el("ul", {}, ...citations)) : null,
      el("div", { className: "evidence muted", text: "evidence: " + (evidence.length ? evidence.join(", ") : "none") }));
  }

  async function openTranscript(conversationId) {
    try {
      const view = await api("/v1/admin/console/conversations/" + encodeURIComponent(conversationId) +
        "?quiet_hours=" + encodeURIComponent($("quiet").value));
      const section = $("transcript");
      section.hidden = false;
      section.dataset.conversation = view.conversation_id;
      $("transcript-title").textContent = "Transcript " + view.conversation_id;
      $("transcript-meta").textContent = `state ${view.state} · outcome ${view.outcome}` +
        (view.handoff_reason ? ` · handoff: ${view.handoff_reason}` : "") + ` · started ${when(view.created_at_ms)}`;
      const feedbackBySeq = new Map();
      for (const f of view.feedback) if (f.message_seq !== undefined) feedbackBySeq.set(f.message_seq, f);
      const messages = view.transcript.map((m) => {
        const rated = feedbackBySeq.get(m.seq);
        return el("li", { className: "message", attrs: { "data-role": m.role, "data-seq": m.seq } },
          el("div", { className: "who", text: `${m.author || m.role} · ${when(m.created_at_ms)}` }),
          el("div", { className: "text", text: m.text }),
          m.decision ? renderDecision(m.decision) : null,
          rated ? el("div", { className: "muted" }, "rated ",
            rated.rating === "up" || rated.rating === "down" ? rating(rated.rating) : null,
            rated.comment ? ` ${rated.comment}` : "") : null);
      });
      $("transcript-messages").replaceChildren(...messages);
      const unattached = view.feedback.filter((f) => f.message_seq === undefined);
      $("transcript-feedback").replaceChildren(...unattached.map((f) =>
        el("p", { className: "muted", text: `feedback: ${f.rating || ""} ${f.comment || ""}` })));
      section.scrollIntoView({ block: "start" });
    } catch (error) {
      handle(error);
    }
  }

  function renderReports(list) {
    $("reports-folder").textContent = list.folder;
    $("reports-empty").hidden = list.reports.length > 0;
    const items = list.reports.map((report) => {
      const button = el("button", { text: report.name, attrs: { type: "button", "data-name": report.name } });
      button.addEventListener("click", () => openReport(report.name));
      return el("li", {}, button,
        el("span", { className: "muted", text: `${when(report.modified_at_ms)} · ${(report.bytes / 1024).toFixed(1)} KiB` }));
    });
    $("reports").replaceChildren(...items);
  }

  async function openReport(name) {
    try {
      const html = await api("/v1/admin/eval-reports/" + encodeURIComponent(name), "text/html");
      // A fresh frame each time; sandbox without tokens: no scripts, no forms, its own origin.
      const frame = document.createElement("iframe");
      frame.id = "report-frame";
      frame.title = "Eval report " + name;
      frame.setAttribute("sandbox", "");
      frame.srcdoc = html;
      $("report-frame").replaceWith(frame);
      $("report-title").textContent = name;
      $("report-view").hidden = false;
      $("report-view").dataset.name = name;
    } catch (error) {
      handle(error);
    }
  }

  function handle(error) {
    if (error instanceof AuthError) {
      showLogin("That admin key was not accepted.");
    } else {
      $("status").textContent = String(error.message || error);
    }
  }

  async function refresh() {
    $("status").textContent = "loading…";
    document.body.dataset.loaded = "false";
    try {
      const query = windowQuery();
      const [summary, questions, reports] = await Promise.all([
        api("/v1/admin/console/summary?" + query),
        api("/v1/admin/console/questions?" + $("window").value),
        api("/v1/admin/eval-reports"),
      ]);
      showApp();
      $("workspace").textContent = summary.workspace;
      renderResolution(summary);
      renderHandoffs(summary);
      renderFeedback(summary);
      renderConversations(summary);
      renderQuestions(questions);
      renderReports(reports);
      $("status").textContent = "updated " + when(summary.generated_at_ms) +
        (summary.window.truncated ? " · only the newest 5000 conversations were read" : "");
      document.body.dataset.loaded = "true";
    } catch (error) {
      handle(error);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("key").value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY_STORAGE, key);
      $("key").value = "";
      refresh();
    });
    $("controls").addEventListener("submit", (event) => {
      event.preventDefault();
      refresh();
    });
    $("window").addEventListener("change", refresh);
    $("quiet").addEventListener("change", refresh);
    $("signout").addEventListener("click", () => showLogin(""));
    if (sessionStorage.getItem(KEY_STORAGE)) refresh();
    else showLogin("");
  });
})();
