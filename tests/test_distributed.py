"""snngraph on a Dask cluster (runtimes/distributed/, docs/distributed.md): a real
``LocalCluster`` of 2 worker processes runs sharded ``predict``/``evaluate``, ``sg.sweep``
and data-parallel ``fit``, compared with the same work in this process.

Sharded inference must equal the single-process run bit for bit (whole minibatches per
shard, per-example random draws seeded by the example's index in the dataset).
Data-parallel training equals single-process training up to the order of the sums: with
SGD every parameter stays within ``TRAIN_RTOL`` (relative to the largest change training
made to it) after a few minibatches. The networks are the W1, W3 and W5 examples at small
sizes, on the MNIST subset bundled with the package.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from conftest import load_example
from snngraph.runtimes.distributed import ClusterError, check_workers
from snngraph.runtimes.distributed import cluster as cluster_module
from snngraph.runtimes.training import TrainingError

import snngraph as sg

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

pytestmark = pytest.mark.timeout(300)

TRAIN_RTOL = 1e-4
"""Data-parallel vs single-process SGD: the largest parameter difference may be this much
of the largest change training made to that parameter, plus 8 float32 spacings at the
parameter's magnitude (float32 sums over half the rows, then a float64 average, against
float32 sums over all rows; measured: under 1e-8 absolute for W1 and W5, a few float32
spacings)."""


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        c.wait_for_workers(2)
        yield c


@pytest.fixture(scope="module")
def images(mnist_subset):
    (x, y), _ = mnist_subset
    return x.reshape(len(x), -1).astype(np.float32), y


def quiet_sim(net, **kwargs):
    return sg.Simulator(net, progress_bar=False, **kwargs)


# ----------------------------------------------------------------- sharded inference
def test_w1_predict_on_two_workers_equals_one_process(client, images):
    w1 = load_example("w1_spiking_mnist")
    x = images[0][:70] / 255 * 100  # a partial last minibatch and last shard
    with quiet_sim(w1.build(), minibatch_size=8) as sim:
        here = sim.predict(x, n_steps=12, verbose=0)
        there = sim.predict(x, n_steps=12, verbose=0, client=client)
        lazy = sim.predict(da.from_array(x, chunks=25), n_steps=12, verbose=0, client=client)
    assert list(there) == list(here)
    for probe in here:
        assert there[probe].shape == here[probe].shape == (70, 12, 10)
        np.testing.assert_array_equal(there[probe], here[probe])
        np.testing.assert_array_equal(lazy[probe], here[probe])
    assert np.any(here[next(iter(here))] != 0)


def test_random_draws_do_not_depend_on_the_shard(client, images):
    """W3's Poisson encoder draws per example and step: example i's spikes are seeded by
    i in the whole dataset, so a shard starting at example 16 draws what one process
    draws for examples 16.."""
    w3 = load_example("w3_norse_recurrent")
    x = images[0][:40] / 255
    with quiet_sim(w3.build(encoder="poisson", hidden=20), minibatch_size=8) as sim:
        here = sim.predict(x, n_steps=10, verbose=0)
        there = sim.predict(x, n_steps=10, verbose=0, client=client)
    for probe in here:
        np.testing.assert_array_equal(there[probe], here[probe])
    first = next(iter(here.values()))
    assert not np.array_equal(first[0], first[16])  # the draws differ between examples


def test_w5_evaluate_on_two_workers_equals_one_process(client, images):
    w5 = load_example("w5_snntorch_recurrent")
    x, y = images[0][:50] / 255, images[1][:50]
    net = w5.build(hidden=32)
    out = next(p for p in net.all_probes if p.label == "spk2")
    kwargs = dict(loss=sg.losses.MSECount(0.8, 0.2), n_steps=10, verbose=0,
                  metrics=sg.metrics.Accuracy(reduce_time="count"))
    with quiet_sim(net, minibatch_size=16) as sim:
        here = sim.evaluate(x, {out: y}, **kwargs)
        there = sim.evaluate(x, {out: y}, client=client, **kwargs)
    assert there == here
    assert set(here) == {"loss", "spk2_loss", "spk2_accuracy"}


# ----------------------------------------------------------------------------- sweep
def test_sweep_over_eight_settings_returns_each_once(client, images):
    w1 = load_example("w1_spiking_mnist")
    x, y = images[0][:16], images[1][:16]
    grid = {"scale_firing_rates": [1, 3, 10, 30], "synapse": [None, 0.005]}

    def build(scale_firing_rates, synapse):
        return sg.Simulator(w1.build(), scale_firing_rates=scale_firing_rates,
                            synapse=synapse, minibatch_size=8, progress_bar=False)

    data = (np.broadcast_to(x[:, None], (16, 6, 784)), {"out_p_filt": y})
    metric = sg.metrics.Accuracy(last_step=True)
    here = sg.sweep(build, grid, data, metric=metric, verbose=0)
    there = sg.sweep(build, grid, data, metric=metric, client=client, verbose=0)
    settings = [p.setting for p in there]
    assert len(there) == 8
    assert [tuple(s.values()) for s in settings] == \
        [(r, s) for r in grid["scale_firing_rates"] for s in grid["synapse"]]
    assert [p.scores for p in there] == [p.scores for p in here]
    assert all(set(p.scores) == {"out_p_filt_accuracy"} for p in there)


def test_sweep_refuses_a_grid_it_cannot_call_build_with():
    with pytest.raises(sg.ValidationError, match="not a name build"):
        sg.sweep(lambda **k: None, {"scale firing": [1]}, (None, None))
    with pytest.raises(sg.ValidationError, match="non-empty list"):
        sg.sweep(lambda **k: None, {"scale": 3}, (None, None))


# -------------------------------------------------------------- data-parallel training
def _fit_twice(client, net_of, x, y, label, **kwargs):
    """Parameters after the same fit in this process and on the cluster, and the
    initial ones."""
    out = {}
    for where in (None, client):
        net = net_of()
        probe = next(p for p in net.all_probes if p.label == label)
        with quiet_sim(net, minibatch_size=16) as sim:
            start = sim.trainable_params()
            history = sim.fit(x, {probe: y}, epochs=1, verbose=0, client=where,
                              shuffle=True, **kwargs)
            out[where is None] = (sim.trainable_params(), history.history)
    return out[True], out[False], start


def _assert_close_training(single, parallel, start):
    (p1, h1), (p2, h2) = single, parallel
    assert h1.keys() == h2.keys()
    np.testing.assert_allclose(h2["loss"], h1["loss"], rtol=1e-5)
    for key in p1:
        moved = np.abs(p1[key] - start[key]).max()
        assert moved > 0, key
        rounding = 8 * np.spacing(np.abs(p1[key]).max())
        assert np.abs(p2[key] - p1[key]).max() <= TRAIN_RTOL * moved + rounding, key


def test_data_parallel_rate_training_of_w1_matches_one_process(client, images):
    w1 = load_example("w1_spiking_mnist")
    x, y = images[0][:48].reshape(48, 1, 784), images[1][:48]  # 3 minibatches of 16
    single, parallel, start = _fit_twice(
        client, w1.build, x, y, "out_p", method="rate", optimizer=sg.optim.SGD(lr=1e-4),
        loss=sg.losses.CrossEntropy(from_logits=True), metrics=sg.metrics.Accuracy())
    _assert_close_training(single, parallel, start)
    assert single[1]["out_p_accuracy"] == parallel[1]["out_p_accuracy"]


def test_data_parallel_bptt_training_of_w5_matches_one_process(client, images):
    w5 = load_example("w5_snntorch_recurrent")
    x, y = images[0][:40] / 255, images[1][:40]  # 2 minibatches of 16 and one of 8
    single, parallel, start = _fit_twice(
        client, lambda: w5.build(hidden=32), x, y, "spk2", n_steps=8, method="bptt",
        optimizer=sg.optim.SGD(lr=0.05), loss=sg.losses.MSECount(0.8, 0.2))
    _assert_close_training(single, parallel, start)


def _blobs_net():
    """inp (4) -> Dense(16) -> ReLU -> Dense(3), probed: trains in a few minibatches, and
    diverges with a huge learning rate."""
    with sg.Network(seed=0, label="blobs") as net:
        net.config[sg.Ensemble].max_rates = sg.dists.Choice([100])
        net.config[sg.Ensemble].intercepts = sg.dists.Choice([0])
        net.config[sg.Connection].synapse = None
        inp = sg.Node(np.zeros(4), label="inp")
        h = sg.Layer(sg.Dense(16, bias=True))(inp, label="dense")
        h = sg.Layer(sg.RectifiedLinear(amplitude=0.01))(h, label="relu")
        out = sg.Layer(sg.Dense(3, bias=True))(h, label="out")
        probe = sg.Probe(out, label="out_p")
    return net, probe


def test_data_parallel_fit_writes_checkpoints_and_resumes(client, tmp_path):
    from conftest import blobs

    x, y = blobs(64)
    ckpt = tmp_path / "ckpt.npz"
    results = []
    for epochs, where in ((1, client), (2, client), (2, None)):
        net, probe = _blobs_net()
        with quiet_sim(net, minibatch_size=16) as sim:
            sim.fit(x, {probe: y}, epochs=epochs, verbose=0, client=where,
                    optimizer=sg.optim.SGD(lr=0.05),
                    checkpoint=ckpt if where is not None else None)
            results.append(sim.trainable_params())
    assert ckpt.exists()
    for key, value in results[2].items():  # 1 epoch, resumed for the second
        np.testing.assert_allclose(results[1][key], value, rtol=1e-5, atol=1e-7)


def test_data_parallel_fit_stops_on_a_non_finite_loss_with_finite_parameters(client):
    """The same stop, at the same minibatch, as in one process; the parameters kept are
    those before the update that broke it."""
    from conftest import blobs

    x, y = blobs(64)
    messages = []
    for where in (None, client):
        net, probe = _blobs_net()
        with quiet_sim(net, minibatch_size=16) as sim, np.errstate(all="ignore"):
            with pytest.raises(TrainingError, match="not finite") as info:
                sim.fit(x, {probe: y}, epochs=3, verbose=0, client=where,
                        optimizer=sg.optim.SGD(lr=1e6))
            assert all(np.all(np.isfinite(v)) for v in sim.trainable_params().values())
            messages.append(str(info.value).split(";")[0])
    assert messages[1] == messages[0]
    assert "at epoch" in messages[0] and ", batch" in messages[0]


# ---------------------------------------------------------------------------- faults
def test_a_shard_that_fails_for_good_is_named_with_its_cause(client):
    from conftest import dense_net

    net, _ = dense_net(sg.LIF(), n_in=4)
    x = np.ones((40, 4), np.float32)
    x[33, 2] = np.nan  # only the worker computing the last shard sees it
    with quiet_sim(net, minibatch_size=8) as sim:
        with pytest.raises(ClusterError) as info:
            sim.predict(da.from_array(x, chunks=8), n_steps=3, verbose=0, client=client)
    message = str(info.value)
    assert "examples 32..39" in message
    assert "ValidationError" in message and "NaN" in message


def _relay_net(fail_after: int | None):
    """The blobs network with its input relayed by a Python Node that, in a worker
    process only, fails for good once it has run ``fail_after`` times there (its count
    only grows, so retries fail too)."""
    calls = [0]

    def relay(t, x):
        if fail_after is not None and multiprocessing.parent_process() is not None:
            calls[0] += 1
            if calls[0] > fail_after:
                raise RuntimeError("this worker's disk is full")
        return x

    with sg.Network(seed=0) as net:
        inp = sg.Node(np.zeros(4), label="inp")
        mid = sg.Node(relay, size_in=4, label="relay")
        sg.Connection(inp, mid, synapse=None)
        h = sg.Layer(sg.Dense(16, bias=True))(mid, label="dense")
        h = sg.Layer(sg.RectifiedLinear(amplitude=0.01))(h, label="relu")
        probe = sg.Probe(sg.Layer(sg.Dense(3, bias=True))(h, label="out"), label="out_p")
    return net, probe


def test_a_minibatch_that_fails_for_good_stops_fit_with_the_last_good_parameters(client):
    """The error names the minibatch, the part and the cause; the parameters are those
    of single-process training over the minibatches before it."""
    from conftest import blobs

    x, y = blobs(96)
    kwargs = dict(epochs=1, verbose=0, shuffle=False, optimizer=sg.optim.SGD(lr=0.05))
    net, probe = _relay_net(fail_after=20)  # a part runs the relay once per example
    with quiet_sim(net, minibatch_size=16) as sim:
        start = sim.trainable_params()
        with pytest.raises(ClusterError) as info:
            sim.fit(x, {probe: y}, client=client, **kwargs)
        kept = sim.trainable_params()
    message = str(info.value)
    assert "RuntimeError: this worker's disk is full" in message
    assert "the parameters are those after the last completed minibatch" in message
    done = int(re.search(r"epoch 1, batch (\d+), part \d of 2", message).group(1)) - 1
    assert done >= 1
    net, probe = _relay_net(fail_after=None)
    with quiet_sim(net, minibatch_size=16) as sim:
        history = sim.fit(x[:16 * done], {probe: y[:16 * done]}, **kwargs).history
        expected = sim.trainable_params()
    _assert_close_training((expected, history), (kept, history), start)


def test_a_dask_array_of_unknown_length_is_refused_before_any_work(client):
    from conftest import dense_net

    net, _ = dense_net(sg.LIF(), n_in=4)
    x = da.ones((40, 4), chunks=8)
    with quiet_sim(net, minibatch_size=8) as sim, \
            pytest.raises(sg.ValidationError, match="compute_chunk_sizes"):
        sim.predict(x[x[:, 0] > 0], n_steps=3, verbose=0, client=client)


def _slow_net(sleep: float):
    """A dense network with a Node that sleeps at every step of every example: shards
    take long enough to kill a worker while it runs one."""
    from conftest import dense_net

    net, probes = dense_net(sg.LIF(), n_in=4)
    with net:
        ticks = sg.Node(lambda t: (time.sleep(sleep), 0.0)[1], size_out=1, label="ticks")
        sg.Probe(ticks, label="ticks")
    return net, probes


def _kill_a_worker_during(client, job, prefix):
    """Run ``job()`` in a thread and SIGKILL, by its process id, the first worker seen
    running one of its tasks (keys starting ``prefix``); ``job``'s result once done,
    after the nanny has restarted the worker."""
    pids = client.run(os.getpid)
    outcome, killed = {}, []

    def run():
        try:
            outcome["result"] = job()
        except BaseException as exc:  # re-raised below, in the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    while thread.is_alive() and not killed:
        busy = [w for w, keys in client.processing().items()
                if any(str(k).startswith(prefix) for k in keys)]
        if busy:
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append(busy[0])
        time.sleep(0.005)
    thread.join()
    client.wait_for_workers(2, timeout=60)
    assert killed, f"the job ended before a worker running {prefix}... could be killed"
    assert set(client.run(os.getpid).values()) != set(pids.values())
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def test_a_worker_killed_mid_predict_loses_and_repeats_nothing(client):
    net, _ = _slow_net(0.0005)
    x = np.random.default_rng(1).random((64, 4)).astype(np.float32)
    with quiet_sim(net, minibatch_size=8) as sim:
        here = sim.predict(x, n_steps=40, verbose=0)
        there = _kill_a_worker_during(
            client, lambda: sim.predict(x, n_steps=40, verbose=0, client=client),
            "snngraph-predict")
    for probe in here:
        assert there[probe].shape == here[probe].shape
        np.testing.assert_array_equal(there[probe], here[probe])


def test_a_worker_killed_mid_sweep_loses_and_repeats_nothing(client):
    x = np.random.default_rng(3).random((16, 4)).astype(np.float32)
    y = {"h2": np.arange(16) % 5}

    def build(amplitude):
        net, _ = _slow_net(0.0005)
        for ens in net.all_ensembles:
            ens.neuron_type = sg.LIF(amplitude=amplitude)
        return sg.Simulator(net, minibatch_size=8, progress_bar=False)

    grid = {"amplitude": [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]}
    kwargs = dict(metric=sg.metrics.Accuracy(reduce_time="count"), n_steps=30, verbose=0)
    here = sg.sweep(build, grid, (x, y), **kwargs)
    there = _kill_a_worker_during(
        client, lambda: sg.sweep(build, grid, (x, y), client=client, **kwargs),
        "snngraph-sweep")
    assert there == here


def test_a_worker_killed_mid_epoch_loses_and_repeats_nothing(client):
    """Each minibatch's parts are gathered once: the epoch's loss and the parameters are
    those of the single-process run (within the summation tolerance)."""
    from conftest import blobs

    x, y = blobs(96)
    runs = []
    for where in (None, client):
        net, probe = _blobs_net()
        with quiet_sim(net, minibatch_size=4) as sim:
            start = sim.trainable_params()

            def job():
                return sim.fit(x, {probe: y}, epochs=2, verbose=0, client=where,  # noqa: B023
                               optimizer=sg.optim.SGD(lr=0.05)).history

            history = job() if where is None else \
                _kill_a_worker_during(client, job, "snngraph-fit")
            runs.append((sim.trainable_params(), history))
    _assert_close_training(runs[0], runs[1], start)


# -------------------------------------------------------------------- errors on setup
def test_client_must_be_a_client_an_address_or_local():
    from conftest import dense_net

    net, _ = dense_net(sg.LIF(), n_in=4)
    with quiet_sim(net) as sim, pytest.raises(sg.ValidationError,
                                              match="expected a dask.distributed.Client"):
        sim.predict(np.ones((2, 4)), n_steps=2, client=42)


def test_an_unreachable_scheduler_is_named_within_the_timeout(monkeypatch):
    from conftest import dense_net

    monkeypatch.setattr(cluster_module, "CONNECT_TIMEOUT", 2.0)
    net, _ = dense_net(sg.LIF(), n_in=4)
    with quiet_sim(net) as sim, pytest.raises(ClusterError) as info:
        sim.predict(np.ones((2, 4)), n_steps=2, verbose=0, client="tcp://127.0.0.1:9")
    assert "no Dask scheduler answered at 'tcp://127.0.0.1:9' within 2 s" in str(info.value)
    assert "fix:" in str(info.value)


def test_workers_with_another_snngraph_version_are_refused(client, monkeypatch):
    from conftest import dense_net

    net, _ = dense_net(sg.LIF(), n_in=4)
    monkeypatch.setattr(sg, "__version__", "99.0")
    with quiet_sim(net) as sim, pytest.raises(ClusterError) as info:
        sim.predict(np.ones((2, 4)), n_steps=2, verbose=0, client=client)
    message = str(info.value)
    assert "2 of 2 worker(s) run snngraph 0.1.0" in message and "99.0" in message


def test_workers_without_the_package_are_refused(client):
    with pytest.raises(ClusterError, match="2 of 2 worker.*cannot import snngraph_absent"):
        check_workers(client, "Simulator.predict", package="snngraph_absent", expected="1")


def test_local_cluster_is_started_reported_and_closed(capsys):
    from conftest import dense_net

    net, _ = dense_net(sg.LIF(), n_in=4)
    x = np.random.default_rng(2).random((12, 4)).astype(np.float32)
    with quiet_sim(net, minibatch_size=4) as sim:
        here = sim.predict(x, n_steps=5, verbose=0)
        there = sim.predict(x, n_steps=5, verbose=0, client="local")
    for probe in here:
        np.testing.assert_array_equal(there[probe], here[probe])
    assert "dask: started a local cluster of" in capsys.readouterr().out


def test_snngraph_does_not_import_dask_unless_asked():
    code = ("import sys, numpy as np, snngraph as sg\n"
            "with sg.Network() as net:\n"
            "    a = sg.Node(np.zeros(2)); e = sg.Ensemble(3, 2); sg.Connection(a, e)\n"
            "    sg.Probe(e)\n"
            "sg.Simulator(net, progress_bar=False).predict(np.ones((2, 2)), n_steps=2)\n"
            "print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
