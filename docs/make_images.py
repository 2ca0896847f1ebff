"""Make the pictures in docs/images: every ``sg.plot`` figure on W1 to W5, and
screenshots of the W1, W2 and W5 ``snngraph view`` pages taken by headless Chromium.

    SNNGRAPH_DATA=/path/to/mnist python docs/make_images.py [--train-images 10000]

Each workload is trained briefly (``--epochs`` on the first ``--train-images`` images;
the figures show what the tools draw, not the workloads' final accuracy), then drawn.
Run it from the repository's root, so the pages name the examples' lines as
``examples/w1_spiking_mnist.py:48``. Needs
the ``plot`` extra (matplotlib), Selenium and Debian's ``chromium`` and
``chromium-driver`` (as the browser tests).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import snngraph as sg
from snngraph.view import view

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
PAGE_EXAMPLES = 20  # test images the pages measure rates on


def example(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def save(figures: dict[str, Any]) -> None:
    for name, fig in figures.items():
        fig.savefig(IMAGES / name, dpi=100)
        print(f"wrote docs/images/{name}")


# ------------------------------------------------------------------ workloads
def w1(train: tuple, test: tuple, epochs: int, tmp: Path) -> Path:
    w1 = example("w1_spiking_mnist")
    net = w1.build()
    out_p = next(p for p in net.all_probes if p.label == "out_p")
    params = tmp / "w1_params.npz"
    with sg.Simulator(net, minibatch_size=w1.MINIBATCH, progress_bar=False) as sim:
        history = sim.fit(train[0][:, None], {out_p: train[1]}, epochs=epochs, verbose=0,
                          optimizer=sg.optim.RMSprop(lr=0.001),
                          loss=sg.losses.CrossEntropy(from_logits=True),
                          metrics=sg.metrics.Accuracy(), validation_split=0.1)
        sim.save_params(params)
    save(w1.figures(history, test[0][:8], test[1][:8], params=params))
    data = tmp / "w1_data.npz"
    np.savez(data, x=test[0][:PAGE_EXAMPLES], n_steps=np.int64(w1.N_TEST_STEPS))
    return view(w1.build(), tmp / "w1.html", params=params, data=data)


def w2(train: tuple, test: tuple, epochs: int, tmp: Path) -> Path:
    w2 = example("w2_keras_to_loihi")
    loihi = sg.LoihiSpikingRectifiedLinear()
    params = tmp / "w2_loihi_params.npz"
    history = w2.train(w2.build(loihi, probe_layers=False), train[0], train[1], epochs,
                       params, scale_firing_rates=100, validation_split=0.1)
    save(w2.figures(history, params, test[0][:8], test[1][:8], 30))
    data = tmp / "w2_data.npz"
    np.savez(data, x=test[0][:PAGE_EXAMPLES], n_steps=np.int64(30))
    return view(w2.build(loihi), tmp / "w2.html", target="loihi", params=params,
                data=data, scale_firing_rates=100, synapse=0.005)


def w5(train: tuple, test: tuple, epochs: int, tmp: Path) -> Path:
    w5 = example("w5_snntorch_recurrent")
    net = w5.build()
    out = next(p for p in net.all_probes if p.label == "spk2")
    x, y = train[0] / 255.0, train[1]
    params = tmp / "w5_params.npz"
    with sg.Simulator(net, minibatch_size=w5.BATCH_SIZE, progress_bar=False) as sim:
        history = sim.fit(x, {out: y}, epochs=epochs, n_steps=w5.NUM_STEPS, verbose=0,
                          optimizer=w5.torch_adam(1e-3),
                          loss=sg.losses.MSECount(w5.CORRECT_RATE, w5.INCORRECT_RATE),
                          metrics=sg.metrics.Accuracy(reduce_time="count"),
                          validation_split=0.1)
        sim.save_params(params)
    save(w5.figures(history, test[0][:8] / 255.0, params=params))
    data = tmp / "w5_data.npz"
    np.savez(data, x=test[0][:PAGE_EXAMPLES] / 255.0, n_steps=np.int64(w5.NUM_STEPS))
    return view(w5.build(), tmp / "w5.html", params=params, data=data)


def w3(train: tuple, test: tuple, epochs: int, tmp: Path) -> None:
    w3 = example("w3_norse_recurrent")
    net = w3.build()
    out = next(p for p in net.all_probes if p.label == "readout_voltage")
    x, y = (train[0] / 255.0 - 0.1307) / 0.3081, train[1]  # the tutorial's normalisation
    params = tmp / "w3_params.npz"
    with sg.Simulator(net, minibatch_size=w3.BATCH_SIZE, progress_bar=False) as sim:
        history = sim.fit(x, {out: y}, epochs=epochs, n_steps=w3.T_RECURRENT, verbose=0,
                          optimizer=w3.torch_adam(2e-3),
                          loss=sg.losses.CrossEntropy(reduce_time="max"),
                          metrics=sg.metrics.Accuracy(reduce_time="max"),
                          validation_split=0.1)
        sim.save_params(params)
    images = (test[0][:8] / 255.0 - 0.1307) / 0.3081
    save(w3.figures(history, images, test[1][:8], "constant_current", params=params))


def w4(train: tuple, test: tuple, epochs: int, tmp: Path) -> None:
    w4 = example("w4_snntorch_conv")
    net = w4.build()
    out = next(p for p in net.all_probes if p.label == "spk3")
    n = len(train[0]) // 4  # W4 is the slow one: a quarter of the images
    params = tmp / "w4_params.npz"
    with sg.Simulator(net, minibatch_size=w4.BATCH_SIZE, progress_bar=False) as sim:
        history = sim.fit(train[0][:n] / 255.0, {out: train[1][:n]}, epochs=epochs,
                          n_steps=w4.NUM_STEPS, verbose=0, optimizer=w4.torch_adam(1e-2),
                          loss=sg.losses.CrossEntropyRate(),
                          metrics=sg.metrics.Accuracy(reduce_time="count"),
                          validation_split=0.1)
        sim.save_params(params)
    save(w4.figures(history, test[0][:8] / 255.0, params=params))


# ------------------------------------------------------------------ screenshots
def browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--window-size=1400,900"):
        options.add_argument(arg)
    options.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def shoot(driver: Any, page: Path, name: str, stage: str, op: str,
          sections: dict[str, str]) -> None:
    """The page's top showing pass ``stage`` with ``op`` clicked (graph, what the pass
    changed, the op's details), then each section."""
    from selenium.webdriver.common.by import By

    driver.get(page.resolve().as_uri())
    driver.find_element(By.CSS_SELECTOR, f'#stages button[data-stage="{stage}"]').click()
    driver.find_element(By.CSS_SELECTOR, f'#graph g.node[data-op="{op}"]').click()
    driver.execute_script("window.scrollTo(0, 0);")  # the click scrolled to the op
    driver.save_screenshot(str(IMAGES / f"{name}_page.png"))
    print(f"wrote docs/images/{name}_page.png")
    for suffix, section in sections.items():
        driver.execute_script(f"document.getElementById('{section}').scrollIntoView();"
                              "window.scrollBy(0, -70);")  # below the sticky header
        driver.save_screenshot(str(IMAGES / f"{name}_{suffix}.png"))
        print(f"wrote docs/images/{name}_{suffix}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-images", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    (x_train, y_train), (x_test, y_test) = sg.datasets.load_mnist()
    n = args.train_images
    train = (x_train[:n].reshape(n, -1).astype(np.float32), y_train[:n])
    test = (x_test[:100].reshape(100, -1).astype(np.float32), y_test[:100])
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        pages = {name: make(train, test, args.epochs, tmp)
                 for name, make in (("w1", w1), ("w2", w2), ("w5", w5))}
        w3(train, test, args.epochs, tmp)  # figures only: their pages look like W5's
        w4(train, test, args.epochs, tmp)
        driver = browser()
        try:
            shoot(driver, pages["w1"], "w1", "optimize", "%conv1_lif",
                  {"activity": "activity-section"})
            shoot(driver, pages["w2"], "w2", "split_host_chip", "%conv0",
                  {"cores": "loihi-section", "quantisation": "quant",
                   "activity": "activity-section"})
            shoot(driver, pages["w5"], "w5", "optimize", "%rlif1",
                  {"activity": "activity-section"})
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
