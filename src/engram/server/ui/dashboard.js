// The engram dashboard: a small page over the /v1 API, with no dependencies.
// The key lives in sessionStorage and travels only in the Authorization header; the server decides
// what it may see, exactly as for any other client. Every value from the API is written with
// textContent (never innerHTML), so a memory's text cannot inject markup.
"use strict";

const KEY_SLOT = "engram.key";
const PROJECT_SLOT = "engram.project";
const GRAPH_LIMIT = 500; // relations drawn at most
const NODE_RADIUS = 22; // an entity's circle in the graph
const KINDS = [["user_id", "Users"], ["agent_id", "Agents"], ["run_id", "Runs"]];

const state = {
  key: sessionStorage.getItem(KEY_SLOT),
  project: sessionStorage.getItem(PROJECT_SLOT), // only with the admin key
  admin: false,
  // What this server offers beyond the base API, from its OpenAPI schema (see detectFeatures).
  features: { explain: false, asOf: new Set(), episodes: false },
  scope: null, // {kind, id, count}
  page: { offset: 0, limit: 50, sort: "created_at", order: "desc", filters: null },
  total: 0,
  selected: null, // the memory shown in the detail panel
};

const $ = (id) => document.getElementById(id);

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// -- talking to the API ------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${state.key}` };
  if (state.admin && state.project) headers["X-Engram-Project"] = state.project;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
    credentials: "omit",
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const message = data && data.error ? data.error.message : response.statusText;
    throw new ApiError(response.status, message);
  }
  return data;
}

function scopeArgs() {
  return { [state.scope.kind]: state.scope.id };
}

function asOf(request) {
  // A date: the API reads it as the end of that day (UTC). Only for requests whose schema takes as_of.
  const value = $("as-of").value;
  return state.features.asOf.has(request) && value ? { as_of: value } : {};
}

async function detectFeatures() {
  // What this server offers beyond the base API (time travel, score breakdowns, episodes),
  // read from its own OpenAPI schema, so the page shows only what works.
  try {
    const schema = await (await fetch("/openapi.json", { cache: "no-store" })).json();
    const props = (name) => Object.keys((schema.components.schemas[name] || {}).properties || {});
    state.features.explain = props("SearchRequest").includes("explain");
    state.features.asOf = new Set(["BrowseRequest", "SearchRequest", "ListRequest"].filter((n) => props(n).includes("as_of")));
    state.features.episodes = "/v1/memories/{memory_id}/episodes" in schema.paths;
  } catch (error) {
    state.features = { explain: false, asOf: new Set(), episodes: false };
  }
}

// -- messages ----------------------------------------------------------------------------------

function say(text) {
  $("status").textContent = text;
}

function fail(error) {
  const box = $("error");
  box.textContent = error instanceof ApiError ? `${error.message} (HTTP ${error.status})` : String(error.message || error);
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

async function guarded(work) {
  clearError();
  try {
    await work();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return signOut("The key was refused: sign in again.");
    fail(error);
  }
}

function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return el("time", { datetime: iso, title: iso }, date.toISOString().slice(0, 16).replace("T", " "));
}

// -- sign-in -----------------------------------------------------------------------------------

function show(section) {
  for (const id of ["sign-in", "projects", "workspace"]) $(id).hidden = id !== section;
  const signedIn = section !== "sign-in";
  $("sign-out").hidden = !signedIn;
  $("who").hidden = !signedIn;
  $("switch-project").hidden = !(section === "workspace" && state.admin);
}

function switchProject() {
  sessionStorage.removeItem(PROJECT_SLOT);
  state.project = null;
  closeScope();
  return signIn(state.key);
}

async function signIn(key) {
  state.key = key;
  // /v1/me says what the key is (401 for an unknown one), so no admin route is probed with a
  // project key: the console stays free of refused requests.
  const caller = await whoAmI();
  sessionStorage.setItem(KEY_SLOT, key);
  state.admin = caller.admin;
  if (!state.admin) {
    state.project = null;
    return openProject();
  }
  if (state.project) return openProject();
  const keys = await api("GET", "/v1/keys");
  return pickProject([...new Set(keys.map((k) => k.project))].sort());
}

