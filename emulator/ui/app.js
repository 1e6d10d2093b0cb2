// The report-emulator dashboard. Plain JavaScript, no build step, no dependencies.
// Everything shown is built with textContent / createElement, never innerHTML: journal paths and
// bodies come from clients and may hold markup. Every action goes through the admin API.
"use strict";

(() => {
  const POLL_MS = 1000;        // while the page is visible
  const HIDDEN_POLL_MS = 5000; // while it is in a background tab
  const VENDORS = ["strigo", "echo360", "falkor", "parkup"];

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  /** An element: el("a", {href, class, text}, child, "text", ...). Attributes and text are never parsed as HTML. */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = String(value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  // --- talking to the admin API --------------------------------------------------------------------

  /** {ok, data, text} or {ok: false, error, errors}; never throws. */
  async function api(method, path, body, contentType = "application/json") {
    const init = { method, headers: {}, cache: "no-store" };
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body);
      init.headers["Content-Type"] = contentType;
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      return { ok: false, error: "The emulator did not answer (is it running?)", errors: {} };
    }
    const text = await response.text();
    let data = null;
    try { data = JSON.parse(text); } catch (err) { data = null; }
    if (!response.ok) {
      const error = data && typeof data.error === "string" ? data.error : `HTTP ${response.status}`;
      const errors = data && data.errors && typeof data.errors === "object" ? data.errors : {};
      return { ok: false, status: response.status, error, errors };
    }
    return { ok: true, data, text };
  }

  /** Put each field's messages next to its field (data-error-for), the rest in the form's general slot. */
  function showErrors(form, result) {
    clearErrors(form);
    if (!result || result.ok) return;
    const general = $(".form-error", form) || $(".form-error", form.closest("section"));
    let placedAll = true;
    for (const [path, messages] of Object.entries(result.errors || {})) {
      const slot = $(`[data-error-for="${CSS.escape(path)}"]`, form);
      const text = (Array.isArray(messages) ? messages : [messages]).join(" ");
      if (slot) slot.textContent = text;
      else placedAll = false;
    }
    if (general && (!placedAll || Object.keys(result.errors || {}).length === 0)) general.textContent = result.error;
    else if (general) general.textContent = "";
  }

  function clearErrors(form) {
    for (const slot of $$(".field-error, .form-error", form)) slot.textContent = "";
    const section = form.closest("section");
    const general = section && $(":scope > .form-error", section);
    if (general) general.textContent = "";
  }

  // --- time ---------------------------------------------------------------------------------------

  function parseTime(value) {
    const t = Date.parse(value);
    return Number.isNaN(t) ? null : t;
  }

  function formatDuration(ms) {
    const s = Math.round(Math.abs(ms) / 1000);
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m${s % 60 ? ` ${s % 60}s` : ""}`;
    const h = Math.floor(m / 60);
    if (h < 48) return `${h}h${m % 60 ? ` ${m % 60}m` : ""}`;
    const d = Math.floor(h / 24);
    return `${d}d${h % 24 ? ` ${h % 24}h` : ""}`;
  }

  function relative(value, now) {
    const t = parseTime(value);
    if (t === null || now === null) return "";
    const diff = t - now;
    if (Math.abs(diff) < 1000) return "now";
    return diff > 0 ? `in ${formatDuration(diff)}` : `${formatDuration(diff)} ago`;
  }

  /** 2026-01-15 09:00:00 (UTC), the emulator's own zone. */
  function shortTime(value) {
    if (typeof value !== "string") return "";
    return value.replace("T", " ").replace(/(\.\d+)?Z$/, "");
  }

  function timeEl(value, now) {
    const rel = relative(value, now);
    return el("span", { class: "when" },
      el("time", { datetime: value, text: shortTime(value) }), rel ? el("span", { class: "muted rel", text: rel }) : null);
  }

  // --- state polling ------------------------------------------------------------------------------

  let state = null;
  let etag = null;
  let lastQuery = null;
  let timer = null;
  let polling = false;
  let pollAgain = false;
  let scenarioKey = null;

  function query() {
    const params = new URLSearchParams();
    const vendor = $("#filter-vendor").value;
    const status = $("#filter-status").value;
    const text = $("#filter-q").value.trim();
    if (vendor) params.set("vendor", vendor);
    if (status) params.set("status", status);
    if (text) params.set("q", text);
    return params.toString();
  }

  async function poll() {
    if (polling) { pollAgain = true; return; }
    polling = true;
    clearTimeout(timer);
    try {
      const q = query();
      const headers = etag && q === lastQuery ? { "If-None-Match": etag } : {};
      const response = await fetch(`ui/state${q ? `?${q}` : ""}`, { headers, cache: "no-store" });
      if (response.status === 304) {
        setLive(true);
      } else if (response.ok) {
        etag = response.headers.get("ETag");
        lastQuery = q;
        state = await response.json();
        clearErrors($("#journal-filters"));
        render(state);
        setLive(true);
      } else {
        const body = await response.json().catch(() => ({}));
        showErrors($("#journal-filters"), { ok: false, error: body.error || `HTTP ${response.status}`, errors: body.errors || {} });
        setLive(true);
      }
    } catch (err) {
      setLive(false);
    } finally {
      polling = false;
      if (pollAgain) { pollAgain = false; poll(); return; }
      timer = setTimeout(poll, document.hidden ? HIDDEN_POLL_MS : POLL_MS);
    }
  }

  function setLive(ok) {
    const live = $("#live");
    live.textContent = ok ? "live" : "offline: the emulator does not answer";
    live.classList.toggle("bad", !ok);
  }

  function render(s) {
    const now = parseTime(s.clock.now);
    $("#now").textContent = shortTime(s.clock.now) + " UTC";
    $("#now").setAttribute("datetime", s.clock.now);
    $("#mode").textContent = `${s.clock.mode} clock`;
    renderAbout(s.emulator);
    renderJournal(s.journal, s.clock.now.slice(0, 10));
    renderEcho(s.echo360.requests, now);
    renderScenario(s.scenario);
  }

  function renderAbout(about) {
    if (!about) return;
    $("#about-version").textContent = about.version;
    $("#about-seed").textContent = String(about.seed);
    $("#about-strict").textContent = about.strict ? "on" : "off";
    $("#about-store").textContent = about.store;
    $("#about-tenant-row").hidden = !about.tenant;
    $("#about-tenant").textContent = about.tenant || "";
  }

  // --- journal ------------------------------------------------------------------------------------

  let selected = null; // the entry whose detail is open (a copy; journal entries have no id)

  function entryKey(e) { return `${e.wall_at}|${e.method}|${e.path}|${e.query}`; }

  function statusClass(status) {
    if (status === null || status === undefined) return "s-none";
    return `s-${Math.floor(status / 100)}xx`;
  }

  /** A journal time: the time of day on the emulator's current day, the date too on any other day. */
  function journalTime(at, today) {
    const full = shortTime(at);
    return at && at.slice(0, 10) === today ? full.slice(11) || at : full || at;
  }

  function renderJournal(journal, today) {
    const rows = $("#journal-rows");
    const fresh = [];
    for (const e of journal.requests) {
      const marks = el("td", { class: "marks" });
      if (e.rule) marks.append(el("span", { class: "badge rule", text: `rule ${e.rule}` }));
      if (e.fault) marks.append(el("span", { class: "badge fault", text: e.fault }));
      if (e.violations && e.violations.length) {
        marks.append(el("span", { class: "badge violation",
          text: `${e.violations.length} violation${e.violations.length === 1 ? "" : "s"}` }));
      }
      const row = el("tr", { tabindex: "0", class: selected && entryKey(selected) === entryKey(e) ? "selected" : null,
        "aria-label": `${e.method} ${e.path} ${e.status === null ? "no answer" : e.status}` },
        el("td", { class: "time" }, el("time", { datetime: e.at, title: e.at, text: journalTime(e.at, today) })),
        el("td", { class: "call" }, el("span", { class: "method", text: e.method }), " ",
          el("span", { class: "path", text: e.path + (e.query ? `?${e.query}` : "") })),
        el("td", {}, el("span", { class: `status ${statusClass(e.status)}`, text: e.status === null ? "—" : String(e.status) })),
        el("td", { text: e.vendor || "" }),
        el("td", { class: "num", text: typeof e.duration_ms === "number" ? e.duration_ms.toFixed(1) : "" }),
        marks);
      const open = () => { selected = e; showDetail(e); $$("tr.selected", rows).forEach((r) => r.classList.remove("selected")); row.classList.add("selected"); };
      row.addEventListener("click", open);
      row.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); open(); } });
      fresh.push(row);
    }
    rows.replaceChildren(...fresh);
    $("#journal-empty").hidden = journal.requests.length > 0;
    const more = journal.matched > journal.shown ? `, newest ${journal.shown} shown` : "";
    $("#journal-count").textContent = `(${journal.matched} call${journal.matched === 1 ? "" : "s"}${more})`;
  }

  const REASONS = { 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 301: "Moved Permanently",
    302: "Found", 304: "Not Modified", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 413: "Content Too Large", 415: "Unsupported Media Type",
    422: "Unprocessable Content", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout" };
  // Headers curl sets itself, or that describe this one connection.
  const CURL_SKIP = new Set(["host", "content-length", "connection", "accept-encoding", "user-agent"]);

  /** The recorded call as a curl command; secrets read *** (the journal never keeps them). */
  function curlFor(e) {
    const url = `${window.location.origin}${e.path}${e.query ? `?${e.query}` : ""}`;
    const parts = ["curl"];
    if (e.method !== "GET" || e.body) parts.push("-X", e.method);
    for (const [name, value] of Object.entries(e.headers || {})) {
      if (!CURL_SKIP.has(name.toLowerCase())) parts.push("-H", shellQuote(`${name}: ${value}`));
    }
    if (e.body) parts.push("--data-binary", shellQuote(e.body));
    parts.push(shellQuote(url));
    return parts.join(" ");
  }

  function headerList(headers, label) {
    const entries = Object.entries(headers || {});
    if (!entries.length) return el("p", { class: "muted", text: "(none recorded)" });
    const dl = el("dl", { class: "headers", "aria-label": label });
    for (const [name, value] of entries) dl.append(el("dt", { text: name }), el("dd", { text: value }));
    return dl;
  }

  function showDetail(e) {
    const box = $("#journal-detail");
    const fields = [
      ["Vendor", e.vendor || ""],
      ["Emulator time", e.at],
      ["Wall time", e.wall_at || ""],
      ["Duration", `${e.duration_ms} ms${e.delay_ms ? ` (${e.delay_ms} ms added by the scenario)` : ""}`],
      ["Rule", e.rule || "(none)"],
      ["Fault", e.fault || "(none)"],
    ];
    const dl = el("dl");
    for (const [name, value] of fields) dl.append(el("dt", { text: name }), el("dd", { text: value }));
    const violations = el("ul", { class: "violations" });
    for (const v of e.violations || []) {
      violations.append(el("li", {}, el("code", { text: `${v.location || ""} ${v.param || ""}`.trim() }), ` ${v.rule || ""}: ${v.message || ""}`));
    }
    const hasViolations = Boolean(e.violations && e.violations.length);
    const cut = e.cut || {};
    const answer = e.response;
    const statusLine = e.status === null || e.status === undefined
      ? `no answer (${e.fault || "connection closed"})` : `${e.status} ${REASONS[e.status] || ""}`.trim();
    let answerBody = "(empty)";
    if (answer && answer.body) answerBody = answer.body;
    else if (answer && answer.body === null && e.status !== null && answer.headers && "Content-Type" in answer.headers) {
      answerBody = "(streamed, not recorded)";
    }
    const curl = curlFor(e);
    box.replaceChildren(...[
      el("div", { class: "detail-head" }, el("h3", { text: "Selected call" }),
        el("button", { type: "button", onclick: () => { selected = null; box.hidden = true; $$("#journal-rows tr.selected").forEach((r) => r.classList.remove("selected")); }, text: "Close details" })),
      dl,
      hasViolations ? el("h4", { text: "Contract violations" }) : null,
      hasViolations ? violations : null,
      el("section", { class: "exchange", "aria-label": "Request" },
        el("h4", { text: "Request" }),
        el("p", { class: "request-line" }, el("code", { text: `${e.method} ${e.path}${e.query ? `?${e.query}` : ""}` })),
        headerList(e.headers, "Request headers"),
        el("pre", { class: "body request-body", text: e.body === null || e.body === undefined ? "(empty)" : e.body }),
        cut.body ? el("p", { class: "muted", text: `First ${cut.body.kept} of ${cut.body.of} characters.` }) : null),
      el("section", { class: "exchange", "aria-label": "Answer" },
        el("h4", { text: "Answer" }),
        el("p", { class: "status-line" }, el("span", { class: `status ${statusClass(e.status)}`, text: statusLine })),
        answer ? headerList(answer.headers, "Answer headers") : null,
        answer ? el("pre", { class: "body answer-body", text: answerBody }) : null,
        answer && answer.body ? el("p", { class: "muted", text: "The answer's first KiB." }) : null),
      el("div", { class: "curl" },
        el("pre", { class: "curl-call", text: curl }),
        el("button", { type: "button", class: "copy", "aria-label": "Copy as curl", text: "Copy as curl",
          onclick: (ev) => copy(curl, ev.currentTarget) })),
      el("p", { class: "muted", text: "Secrets read *** : the journal never keeps them." }),
    ].filter(Boolean));
    box.hidden = false;
  }

  // --- Echo360 requests ---------------------------------------------------------------------------

  function renderEcho(requests, now) {
    const list = $("#echo-list");
    list.replaceChildren(...requests.map((r) => echoItem(r, now)));
    $("#echo-empty").hidden = requests.length > 0;
  }

  /** The lifecycle steps that hold for a request in its status (a Failed or Missing one has no file). */
  function echoSteps(r) {
    const steps = [["Submitted", r.created]];
    if (r.status === "Failed" || r.status === "Missing") {
      steps.push([r.status, r.available_at]);
    } else if (r.status === "Pending") {
      steps.push([r.outcome === "Available" ? "Available" : `Ends ${r.outcome}`, r.available_at]);
      if (r.file_expires) steps.push(["File expires", r.file_expires]);
    } else if (r.status === "Available") {
      steps.push(["Available", r.available_at]);
      if (r.link_expires) steps.push(["Link expires", r.link_expires]);
      steps.push(["File expires", r.file_expires]);
    } else if (r.status === "Expired") {
      steps.push(["Available", r.available_at], ["Expired, file deleted", r.file_expires]);
    }
    return steps;
  }

  function echoNote(r) {
    if (r.status === "Failed" || r.status === "Missing") return `${r.status}: no file and no expiry; it stays ${r.status}.`;
    if (r.status === "Pending" && r.outcome !== "Available") return `Will end ${r.outcome}: no file will be made.`;
    if (r.status === "Expired") return "Expired: the file is deleted; the request is listed for 7 more days.";
    return null;
  }

  function echoItem(r, now) {
    const params = Object.entries(r.parameters || {}).map(([k, v]) => `${k}=${v}`).join(", ");
    const timeline = el("ol", { class: "timeline", "aria-label": `Lifecycle of request ${r.request_id}` });
    for (const [label, at] of echoSteps(r)) {
      const t = parseTime(at);
      const done = t !== null && now !== null && t <= now;
      timeline.append(el("li", { class: done ? "done" : "todo" }, el("span", { class: "step", text: label }), " ", timeEl(at, now)));
    }
    const note = echoNote(r);
    return el("li", { class: `echo-item st-item-${r.status}`, "data-request-id": r.request_id, "data-status": r.status },
      el("div", { class: "echo-head" },
        el("strong", { text: r.report_name }),
        el("span", { class: `badge st-${r.status}`, text: r.status }),
        el("code", { class: "muted id", title: r.request_id, text: r.request_id })),
      params ? el("p", { class: "muted params", text: params }) : null,
      timeline,
      note ? el("p", { class: "muted note", text: note }) : null,
      r.download_url ? el("p", {}, el("a", { href: r.download_url, class: "download", text: `Download ${r.report_name} file`,
        "aria-label": `Download ${r.report_name} file of request ${r.request_id}` })) : null);
  }

  async function echoStatuses() {
    const result = await api("GET", "echo360/requests");
    const map = new Map();
    if (result.ok) for (const r of result.data.requests) map.set(r.request_id, r);
    return map;
  }

  // --- clock moves and what they made happen ------------------------------------------------------

  async function move(form, label, path, body) {
    clearErrors(form);
    const [before, clockBefore] = await Promise.all([echoStatuses(), api("GET", "clock")]);
    const result = await api("POST", path, body);
    if (!result.ok) { showErrors(form, result); return false; }
    const after = await echoStatuses();
    const changes = [];
    for (const [id, r] of after) {
      const old = before.get(id);
      if (old && old.status !== r.status) changes.push(`${r.report_name} ${id}: ${old.status} → ${r.status}`);
    }
    const from = clockBefore.ok ? shortTime(clockBefore.data.now) : "?";
    const item = el("div", { class: "move" },
      el("p", {}, el("strong", { text: label }), ` ${from} → ${shortTime(result.data.now)}`),
      changes.length
        ? el("ul", { "aria-label": "Echo360 requests that changed status" }, ...changes.map((c) => el("li", { text: c })))
        : el("p", { class: "muted", text: "No Echo360 request changed status." }));
    const moves = $("#moves");
    moves.prepend(item);
    while (moves.children.length > 3) moves.lastElementChild.remove();
    poll();
    return true;
  }

  function numberOrText(text) {
    const trimmed = text.trim();
    return trimmed !== "" && Number.isFinite(Number(trimmed)) ? Number(trimmed) : trimmed;
  }

  function wireClock() {
    const group = $("#clock .buttons");
    for (const button of $$("button[data-advance]", group)) {
      button.addEventListener("click", () => move($("#advance-form"), `Advanced ${button.textContent.replace("+", "")}:`, "clock/advance",
        { seconds: Number(button.dataset.advance) }));
    }
    $("#advance-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const value = numberOrText($("#advance-seconds").value);
      move(ev.target, `Advanced ${value} s:`, "clock/advance", { seconds: value });
    });
    $("#set-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      move(ev.target, "Set the time:", "clock", { now: $("#set-now").value.trim() });
    });
  }

  // --- scenario -----------------------------------------------------------------------------------

  function renderScenario(status) {
    const loaded = status.scenario ? (status.scenario.loaded || [status.scenario.name || "(unnamed)"]) : [];
    $("#scenario-name").textContent = loaded.length ? loaded.join(" + ") : "none";
    $("#scenario-loaded").replaceChildren(...(loaded.length > 1 ? loaded.map((n) => el("li", { class: "badge", text: n })) : []));
    $("#scenario-loaded").hidden = loaded.length < 2;
    const rows = status.rules.map((r) => el("tr", { "data-rule": r.name || String(r.index) },
      el("td", { class: "num", text: String(r.index) }), el("td", { text: r.name || "" }), el("td", { text: r.kind || "" }),
      el("td", { class: "num matched", text: String(r.matched) }), el("td", { class: "num answered", text: String(r.answered) })));
    $("#rules-rows").replaceChildren(...rows);
    $("#rules-table").hidden = rows.length === 0;
    const key = JSON.stringify(status.scenario);
    if (key !== scenarioKey) {
      if (scenarioKey !== null) loadWorld(); // a scenario may rename the world or change credentials
      scenarioKey = key;
    }
  }

  async function putScenario(text) {
    const form = $("#yaml-form");
    clearErrors(form);
    $("#yaml-errors").replaceChildren();
    const result = await api("PUT", "scenario", text, "application/yaml");
    if (!result.ok) {
      const items = Object.entries(result.errors).map(([path, messages]) =>
        el("li", { "data-path": path }, el("code", { text: path }), ` ${(Array.isArray(messages) ? messages : [messages]).join(" ")}`));
      if (!items.length) items.push(el("li", { text: result.error }));
      $("#yaml-errors").replaceChildren(...items);
      return false;
    }
    $("#scenario-error").textContent = "";
    poll();
    return true;
  }

  async function loadShipped() {
    const result = await api("GET", "scenarios");
    const select = $("#shipped");
    if (!result.ok) { select.replaceChildren(el("option", { value: "", text: "(none available)" })); return; }
    const options = result.data.scenarios.map((s) => el("option", { value: s.name, text: s.name, "data-description": s.description }));
    select.replaceChildren(...(options.length ? options : [el("option", { value: "", text: "(none shipped)" })]));
    const describe = () => {
      const chosen = select.selectedOptions[0];
      $("#shipped-description").textContent = chosen ? chosen.dataset.description || "" : "";
    };
    select.addEventListener("change", describe);
    describe();
  }

  function wireScenario() {
    $("#shipped-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const form = ev.target;
      clearErrors(form);
      const name = $("#shipped").value;
      if (!name) return;
      const text = await api("GET", `scenarios/${encodeURIComponent(name)}`);
      if (!text.ok) { showErrors(form, text); return; }
      $("#yaml").value = text.text;
      await putScenario(text.text);
    });
    $("#yaml-form").addEventListener("submit", (ev) => { ev.preventDefault(); putScenario($("#yaml").value); });
    $("#clear-scenario").addEventListener("click", async () => {
      const result = await api("DELETE", "scenario");
      $("#yaml-errors").replaceChildren();
      $("#scenario-error").textContent = result.ok ? "" : result.error;
      poll();
    });
  }

  // --- world and credentials ----------------------------------------------------------------------

  function shellQuote(text) { return `'${String(text).replace(/'/g, "'\\''")}'`; }

  function isoMillis(ms) { return new Date(ms).toISOString(); }

  /** A curl line that works against this server with the current credentials and world. */
  function curlLine(vendor, creds, world, nowMs) {
    const base = window.location.origin;
    const c = creds || {};
    const w = world || {};
    if (vendor === "strigo") {
      const event = (w.events || [])[0];
      if (!event) return null;
      return `curl -H ${shellQuote(`Authorization: Bearer ${c.org_id}:${c.api_key}`)} ` +
        shellQuote(`${base}/api/v1/events/${encodeURIComponent(event.id)}/reports/exercises?output=json`);
    }
    if (vendor === "echo360") {
      const params = new URLSearchParams({ grant_type: "client_credentials", client_id: c.client_id, client_secret: c.client_secret });
      return `curl -X POST ${shellQuote(`${base}/oauth2/access_token?${params}`)}`;
    }
    if (vendor === "falkor") {
      const pathway = (w.pathways || [])[0];
      if (!pathway) return null;
      return `curl -X POST -H ${shellQuote(`Authorization: Basic ${c.token}`)} -H 'Content-Type: application/json' ` +
        `-d ${shellQuote(JSON.stringify({ pathway: pathway.ID }))} ${shellQuote(`${base}/v1/logs/pathway-logs`)}`;
    }
    if (vendor === "parkup") {
      const user = (w.users || [])[0];
      if (!user || nowMs === null) return null;
      const body = { customerId: user.customerId, refId: user.refId,
        from: isoMillis(nowMs - 7 * 86400000), until: isoMillis(nowMs) };
      return `curl -X POST -H ${shellQuote(`Authorization: Bearer ${c.token}`)} -H 'Content-Type: application/json' ` +
        `-d ${shellQuote(JSON.stringify(body))} ${shellQuote(`${base}/api/v3/business/report/event/user`)}`;
    }
    return null;
  }

  async function copy(text, button) {
    let done = false;
    try {
      if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(text); done = true; }
    } catch (err) { done = false; }
    if (!done) {
      const area = el("textarea", { class: "sr-only", "aria-hidden": "true" });
      area.value = text;
      document.body.append(area);
      area.select();
      try { done = document.execCommand("copy"); } catch (err) { done = false; }
      area.remove();
    }
    const label = button.textContent;
    button.textContent = done ? "Copied" : "Copy failed";
    setTimeout(() => { button.textContent = label; }, 1200);
  }

  const SECRET_KEY = /secret|key|token|password/i;
  const HIDDEN = "••••••••";
  let showSecrets = false;

  /** text with each secret replaced by HIDDEN, unless the person asked to see them. */
  function veil(text, secrets) {
    if (showSecrets) return text;
    return secrets.reduce((out, secret) => (secret ? out.split(secret).join(HIDDEN) : out), text);
  }

  function copyRow(name, value, what, secret = false) {
    return el("div", { class: "kv" },
      el("span", { class: "k", text: name }),
      el("code", { class: secret ? "v secret" : "v", text: secret && !showSecrets ? HIDDEN : value }),
      el("button", { type: "button", class: "copy", "aria-label": `Copy ${what}`, onclick: (ev) => copy(value, ev.currentTarget), text: "Copy" }));
  }

  function idsOf(vendor, world) {
    const w = world || {};
    if (vendor === "strigo") {
      return [...(w.events || []).slice(0, 3).map((e) => [`event ${e.name}`, e.id]),
        ...(w.courses || []).slice(0, 3).map((e) => [`course ${e.name}`, e.id])];
    }
    if (vendor === "echo360") {
      return [...(w.courses || []).slice(0, 3).map((e) => [`course ${e.identifier || e.name}`, e.id]),
        ...(w.media || []).slice(0, 2).map((e) => [`${e.kind} ${e.name}`, e.id])];
    }
    if (vendor === "falkor") return (w.pathways || []).slice(0, 4).map((p) => [`pathway ${p.name}`, p.ID]);
    if (vendor === "parkup") return (w.users || []).slice(0, 4).map((u) => [`user (customer ${u.customerId})`, u.refId]);
    return [];
  }

  function wireSecrets() {
    $("#show-secrets").addEventListener("click", (ev) => {
      showSecrets = !showSecrets;
      ev.currentTarget.setAttribute("aria-pressed", String(showSecrets));
      ev.currentTarget.textContent = showSecrets ? "Hide secrets" : "Show secrets";
      loadWorld();
    });
  }

  async function loadWorld() {
    const [creds, world, clock] = await Promise.all([api("GET", "credentials"), api("GET", "world"), api("GET", "clock")]);
    const box = $("#world-vendors");
    if (!creds.ok || !world.ok) { box.replaceChildren(el("p", { class: "form-error", text: creds.error || world.error })); return; }
    const nowMs = clock.ok ? parseTime(clock.data.now) : null;
    const names = Object.keys(creds.data).sort((a, b) => VENDORS.indexOf(a) - VENDORS.indexOf(b));
    box.replaceChildren(...names.map((vendor) => {
      const c = creds.data[vendor] || {};
      const wasOpen = $(`details.vendor[data-vendor="${vendor}"]`, box);
      const section = el("details", { class: "vendor", open: wasOpen ? wasOpen.open : vendor === names[0], "data-vendor": vendor },
        el("summary", {}, el("strong", { text: vendor })));
      section.append(el("h4", { text: "Credentials" }));
      for (const [key, value] of Object.entries(c)) section.append(copyRow(key, String(value), `${vendor} ${key}`, SECRET_KEY.test(key)));
      const ids = idsOf(vendor, world.data[vendor]);
      if (ids.length) {
        section.append(el("h4", { text: "Ids" }));
        for (const [name, id] of ids) section.append(copyRow(name, String(id), `${vendor} ${name}`));
      }
      const line = curlLine(vendor, c, world.data[vendor], nowMs);
      if (line) {
        section.append(el("h4", { text: "Try it" }),
          el("div", { class: "curl" }, el("pre", { class: "curl-line", "data-vendor": vendor,
            text: veil(line, Object.entries(c).filter(([k]) => SECRET_KEY.test(k)).map(([, v]) => String(v))) }),
            el("button", { type: "button", class: "copy", "aria-label": `Copy ${vendor} curl command`, text: "Copy",
              onclick: (ev) => copy(line, ev.currentTarget) })));
      }
      return section;
    }));
  }

  // --- reset --------------------------------------------------------------------------------------

  function wireReset() {
    const dialog = $("#reset-dialog");
    const form = $("#reset-form");
    $("#reset-open").addEventListener("click", () => { clearErrors(form); dialog.showModal(); $("#reset-cancel").focus(); });
    $("#reset-cancel").addEventListener("click", () => dialog.close());
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = {};
      const seed = $("#reset-seed").value.trim();
      const now = $("#reset-now").value.trim();
      if (seed !== "") body.seed = /^-?\d+$/.test(seed) ? Number(seed) : seed;
      if (now !== "") body.now = now;
      const result = await api("POST", "reset", body);
      showErrors(form, result);
      if (result.ok) {
        dialog.close();
        $("#moves").replaceChildren(el("p", { class: "muted", text: `Reset: seed ${result.data.seed}, time ${shortTime(result.data.now)}.` }));
        selected = null;
        $("#journal-detail").hidden = true;
        loadWorld();
        poll();
      }
    });
  }

  // --- start --------------------------------------------------------------------------------------

  function start() {
    wireClock();
    wireScenario();
    wireReset();
    wireSecrets();
    const refilter = () => { etag = null; poll(); };
    $("#filter-vendor").addEventListener("change", refilter);
    $("#filter-status").addEventListener("change", refilter);
    $("#filter-q").addEventListener("input", refilter);
    $("#journal-filters").addEventListener("submit", (ev) => { ev.preventDefault(); refilter(); });
    document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
    loadShipped();
    loadWorld();
    poll();
  }

  start();
})();
