"""The dashboard at /ui, driven in headless Chromium (Playwright) against a live server.

These tests need Playwright (the dev extra) and a Chromium: Debian's ``chromium`` package at
/usr/bin/chromium, or any Chromium-based browser named by ``$ENGRAM_BROWSER``. Without them they
skip saying what to install, so the README's test command passes on a fresh machine; with ``$CI``
set they fail instead, since CI installs Chromium (.ci/run) and must run them.
``ENGRAM_SCREENSHOTS=1`` also writes the screenshots of docs/images/ (the ones docs/dashboard.md shows).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from engram.llms.scripted import ScriptedLLM

from .conftest import ADMIN_KEY, MEMORY_CONFIG, LiveServer, start_server

BROWSER_ENV = "ENGRAM_BROWSER"
DEFAULT_BROWSER = "/usr/bin/chromium"
SCREENSHOTS_ENV = "ENGRAM_SCREENSHOTS"
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "docs" / "images"
INSTALL_HINT = (
    "the dashboard tests drive a real browser: install Playwright (`pip install -e '.[dev]'`, never "
    "`playwright install`) and Chromium (`apt-get install -y chromium`), or set ENGRAM_BROWSER to the "
    "path of a Chromium-based browser"
)
# A closed network: without these Chromium keeps trying to reach Google's services.
CHROMIUM_ARGS = [
    "--no-sandbox",  # these machines run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


def on_ci() -> bool:
    """CI services set ``CI`` (``true``, ``1``); .ci/run sets it too."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing(what: str) -> NoReturn:
    """Skip saying what to install; on CI, where the browser must be there, fail instead."""
    message = f"{what}: {INSTALL_HINT}"
    if on_ci():
        pytest.fail(message)
    pytest.skip(message)


def browser_executable() -> str:
    """``$ENGRAM_BROWSER`` or Debian's Chromium; a missing one skips the test (fails it on CI)."""
    executable = os.environ.get(BROWSER_ENV) or DEFAULT_BROWSER
    if shutil.which(executable) is None:
        missing(f"no browser at {executable}")
    return executable


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Playwright is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=browser_executable(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@contextmanager
def open_tab(browser: Any, url: str, *, console_errors: bool = False) -> Iterator[Any]:
    """A fresh tab (its own sessionStorage) on the server at ``url``, failing on any script error, on
    any request to another host (the page must work with no third-party network) and, unless
    ``console_errors``, on any error in the console (a refused request, a missing favicon)."""
    context = browser.new_context(base_url=url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    elsewhere: list[str] = []
    console: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("request", lambda request: None if request.url.startswith(url) else elsewhere.append(request.url))
    tab.on("console", lambda message: _console_error(message, console))
    yield tab
    context.close()
    assert not errors, f"the page raised: {errors}"
    assert not elsewhere, f"the page reached beyond its server: {elsewhere}"
    assert console_errors or not console, f"the console shows errors: {console}"


def _console_error(message: Any, errors: list[str]) -> None:
    if message.type == "error":
        errors.append(f"{message.text} ({message.location.get('url')})")


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    with open_tab(browser, live_server.url) as tab:
        yield tab


def screenshot(page: Any, name: str) -> None:
    if os.environ.get(SCREENSHOTS_ENV) == "1":
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / f"dashboard-{name}.png"))


def add(api: httpx.Client, text: str, when: str, **fields: Any) -> str:
    answer = api.post("/v1/memories", json={"messages": text, "infer": False, "timestamp": when, **fields})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["results"][0]["id"])


def sign_in(page: Any, key: str) -> None:
    page.goto("/ui")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def open_scope(page: Any, kind: str, scope_id: str) -> None:
    page.locator(f'#scope-groups button[data-kind="{kind}"][data-id="{scope_id}"]').click()
    name = f"{kind.removesuffix('_id')} {scope_id}"
    page.get_by_role("heading", name=name).wait_for()
    # The table fills after the heading: its caption is written once its rows are in.
    page.locator("#memories-caption", has_text=re.compile(f"^Memories of {re.escape(name)}")).wait_for()


def wait_for_page(page: Any, info: str) -> None:
    page.locator("#page-info", has_text=re.compile(f"^{info}$")).wait_for()


