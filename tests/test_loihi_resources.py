"""The per-core resource model against NengoLoihi 1.1.0's own numbers.

``fixtures/loihi/resources.json`` was recorded by ``fixtures/loihi/make_resources.py``
(NengoLoihi builds and splits each model and reports ``LoihiBlock.utilization()``)."""

import json
from pathlib import Path

import pytest

from compiler import loihi_resources as res

CASES = json.loads((Path(__file__).parent / "fixtures/loihi/resources.json").read_text())


def _ours(case):
    if case["kind"] == "conv":
        model = res.Conv2D(tuple(case["input_shape"]), tuple(case["kernel_shape"]),
                           tuple(case["strides"]), case["padding"])
        pre = res.tiles(model.input_shape, case["pre_block_shape"])
        post = res.tiles(model.output_shape, case["post_block_shape"])
        usages = [res.Usage(t.size) + model.out_usage(t, post) for t in pre]
        return usages + [res.Usage(t.size) + model.in_usage(t) for t in post]
    pre = res.tiles((case["n_pre"],), case["pre_block_shape"])
    post = res.tiles((case["n_post"],), case["post_block_shape"])
    usages = [res.Usage(t.size) + res.dense_out_usage(t.size, post) for t in pre]
    return usages + [res.Usage(t.size) + res.dense_in_usage(case["n_pre"], t) for t in post]


def _id(case):
    return f"{case['kind']}-{case['pre_block_shape']}-{case['post_block_shape']}"


@pytest.mark.parametrize("case", CASES["cases"], ids=_id)
def test_usage_equals_nengo_loihi(case):
    theirs = [(b["compartments"], b["in-axons"], b["out-axons"], b["synapses"])
              for b in case["blocks"]]
    ours = [(u.compartments, u.in_axons, u.out_axons, u.synapse_bits) for u in _ours(case)]
    assert ours == theirs


def test_index_bits_and_word_rounding():
    assert [res.index_bits(m) for m in (0, 1, 63, 64, 4095, 5000)] == [0, 6, 6, 7, 12, 12]
    # 64 weights of 8 bits + 10 header bits = 522 bits -> 9 words of 64
    assert res.bits_per_axon(64, 8) == 576
    assert res.bits_per_axon(65, 8) == 576 + 64


def test_usage_reports_each_excess():
    usage = res.Usage(compartments=2000, synapse_bits=res.LIMITS.synapse_bits + 1)
    assert [(e.resource, e.amount) for e in usage.over()] == [("compartments", 976),
                                                              ("synapse_bits", 1)]
