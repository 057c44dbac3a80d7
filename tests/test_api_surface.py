"""The Python surface a notebook user meets: what ``import cnnspace`` reaches, and errors from
misuse that say what to do instead."""
import subprocess
import sys


def test_subpackages_load_on_first_use_and_torch_only_with_them():
    code = ("import sys, cnnspace\n"
            "assert 'cnnspace.nn' not in sys.modules\n"
            "assert cnnspace.space.DesignSpace and cnnspace.scale.predict\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n"
            "assert callable(cnnspace.nn.build) and 'torch' in sys.modules\n"
            "assert {'nn', 'space', 'explore', 'report'} <= set(dir(cnnspace))\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


import pytest  # noqa: E402

import cnnspace  # noqa: E402
from cnnspace import SpecError, get_spec  # noqa: E402


@pytest.mark.parametrize("given, hint", [
    ("squeezenet1_1", "cnnspace.get_spec('squeezenet1_1')"),
    ("nets/my.yaml", "cnnspace.load('nets/my.yaml')"),
    ({"name": "x"}, "cnnspace.spec.from_dict(d)"),
    (None, "got NoneType"),
])
def test_something_else_where_a_spec_belongs_says_how_to_get_one(given, hint):
    for call in (cnnspace.analyze, lambda v: cnnspace.save(v, "x.yaml")):
        with pytest.raises(SpecError) as e:
            call(given)
        assert hint in str(e.value)


@pytest.mark.parametrize("given", [None, get_spec("squeezenet1_1"), ["squeezenet1_1"]])
def test_get_spec_of_something_not_a_name_is_a_short_spec_error(given):
    with pytest.raises(SpecError, match="expected a model name") as e:
        get_spec(given)
    assert len(str(e.value)) < 200  # not the whole NetSpec repr


def test_list_models_none_lists_all_and_a_non_string_is_a_spec_error():
    assert cnnspace.list_models(None) == cnnspace.list_models()
    with pytest.raises(SpecError, match="field 'pattern'"):
        cnnspace.list_models(1)


def test_load_and_save_refuse_wrong_kinds_of_arguments(tmp_path):
    spec = get_spec("squeezenet1_1")
    with pytest.raises(SpecError, match="expected the path of a spec file"):
        cnnspace.load(spec)
    with pytest.raises(SpecError, match=r"save\(spec, path\) takes the spec first"):
        cnnspace.save(tmp_path / "a.yaml", spec)
    with pytest.raises(SpecError, match=r"expected the path of the file to write"):
        cnnspace.save(spec, None)
    with pytest.raises(SpecError, match=r"cnnspace.get_spec\(name\)"):
        cnnspace.load(tmp_path / "squeezenet1_1")


def test_reprs_of_networks_and_diffs_are_short():
    from cnnspace.space import diff
    spec = get_spec("googlenet_aux")
    assert repr(spec).startswith("NetSpec(name='googlenet_aux', input=(3, 224, 224), layers=<")
    assert len(repr(spec)) < 150
    d = diff(get_spec("squeezenet1_1"), get_spec("firenet", sr=0.25))
    assert repr(d).startswith("NetDiff(a='squeezenet1_1', b='firenet', origins=<14 Origin>")
    assert len(repr(d)) < 300


DOCUMENTED = ["cnnspace", "cnnspace.spec", "cnnspace.zoo", "cnnspace.metrics", "cnnspace.nn",
              "cnnspace.space", "cnnspace.compress", "cnnspace.scale", "cnnspace.report"]


@pytest.mark.parametrize("package", DOCUMENTED)
def test_every_public_class_and_function_says_what_it_is(package):
    import importlib
    import inspect
    module = importlib.import_module(package)
    bare = []
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            doc = obj.__doc__ or ""
            if not doc or doc.startswith(f"{obj.__name__}("):  # none, or dataclass's signature
                bare.append(name)
    assert bare == []


def test_totals_say_their_units():
    from cnnspace.metrics import Totals
    for unit in ("10^6 bytes", "2^20 bytes", "per image", "per batch", "not bytes"):
        assert unit in Totals.__doc__


def test_the_types_of_returned_results_are_public():
    import cnnspace.metrics
    import cnnspace.nn
    from cnnspace.metrics import _measured
    from cnnspace.nn import _export
    assert cnnspace.metrics.BackendResult is _measured.BackendResult  # BenchResult.fastest
    assert cnnspace.metrics.LayerTiming is _measured.LayerTiming      # BenchResult.layers
    assert cnnspace.metrics.TrainStep is _measured.TrainStep          # BenchResult.train
    assert cnnspace.nn.OnnxCheck is _export.OnnxCheck                 # check_onnx(...)


def test_inputs_or_outputs_that_are_no_names_are_spec_errors():
    from cnnspace import Layer, NetSpec
    with pytest.raises(SpecError, match="layer 'a': field 'inputs': expected a layer name"):
        Layer("a", "relu", inputs=5)
    with pytest.raises(SpecError, match="field 'outputs': expected a layer name"):
        NetSpec("x", (3, 8, 8), [Layer("a", "relu")], outputs=5)
    assert Layer("a", "relu", inputs="b").inputs == ("b",)


def test_loading_a_compressed_model_as_a_spec_says_how_to_read_it(tmp_path):
    path = tmp_path / "m.cnnz"
    path.write_bytes(b"CNNZ\xff\xfe\x00binary")
    with pytest.raises(SpecError, match=r"cnnspace.compress.read_cnnz\(path\).spec"):
        cnnspace.load(path)
    pt = tmp_path / "m.pth"
    pt.write_bytes(b"\x80\x02\xff\xfe")
    with pytest.raises(SpecError, match=r"cnnspace.train.load_checkpoint\(path\).spec"):
        cnnspace.load(pt)
