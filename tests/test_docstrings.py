"""Every public function, class and method has a numpydoc Examples section with a doctest.

pytest runs those examples (``--doctest-modules`` over ``fastlr/``); this test makes sure none
is missing. Exceptions and warnings are exempt. ``fastlr.plot`` and ``load``/``save`` are
written (with their examples) on another branch, so they are left out here.
"""

import inspect

import pytest

import fastlr
from fastlr import reference

NOT_HERE = {"plot", "load", "save"}


def public_objects():
    for module in (fastlr, reference):
        for name in module.__all__:
            if name.startswith("__") or name in NOT_HERE:
                continue
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                continue
            yield f"{module.__name__}.{name}", obj
            if inspect.isclass(obj):  # its public methods, down to those fastlr inherits
                fastlr_classes = [c for c in obj.__mro__ if c.__module__.startswith("fastlr")]
                attributes = {a for c in fastlr_classes for a in vars(c) if not a.startswith("_")}
                for attribute in sorted(attributes - NOT_HERE):
                    member = getattr(obj, attribute)
                    if callable(member):
                        yield f"{module.__name__}.{name}.{attribute}", member


PUBLIC = dict(public_objects())


def test_the_walk_finds_the_public_api():
    expected = {
        "fastlr.LinearRegression",
        "fastlr.LinearRegression.fit",
        "fastlr.LinearRegression.partial_fit",
        "fastlr.LinearRegression.predict",
        "fastlr.LinearRegression.score",
        "fastlr.LinearRegression.get_params",
        "fastlr.LinearRegression.set_params",
        "fastlr.loss_and_gradient",
        "fastlr.make_regression",
        "fastlr.EpochInfo",
        "fastlr.reference.LinearRegression",
        "fastlr.reference.LinearRegression.fit",
        "fastlr.reference.loss_and_gradient",
        "fastlr.reference.make_regression",
        "fastlr.reference.sgd_epoch",
    }
    assert expected <= set(PUBLIC)


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_docstring_has_a_runnable_example(name):
    doc = inspect.getdoc(PUBLIC[name]) or ""
    assert "Examples\n--------" in doc, f"{name} has no numpydoc Examples section"
    examples = doc.split("Examples\n--------", 1)[1]
    assert ">>> " in examples, f"{name}'s Examples section has no doctest"