def table_texts(page: Any) -> list[str]:
    return [text.strip() for text in page.locator("#memories tbody tr td:first-child").all_inner_texts()]


@pytest.fixture
def alice(live_server: LiveServer) -> Iterator[tuple[str, httpx.Client]]:
    """A project with three memories of user alice and one of agent planner."""
    key = live_server.new_key()
    with live_server.client(key) as api:
        add(api, "Alice moved to Lisbon", "2025-03-01T10:00:00Z", user_id="alice", metadata={"topic": "home"})
        add(api, "Alice drinks green tea every morning", "2025-04-01T10:00:00Z", user_id="alice")
        add(api, "Alice is training for a half marathon", "2025-05-01T10:00:00Z", user_id="alice")
        add(api, "The planner prefers short answers", "2025-05-02T10:00:00Z", agent_id="planner")
        yield key, api


def test_a_missing_browser_skips_saying_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BROWSER_ENV, "/nowhere/chromium")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"no browser at /nowhere/chromium: .*apt-get install -y chromium"):
        browser_executable()


@pytest.mark.parametrize("ci", ["true", "1"])
def test_a_missing_browser_fails_on_ci(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv(BROWSER_ENV, "/nowhere/chromium")
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match=r"no browser at /nowhere/chromium: .*apt-get install -y chromium"):
        browser_executable()


def test_the_page_is_served_self_contained(live_server: LiveServer) -> None:
    page = httpx.get(f"{live_server.url}/ui", follow_redirects=True)
    assert page.status_code == 200 and "<title>engram dashboard</title>" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert not re.search(r"(src|href)=\"https?://", page.text), "nothing may load from another host"
    script = httpx.get(f"{live_server.url}/ui/dashboard.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{live_server.url}/ui/secrets.txt").status_code == 404


def test_sign_in_then_browse_scopes_and_memories(page: Any, alice: tuple[str, httpx.Client]) -> None:
    sign_in(page, alice[0])
    scopes = page.locator("#scope-groups")
    scopes.get_by_role("button", name=re.compile("alice")).wait_for()
    assert scopes.locator('button[data-id="alice"] .count').inner_text() == "3"
    assert scopes.locator('button[data-id="planner"] .count').inner_text() == "1"
    open_scope(page, "user_id", "alice")
    assert table_texts(page) == [
        "Alice is training for a half marathon",
        "Alice drinks green tea every morning",
        "Alice moved to Lisbon",
    ]
    assert "1–3 of 3" in page.locator("#page-info").inner_text()
    assert '{"topic":"home"}' in page.locator("#memories tbody tr").nth(2).inner_text()
    screenshot(page, "browse")


def test_sorting_is_done_by_the_server(page: Any, alice: tuple[str, httpx.Client]) -> None:
    sign_in(page, alice[0])
    open_scope(page, "user_id", "alice")
    with page.expect_request(lambda request: request.url.endswith("/v1/memories/browse")) as sent:
        page.get_by_role("button", name="Memory", exact=True).click()
    assert sent.value.post_data_json["sort"] == "memory" and sent.value.post_data_json["order"] == "asc"
    page.locator('th[data-sort="memory"][aria-sort="ascending"]').wait_for()
    assert table_texts(page)[0] == "Alice drinks green tea every morning"


def test_pages_and_filters(browser: Any, live_server: LiveServer) -> None:
    key = live_server.new_key()
    with live_server.client(key) as api:
        for i in range(30):
            add(api, f"note {i:02d}", f"2025-01-{1 + i % 28:02d}T{i % 24:02d}:00:00Z", user_id="u", metadata={"n": i})
    with open_tab(browser, live_server.url, console_errors=True) as page:  # the refused filter's 400
        sign_in(page, key)
        open_scope(page, "user_id", "u")
        page.get_by_label("Per page").select_option("25")
        page.get_by_role("button", name="Apply").click()
        wait_for_page(page, "1–25 of 30")
        page.get_by_role("button", name="Next").click()
        wait_for_page(page, "26–30 of 30")
        assert len(table_texts(page)) == 5
        page.get_by_label("Filter (the API's filter language, JSON)").fill('{"n": {"lt": 3}}')
        page.get_by_role("button", name="Apply").click()
        wait_for_page(page, "1–3 of 3")
        assert sorted(table_texts(page)) == ["note 00", "note 01", "note 02"]
        page.get_by_label("Filter (the API's filter language, JSON)").fill('{"n": {"near": 3}}')
        page.get_by_role("button", name="Apply").click()
        assert "near" in page.get_by_role("alert").inner_text()  # the API's own error, shown as it is


