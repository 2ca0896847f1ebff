"""Issue 16, item 9: every ```python block of README.md runs, as a user would run it.

The blocks are read from README.md each time (new blocks are picked up without editing
this file) and run in order, one namespace per section (``##``/``###`` heading). An HTML
comment on the line(s) before a block changes that (GitHub does not show it):

- ``<!-- test: continue -->``: run in the namespace of the previous python block, also
  across a heading (the Compiling section uses the network built above it);
- ``<!-- test: setup NAME -->``: first run ``SETUPS[NAME]`` below in a new namespace; for
  blocks that show part of an example and say in a comment which one;
- ``<!-- test: skip REASON -->``: not run (say why).

Blocks fenced as ```bash, ```text or bare ``` are not run; a bare block whose first line
is ``>>> statement`` shows an error: the statement is run after its section's python
blocks (inside ``with net:`` when they made a ``net``) and the error's first line must
be the README's lines up to the first indented one, joined, word for word.

Data are small: ``sg.datasets.load_mnist`` returns the first 200 images of the bundled
subset (no $SNNGRAPH_DATA), so the README keeps the sizes a user runs.
"""

from __future__ import annotations

import itertools
import re
import sys
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import snngraph as sg

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
N_IMAGES = 200  # the README's minibatch_size: a run_steps call takes exactly one batch

MARKER = re.compile(r"<!--\s*test:\s*(continue|setup\s+\w+|skip\b[^>]*)\s*-->")
FENCE = re.compile(r"^```(\w*)\s*$")
PYTHON = {"python", "py", "python3"}


@dataclass
class Block:
    """One fenced block of the README: its language, first code line and text."""

    section: str
    line: int  # 1-based line of the first code line
    lang: str
    code: str
    marker: str = ""


@dataclass
class Chain:
    """Python blocks run one after another in one namespace, with the errors they show
    (each checked where it appears)."""

    name: str
    setup: str = ""
    steps: list[Block] = field(default_factory=list)

    @property
    def blocks(self) -> list[Block]:
        return [b for b in self.steps if b.lang == "python"]

    @property
    def errors(self) -> list[Block]:
        return [b for b in self.steps if b.lang != "python"]


def readme_blocks(text: str) -> list[Block]:
    """Every fenced block with its section heading and the marker comment before it."""
    blocks, section, marker = [], "top", ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            section, marker = line.lstrip("#").strip(), ""
        elif match := MARKER.search(line):
            marker = match.group(1).strip()
        elif match := FENCE.match(line):
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            lang = "python" if match.group(1) in PYTHON else match.group(1)
            blocks.append(Block(section, i + 2, lang, "\n".join(lines[i + 1:end]), marker))
            marker, i = "", end
        elif line.strip():
            marker = ""  # a marker applies to the block right after it
        i += 1
    return blocks


def chains(blocks: list[Block]) -> list[Chain]:
    """Group the python blocks into namespaces by section and markers."""
    out: list[Chain] = []
    for block in blocks:
        if block.lang == "python":
            if block.marker.startswith("skip"):
                continue
            setup = block.marker.split()[1] if block.marker.startswith("setup") else ""
            joins = out and not setup and (block.marker == "continue"
                                           or out[-1].blocks[-1].section == block.section)
            if not joins:
                out.append(Chain(f"{block.section} (README.md:{block.line})", setup))
            out[-1].steps.append(block)
        elif block.lang == "" and block.code.startswith(">>> "):
            assert out and out[-1].blocks[-1].section == block.section, (
                f"README.md:{block.line}: an error shown with no python block before it in "
                f"its section ({block.section!r})")
            out[-1].steps.append(block)
    return out


def run_block(block: Block, namespace: dict) -> None:
    """Execute a block so that a traceback points at its README line."""
    source = "\n" * (block.line - 1) + block.code
    exec(compile(source, str(README), "exec"), namespace)  # noqa: S102 - the README's code


# ---------------------------------------------------------------- setups (see markers)
def _example(name: str):
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(ROOT / "examples"))


def _probe(net: sg.Network, label: str) -> sg.Probe:
    return next(p for p in net.all_probes if p.label == label)


def setup_w1(ns: dict) -> None:
    """W1 (examples/w1_spiking_mnist.py): its network, probes and data."""
    net = _example("w1_spiking_mnist").build()
    (x, y), (xt, yt) = sg.datasets.load_mnist()
    ns.update(sg=sg, np=np, net=net, out_p=_probe(net, "out_p"),
              out_p_filt=_probe(net, "out_p_filt"),
              train_images=x.reshape(-1, 1, 28 * 28).astype(np.float32), train_labels=y,
              test_tiled=np.tile(xt.reshape(-1, 1, 28 * 28).astype(np.float32), (1, 30, 1)),
              test_labels=yt)


def setup_w2(ns: dict) -> None:
    """W2 (examples/w2_keras_to_loihi.py): the Loihi network, its host layer, images and
    the parameters its step 5 saves."""
    w2 = _example("w2_keras_to_loihi")
    net = w2.build(sg.LoihiSpikingRectifiedLinear(), probe_layers=False)
    to_spikes = next(e for e in net.all_ensembles if e.label == "to-spikes")
    (x, _), _ = sg.datasets.load_mnist()
    with sg.Simulator(net, backend="rate", progress_bar=False, scale_firing_rates=100) as sim:
        sim.save_params("w2_loihi_params.npz")
    ns.update(sg=sg, np=np, net=net, to_spikes=to_spikes,
              images=x.reshape(-1, 28 * 28).astype(np.float32))