async function whoAmI() {
  // Asked without X-Engram-Project: the key alone decides.
  const response = await fetch("/v1/me", {
    headers: { Authorization: `Bearer ${state.key}` },
    cache: "no-store",
    credentials: "omit",
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data && data.error ? data.error.message : response.statusText);
  return data;
}

function pickProject(projects) {
  // The admin key belongs to no project: the projects are those that have keys.
  const choose = (name) =>
    guarded(async () => {
      state.project = name;
      sessionStorage.setItem(PROJECT_SLOT, name);
      await openProject();
    });
  show("projects");
  $("who").textContent = "admin key";
  const list = $("project-list");
  list.replaceChildren(
    ...projects.map((name) => el("li", {}, el("button", { type: "button", onclick: () => choose(name) }, name))),
  );
  if (!projects.length) list.append(el("li", {}, "No project has a key yet: create one with POST /v1/keys."));
}

function signOut(message) {
  sessionStorage.removeItem(KEY_SLOT);
  sessionStorage.removeItem(PROJECT_SLOT);
  Object.assign(state, { key: null, project: null, admin: false, scope: null, selected: null });
  $("api-key").value = "";
  show("sign-in");
  say(message || "Signed out.");
  if (message) fail(new Error(message));
}

async function openProject() {
  await detectFeatures();
  show("workspace");
  $("who").textContent = state.admin ? `project ${state.project} (admin key)` : "signed in with a project key";
  $("as-of-box").hidden = !state.features.asOf.has("BrowseRequest");
  await loadScopes();
}

// -- scopes ------------------------------------------------------------------------------------

async function loadScopes() {
  const { results } = await api("GET", "/v1/scopes");
  const groups = $("scope-groups");
  groups.replaceChildren();
  for (const [kind, title] of KINDS) {
    const scopes = results.filter((s) => s.kind === kind);
    if (!scopes.length) continue;
    const id = `scopes-${kind}`;
    groups.append(
      el("h3", { id }, title),
      el(
        "ul",
        { "aria-labelledby": id },
        scopes.map((scope) =>
          el(
            "li",
            {},
            el(
              "button",
              {
                type: "button",
                "data-kind": kind,
                "data-id": scope.id,
                "aria-current": state.scope && state.scope.kind === kind && state.scope.id === scope.id ? "true" : "false",
                onclick: () => guarded(() => openScope(scope)),
              },
              el("span", {}, scope.id),
              el("span", { class: "count", "aria-label": `${scope.count} memories` }, scope.count),
            ),
          ),
        ),
      ),
    );
  }
  if (!results.length) groups.append(el("p", { class: "hint" }, "No memories in this project yet."));
  say(`${results.length} scopes`);
  if (state.scope) {
    const current = results.find((s) => s.kind === state.scope.kind && s.id === state.scope.id);
    state.scope = current || null;
    if (!current) closeScope();
  }
}

function kindName(kind) {
  return { user_id: "user", agent_id: "agent", run_id: "run" }[kind];
}

async function openScope(scope) {
  state.scope = scope;
  state.page.offset = 0;
  for (const button of document.querySelectorAll("#scope-groups button")) {
    const current = button.dataset.kind === scope.kind && button.dataset.id === scope.id;
    button.setAttribute("aria-current", current ? "true" : "false");
  }
  $("no-scope").hidden = true;
  $("scope-body").hidden = false;
  $("scope-title").textContent = `${kindName(scope.kind)} ${scope.id}`;
  closeDetail();
  $("search-results").replaceChildren();
  await loadPage();
  if (tabSelected() === "graph") await loadGraph();
}

function closeScope() {
  state.scope = null;
  $("scope-body").hidden = true;
  $("no-scope").hidden = false;
  closeDetail();
}

// -- the memories table ------------------------------------------------------------------------

function validity(item) {
  if (item.invalid_at) {
    // A superseded text or a retracted fact: true from valid_from until invalid_at.
    const since = item.valid_from ? [" from ", when(item.valid_from)] : [];
    return el("span", {}, el("span", { class: "badge old" }, "past"), since, " until ", when(item.invalid_at));
  }
  if (item.expiration_date && new Date(item.expiration_date) < new Date()) {
    return el("span", { class: "badge expired" }, "expired");
  }
  const parts = [el("span", { class: "badge" }, "current")];
  if (item.valid_from) parts.push(" since ", when(item.valid_from));
  if (item.expiration_date) parts.push(" expires ", when(item.expiration_date));
  return el("span", {}, parts);
}

function metadataText(metadata) {
  const keys = Object.keys(metadata || {});
  return keys.length ? JSON.stringify(metadata) : "";
}

async function loadPage() {
  const body = {
    ...scopeArgs(),
    limit: state.page.limit,
    offset: state.page.offset,
    sort: state.page.sort,
    order: state.page.order,
    ...asOf("BrowseRequest"),
  };
  if (state.page.filters) body.filters = state.page.filters;
  const page = await api("POST", "/v1/memories/browse", body);
  state.total = page.total;
  const rows = page.results.map((item) =>
    el(
      "tr",
      {
        tabindex: "0",
        "data-id": item.id,
        "aria-selected": state.selected && state.selected.id === item.id ? "true" : "false",
        onclick: () => guarded(() => openMemory(item.id)),
        onkeydown: (event) => {
          if (event.key === "Enter" || event.key === " ") {
            event.preventDefault();
            guarded(() => openMemory(item.id));
          }
        },
      },
      el("td", { class: "col-memory" }, item.memory),
      el("td", {}, when(item.created_at)),
      el("td", { class: "col-updated" }, when(item.updated_at)),
      el("td", { class: "meta col-metadata" }, metadataText(item.metadata)),
      el("td", {}, validity(item)),
    ),
  );
  $("memories").tBodies[0].replaceChildren(...rows);
  const first = page.total ? page.offset + 1 : 0;
  const last = page.offset + page.results.length;
  const info = `${first}–${last} of ${page.total}`;
  $("page-info").textContent = info;
  const dated = body.as_of ? ` as of ${$("as-of").value}` : "";
  $("memories-caption").textContent = `Memories of ${kindName(state.scope.kind)} ${state.scope.id}${dated}: ${info}`;
  $("prev-page").disabled = page.offset === 0;
  $("next-page").disabled = last >= page.total;
  for (const th of document.querySelectorAll("#memories th[data-sort]")) {
    const sorted = th.dataset.sort === state.page.sort;
    th.setAttribute("aria-sort", sorted ? (state.page.order === "asc" ? "ascending" : "descending") : "none");
  }
  say(`Showing ${info}`);
}

function sortBy(column) {
  if (state.page.sort === column) state.page.order = state.page.order === "asc" ? "desc" : "asc";
  else Object.assign(state.page, { sort: column, order: column === "memory" ? "asc" : "desc" });
  state.page.offset = 0;
  return loadPage();
}

function applyBrowseForm() {
  const text = $("filter").value.trim();
  let filters = null;
  if (text) {
    try {
      filters = JSON.parse(text);
    } catch (error) {
      throw new Error(`The filter is not JSON: ${error.message}`);
    }
  }
  state.page.filters = filters;
  state.page.limit = Number($("page-size").value);
  state.page.offset = 0;
  return loadPage();
}

// -- one memory: edit, delete, history, episodes -----------------------------------------------

async function openMemory(memoryId) {
  const item = await api("GET", `/v1/memories/${encodeURIComponent(memoryId)}`);
  state.selected = item;
  for (const row of $("memories").tBodies[0].rows) {
    row.setAttribute("aria-selected", row.dataset.id === memoryId ? "true" : "false");
  }
  $("detail").hidden = false;
  $("workspace").classList.add("detail-open");
  $("edit-text").value = item.memory;
  $("edit-metadata").value = JSON.stringify(item.metadata || {}, null, 2);
  const facts = [
    ["id", item.id],
    ["created", item.created_at],
    ["updated", item.updated_at],
    ["valid from", item.valid_from],
    ["invalid at", item.invalid_at],
    ["expires", item.expiration_date],
    ["actor", item.actor_id],
    ["role", item.role],
  ].filter(([, value]) => value);
  $("detail-facts").replaceChildren(...facts.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value)]));
  await loadHistory(memoryId);
  $("episodes-box").hidden = !state.features.episodes;
  if (state.features.episodes) await loadEpisodes(memoryId);
  $("edit-text").focus();
}

