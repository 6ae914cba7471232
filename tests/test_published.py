"""The published DeepMAD structures: read from TinyNAS's files, counted and scored as the issue states."""

import pytest

from designer.core.analysis import analyze_spec
from designer.core.entropy import DepthPenalty
from designer.core.errors import DesignerError
from designer.core.layers import out_res
from designer.core.published import parse_structure
from designer.core.reference import reference_spec
from designer.core.structure import arch_layers, iter_blocks, stem_output_res

R50_TEXT = """{ 'best_structures':[ [
 {'class': 'ConvKXBNRELU', 'in': 3, 'k': 3, 'out': 32, 's': 2},
  { 'L': 1, 'btn': 40, 'class': 'SuperResK1KXK1', 'in': 32, 'inner_class': 'ResK1KXK1', 'k': 5, 'out': 128, 's': 2},
  { 'L': 11, 'btn': 48, 'class': 'SuperResK1KXK1', 'in': 128, 'inner_class': 'ResK1KXK1', 'k': 5, 'out': 512, 's': 2},
  { 'L': 12, 'btn': 88, 'class': 'SuperResK1KXK1', 'in': 512, 'inner_class': 'ResK1KXK1', 'k': 5, 'out': 872, 's': 2},
  { 'L': 13, 'btn': 104, 'class': 'SuperResK1KXK1', 'in': 872, 'inner_class': 'ResK1KXK1', 'k': 5, 'out': 1024, 's': 1},
  { 'L': 15, 'btn': 120, 'class': 'SuperResK1KXK1', 'in': 1024, 'inner_class': 'ResK1KXK1', 'k': 5, 'out': 1232, 's': 2}]],
'space_arch': 'CnnNet'}"""

M29_TEXT = """{ 'best_structures':[ [
{'class': 'ConvKXBNRELU', 'in': 3, 'k': 3, 'out': 40, 's': 2},
{ 'L': 2, 'btn': 240, 'class': 'SuperResK1DWSEK1', 'in': 40, 'inner_class': 'ResK1DWSEK1', 'k': 5, 'out': 40, 's': 1},
{ 'L': 4, 'btn': 512, 'class': 'SuperResK1DWSEK1', 'in': 40, 'inner_class': 'ResK1DWSEK1', 'k': 5, 'out': 85, 's': 2},
{ 'L': 6, 'btn': 800, 'class': 'SuperResK1DWSEK1', 'in': 85, 'inner_class': 'ResK1DWSEK1', 'k': 5, 'out': 134, 's': 2},
{ 'L': 6, 'btn': 1208, 'class': 'SuperResK1DWSEK1', 'in': 134, 'inner_class': 'ResK1DWSEK1', 'k': 5, 'out': 201, 's': 2},
{ 'L': 5, 'btn': 1872, 'class': 'SuperResK1DWSEK1', 'in': 201, 'inner_class': 'ResK1DWSEK1', 'k': 5, 'out': 312, 's': 2},
{'class': 'ConvKXBNRELU', 'in': 312, 'k': 1, 'out': 1792, 's': 1}]],
'space_arch': 'CnnNet'}"""


@pytest.mark.parametrize("text, name", [(R50_TEXT, "deepmad_r50"), (M29_TEXT, "deepmad_29m")])
def test_structure_files_read_as_the_reference_specs(text, name):
    assert parse_structure(text, name) == reference_spec(name)


def test_published_r50_counts_and_scores_as_the_issue_measured():
    """25.44 M params, 4.04 G MACs, rho 0.300, entropy 97,839; objective under the code's penalty."""
    analysis = analyze_spec(reference_spec("deepmad_r50"), penalty=DepthPenalty(10, "std", 2))
    assert round(analysis.params / 1e4) == 2544 and round(analysis.flops / 1e7) == 404
    assert round(analysis.report.rho, 3) == 0.300 and round(analysis.report.entropy) == 97_839
    assert analysis.objective == pytest.approx(97_839 - 34.8, abs=0.5)


def test_deepmad_29m_counts_within_two_percent_of_the_paper():
    """29 M params; 4.5 G FLOPs as the published code counts them (a stride-2 depthwise conv at its
    input resolution: its FLOPs formula passes 1.0 as the resolution ratio of the strided conv)."""
    spec = reference_spec("deepmad_29m")
    analysis = analyze_spec(spec)
    assert abs(analysis.params / 29e6 - 1) < 0.02
    extra = 0
    res = stem_output_res(spec)
    for block in iter_blocks(spec):
        if block.shape.stride == 2:
            hidden, kernel = block.shape.inner, block.shape.kernel
            extra += kernel * kernel * hidden * (res * res - out_res(res, 2) ** 2)
        res = block.res_out
    assert abs((analysis.flops + extra) / 4.5e9 - 1) < 0.02
    assert analysis.flops == sum(layer.macs for layer in arch_layers(spec))  # our own count is the true MACs


@pytest.mark.parametrize(
    "text, message",
    [
        ("not python", "is not a Python literal of blocks"),
        ("[{'class': 'ConvKXBNRELU', 'in': 3, 'k': 3, 'out': 32, 's': 2}]", "needs a list of block dicts"),
        (R50_TEXT.replace("'in': 512", "'in': 500"), "'in' is 500 but the block before gives 512"),
        (R50_TEXT.replace("SuperResK1KXK1', 'in': 32", "SuperResFoo', 'in': 32"), "class 'SuperResFoo' is not one of"),
        (R50_TEXT.replace("'L': 11", "'L': 0"), "'L' must be a positive whole number"),
    ],
)
def test_bad_structure_files_get_one_line(text, message):
    with pytest.raises(DesignerError, match=message):
        parse_structure(text, "x")
