"""The viewer's pages in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, which ``.ci/run`` installs) driven by Selenium. The W1 and W2 (Loihi)
pages must draw the graph, the core map and the reports with the program's own counts,
show an op's origin when it is clicked, and log no console errors."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from viewer_cases import w1_page, w2_page

from snngraph.view.data import page_data

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed "
                                "(pip install -e '.[test]')")
if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
    pytest.skip("headless Chromium is not installed (apt-get install chromium "
                "chromium-driver; .ci/run does it)", allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pages")
    return {"w1": w1_page(folder), "w2": w2_page(folder)}


def open_page(browser, path: Path) -> None:
    browser.get_log("browser")  # forget what an earlier page logged
    browser.get(path.as_uri())


def errors(browser) -> list:
    return [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def css(browser, selector: str) -> list:
    return browser.find_elements(By.CSS_SELECTOR, selector)


@pytest.mark.parametrize("case", ["w1", "w2"])
def test_graph_has_every_op_and_a_button_per_pass(browser, pages, case):
    path, program = pages[case]
    open_page(browser, path)
    assert len(css(browser, "#graph g.node")) == len(program.ir.graph.nodes)
    assert len(css(browser, "#graph path.edge")) == program.ir.graph.number_of_edges()
    names = [b.get_attribute("data-stage") for b in css(browser, "#stages button")]
    assert names == ["lower", *program.passes]
    assert len(css(browser, "#ops tbody tr")) == len(program.ir.graph.nodes)
    assert errors(browser) == []


@pytest.mark.parametrize("case", ["w1", "w2"])
def test_clicking_an_op_shows_where_it_was_made(browser, pages, case):
    path, program = pages[case]
    open_page(browser, path)
    op = next(op for op in program.ir.ops() if op.op == "neurons")
    site = op.src[0].site
    css(browser, f'#graph g.node[data-op="{op.name}"]')[0].click()
    assert browser.find_element(By.ID, "detail-name").text == op.name
    origin = browser.find_element(By.ID, "detail-origin").text
    assert f"{site.file}:{site.line}" in origin and op.src[0].obj in origin
    # the same from the table
    css(browser, f'#ops tr[data-op="{program.schedule[0]}"]')[0].click()
    assert browser.find_element(By.ID, "detail-name").text == program.schedule[0]
    assert errors(browser) == []


def test_each_pass_shows_what_it_changed(browser, pages):
    path, program = pages["w2"]
    open_page(browser, path)
    history = {s.name: s for s in program.history}
    css(browser, '#stages button[data-stage="split_host_chip"]')[0].click()
    head = browser.find_element(By.ID, "change-head").text
    assert head.startswith("split_host_chip: 4 added")
    assert len(css(browser, "#graph g.node")) == len(history["split_host_chip"].ops)
    assert len(css(browser, "#graph g.node.added")) == 4
    css(browser, '#stages button[data-stage="lower"]')[0].click()
    assert len(css(browser, "#graph g.node")) == len(history["lower"].ops)
    assert errors(browser) == []


def test_layers_collapse_and_search_finds_by_name(browser, pages):
    path, program = pages["w2"]
    open_page(browser, path)
    browser.find_element(By.ID, "collapse-all").click()
    layer = {o["name"]: o["group"] for o in page_data(program)["stages"][-1]["ops"]}
    groups = set(layer.values())
    assert len(css(browser, "#graph g.node")) == len(groups)
    assert layer["%conv1_p"] == layer["%conv1.weights"] == "conv1"  # probe, weights, neurons
    css(browser, '#graph g.node[data-group="conv1"]')[0].click()  # opens that layer
    conv1 = [n for n, g in layer.items() if g == "conv1"]
    assert len(css(browser, "#graph g.node")) == len(groups) - 1 + len(conv1)
    browser.find_element(By.ID, "search").send_keys("dense0")
    shown = [r for r in css(browser, "#ops tbody tr") if r.is_displayed()]
    assert {r.get_attribute("data-op") for r in shown} == {
        n for n in program.ir.graph.nodes if "dense0" in n}
    hits = css(browser, "#graph g.node.hit")
    assert hits and all("dense0" in h.get_attribute("data-group") for h in hits)
    assert errors(browser) == []


def test_core_map_and_reports_match_the_program(browser, pages):
    path, program = pages["w2"]
    open_page(browser, path)
    report = program.resources()
    tiles = css(browser, "#coremap g.tile")
    assert len(tiles) == report.cores
    tiles[-1].click()
    head = browser.find_element(By.ID, "core-head").text
    assert head.startswith(f"core {report.rows[-1]['core']} ")
    limits = css(browser, "#core-details tr")
    assert len(limits) == 4  # compartments, input axons, output axons, synapse bits
    assert len(css(browser, "details.layer")) == 3
    assert len(css(browser, "#quant tbody tr")) == len(program.quantization) == 3
    assert len(css(browser, "#energy-table tr")) == 7
    layers = [op for op in program.ir.ops() if op.op == "neurons"]
    assert len(css(browser, "#activity tbody tr")) == len(layers)
    assert errors(browser) == []


def test_a_page_without_a_chip_hides_the_chip(browser, pages):
    path, _ = pages["w1"]
    open_page(browser, path)
    assert not browser.find_element(By.ID, "loihi-section").is_displayed()
    assert browser.find_element(By.ID, "activity-section").is_displayed()
    assert errors(browser) == []


def test_a_script_error_would_be_caught(browser, tmp_path):
    """The console check itself: a page that throws is reported."""
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>undefinedFunction()</script></body></html>")
    open_page(browser, page)
    found, deadline = [], time.monotonic() + 10
    while not found and time.monotonic() < deadline:  # the log can lag under load
        found = errors(browser)
        time.sleep(0.05)
    assert found


def test_a_large_program_starts_folded_by_layer(browser, tmp_path):
    """Over 30 ops: one box per layer until opened; a search opens what it finds."""
    import snngraph as sg

    with sg.Network(seed=0) as net:
        x = sg.Node([0.5] * 4, label="input")
        for i in range(25):
            x = sg.Layer(sg.Dense(4))(x, label=f"fc{i}")
            x = sg.Layer(sg.LIF())(x, label=f"lif{i}")
        sg.Probe(x, label="out")
    program = sg.compile(net)
    path = program.to_html(tmp_path / "large.html")
    open_page(browser, path)
    layer = [o["group"] for o in page_data(program)["stages"][-1]["ops"]]
    assert len(program.ir.graph.nodes) > 30
    assert len(css(browser, "#graph g.node")) == len(set(layer))
    assert len(css(browser, "#graph g.node.group")) == len(
        [g for g in set(layer) if layer.count(g) > 1])
    assert len(set(layer)) < len(layer) * 0.6  # a Dense and its neurons are one layer
    browser.find_element(By.ID, "search").send_keys("lif17")
    hits = css(browser, "#graph g.node.hit")
    assert [h.get_attribute("data-op") for h in hits] == ["%lif17"]
    assert errors(browser) == []
