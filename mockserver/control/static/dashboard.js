// The crosmos-mock dashboard: a thin client of the control API (/__mock/...). No framework, no
// third-party code, nothing inline (the page is served with a strict Content-Security-Policy).
// Everything shown from the server goes through textContent, never innerHTML.
"use strict";

const CONTROL = new URL(".", window.location.href).pathname.replace(/\/$/, "");  // "/__mock"
const API = "/api/v1/usage";
const $ = (selector) => document.querySelector(selector);
let lastJournalId = 0;

async function call(method, path, body, token) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers["Authorization"] = `Bearer ${token}`;
  const response = await fetch(CONTROL + path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error(data && data.detail ? data.detail : `${response.status}`);
  return data;
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function fillSelect(select, names, chosen) {
  select.replaceChildren(...names.map((name) => {
    const option = element("option", name);
    option.value = name;
    option.selected = name === chosen;
    return option;
  }));
}

function say(target, text, isError) {
  const node = $(target);
  node.textContent = text;
  node.className = isError ? "error" : "muted";
}

async function loadHealth() {
  const health = await call("GET", "/health");
  const mode = health.mode === "proxy" ? `proxy to ${health.upstream}${health.strict ? " (strict)" : ""}` : "mock";
  $("#status-line").textContent = `${health.contract.title} · ${mode} · contract ${health.contract.sha256.slice(0, 12)} · ` +
    `today ${health.today} · seed ${health.seed} · worker ${health.worker}` +
    (health.live_usage ? ` · live usage: ${health.live_usage.metric} +${health.live_usage.per_call} a call` : "");
  const error = $("#reload-error");
  error.hidden = !health.contract.reload_error;
  error.textContent = health.contract.reload_error || "";
  const faults = health.faults;
  $("#latency").value = faults.latency || "";
  $("#error-rate").value = faults.error_rate ? String(faults.error_rate) : "";
  $("#error-status").value = String(faults.error_status);
  $("#rate-limit").checked = faults.rate_limit;
  const on = [];  // faults make replies leave the contract on purpose: say so where nobody can miss it
  if (faults.latency) on.push(`latency ${faults.latency}`);
  if (faults.error_rate) on.push(`${Math.round(faults.error_rate * 100)}% answered ${faults.error_status}`);
  if (faults.rate_limit) on.push("429 over each org's rate limit");
  const banner = $("#faults-banner");
  banner.hidden = on.length === 0;
  banner.textContent = on.length ? `Faults on: ${on.join(", ")}. Replies leave the contract on purpose.` : "";
}

async function loadScenarios() {
  const token = $("#token").value.trim();
  const listing = await call("GET", "/scenarios?samples=1", undefined, token || undefined);
  const names = listing.scenarios.map((s) => s.name);
  fillSelect($("#server-scenario"), names, listing.server_scenario);
  fillSelect($("#token-scenario"), names, $("#token-scenario").value || listing.server_scenario);
  $("#scenario-cards").replaceChildren(...listing.scenarios.map((scenario) => {
    const card = element("article", undefined, scenario.name === listing.server_scenario ? "card current" : "card");
    card.dataset.scenario = scenario.name;
    card.append(element("h3", `${scenario.name} · ${scenario.title}`), element("p", scenario.description, "muted"),
      element("pre", JSON.stringify(scenario.sample, null, 2), "body"));
    return card;
  }));
}

async function loadTokens() {
  const listing = await call("GET", "/tokens");
  $("#token-table tbody").replaceChildren(...listing.tokens.map((row) => {
    const tr = element("tr");
    tr.append(element("td", row.org), element("td", row.token), element("td", row.scenario));
    return tr;
  }));
}

async function loadJournal() {
  const journal = await call("GET", "/journal?limit=50");
  const newest = journal.entries.length ? journal.entries[0].id : 0;
  if (newest === lastJournalId && $("#journal-table tbody").children.length === journal.entries.length) return;
  lastJournalId = newest;
  $("#journal-table tbody").replaceChildren(...journal.entries.map((entry) => {
    const tr = element("tr");
    tr.dataset.id = String(entry.id);
    const outcome = entry.fault ? `fault: ${entry.fault}` :
      `request ${entry.request}, response ${entry.response}` + (entry.problems.length ? ` — ${entry.problems.join("; ")}` : "");
    tr.append(element("td", entry.at.slice(11, 23)), element("td", `${entry.method} ${entry.path}`, "path"),
      element("td", entry.status, `badge s${String(entry.status)[0]}`), element("td", entry.ms),
      element("td", entry.org || ""), element("td", entry.scenario || ""),
      element("td", outcome, `outcome-${entry.fault ? "fault" : entry.response}`));
    return tr;
  }));
}

async function send() {
  const token = $("#token").value.trim();
  const response = await fetch(API, {headers: token ? {Authorization: `Bearer ${token}`} : {}});
  const text = await response.text();
  const status = $("#response-status");
  status.textContent = String(response.status);
  status.className = `badge s${String(response.status)[0]}`;
  $("#response-scenario").textContent = response.headers.get("X-Mock-Scenario") ?
    `scenario ${response.headers.get("X-Mock-Scenario")}` : "";
  let shown = text;
  try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (_) { /* not JSON: show as is */ }
  $("#response-body").textContent = shown;
  await loadJournal();
}

function guarded(action, messageTarget) {
  return async () => {
    try {
      await action();
    } catch (error) {
      say(messageTarget, String(error.message || error), true);
    }
  };
}

async function refreshAll() {
  await Promise.all([loadHealth(), loadScenarios(), loadTokens(), loadJournal()]);
}

document.addEventListener("DOMContentLoaded", () => {
  $("#apply-scenario").addEventListener("click", guarded(async () => {
    const data = await call("PUT", "/scenario", {scenario: $("#server-scenario").value});
    say("#switch-message", `Every request now gets ${data.scenario} (tokens with their own scenario excepted).`);
    await loadScenarios();
  }, "#switch-message"));
  $("#reset-scenario").addEventListener("click", guarded(async () => {
    const data = await call("DELETE", "/scenario");
    say("#switch-message", `Back to ${data.scenario}.`);
    await loadScenarios();
  }, "#switch-message"));
  $("#set-token-scenario").addEventListener("click", guarded(async () => {
    const data = await call("PUT", "/tokens/scenario", {scenario: $("#token-scenario").value}, $("#token").value.trim());
    say("#switch-message", `${data.org} now gets ${data.scenario}.`);
    await loadTokens();
  }, "#switch-message"));
  $("#clear-token-scenario").addEventListener("click", guarded(async () => {
    const data = await call("DELETE", "/tokens/scenario", undefined, $("#token").value.trim());
    say("#switch-message", `${data.org} follows the server's scenario again.`);
    await loadTokens();
  }, "#switch-message"));
  $("#apply-faults").addEventListener("click", guarded(async () => {
    const rate = $("#error-rate").value.trim();
    await call("PUT", "/faults", {latency: $("#latency").value.trim() || null, error_rate: rate || 0,
      error_status: Number($("#error-status").value), rate_limit: $("#rate-limit").checked});
    say("#faults-message", "Fault settings applied.");
    await loadHealth();
  }, "#faults-message"));
  $("#clear-faults").addEventListener("click", guarded(async () => {
    await call("DELETE", "/faults");
    say("#faults-message", "Back to the start-up fault settings.");
    await loadHealth();
  }, "#faults-message"));
  $("#send").addEventListener("click", guarded(send, "#switch-message"));
  refreshAll().then(() => document.body.dataset.ready = "true",
    (error) => say("#switch-message", String(error.message || error), true));
  window.setInterval(() => { loadJournal().catch(() => {}); }, 1000);
});