async function loadHistory(memoryId) {
  const rows = await api("GET", `/v1/memories/${encodeURIComponent(memoryId)}/history`);
  $("timeline").replaceChildren(
    ...rows.map((row) =>
      el(
        "li",
        { class: row.event },
        el("span", { class: "event" }, row.event),
        when(row.updated_at || row.created_at),
        el("div", {}, row.old_memory && row.old_memory !== row.new_memory ? el("span", { class: "old-text" }, row.old_memory) : null),
        el("div", {}, row.new_memory || ""),
      ),
    ),
  );
}

async function loadEpisodes(memoryId) {
  const answer = await api("GET", `/v1/memories/${encodeURIComponent(memoryId)}/episodes`);
  const episodes = Array.isArray(answer) ? answer : answer.results || [];
  $("episodes").replaceChildren(
    ...episodes.map((episode) =>
      el("li", {}, when(episode.created_at || episode.timestamp), " ", el("strong", {}, episode.name || episode.role || ""), ": ", episode.content),
    ),
  );
  if (!episodes.length) $("episodes").append(el("li", {}, "No source episodes recorded."));
}

function closeDetail() {
  state.selected = null;
  $("detail").hidden = true;
  $("workspace").classList.remove("detail-open");
  for (const row of $("memories").tBodies[0].rows) row.setAttribute("aria-selected", "false");
}

