"""The provider registry: adapters come from a module list; a third provider is one new module
plus one entry in that list, and the others are untouched. Bad adapters fail at start. No I/O."""

from __future__ import annotations

import ast
import inspect
import json
import sys
import types

import pytest

from services.upskilling_connector import providers
from services.upskilling_connector.domain import Completion, ExportRejected
from services.upskilling_connector.providers import PROVIDER_MODULES, UnknownProvider, build_registry, default_registry
from services.upskilling_connector.providers.base import ProviderAdapter, RawExport
from services.upskilling_connector.providers.ecornell import EcornellAdapter
from services.upskilling_connector.providers.itslearning import ItslearningAdapter
from services.upskilling_connector.tests import thirdparty_provider
from services.upskilling_connector.tests.support import sample

THIRD = "services.upskilling_connector.tests.thirdparty_provider"


def test_the_default_registry_has_ecornell_and_itslearning():
    registry = default_registry()
    assert registry.names() == ["ecornell", "itslearning"]
    assert isinstance(registry.get("ecornell"), EcornellAdapter)
    assert isinstance(registry.get("itslearning"), ItslearningAdapter)
    assert registry.get("itslearning").formats == ("json", "csv") and registry.get("ecornell").formats == ("csv",)


def test_unknown_providers_name_the_known_ones():
    with pytest.raises(UnknownProvider, match="unknown provider 'moodle'; known: ecornell, itslearning"):
        default_registry().get("moodle")


def test_a_third_provider_is_one_module_plus_one_registration():
    registry = build_registry((*PROVIDER_MODULES, THIRD))
    assert registry.names() == ["ecornell", "itslearning", "tinylms"]
    # The existing adapters are the very same objects, so nothing about them changed.
    assert registry.get("ecornell") is default_registry().get("ecornell")
    assert registry.get("itslearning") is default_registry().get("itslearning")

    body = json.dumps([{"learner": "T-1", "course": "ESL-2", "title": "English B1", "done_on": "2024-05-01T10:00:00Z"},
                       {"learner": "T-2", "course": "X", "title": "Y"}])
    rows = registry.get("tinylms").parse("completions", RawExport("json", body)).rows
    assert isinstance(rows[0], Completion) and rows[0].category == "language"
    assert rows[0].completion_id == "tinylms:T-1:ESL-2"
    assert [i.field for i in rows[1].issues] == ["done_on"]
    with pytest.raises(ExportRejected):
        registry.get("tinylms").parse("credentials", RawExport("json", "[]"))
    # ... and the others parse their samples exactly as before.
    raw = RawExport.decode(sample("ecornell_completions.csv"), "csv")
    assert registry.get("ecornell").parse("completions", raw) == default_registry().get("ecornell").parse("completions", raw)


def _code_words(module) -> str:
    """Identifiers and string literals of a module's code, without its docstrings and comments."""
    tree = ast.parse(inspect.getsource(module))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            found.append(node.value)
        elif isinstance(node, ast.Name | ast.alias | ast.Attribute):
            found.append(getattr(node, "id", None) or getattr(node, "name", None) or node.attr)
    return " ".join(found).lower()


def test_nothing_outside_the_providers_folder_names_a_provider():
    """The routes, the store and the ingest code are provider-agnostic: adding one touches none of them."""
    from services.upskilling_connector import api, domain, ingest, service, store

    for module in (api, domain, ingest, store, service):
        code = _code_words(module)
        assert "itslearning" not in code and "ecornell" not in code, module.__name__


def _module(monkeypatch, name: str, **attrs) -> str:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    monkeypatch.setitem(sys.modules, name, module)  # removed again after the test
    return name


class _Bad(thirdparty_provider.TinyLmsAdapter):
    pass


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({}, "must define ADAPTER"),
        ({"ADAPTER": object()}, "must be a ProviderAdapter"),
        ({"ADAPTER": type("Upper", (_Bad,), {"name": "TinyLMS"})()}, "must match"),
        ({"ADAPTER": type("Xml", (_Bad,), {"name": "xmlish", "formats": ("xml",)})()}, "formats"),
        ({"ADAPTER": type("NoFormats", (_Bad,), {"name": "none", "formats": ()})()}, "formats"),
    ],
)
def test_bad_adapters_are_refused_at_start(monkeypatch, attrs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        build_registry([_module(monkeypatch, "fake_provider_module", **attrs)])


def test_a_provider_registered_twice_is_refused(monkeypatch):
    with pytest.raises(ValueError, match="registered twice"):
        build_registry([THIRD, _module(monkeypatch, "tiny_again", ADAPTER=thirdparty_provider.TinyLmsAdapter())])


def test_an_adapter_must_return_one_row_per_source_row():
    class Doubling(thirdparty_provider.TinyLmsAdapter):
        def parse_completions(self, raw):
            parsed = super().parse_completions(raw)
            return type(parsed)(parsed.rows * 2)

    body = json.dumps([{"learner": "T-1", "course": "C", "title": "T", "done_on": "2024-05-01"}])
    with pytest.raises(ValueError, match="two results for one source row"):
        Doubling().parse("completions", RawExport("json", body))


def test_the_interface_is_the_three_parse_methods():
    assert ProviderAdapter.__abstractmethods__ == {"parse_completions", "parse_credentials", "parse_progress"}
    assert providers.__doc__ and "one new module" in providers.__doc__
