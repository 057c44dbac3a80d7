"""What the spec refuses in an imported Caffe file is told in the file's terms: its line, the
layer's Caffe name and the Caffe field, not the spec field the import made of it."""
import pytest

from cnnspace.spec import SpecError, from_prototxt

HEAD = 'input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'


@pytest.mark.parametrize("layer, field", [
    ('type: "Convolution" bottom: "data" top: "c"\n convolution_param { num_output: 4 '
     'kernel_size: 9 } ', "convolution_param.kernel_size"),
    ('type: "Convolution" bottom: "data" top: "c"\n convolution_param { num_output: 4 '
     'kernel_size: 3 group: 2 } ', "convolution_param.group"),
    ('type: "Pooling" bottom: "data" top: "c"\n pooling_param { kernel_size: 3 pad: 2 } ',
     "pooling_param.pad"),
    ('type: "LRN" bottom: "data" top: "c"\n lrn_param { alpha: -1 } ', "lrn_param.alpha"),
    ('type: "Dropout" bottom: "data" top: "c"\n dropout_param { dropout_ratio: 1.0 } ',
     "dropout_param.dropout_ratio"),
    ('type: "LRN" bottom: "data" top: "c"\n lrn_param { k: 0 } ', "lrn_param.k"),
])
def test_a_refused_field_is_named_as_the_file_names_it(layer, field):
    text = HEAD + f'layer {{ name: "conv1/bad" {layer}}}\n'
    with pytest.raises(SpecError) as e:
        from_prototxt(text, source="net.prototxt")
    assert (e.value.source, e.value.layer, e.value.field) == ("net.prototxt:3", "conv1/bad", field)


def test_bottoms_of_unequal_shapes_name_the_bottom_field():
    text = HEAD + ('layer { name: "a" type: "Pooling" bottom: "data" top: "a"\n'
                   '  pooling_param { kernel_size: 2 stride: 2 } }\n'
                   'layer { name: "sum" type: "Eltwise" bottom: "a" bottom: "data" top: "sum" }\n')
    with pytest.raises(SpecError, match=r"net.prototxt:5: layer 'sum': field 'bottom': inputs "
                                        r"must have equal shapes"):
        from_prototxt(text, source="net.prototxt")
