"""The object model: with-blocks, nesting, config defaults, views, layers, identity."""

import numpy as np
import pytest

import snngraph as sg


def test_objects_join_the_innermost_network_in_creation_order():
    with sg.Network(label="outer", seed=1) as outer:
        a = sg.Ensemble(10, 2, label="a")
        with sg.Network(label="inner") as inner:
            b = sg.Node(np.zeros(3), label="b")
        c = sg.Connection(a, a[:1].obj, label="c")
    assert outer.objects == [a, inner, c]
    assert inner.objects == [b]
    assert outer.all_objects == [a, inner, b, c]
    assert outer.all_ensembles == [a] and outer.all_nodes == [b]
    assert outer.all_networks == [inner] and outer.all_connections == [c]
    assert outer.n_neurons == 10


def test_objects_compare_by_identity():
    with sg.Network():
        a, b = sg.Ensemble(5, 1), sg.Ensemble(5, 1)
    assert a != b and a == a and len({a, b}) == 2


def test_specs_compare_by_value():
    assert sg.LIF(tau_rc=0.02) == sg.LIF()
    assert sg.LIF(tau_rc=0.03) != sg.LIF()
    assert sg.dists.Choice([1, 2]) == sg.dists.Choice(np.array([1, 2]))


def test_config_class_defaults_apply_innermost_first():
    with sg.Network() as net:
        net.config[sg.Ensemble].max_rates = sg.dists.Choice([100])
        net.config[sg.Connection].synapse = None
        with sg.Network() as sub:
            sub.config[sg.Ensemble].max_rates = sg.dists.Choice([50])
            inner = sg.Ensemble(3, 1)
        outer = sg.Ensemble(3, 1, max_rates=sg.dists.Choice([7]))
        plain = sg.Ensemble(3, 1)
        conn = sg.Connection(plain, outer)
    assert inner.max_rates == sg.dists.Choice([50])
    assert outer.max_rates == sg.dists.Choice([7])
    assert plain.max_rates == sg.dists.Choice([100])
    assert conn.synapse is None
    assert net.config[sg.Ensemble].max_rates == sg.dists.Choice([100])
    assert net.config[sg.Ensemble].radius == 1.0  # class default when not configured


def test_config_numbers_become_lowpass_synapses():
    with sg.Network() as net:
        net.config[sg.Connection].synapse = 0.01
        a = sg.Ensemble(3, 1)
        conn = sg.Connection(a, a)
    assert conn.synapse == sg.Lowpass(0.01)


def test_backend_settings_per_object():
    with sg.Network() as net:
        ens = sg.Ensemble(13 * 13 * 32, 1)
        net.config[ens].on_chip = False
        net.config[ens].block_shape = sg.BlockShape((16, 16, 4), (13, 13, 32))
    assert net.config[ens].on_chip is False
    assert net.config[ens].block_shape.n_blocks == 8
    other = sg.Ensemble
    assert net.config[other].on_chip is True


def test_neurons_and_slices():
    with sg.Network():
        ens = sg.Ensemble(20, 3)
        node = sg.Node(size_in=4)
        view = ens.neurons[:10]
        conn = sg.Connection(view, node[1:3], transform=np.ones((2, 10)))
    assert ens.neurons is ens.neurons
    assert view.size_out == 10 and conn.size_out == 2
    assert ens[0].size_out == 1 and ens[[0, 2]].size_out == 2
    assert list(ens.neurons[-2:].indices) == [18, 19]


def test_node_sizes_are_inferred():
    with sg.Network():
        const = sg.Node([1.0, 2.0])
        func = sg.Node(lambda t, x: x * 2, size_in=3)
        process = sg.Node(sg.PresentInput(np.zeros((5, 28, 28)), 0.03))
        encoder = sg.Node(sg.PoissonEncoder(f_max=20), size_in=784)
        passthrough = sg.Node(size_in=7)
    assert const.size_out == 2 and func.size_out == 3 and process.size_out == 784
    assert encoder.size_out == 784 and passthrough.size_out == 7


def test_decoded_connection_takes_function_size():
    with sg.Network():
        a, b = sg.Ensemble(50, 2), sg.Ensemble(50, 1)
        conn = sg.Connection(a, b, function=lambda x: x[0] * x[1])
    assert conn.size_mid == 1


def test_layers_build_the_objects_one_would_write():
    with sg.Network() as net:
        inp = sg.Node(np.zeros(784))
        x = sg.Layer(sg.Conv2D(8, 3, strides=2))(inp, shape_in=(28, 28, 1))
        h = sg.Layer(sg.LIF())(x)
        y = sg.Layer(sg.AvgPool2D(2))(h)
        out = sg.Layer(sg.Dense(10))(y)
    conv = net.all_connections[0].transform
    assert conv.shape_out == (13, 13, 8) and x.size_out == 13 * 13 * 8
    assert isinstance(h, sg.Neurons) and h.size_out == 13 * 13 * 8
    assert net.all_connections[2].transform.shape_out == (6, 6, 8)
    assert out.size_out == 10 and net.all_connections[3].transform.shape == (10, 288)


def test_connection_shape_mismatch_names_both_shapes():
    with sg.Network() as net:
        a = sg.Node(np.zeros(784), label="pixels")
        b = sg.Node(size_in=10, label="out")
        conv = sg.Convolution(4, (26, 26, 1))
        with pytest.raises(sg.ValidationError) as err:
            sg.Connection(a, b, transform=conv)
    msg = str(err.value)
    assert "784" in msg and "676" in msg and "(26, 26, 1)" in msg and "'pixels'" in msg
    assert len(net.all_connections) == 0
