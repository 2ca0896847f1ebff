"""Random networks (hypothesis) survive a save/load round trip exactly and validate
against the committed JSON Schema."""

import jsonschema
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snngraph.schemas import export

import snngraph as sg

NEURONS = [sg.LIF(), sg.LIFRate(tau_rc=0.05), sg.RectifiedLinear(amplitude=0.5),
           sg.SpikingRectifiedLinear(), sg.Sigmoid(), sg.Tanh(), sg.LoihiLIF(),
           sg.LoihiSpikingRectifiedLinear(), sg.Leaky(0.8, reset="zero"), sg.LI(),
           sg.CubaLIF(v_th=0.5)]
SYNAPSES = [None, 0.005, sg.Alpha(0.01), sg.Delay(2), sg.LinearFilter([1.0], [0.02, 1.0])]
VALIDATOR = jsonschema.Draft202012Validator(export.load_schema())


@st.composite
def networks(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    with sg.Network(seed=seed, label=draw(st.text(max_size=5))) as net:
        objs = []
        for i in range(draw(st.integers(1, 5))):
            n, d = draw(st.integers(1, 20)), draw(st.integers(1, 3))
            if draw(st.booleans()):
                objs.append(sg.Ensemble(n, d, neuron_type=draw(st.sampled_from(NEURONS)),
                                        label=f"e{i}", seed=draw(st.none() | st.integers(0, 99))))
            else:
                objs.append(sg.Node(rng.normal(size=d).astype(draw(st.sampled_from(
                    ["float32", "float64"]))), label=f"n{i}"))
        sinks = [o for o in objs if isinstance(o, sg.Ensemble)]
        for _ in range(draw(st.integers(0, 6))):
            if not sinks:
                break
            pre = draw(st.sampled_from(objs))
            post = draw(st.sampled_from(sinks))
            pre_end = pre.neurons if isinstance(pre, sg.Ensemble) and draw(st.booleans()) else pre
            post_end = post.neurons if draw(st.booleans()) else post
            w = rng.normal(size=(post_end.size_in, pre_end.size_out))
            sg.Connection(pre_end, post_end, transform=w, synapse=draw(st.sampled_from(SYNAPSES)))
        for obj in objs:
            if draw(st.booleans()):
                sg.Probe(obj, synapse=draw(st.sampled_from([None, 0.01])))
    return net


@pytest.mark.slow  # 40 drawn networks; the workloads' and test_documents.py's round trips stay
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_random_networks_round_trip(tmp_path_factory, net):
    path = sg.save(net, tmp_path_factory.mktemp("rt") / "net.json")
    loaded = sg.load(path)
    a1, a2 = {}, {}
    assert loaded.to_dict(a2) == net.to_dict(a1)
    for key in a1:
        assert a1[key].dtype == a2[key].dtype and np.array_equal(a1[key], a2[key])
    assert list(VALIDATOR.iter_errors(net.to_dict({}))) == []