def setup_w5(ns: dict) -> None:
    """W5 (examples/w5_snntorch_recurrent.py): its network, output probe and data."""
    net = _example("w5_snntorch_recurrent").build()
    (x, y), _ = sg.datasets.load_mnist()
    ns.update(sg=sg, np=np, net=net, spk_out=_probe(net, "spk2"),
              images=(x.reshape(len(x), -1) / 255).astype(np.float32), labels=y)


SETUPS = {"w1": setup_w1, "w2": setup_w2, "w5": setup_w5}


# ---------------------------------------------------------------- the tests
BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))
CHAINS = chains(BLOCKS)


@pytest.fixture
def small_mnist(monkeypatch, tmp_docs, mnist_subset):
    """Run in a temporary folder (``tmp_docs``) with the first images of the bundled
    MNIST subset (``mnist_subset``, tests/conftest.py)."""
    monkeypatch.delenv("SNNGRAPH_DATA", raising=False)

    def load_mnist(*args, **kwargs):  # fresh copies: a block may change what it got
        return tuple(tuple(a[:N_IMAGES].copy() for a in pair) for pair in mnist_subset)

    monkeypatch.setattr(sg.datasets, "load_mnist", load_mnist)


def test_readme_blocks_are_found():
    """The parser sees the README's python blocks and its error example."""
    python = [b for b in BLOCKS if b.lang == "python"]
    assert len(python) >= 6
    assert sum(len(c.blocks) for c in CHAINS) == len(
        [b for b in python if not b.marker.startswith("skip")])
    assert any(c.errors for c in CHAINS)
    for block in python:
        assert not block.marker.startswith("setup") or block.marker.split()[1] in SETUPS, (
            f"README.md:{block.line}: unknown setup {block.marker!r}")


def test_chains_split_on_sections_and_markers():
    text = ("## A\n```python\na = 1\n```\n```python\nb = a\n```\n## B\n"
            "<!-- test: continue -->\n\n```python\nc = b\n```\n## C\n```python\nd = 1\n```\n"
            "<!-- test: setup w1 -->\n```python\ne = 1\n```\n"
            "<!-- test: skip needs a chip -->\n```python\nf = 1\n```\n"
            "```\n>>> g\nNameError: name 'g' is not defined\n```\n")
    got = chains(readme_blocks(text))
    assert [[b.code for b in c.blocks] for c in got] == [
        ["a = 1", "b = a", "c = b"], ["d = 1"], ["e = 1"]]
    assert got[2].setup == "w1" and [e.code.split("\n")[0] for e in got[2].errors] == [">>> g"]


def test_a_broken_block_fails(tmp_path):
    block = Block("S", 3, "python", "x = undefined_name")
    with pytest.raises(NameError) as info:
        run_block(block, {})
    tb = info.tb
    while tb.tb_next:  # the innermost frame is the README's line
        tb = tb.tb_next
    assert (tb.tb_frame.f_code.co_filename, tb.tb_lineno) == (str(README), 3)


@pytest.mark.parametrize("chain", CHAINS, ids=[c.name for c in CHAINS])
def test_readme_python_blocks_run(chain, small_mnist):
    namespace: dict = {"__name__": "__readme__"}
    if chain.setup:
        SETUPS[chain.setup](namespace)
    for block in chain.steps:
        if block.lang == "python":
            run_block(block, namespace)
        else:
            check_error(block, namespace)


def check_error(shown: Block, namespace: dict) -> None:
    """Run the ``>>>`` statement of an error block; compare the message's first line."""
    statement, *shown_lines = shown.code.splitlines()
    # the README wraps the message's first line; the indented lines follow it
    first = " ".join(line.strip() for line in
                     itertools.takewhile(lambda line: not line[:1].isspace(), shown_lines))
    net = namespace.get("net")
    with pytest.raises(sg.SnnError) as info, net if net is not None else nullcontext():
        exec(statement.removeprefix(">>> "), namespace)  # noqa: S102
    err = info.value
    real = f"{type(err).__module__}.{type(err).__qualname__}: {str(err).splitlines()[0]}"
    assert first == " ".join(real.split()), (
        f"README.md:{shown.line + 1} shows an error that changed")


def test_simulator_names_the_reshape_for_mnist_images(small_mnist):
    """load_mnist's uint8 [n, 28, 28] images fed to a 784-value node: the error names the
    node, the shape expected and the reshape to do."""
    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(28 * 28), label="pixels")
        sg.Probe(sg.Layer(sg.Dense(10))(inp))
    (images, _), _ = sg.datasets.load_mnist()
    with sg.Simulator(net, minibatch_size=4, progress_bar=False) as sim:
        with pytest.raises(sg.ValidationError) as info:
            sim.run_steps(3, data={inp: images[:4]})
        with pytest.raises(sg.ValidationError) as over_steps:
            sim.predict(np.zeros((4, 3, 28, 28), np.float32))
    msg = str(info.value)
    assert "Node 'pixels'" in msg and "[examples, 784]" in msg and "(4, 28, 28)" in msg
    assert "fix:" in msg and "x.reshape(len(x), -1) / 255" in msg
    assert "x.reshape(len(x), x.shape[1], -1)" in str(over_steps.value)
    assert "/ 255" not in str(over_steps.value)  # float data: no scaling advice