def test_search_shows_scored_results(page: Any, alice: tuple[str, httpx.Client]) -> None:
    sign_in(page, alice[0])
    open_scope(page, "user_id", "alice")
    page.get_by_role("tab", name="Search").click()
    page.get_by_label("Query").fill("green tea")
    page.get_by_role("button", name="Search", exact=True).click()
    first = page.locator("#search-results li").first
    first.wait_for()
    assert "Alice drinks green tea every morning" in first.inner_text()
    assert re.fullmatch(r"\d\.\d{3}", first.locator(".score").inner_text())


def test_edit_text_and_metadata_then_see_the_history(page: Any, alice: tuple[str, httpx.Client]) -> None:
    key, api = alice
    sign_in(page, key)
    open_scope(page, "user_id", "alice")
    page.get_by_role("cell", name="Alice moved to Lisbon").click()
    page.get_by_label("Text").fill("Alice moved to Porto")
    page.get_by_label("Metadata (JSON object)").fill('{"topic": "home", "checked": true}')
    page.get_by_role("button", name="Save").click()
    page.get_by_role("cell", name="Alice moved to Porto").wait_for()
    timeline = page.locator("#timeline li")
    timeline.nth(1).wait_for()
    assert page.locator("#timeline .event").all_inner_texts() == ["ADD", "UPDATE"]
    assert timeline.nth(1).locator(".old-text").inner_text() == "Alice moved to Lisbon"
    [item] = [
        m for m in api.get("/v1/memories", params={"user_id": "alice"}).json()["results"] if "Porto" in m["memory"]
    ]
    assert item["metadata"] == {"topic": "home", "checked": True}
    screenshot(page, "history")


def test_delete_one_memory(page: Any, alice: tuple[str, httpx.Client]) -> None:
    key, api = alice
    sign_in(page, key)
    open_scope(page, "user_id", "alice")
    page.get_by_role("cell", name="Alice drinks green tea every morning").click()
    page.get_by_role("button", name="Delete", exact=True).click()
    dialog = page.get_by_role("dialog")
    assert "Alice drinks green tea every morning" in dialog.inner_text()
    dialog.get_by_role("button", name="Delete").click()
    wait_for_page(page, "1–2 of 2")
    assert "Alice drinks green tea every morning" not in table_texts(page)
    assert page.locator('#scope-groups button[data-id="alice"] .count').inner_text() == "2"
    assert len(api.get("/v1/memories", params={"user_id": "alice"}).json()["results"]) == 2


def test_delete_a_scope_after_a_confirmation_naming_the_count(page: Any, alice: tuple[str, httpx.Client]) -> None:
    key, api = alice
    sign_in(page, key)
    open_scope(page, "user_id", "alice")
    page.get_by_role("button", name="Delete scope…").click()
    dialog = page.get_by_role("dialog")
    assert dialog.get_by_text("Delete all 3 memories of user alice?").is_visible()
    screenshot(page, "delete-scope")
    dialog.get_by_role("button", name="Cancel").click()
    assert len(table_texts(page)) == 3
    page.get_by_role("button", name="Delete scope…").click()
    dialog.get_by_role("button", name="Delete").click()
    page.get_by_text("Deleted 3 memories of user alice.").wait_for()
    assert page.locator('#scope-groups button[data-id="alice"]').count() == 0
    assert api.get("/v1/memories", params={"user_id": "alice"}).json()["results"] == []
    assert len(api.get("/v1/memories", params={"agent_id": "planner"}).json()["results"]) == 1


def test_a_wrong_key_is_refused(browser: Any, live_server: LiveServer) -> None:
    with open_tab(browser, live_server.url, console_errors=True) as page:  # the 401 shows there
        sign_in(page, "ek_not-a-real-key")
        assert "That key was refused" in page.get_by_role("alert").inner_text()
        assert page.locator("#workspace").is_hidden()
        assert page.evaluate("sessionStorage.getItem('engram.key')") is None


