"""Issue 16 review, files and packaging: bad files named with what to run instead (item 7),
import without Numba (item 14), a repository that stands alone (item 15), and bad
documents and command lines (each message names the file or object, the value and a fix)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from snngraph.compiler.program import Program

import snngraph as sg
from snngraph.cli import main as cli


# ------------------------------------------------------------------ item 14: no numba on import
def test_import_and_save_do_not_import_numba(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        import snngraph as sg
        assert "numba" not in sys.modules, "import snngraph imported numba"
        with sg.Network(seed=0) as net:
            stim = sg.Node([0.5])
            ens = sg.Ensemble(10, 1, neuron_type=sg.Leaky(0.9))
            sg.Connection(stim, ens)
            sg.Probe(ens)
        sg.save(net, {str(tmp_path / "net.json")!r})
        sg.load({str(tmp_path / "net.json")!r})
        sg.summary(net)
        sg.optim.Adam(0.01), sg.surrogates.ATan()(0.1)
        assert "numba" not in sys.modules, "describing or saving a network imported numba"
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


# ------------------------------------------------------------------ shared fixtures
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def small_net() -> sg.Network:
    with sg.Network(seed=0, label="small") as net:
        stim = sg.Node(np.array([0.5, -0.5]), label="stim")
        ens = sg.Ensemble(6, 2, neuron_type=sg.LIF(), label="ens")
        sg.Connection(stim, ens, label="c")
        sg.Probe(ens, label="p")
    return net


def saved(tmp: Path, name: str = "net.json") -> Path:
    return sg.save(small_net(), tmp / name)


def program_file(tmp: Path) -> Path:
    return sg.compile(small_net()).save(tmp / "prog.json")


def with_sidecar(tmp: Path, blob: bytes, name: str = "bad") -> Path:
    """A good document whose .npz sidecar is replaced by ``blob``."""
    doc = json.loads(saved(tmp).read_text())
    doc["arrays"] = f"{name}.npz"
    (tmp / f"{name}.npz").write_bytes(blob)
    (tmp / f"{name}.json").write_text(json.dumps(doc))
    return tmp / f"{name}.json"


def truncated_npz(tmp: Path) -> bytes:
    blob = (saved(tmp, "whole.json").with_suffix(".npz")).read_bytes()
    return blob[: len(blob) // 2]


def garbage_npz(tmp: Path) -> bytes:
    return b"this is not an npz file at all " * 8


def pickled_npz(tmp: Path) -> bytes:
    import pickle

    return pickle.dumps({"a": [1, 2, 3]})


def nir_file(tmp: Path) -> Path:
    path = tmp / "g.nir"
    path.write_bytes(HDF5_MAGIC + bytes(range(256)) * 4)
    return path


def latin1_document(tmp: Path) -> Path:
    path = tmp / "latin.json"
    text = saved(tmp).read_text().replace('"small"', '"réseau"')
    path.write_bytes(text.encode("latin-1"))
    return path


def assert_parts(message: str, *parts: str) -> None:
    for part in parts:
        assert part in message, f"{part!r} missing from:\n{message}"
    for unsafe in ("allow_pickle", "errors.pydantic.dev", "Traceback"):
        assert unsafe not in message, f"{unsafe!r} in:\n{message}"


# ------------------------------------------------------------------ item 7: files named
BAD_SIDECARS = [truncated_npz, garbage_npz, pickled_npz]


@pytest.mark.parametrize("blob", BAD_SIDECARS, ids=lambda f: f.__name__)
def test_sg_load_with_a_bad_sidecar_names_it(tmp_path, blob):
    path = with_sidecar(tmp_path, blob(tmp_path))
    with pytest.raises(sg.SerializationError) as info:
        sg.load(path)
    assert_parts(str(info.value), "bad.npz", "not a complete .npz", "bad.json", "fix:")


@pytest.mark.parametrize("blob", BAD_SIDECARS, ids=lambda f: f.__name__)
def test_program_load_with_a_bad_sidecar_names_it(tmp_path, blob):
    path = program_file(tmp_path)
    path.with_suffix(".npz").write_bytes(blob(tmp_path))
    with pytest.raises(sg.SerializationError) as info:
        Program.load(path)
    assert_parts(str(info.value), "prog.npz", "not a complete .npz", "Program.save", "fix:")


def test_pickled_sidecar_is_called_pickled_and_never_unpickled(tmp_path):
    path = with_sidecar(tmp_path, pickled_npz(tmp_path))
    with pytest.raises(sg.SerializationError) as info:
        sg.load(path)
    assert_parts(str(info.value), "pickled Python objects", "never loads")


def test_non_utf8_document(tmp_path):
    path = latin1_document(tmp_path)
    for load in (sg.load, Program.load):
        with pytest.raises(sg.SerializationError) as info:
            load(path)
        assert_parts(str(info.value), "latin.json", "not UTF-8", "0xe9", "fix:")


def test_nir_file_says_what_reads_it(tmp_path):
    path = nir_file(tmp_path)
    for load in (sg.load, Program.load):
        with pytest.raises(sg.SerializationError) as info:
            load(path)
        assert_parts(str(info.value), "g.nir", "NIR", "sg.nir.load", "snngraph nir import")


def test_nir_file_given_any_suffix_is_recognised(tmp_path):
    path = nir_file(tmp_path).rename(tmp_path / "graph.json")
    with pytest.raises(sg.SerializationError, match="sg.nir.load"):
        sg.load(path)


def test_program_load_of_a_description_document_says_what_to_run(tmp_path):
    path = saved(tmp_path)
    with pytest.raises(sg.SerializationError) as info:
        Program.load(path)
    assert_parts(str(info.value), "net.json", "description document", "sg.load",
                 "snngraph validate")
    assert str(info.value).count("\n") <= 2  # one message, not pydantic's eleven


def test_sg_load_of_a_program_says_what_to_run(tmp_path):
    path = program_file(tmp_path)
    with pytest.raises(sg.SerializationError) as info:
        sg.load(path)
    assert_parts(str(info.value), "prog.json", "compiled program", "Program.load",
                 "snngraph inspect")


def test_damaged_program_lists_its_problems_without_links(tmp_path):
    path = program_file(tmp_path)
    doc = json.loads(path.read_text())
    del doc["target"], doc["dt"]
    path.write_text(json.dumps(doc))
    with pytest.raises(sg.SerializationError) as info:
        Program.load(path)
    assert_parts(str(info.value), "prog.json", "not a snngraph program", "target",
                 "snngraph compile")


def test_sg_load_of_an_npz_says_load_the_json(tmp_path):
    path = saved(tmp_path).with_suffix(".npz")
    with pytest.raises(sg.SerializationError) as info:
        sg.load(path)
    assert_parts(str(info.value), "net.npz", ".npz of arrays", "the .json beside it")


def test_cli_inspect_of_a_description_document(tmp_path, capsys):
    assert cli(["inspect", str(saved(tmp_path))]) == 1
    err = capsys.readouterr().err
    assert_parts(err, "net.json", "description document", "snngraph validate")
    assert "validation error" not in err and err.count("\n") <= 3


@pytest.mark.parametrize("command", ["inspect", "validate", "compile"])
@pytest.mark.parametrize("bad", ["truncated", "garbage", "nir", "latin1", "directory"])
def test_cli_commands_report_bad_files(tmp_path, capsys, command, bad):
    if command == "inspect" and bad in ("truncated", "garbage"):
        path = program_file(tmp_path)
        blob = truncated_npz if bad == "truncated" else garbage_npz
        path.with_suffix(".npz").write_bytes(blob(tmp_path))
        name = "prog.npz"
    elif bad in ("truncated", "garbage"):
        blob = truncated_npz if bad == "truncated" else garbage_npz
        path, name = with_sidecar(tmp_path, blob(tmp_path)), "bad.npz"
    elif bad == "nir":
        path, name = nir_file(tmp_path), "sg.nir.load"
    elif bad == "latin1":
        path, name = latin1_document(tmp_path), "not UTF-8"
    else:
        path, name = tmp_path, "is a directory"
    assert cli([command, str(path)]) == 1
    err = capsys.readouterr().err
    assert_parts(err, str(path.name), name, "fix:")


def test_cli_schema_out_is_a_file(tmp_path, capsys):
    target = tmp_path / "schemas.json"
    target.write_text("{}")
    assert cli(["schema", "--out", str(target)]) == 1
    assert_parts(capsys.readouterr().err, "schemas.json", "is a file", "folder", "fix:")


def _trained(tmp: Path):
    net = small_net()
    sim = sg.Simulator(net, progress_bar=False)
    return sim, sim.save_params(tmp / "good.npz")


@pytest.mark.parametrize("bad", ["truncated", "garbage", "pickled", "directory", "document",
                                 "program", "nir"])
def test_load_params_reports_bad_files(tmp_path, bad):
    sim, good = _trained(tmp_path)
    blob = good.read_bytes()
    target = tmp_path / "bad.npz"
    if bad == "truncated":
        target.write_bytes(blob[: len(blob) // 2])
    elif bad == "garbage":
        target.write_bytes(garbage_npz(tmp_path))
    elif bad == "pickled":
        target.write_bytes(pickled_npz(tmp_path))
    elif bad == "directory":
        target = tmp_path
    elif bad == "document":
        target = saved(tmp_path)
    elif bad == "program":
        target = program_file(tmp_path)
    else:
        target = nir_file(tmp_path)
    expected = {"truncated": "not a complete", "garbage": "not a complete",
                "pickled": "pickled Python objects", "directory": "is a directory",
                "document": "sg.load", "program": "snngraph inspect",
                "nir": "sg.nir.load"}[bad]
    with pytest.raises(sg.SerializationError) as info:
        sim.load_params(target)
    assert_parts(str(info.value), target.name, expected)
    sim.load_params(good)  # still usable


@pytest.mark.parametrize("bad", ["missing", "directory"])
def test_read_idx_names_missing_or_directory(tmp_path, bad):
    from snngraph.datasets import DatasetError, read_idx

    path = tmp_path / "nope-idx1-ubyte" if bad == "missing" else tmp_path
    with pytest.raises(DatasetError) as info:
        read_idx(path)
    assert_parts(str(info.value), str(path), "IDX file", "load_mnist(path=")


def test_load_mnist_path_is_a_file(tmp_path):
    from snngraph.datasets import DatasetError, load_mnist, write_idx

    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(DatasetError) as info:
        load_mnist(path=tmp_path / "train-images-idx3-ubyte")
    assert_parts(str(info.value), "train-images-idx3-ubyte", "is a file", str(tmp_path))


# ------------------------------------------------------------------ bad documents and CLI
def mutated(tmp: Path, mutate, name: str = "bad.json") -> Path:
    """A good document (and its .npz) with ``mutate(doc)`` applied, written as ``name``."""
    doc = json.loads(saved(tmp).read_text())
    mutate(doc)
    path = tmp / name
    path.write_text(json.dumps(doc))
    return path


def objs(doc: dict) -> list:
    return doc["network"]["objects"]


def _set(entry_index, key, value, sub=None):
    def mutate(doc):
        entry = objs(doc)[entry_index]
        (entry[sub] if sub else entry)[key] = value
    return mutate


def _with_npz_shape(doc):
    node = next(o for o in objs(doc) if o["type"] == "Node")
    node["output"]["shape"] = [3]


def _with_npz_key(doc):
    node = next(o for o in objs(doc) if o["type"] == "Node")
    node["output"]["$array"] = "no-such-key"


def _conn(doc):
    return next(i for i, o in enumerate(objs(doc)) if o["type"] == "Connection")


BAD_DOCUMENTS = {
    "unknown-object-kind": (lambda d: objs(d)[1].__setitem__("type", "Ensembel"),
                            ["'Ensembel'", "unknown object type", "did you mean 'Ensemble'"]),
    "unknown-spec-type": (lambda d: objs(d)[_conn(d)]["synapse"].__setitem__("type", "Lowpas"),
                          ["'Lowpas'", "synapse", "did you mean 'Lowpass'"]),
    "dangling-reference": (lambda d: objs(d)[_conn(d)]["pre"].__setitem__("$ref", "99"),
                           ["Connection", "'99'", "not in the document", "ids here"]),
    "wrong-version": (lambda d: d.__setitem__("version", 7),
                      ["version 7", "reads version 1", "fix: set \"version\": 1"]),
    "wrong-format": (lambda d: d.__setitem__("format", "nengo"),
                     ["'nengo'", "\"format\": \"snngraph\"", "fix:"]),
    "npz-shape-disagrees": (_with_npz_shape,
                            ["'1.output'", "(2,) in the .npz", "says (3,)", "save the network "
                             "again"]),
    "npz-key-missing": (_with_npz_key, ["'no-such-key'", "missing from the .npz", "fix:"]),
    "entry-without-id": (lambda d: objs(d)[1].pop("id"),
                         ["malformed document", "'id'", "snngraph validate"]),
}


@pytest.mark.parametrize("case", list(BAD_DOCUMENTS))
def test_bad_document_names_the_file_the_value_and_a_fix(tmp_path, case):
    mutate, parts = BAD_DOCUMENTS[case]
    path = mutated(tmp_path, mutate)
    with pytest.raises(sg.SnnError) as info:
        sg.load(path)
    assert_parts(str(info.value), "bad.json", *parts)


def test_object_errors_in_a_document_name_the_file_and_entry(tmp_path):
    path = mutated(tmp_path, _set(1, "n_neurons", -3))
    with pytest.raises(sg.ValidationError) as info:
        sg.load(path)
    assert_parts(str(info.value), "bad.json", "network.objects[1]", "Ensemble 'ens'.n_neurons",
                 "-3")


def test_yaml_without_pyyaml(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml now raises ImportError
    with pytest.raises(sg.SerializationError) as info:
        sg.save(small_net(), tmp_path / "net.yaml")
    assert_parts(str(info.value), "pyyaml", "pip install 'snngraph[yaml]'", ".json")
    path = tmp_path / "hand.yaml"
    path.write_text("format: snngraph\n")
    with pytest.raises(sg.SerializationError) as info:
        sg.load(path)
    assert_parts(str(info.value), "pyyaml", "pip install 'snngraph[yaml]'")


def test_yaml_syntax_error_names_the_file_and_line(tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "hand.yaml"
    path.write_text("format: snngraph\nnetwork: [1, 2\nb: }\n")
    with pytest.raises(sg.SerializationError) as info:
        sg.load(path)
    assert_parts(str(info.value), "hand.yaml", "not valid YAML", "line 3")


def test_json_syntax_error_names_the_file_and_position(tmp_path):
    path = tmp_path / "hand.json"
    path.write_text('{"format": "snngraph",')
    with pytest.raises(sg.SerializationError) as info:
        sg.load(path)
    assert_parts(str(info.value), "hand.json", "not valid JSON", "line 1 column 23", "fix:")


def test_missing_file_lists_what_is_there(tmp_path):
    saved(tmp_path)
    with pytest.raises(sg.SerializationError) as info:
        sg.load(tmp_path / "nett.json")
    assert_parts(str(info.value), "nett.json", "no such file", "net.json", "fix: check the path")


def test_directory_instead_of_a_document(tmp_path):
    with pytest.raises(sg.SerializationError) as info:
        sg.load(tmp_path)
    assert_parts(str(info.value), str(tmp_path), "is a directory", "fix: pass the file")


def test_cli_validate_of_a_program(tmp_path, capsys):
    path = program_file(tmp_path)
    assert cli(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert_parts(err, "prog.json", "compiled program", "snngraph inspect")
    assert "schema:" not in err  # one message, not the schema's complaints about a program


def _model(tmp: Path, body: str) -> Path:
    path = tmp / "model.py"
    path.write_text("import snngraph as sg\n" + body)
    return path


@pytest.mark.parametrize("body, found", [
    ("x = 1\nlayers = [3, 4]\n", "it defines x, layers"),
    ("net = 'mnist'\n", "`net` is a str"),
    ("def build():\n    return 42\n", "build() returned int"),
])
def test_cli_compile_of_a_model_without_a_network(tmp_path, capsys, body, found):
    path = _model(tmp_path, body)
    assert cli(["compile", str(path)]) == 1
    assert_parts(capsys.readouterr().err, "model.py", "neither a Network named `net`", found,
                 "fix: end the file with `net = ...`")


def test_cli_compile_of_a_missing_model(tmp_path, capsys):
    assert cli(["compile", str(tmp_path / "modle.py")]) == 1
    assert_parts(capsys.readouterr().err, "modle.py", "no such file", "fix:")


# ------------------------------------------------------------------ item 15: stands alone
ROOT = Path(__file__).resolve().parents[1]
# documents that lived outside the repository; cited only if a copy is in docs/
OUTSIDE_DOCS = ["DESIGN", "peers", "workloads", "style", "snn_semantics", "loihi",
                "nengo_backend", "nir"]


def _tracked_text_files() -> dict[str, str]:
    try:
        names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                               check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    texts = {}
    for name in names:
        path = ROOT / name
        if path.suffix in (".npz", ".gz", ".png") or not path.is_file():
            continue
        try:
            texts[name] = path.read_text()
        except UnicodeDecodeError:
            continue
    return texts


def test_no_tracked_file_cites_documents_outside_the_repository():
    import re

    here = Path(__file__).relative_to(ROOT).as_posix()
    in_docs = {p.stem for p in (ROOT / "docs").glob("*.md")}
    missing = [d for d in OUTSIDE_DOCS if d not in in_docs]
    cite = re.compile(r"\b(" + "|".join(map(re.escape, missing)) + r")\.md\b")
    outside = "../" + "shared"  # spelt in two parts so this file does not match itself
    problems = []
    for name, text in _tracked_text_files().items():
        if name == here:
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            if outside in line or cite.search(line):
                problems.append(f"{name}:{lineno}: {line.strip()[:100]}")
    assert not problems, "cites files outside the repository:\n" + "\n".join(problems)


def test_docs_cited_as_docs_paths_exist():
    import re

    problems = []
    for name, text in _tracked_text_files().items():
        for ref in set(re.findall(r"\bdocs/([\w-]+\.md)\b", text)):
            if not (ROOT / "docs" / ref).is_file():
                problems.append(f"{name}: docs/{ref}")
    assert not problems, "refers to docs that do not exist:\n" + "\n".join(problems)


def test_architecture_docs_name_every_module():
    text = (ROOT / "docs" / "architecture.md").read_text()
    modules = [p for folder in ("snngraph", "schemas", "compiler", "runtimes")
               for p in (ROOT / folder).rglob("*.py")
               if p.name != "__init__.py" and "data" not in p.parts]
    unnamed = [str(p.relative_to(ROOT)) for p in modules if p.stem not in text]
    assert not unnamed, f"docs/architecture.md does not mention: {unnamed}"
    for workload in ("W1", "W2", "W3", "W4", "W5"):
        assert workload in (ROOT / "docs" / "workloads.md").read_text()


def test_pyproject_all_has_jsonschema_and_tqdm_is_core():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(d.startswith("tqdm") for d in project["dependencies"])
    assert any(d.startswith("jsonschema") for d in project["optional-dependencies"]["all"])


def test_validate_without_jsonschema_says_it_skipped_the_schema_check(tmp_path, capsys,
                                                                      monkeypatch):
    path = saved(tmp_path)
    monkeypatch.setitem(sys.modules, "jsonschema", None)
    assert cli(["validate", str(path)]) == 0
    captured = capsys.readouterr()
    assert "valid" in captured.out
    assert_parts(captured.err, "net.json", "schema check skipped", "jsonschema",
                 "pip install")


def test_messages_do_not_say_that_existing_features_are_missing():
    from snngraph.compiler.passes import swap_neurons
    from snngraph.runtimes.rate import model

    for module in (swap_neurons, model, sg):
        text = Path(module.__file__).read_text()
        assert "later release" not in text, module.__name__


def test_load_mnist_with_a_damaged_file_says_how_to_replace_it(tmp_path):
    from snngraph.datasets import _MNIST_FILES, DatasetError, load_mnist, write_idx

    for key, name in _MNIST_FILES.items():
        shape = (2, 28, 28) if "images" in key else (2,)
        write_idx(tmp_path / name, np.zeros(shape, np.uint8))
    (tmp_path / _MNIST_FILES["test_labels"]).write_bytes(b"<html>404 not found</html>")
    with pytest.raises(DatasetError) as info:
        load_mnist(path=tmp_path)
    assert_parts(str(info.value), "t10k-labels-idx1-ubyte", "bad IDX magic", "0x3c68",
                 "fix: replace the file", "allow_download=True")


@pytest.mark.parametrize("save", ["sg.save", "Program.save"])
@pytest.mark.parametrize("where", ["missing-folder", "directory"])
def test_saving_into_a_missing_folder_or_onto_a_directory(tmp_path, save, where):
    path = tmp_path / "no" / "such" / "net.json" if where == "missing-folder" else tmp_path
    with pytest.raises(sg.SerializationError) as info:
        if save == "sg.save":
            sg.save(small_net(), path)
        else:
            sg.compile(small_net()).save(path)
    expected = "does not exist" if where == "missing-folder" else "is a directory"
    assert_parts(str(info.value), save, str(path.parent if where == "missing-folder" else path),
                 expected, "fix:")
