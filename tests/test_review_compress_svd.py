"""Review of SVD factorisation (the --table row): names it makes must not clash."""
import pytest

from cnnspace.compress import CompressError, factorise
from cnnspace.nn import build
from cnnspace.spec import loads

SPEC = loads("""
name: clash
input: [1, 8, 8]
layers:
  - {name: flatten, type: flatten}
  - {name: fc1_svd, type: linear, out_features: 64}
  - {name: fc1, type: linear, out_features: 64}
  - {name: fc, type: linear, out_features: 10}
""")


def test_a_factor_name_taken_by_a_layer_is_refused_before_any_work():
    # fc1's first factor, fc1_svd, was a second layer of that name: the factorised spec
    # failed to build after the table had written its baseline ("duplicate layer name")
    with pytest.raises(CompressError, match="SVD of layer 'fc1': its first factor would be "
                                            "named 'fc1_svd', which a layer of the model"):
        factorise(SPEC, build(SPEC).state_dict(), 0.2)


def test_layers_whose_factor_names_are_free_are_factorised():
    spec, state, done = factorise(SPEC, build(SPEC).state_dict(), 0.2, ["fc1_svd"])
    assert [f.name for f in done] == ["fc1_svd"]
    build(spec).load_state_dict(state)