def test_signing_in_probes_no_admin_route_and_the_console_stays_clean(
    page: Any, alice: tuple[str, httpx.Client]
) -> None:
    """A project key used to be recognised by the 403 of GET /v1/keys, and the favicon was a 404:
    both showed as errors in the console (open_tab fails on any)."""
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    sign_in(page, alice[0])
    open_scope(page, "user_id", "alice")
    page.get_by_role("cell", name="Alice moved to Lisbon").click()
    page.locator("#timeline li").first.wait_for()
    assert not [url for url in urls if "/v1/keys" in url]
    assert httpx.get(page.evaluate("document.querySelector('link[rel=icon]').href")).status_code == 200


def test_the_admin_key_signs_in_with_a_clean_console(page: Any, live_server: LiveServer) -> None:
    key = live_server.new_key("dash-console")
    with live_server.client(key) as api:
        add(api, "Bob keeps bees", "2025-02-01T00:00:00Z", user_id="bob")
    sign_in(page, ADMIN_KEY)
    page.get_by_role("button", name="dash-console", exact=True).click()
    open_scope(page, "user_id", "bob")
    assert table_texts(page) == ["Bob keeps bees"]


def row_look(page: Any, index: int) -> tuple[str, str]:
    """How a row of the memories table looks: its background and its first cell's accent bar."""
    return page.evaluate(
        """(i) => { const row = document.querySelectorAll('#memories tbody tr')[i];
                   return [getComputedStyle(row).backgroundColor, getComputedStyle(row.cells[0]).boxShadow]; }""",
        index,
    )


def test_no_row_looks_selected_until_a_memory_is_open(page: Any, alice: tuple[str, httpx.Client]) -> None:
    sign_in(page, alice[0])
    open_scope(page, "user_id", "alice")
    page.locator("#memories tbody tr").nth(1).click()  # open the second memory: it looks selected
    page.locator("#timeline li").first.wait_for()
    selected = row_look(page, 1)
    first = page.locator("#memories tbody tr").first
    first.hover()  # the pointer rests on the first row, which also has the keyboard's focus
    first.focus()
    assert row_look(page, 0)[0] != selected[0] and row_look(page, 0)[1] == "none" != selected[1]
    page.get_by_role("button", name="Close the memory").click()  # nothing is selected any more
    assert page.locator('#memories tbody tr[aria-selected="true"]').count() == 0
    assert "none" == row_look(page, 1)[1] == row_look(page, 2)[1]
    assert row_look(page, 1)[0] != selected[0]


def test_the_memory_column_keeps_its_room_with_the_memory_open(page: Any, live_server: LiveServer) -> None:
    key = live_server.new_key()
    with live_server.client(key) as api:
        metadata = {"topic": "home", "source": "a long conversation", "confidence": "high"}
        add(api, "Alice moved to Lisbon last spring after a long search", "2025-03-01T10:00:00Z", user_id="alice")
        add(api, "Alice drinks green tea every morning", "2025-04-01T10:00:00Z", user_id="alice", metadata=metadata)
    sign_in(page, key)
    open_scope(page, "user_id", "alice")
    page.get_by_role("cell", name="Alice drinks green tea every morning").click()
    page.locator("#timeline li").first.wait_for()
    widths = page.evaluate(
        """() => [document.querySelector('#memories th.col-memory').getBoundingClientRect().width,
                  document.querySelector('#memories').getBoundingClientRect().width]"""
    )
    assert widths[0] >= 250 and widths[0] >= 0.4 * widths[1], widths  # it used to get ~100 px: a word or two a line


def test_the_key_stays_out_of_urls_and_out_of_lasting_storage(page: Any, alice: tuple[str, httpx.Client]) -> None:
    key = alice[0]
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    sign_in(page, key)
    open_scope(page, "user_id", "alice")
    assert urls and not [url for url in urls if key in url]
    assert page.evaluate("JSON.stringify(localStorage)") == "{}"
    assert page.evaluate("document.cookie") == ""
    page.reload()  # the same tab stays signed in ...
    page.locator('#scope-groups button[data-id="alice"]').wait_for()
    page.get_by_role("button", name="Sign out").click()  # ... until it signs out
    assert page.evaluate("sessionStorage.length") == 0