async function saveMemory() {
  let metadata;
  try {
    metadata = JSON.parse($("edit-metadata").value || "{}");
  } catch (error) {
    throw new Error(`The metadata is not JSON: ${error.message}`);
  }
  const id = state.selected.id;
  await api("PUT", `/v1/memories/${encodeURIComponent(id)}`, { data: $("edit-text").value, metadata });
  say("Saved.");
  await loadPage();
  await openMemory(id);
  say("Saved.");
}

async function confirmAction(text) {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  dialog.returnValue = "";
  dialog.showModal();
  await new Promise((resolve) => dialog.addEventListener("close", resolve, { once: true }));
  return dialog.returnValue === "ok";
}

async function deleteMemory() {
  const item = state.selected;
  if (!(await confirmAction(`Delete the memory “${item.memory}”? Its history stays.`))) return;
  await api("DELETE", `/v1/memories/${encodeURIComponent(item.id)}`);
  closeDetail();
  await loadScopes();
  if (state.scope) await loadPage();
  say("Deleted one memory.");
}

async function deleteScope() {
  const scope = state.scope;
  const name = `${kindName(scope.kind)} ${scope.id}`;
  const count = scope.count;
  if (!(await confirmAction(`Delete all ${count} memories of ${name}? This cannot be undone.`))) return;
  const query = new URLSearchParams(scopeArgs());
  await api("DELETE", `/v1/memories?${query}`);
  closeScope();
  await loadScopes();
  say(`Deleted ${count} memories of ${name}.`);
}

// -- search ------------------------------------------------------------------------------------

function breakdown(explain) {
  if (!explain || typeof explain !== "object") return null;
  const parts = Object.entries(explain)
    .filter(([, value]) => typeof value === "number" || typeof value === "string")
    .map(([name, value]) => {
      const shown = typeof value === "number" && !Number.isInteger(value) ? value.toFixed(3) : value;
      return el("span", {}, `${name} ${shown}`);
    });
  return parts.length ? el("div", { class: "breakdown", "aria-label": "Score breakdown" }, parts) : null;
}

async function search() {
  const body = { query: $("query").value, ...scopeArgs(), limit: Number($("search-limit").value), ...asOf("SearchRequest") };
  if (state.features.explain) body.explain = true;
  const { results } = await api("POST", "/v1/memories/search", body);
  $("search-results").replaceChildren(
    ...results.map((item) =>
      el(
        "li",
        { "data-id": item.id },
        el("span", { class: "score", title: "fused score" }, item.score === undefined ? "" : item.score.toFixed(3)),
        el("button", { type: "button", class: "link", onclick: () => guarded(() => openMemory(item.id)) }, item.memory),
        " ",
        when(item.created_at),
        breakdown(item.explain || item.score_breakdown),
      ),
    ),
  );
  if (!results.length) $("search-results").append(el("li", {}, "Nothing matched."));
  say(`${results.length} results`);
}

// -- graph -------------------------------------------------------------------------------------

async function loadGraph() {
  // get_all's relations come with its memories, up to the same limit.
  const body = { ...scopeArgs(), limit: GRAPH_LIMIT, ...asOf("ListRequest") };
  const answer = await api("POST", "/v1/memories/list", body);
  const relations = Array.isArray(answer.relations) ? answer.relations : [];
  $("relations").tBodies[0].replaceChildren(
    ...relations.map((r) =>
      el(
        "tr",
        { class: r.invalid_at ? "invalid" : "current" },
        el("td", {}, r.source),
        el("td", {}, r.relationship),
        el("td", {}, r.destination),
        el("td", {}, r.invalid_at ? el("span", { class: "badge old" }, "invalidated ", when(r.invalid_at)) : el("span", { class: "badge" }, "current")),
      ),
    ),
  );
  drawGraph(relations);
}

