"""Style-transfer methods by name: AdaIN built in, a registered method, and a stylizer backend
that paints from references, used as a method."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from canvas_data.stylizers import registry as stylizers
from canvas_data.stylizers.base import Stylizer
from canvas_data.transfer import methods
from canvas_data.transfer.methods import (
    MethodOptions,
    StyleTransferMethod,
    StylizerMethod,
    get_method,
    known_methods,
)


class Blend(Stylizer):
    """A stylizer that paints half photo, half reference."""

    name = "test-blend"
    takes_references = True

    def stylize(self, photo, style, seed):
        raise NotImplementedError("this stylizer paints from references only")

    def paint_with_reference(self, photo, reference, seed):
        return Image.blend(photo, reference.resize(photo.size), 0.5)


class Swap(StyleTransferMethod):
    """A method that answers with the reference itself."""

    name = "test-swap"

    def transfer(self, contents, references, seeds):
        side = self.options.resolution
        return [Image.fromarray(np.asarray(r)).resize((side, side)) for r in references]


@pytest.fixture
def registered():
    stylizers.register(Blend)
    methods.register(Swap)
    yield
    stylizers.REGISTRY.pop(Blend.name)
    methods.REGISTRY.pop(Swap.name)


def _image(value, side=20):
    return Image.fromarray(np.full((side, side, 3), value, np.uint8))


def test_known_methods_and_unknown_names(registered):
    names = known_methods()
    assert {"adain", "test-swap", "test-blend"} <= set(names)
    assert "procedural" not in names  # paints from a prompt's filter chain, not a reference
    with pytest.raises(ValueError, match="unknown style-transfer method 'nope'; known: .*adain"):
        get_method("nope", MethodOptions())
    with pytest.raises(ValueError, match="unknown style-transfer method 'procedural'"):
        get_method("procedural", MethodOptions())


def test_a_registered_method_is_found(registered):
    method = get_method("test-swap", MethodOptions(resolution=16))
    (out,) = method.transfer([_image(0)], [np.full((8, 8, 3), 200, np.uint8)], [0])
    assert out.size == (16, 16) and np.asarray(out).min() == 200
    assert method.describe()["method"] == "test-swap"


def test_a_stylizer_that_takes_references_is_a_method(registered):
    method = get_method("test-blend", MethodOptions(resolution=16))
    assert isinstance(method, StylizerMethod) and method.name == "test-blend"
    outs = method.transfer([_image(0), _image(100)], [_image(200), _image(100)], [1, 2])
    assert [o.size for o in outs] == [(16, 16)] * 2
    assert np.asarray(outs[0]).mean() == pytest.approx(100, abs=1)
    assert np.asarray(outs[1]).mean() == pytest.approx(100, abs=1)