def test_another_projects_data_is_never_shown(
    browser: Any, live_server: LiveServer, alice: tuple[str, httpx.Client]
) -> None:
    other_key = live_server.new_key()
    with live_server.client(other_key) as other:
        secret_id = add(other, "the other project's secret", "2025-01-01T00:00:00Z", user_id="alice")
    with open_tab(browser, live_server.url, console_errors=True) as page:  # the 404 it asks for
        sign_in(page, alice[0])
        open_scope(page, "user_id", "alice")
        assert "the other project's secret" not in table_texts(page)
        assert page.locator('#scope-groups button[data-id="alice"] .count').inner_text() == "3"
        # Even a page that asks for the other project's memory by id gets the server's 404.
        status = page.evaluate(
            """async (id) => (await fetch(`/v1/memories/${id}`, {headers: {Authorization:
               `Bearer ${sessionStorage.getItem('engram.key')}`}})).status""",
            secret_id,
        )
        assert status == 404


def test_the_admin_key_picks_a_project(page: Any, live_server: LiveServer) -> None:
    project = "dash-admin-demo"
    key = live_server.new_key(project)
    with live_server.client(key) as api:
        add(api, "Bob keeps bees", "2025-02-01T00:00:00Z", user_id="bob")
    sign_in(page, ADMIN_KEY)
    page.get_by_role("heading", name="Projects").wait_for()
    screenshot(page, "projects")
    page.get_by_role("button", name=project, exact=True).click()
    open_scope(page, "user_id", "bob")
    assert table_texts(page) == ["Bob keeps bees"]
    assert project in page.locator("#who").inner_text()
    page.get_by_role("button", name="Switch project").click()
    page.get_by_role("heading", name="Projects").wait_for()


def test_time_travel_shows_the_scope_as_of_a_day(page: Any, live_server: LiveServer) -> None:
    project = "dash-time-travel"
    key = live_server.new_key(project)
    # Dated corrections are made through Memory: the server's own projects, in this process.
    with live_server.server.config.app.state.engram.memories.lease(project) as memory:
        added = memory.add("Alice lives in Lisbon", user_id="alice", infer=False, timestamp="2024-01-10T09:00:00Z")
        memory.add("Alice plays chess", user_id="alice", infer=False, timestamp="2024-03-01T09:00:00Z")
        memory.update(added["results"][0]["id"], "Alice lives in Porto", timestamp="2025-02-01T09:00:00Z")
    sign_in(page, key)
    open_scope(page, "user_id", "alice")
    assert sorted(table_texts(page)) == ["Alice lives in Porto", "Alice plays chess"]

    page.get_by_label("As of").fill("2024-06-30")
    page.locator("#memories-caption", has_text="as of 2024-06-30").wait_for()
    assert sorted(table_texts(page)) == ["Alice lives in Lisbon", "Alice plays chess"]
    lisbon = page.locator("#memories tbody tr", has_text="Alice lives in Lisbon")
    assert "until 2025-02-01" in lisbon.locator("td").nth(4).inner_text()
    screenshot(page, "time-travel")

    page.get_by_label("As of").fill("2024-02-01")
    page.locator("#memories-caption", has_text="as of 2024-02-01").wait_for()
    assert table_texts(page) == ["Alice lives in Lisbon"]

    page.get_by_role("button", name="Now").click()
    page.locator("#memories-caption", has_text=re.compile(r"alice: 1–2 of 2$")).wait_for()
    page.get_by_role("cell", name="Alice lives in Porto").click()
    page.locator("#timeline li").nth(1).wait_for()
    assert page.locator("#timeline .event").all_inner_texts() == ["ADD", "UPDATE"]
    assert [t[:10] for t in page.locator("#timeline time").all_inner_texts()] == ["2024-01-10", "2025-02-01"]


def test_the_table_and_tabs_work_from_the_keyboard(page: Any, alice: tuple[str, httpx.Client]) -> None:
    sign_in(page, alice[0])
    open_scope(page, "user_id", "alice")
    page.locator("#memories tbody tr").first.focus()
    page.keyboard.press("Enter")
    page.locator("#edit-text:focus").wait_for()  # the memory opened, and focus moved to it
    assert page.get_by_label("Text").input_value() == "Alice is training for a half marathon"
    page.get_by_role("tab", name="Memories").focus()
    page.keyboard.press("ArrowRight")
    assert page.get_by_role("tab", name="Search").get_attribute("aria-selected") == "true"
    assert page.get_by_role("tabpanel").get_attribute("id") == "panel-search"