function drawGraph(relations) {
  const box = $("graph");
  if (!relations.length) {
    box.replaceChildren(el("p", { class: "hint" }, "No relations: this scope has no graph (graph memory is off, or found no entities)."));
    return;
  }
  const svgNs = "http://www.w3.org/2000/svg";
  const svg = (tag, attributes = {}, ...children) => {
    const node = document.createElementNS(svgNs, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    node.append(...children);
    return node;
  };
  const names = [...new Set(relations.flatMap((r) => [r.source, r.destination]))];
  const width = 800;
  const height = 420;
  const radius = Math.min(width, height) / 2 - 50;
  const at = new Map(
    names.map((name, i) => {
      const angle = (2 * Math.PI * i) / names.length - Math.PI / 2;
      return [name, [width / 2 + radius * Math.cos(angle), height / 2 + radius * Math.sin(angle)]];
    }),
  );
  const edges = relations.map((r) => {
    const [x1, y1] = at.get(r.source);
    const [x2, y2] = at.get(r.destination);
    const state_ = r.invalid_at ? "invalid" : "current";
    // From circle edge to circle edge, so the arrowhead (source -> destination) shows at the destination.
    const length = Math.hypot(x2 - x1, y2 - y1) || 1;
    const [dx, dy] = [(x2 - x1) / length, (y2 - y1) / length];
    const ends = { x1: x1 + dx * NODE_RADIUS, y1: y1 + dy * NODE_RADIUS, x2: x2 - dx * NODE_RADIUS, y2: y2 - dy * NODE_RADIUS };
    return svg(
      "g",
      {},
      svg("line", { ...ends, class: state_, "marker-end": `url(#arrow-${state_})` }),
      svg("text", { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 4, class: "label" }, r.relationship),
    );
  });
  const arrow = (name) =>
    svg(
      "marker",
      { id: `arrow-${name}`, class: name, viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      svg("path", { d: "M 0 0 L 10 5 L 0 10 z" }),
    );
  const nodes = names.map((name) => {
    const [x, y] = at.get(name);
    return svg("g", { class: "node" }, svg("circle", { cx: x, cy: y, r: NODE_RADIUS }), svg("text", { x, y: y + 36 }, name));
  });
  const picture = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `Graph of ${names.length} entities and ${relations.length} relations; the table below lists them` }, svg("defs", {}, arrow("current"), arrow("invalid")), ...edges, ...nodes);
  box.replaceChildren(picture);
}

// -- tabs --------------------------------------------------------------------------------------

function tabSelected() {
  const tab = document.querySelector('[role="tab"][aria-selected="true"]');
  return tab ? tab.id.replace("tab-", "") : "memories";
}

function selectTab(name) {
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    const selected = tab.id === `tab-${name}`;
    tab.setAttribute("aria-selected", selected ? "true" : "false");
    tab.tabIndex = selected ? 0 : -1;
    $(tab.getAttribute("aria-controls")).hidden = !selected;
  }
  if (name === "graph" && state.scope) return guarded(loadGraph);
  return undefined;
}

function tabKeys(event) {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const index = tabs.indexOf(event.target);
  const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
  if (step === undefined) return;
  const next = tabs[(index + step + tabs.length) % tabs.length];
  next.focus();
  selectTab(next.id.replace("tab-", ""));
}

// -- wiring ------------------------------------------------------------------------------------

function submit(id, work) {
  $(id).addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(work);
  });
}

function start() {
  submit("sign-in-form", async () => {
    const key = $("api-key").value.trim();
    try {
      await signIn(key);
    } catch (error) {
      state.key = null;
      if (error instanceof ApiError && error.status === 401) throw new Error("That key was refused: check it and try again.");
      throw error;
    }
    $("api-key").value = "";
  });
  $("sign-out").addEventListener("click", () => signOut());
  $("switch-project").addEventListener("click", () => guarded(switchProject));
  $("refresh-scopes").addEventListener("click", () => guarded(loadScopes));
  submit("browse-form", applyBrowseForm);
  submit("search-form", search);
  submit("edit-form", saveMemory);
  $("delete-memory").addEventListener("click", () => guarded(deleteMemory));
  $("delete-scope").addEventListener("click", () => guarded(deleteScope));
  $("close-detail").addEventListener("click", closeDetail);
  $("prev-page").addEventListener("click", () =>
    guarded(() => {
      state.page.offset = Math.max(0, state.page.offset - state.page.limit);
      return loadPage();
    }),
  );
  $("next-page").addEventListener("click", () =>
    guarded(() => {
      state.page.offset += state.page.limit;
      return loadPage();
    }),
  );
  for (const th of document.querySelectorAll("#memories th[data-sort] button")) {
    th.addEventListener("click", () => guarded(() => sortBy(th.parentElement.dataset.sort)));
  }
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    tab.addEventListener("click", () => selectTab(tab.id.replace("tab-", "")));
    tab.addEventListener("keydown", tabKeys);
  }
  const reload = () =>
    guarded(async () => {
      state.page.offset = 0;
      await loadPage();
      if (tabSelected() === "graph") await loadGraph();
    });
  $("as-of").addEventListener("change", () => state.scope && reload());
  $("as-of-clear").addEventListener("click", () => {
    $("as-of").value = "";
    if (state.scope) reload();
  });
  if (state.key) guarded(() => signIn(state.key));
  else show("sign-in");
}

start();
