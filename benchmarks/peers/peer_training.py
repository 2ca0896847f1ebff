"""The peers' own W3 (Norse), W4 and W5 (snnTorch) training and inference, timed on this
machine so that benchmarks/bptt_training.py's figures can be compared side by side
(docs/peers.md's first figures come from another machine of this type, whose speed differs).

torch is a measuring tool here, never a dependency of snngraph: run this with a Python
that has torch, snntorch 1.0.0 and norse 1.1.0 (README in this folder). It reads the
MNIST IDX files itself (numpy, gzip), so it needs neither torchvision nor snngraph.

    SNNGRAPH_DATA=/path/to/data /tmp/peers/bin/python benchmarks/peers/peer_training.py \
        [--workload w5] [--batches 40] [--repeats 3]

Each workload runs one warm-up batch, then --repeats timed runs of --batches minibatches
(seconds per batch, median; per epoch = per batch x batches per epoch, as in
bptt_training.py), then inference on --test-images test images.

``--epochs N`` instead trains N epochs as the tutorial does (its training images: all of
them, or the first tenth for W4; reshuffled every epoch, last partial batch dropped) and
prints the test accuracy on the whole test set and on its first tenth, decoded as the
tutorial decodes. For W4 it also prints the accuracy on the training images: the figure
snnTorch's tutorial prints as "Test Acc" (its ``batch_accuracy`` is given ``train_loader``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

# workload: batch, steps, epoch images
WORKLOADS = {"w3": (256, 32, 60000), "w4": (128, 50, 6000), "w5": (128, 10, 60000)}


def idx(name: str) -> np.ndarray:
    if "SNNGRAPH_DATA" not in os.environ:
        raise SystemExit("set SNNGRAPH_DATA to the folder holding the MNIST IDX files")
    root = Path(os.environ["SNNGRAPH_DATA"])
    folder = root / "mnist" if (root / "mnist").is_dir() else root
    path = folder / name
    raw = gzip.open(f"{path}.gz").read() if not path.exists() else path.read_bytes()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


def norse_w3():
    from norse.torch import ConstantCurrentLIFEncoder, LICell, LIFParameters
    from norse.torch.module.lif import LIFRecurrentCell

    class SNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = ConstantCurrentLIFEncoder(seq_length=32)
            self.l1 = LIFRecurrentCell(784, 100, p=LIFParameters(alpha=100,
                                       v_th=torch.tensor(0.5)), dt=0.001)
            self.fc_out = torch.nn.Linear(100, 10, bias=False)
            self.out = LICell(dt=0.001)

        def forward(self, x):
            spikes = self.encoder(x)
            s1 = so = None
            voltages = []
            for t in range(spikes.shape[0]):
                z, s1 = self.l1(spikes[t].reshape(len(x), -1), s1)
                vo, so = self.out(self.fc_out(z), so)
                voltages.append(vo)
            v, _ = torch.max(torch.stack(voltages), 0)
            return torch.nn.functional.log_softmax(v, dim=1)

    model = SNN()
    loss = lambda out, y: torch.nn.functional.nll_loss(out, y)  # noqa: E731
    prep = lambda x: (x / 255.0 - 0.1307) / 0.3081  # noqa: E731
    return model, torch.optim.Adam(model.parameters(), lr=2e-3), loss, prep, "max"


def snntorch_w4():
    import snntorch as snn
    from snntorch import functional as SF
    from snntorch import surrogate, utils

    grad = surrogate.fast_sigmoid(slope=25)
    layers = torch.nn.Sequential(
        torch.nn.Conv2d(1, 12, 5), torch.nn.MaxPool2d(2),
        snn.Leaky(beta=0.5, spike_grad=grad, init_hidden=True),
        torch.nn.Conv2d(12, 64, 5), torch.nn.MaxPool2d(2),
        snn.Leaky(beta=0.5, spike_grad=grad, init_hidden=True),
        torch.nn.Flatten(), torch.nn.Linear(64 * 4 * 4, 10),
        snn.Leaky(beta=0.5, spike_grad=grad, init_hidden=True, output=True))

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = layers

        def forward(self, x):
            utils.reset(self.layers)
            x = x.reshape(-1, 1, 28, 28)
            return torch.stack([self.layers(x)[0] for _ in range(50)])

    model = Net()
    return (model, torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.9, 0.999)),
            SF.ce_rate_loss(), lambda x: x / 255.0, "count")


def snntorch_w5():
    import snntorch as snn
    from snntorch import functional as SF

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(784, 128)
            self.rlif1 = snn.RLeaky(beta=0.9, linear_features=128)
            self.fc2 = torch.nn.Linear(128, 10)
            self.rlif2 = snn.RLeaky(beta=0.9, linear_features=10)

        def forward(self, x):
            spk1, mem1 = self.rlif1.init_rleaky()
            spk2, mem2 = self.rlif2.init_rleaky()
            out = []
            for _ in range(10):
                spk1, mem1 = self.rlif1(self.fc1(x), spk1, mem1)
                spk2, mem2 = self.rlif2(self.fc2(spk1), spk2, mem2)
                out.append(spk2)
            return torch.stack(out)

    model = Net()
    return (model, torch.optim.Adam(model.parameters(), lr=1e-3),
            SF.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2),
            lambda x: x / 255.0, "count")


def images(x: np.ndarray, workload: str) -> torch.Tensor:
    shape = (-1, 1, 28, 28) if workload == "w3" else (-1, 784)
    return torch.from_numpy(np.ascontiguousarray(x, np.float32).reshape(shape))


def run(workload: str, batches: int, repeats: int, test_images: int) -> dict:
    torch.manual_seed(0)
    batch, steps, epoch_images = WORKLOADS[workload]
    model, optimizer, loss_fn, prep, decode = {
        "w3": norse_w3, "w4": snntorch_w4, "w5": snntorch_w5}[workload]()
    x = images(prep(idx("train-images-idx3-ubyte")[: batch * (batches + 1)]), workload)
    y = torch.from_numpy(idx("train-labels-idx1-ubyte")[: batch * (batches + 1)].astype(np.int64))

    def train(lo: int, hi: int) -> None:
        for b in range(lo, hi):
            out = model(x[b * batch:(b + 1) * batch])
            loss = loss_fn(out, y[b * batch:(b + 1) * batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    train(0, 1)  # warm-up
    per_batch = []
    for _ in range(repeats):
        start = time.perf_counter()
        train(1, batches + 1)
        per_batch.append((time.perf_counter() - start) / batches)
    xt = images(prep(idx("t10k-images-idx3-ubyte")[:test_images]), workload)
    inference = []
    with torch.no_grad():
        for _ in range(repeats):
            start = time.perf_counter()
            for b in range(0, len(xt), batch):
                model(xt[b:b + batch])
            inference.append(len(xt) / (time.perf_counter() - start))
    s_batch = statistics.median(per_batch)
    return {"workload": workload, "library": "norse" if workload == "w3" else "snntorch",
            "torch_threads": torch.get_num_threads(), "batch": batch, "steps": steps,
            "batches_timed": batches, "repeats": repeats, "s_per_batch_median": s_batch,
            "s_per_batch_all": per_batch, "s_per_epoch": s_batch * -(-epoch_images // batch),
            "inference_images_per_s": statistics.median(inference), "decode": decode}


def accuracy_run(workload: str, epochs: int) -> dict:
    """The tutorial's training for ``epochs`` epochs, then test accuracy."""
    torch.manual_seed(0)
    batch, steps, epoch_images = WORKLOADS[workload]
    model, optimizer, loss_fn, prep, decode = {
        "w3": norse_w3, "w4": snntorch_w4, "w5": snntorch_w5}[workload]()
    x = images(prep(idx("train-images-idx3-ubyte")[:epoch_images]), workload)
    y = torch.from_numpy(idx("train-labels-idx1-ubyte")[:epoch_images].astype(np.int64))
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(x))
        for b in range(len(x) // batch):
            rows = order[b * batch:(b + 1) * batch]
            loss = loss_fn(model(x[rows]), y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - start)

    def correct(xs: torch.Tensor, ys: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = torch.cat([model(xs[b:b + batch]) for b in range(0, len(xs), batch)],
                            dim=0 if workload == "w3" else 1)
        scores = out.numpy() if workload == "w3" else out.sum(0).numpy()
        return scores.argmax(-1) == ys

    right = correct(images(prep(idx("t10k-images-idx3-ubyte")), workload),
                    idx("t10k-labels-idx1-ubyte"))
    result = {"workload": workload, "epochs": epochs, "epoch_seconds": seconds,
              "test_accuracy": float(right.mean()),
              "test_accuracy_first_tenth": float(right[: len(right) // 10].mean())}
    if workload == "w4":  # the tutorial's "Test Acc" reads its train_loader
        result["training_images_accuracy"] = float(correct(x, y.numpy()).mean())
    return result


def positive(text: str) -> int:
    """An argparse type: a whole number above zero (named in the error otherwise)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a whole number above 0, not {text!r}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default=None)
    parser.add_argument("--batches", type=positive, default=40)
    parser.add_argument("--repeats", type=positive, default=3)
    parser.add_argument("--test-images", type=positive, default=2000)
    parser.add_argument("--epochs", type=positive, default=None,
                        help="train this many epochs and report test accuracy instead")
    args = parser.parse_args()
    for workload in [args.workload] if args.workload else sorted(WORKLOADS):
        result = accuracy_run(workload, args.epochs) if args.epochs else \
            run(workload, args.batches, args.repeats, args.test_images)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