def test_a_memory_shows_its_source_episodes(page: Any, live_server: LiveServer) -> None:
    key = live_server.new_key()
    with live_server.client(key) as api:
        conversation = [
            {"role": "user", "content": "We moved to Lisbon last spring", "name": "alice"},
            {"role": "assistant", "content": "How do you like Lisbon?"},
        ]
        answer = api.post("/v1/memories", json={"messages": conversation, "user_id": "alice", "infer": False})
        assert answer.status_code == 200, answer.text
    sign_in(page, key)
    open_scope(page, "user_id", "alice")
    page.get_by_role("cell", name="We moved to Lisbon last spring").click()
    episode = page.locator("#episodes li").first
    episode.wait_for()
    assert "alice: We moved to Lisbon last spring" in episode.inner_text()


GRAPH_ANSWERS = [
    json.dumps(
        {
            "facts": [{"text": "Alice lives in Paris", "sources": [0]}],
            "relations": [
                {"source": "I", "relationship": "lives_in", "destination": "Paris"},
                {"source": "I", "relationship": "likes", "destination": "tea"},
            ],
        }
    ),
    json.dumps(
        {
            "facts": [{"text": "Alice lives in Rome", "sources": [0]}],
            "relations": [{"source": "Alice", "relationship": "lives_in", "destination": "Rome"}],
        }
    ),
    json.dumps({"decisions": [{"fact": 0, "event": "ADD"}]}),
]


def test_the_graph_draws_directed_edges_and_tells_current_from_invalidated(browser: Any, tmp_path: Path) -> None:
    config = {**MEMORY_CONFIG, "graph_store": {"provider": "sqlite"}}
    server = start_server(tmp_path, memory_config=config, llm=ScriptedLLM(GRAPH_ANSWERS))
    try:
        key = server.new_key()
        with server.client(key) as api:
            for text, when in [("I live in Paris and like tea", "2024-01-01"), ("I moved to Rome", "2024-06-01")]:
                turn = [{"role": "user", "content": text, "name": "Alice"}]
                body = {"messages": turn, "user_id": "alice", "timestamp": f"{when}T00:00:00Z"}
                assert api.post("/v1/memories", json=body).status_code == 200
        with open_tab(browser, server.url) as page:
            sign_in(page, key)
            open_scope(page, "user_id", "alice")
            page.get_by_role("tab", name="Graph").click()
            page.locator("#graph svg").wait_for()
            rows = page.locator("#relations tbody tr")
            assert sorted(rows.all_inner_texts()) == sorted(
                ["Alice\tlikes\ttea\tcurrent", "Alice\tlives_in\tRome\tcurrent"]
            )
            page.get_by_label("As of").fill("2024-03-01")
            page.locator("#relations tbody tr", has_text="Paris").wait_for()
            paris = page.locator("#relations tbody tr", has_text="Paris")
            assert "invalidated 2024-06-01" in paris.inner_text()
            assert page.locator("#graph line.invalid").count() == 1
            assert page.locator("#graph line.current").count() == 1
            # Each edge points from its source to its destination with an arrowhead of its own kind.
            ends = page.locator("#graph line").evaluate_all("lines => lines.map(l => l.getAttribute('marker-end'))")
            assert sorted(ends) == ["url(#arrow-current)", "url(#arrow-invalid)"]
            assert page.locator("#graph marker#arrow-current path, #graph marker#arrow-invalid path").count() == 2
            screenshot(page, "graph")
    finally:
        server.stop()


def test_search_shows_the_score_breakdown(page: Any, alice: tuple[str, httpx.Client]) -> None:
    sign_in(page, alice[0])
    open_scope(page, "user_id", "alice")
    page.get_by_role("tab", name="Search").click()
    page.get_by_label("Query").fill("green tea")
    with page.expect_request(lambda request: request.url.endswith("/v1/memories/search")) as sent:
        page.get_by_role("button", name="Search", exact=True).click()
    assert sent.value.post_data_json["explain"] is True
    parts = page.locator("#search-results li").first.get_by_label("Score breakdown").locator("span")
    parts.first.wait_for()
    names = [text.split()[0] for text in parts.all_inner_texts()]
    assert "fused" in names and "rank" in names
    screenshot(page, "search")
