"""The contract gate: its pure logic (baseline, allow-list, check, update) and the real
command run on this repository, and on temp copies of the baseline with synthetic breaks."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml

from services.schema_council import gate_logic as gate
from services.schema_council.diff import Mode
from summit_contracts import REGISTRY

REPO = Path(__file__).resolve().parents[3]
BASELINE = REPO / "services" / "schema_council" / "baseline" / "events.json"
ALLOWLIST = REPO / "services" / "schema_council" / "baseline" / "allowlist.yaml"
TODAY = date(2025, 6, 1)


def obj(props: dict, required=()) -> dict:
    return {"type": "object", "properties": props, "required": list(required)}


A1 = obj({"id": {"type": "string"}, "n": {"type": "integer"}}, ("id",))
A2 = obj({"id": {"type": "string"}, "n": {"type": "integer"}, "note": {"type": "string"}}, ("id",))


def published(**contracts) -> dict:
    return gate.update(None, {name: {"schema": schema, "owner": "team"} for name, schema in contracts.items()}, None)


def current(**contracts) -> dict:
    return {name.replace("__", "."): {"schema": schema, "owner": "team"} for name, schema in contracts.items()}


def statuses(report: gate.GateReport) -> dict[str, str]:
    return {r.contract: r.status for r in report.results}


# --- allow-list --------------------------------------------------------------------------


def test_allowlist_entries_parse():
    entries = gate.parse_allowlist({"exceptions": [
        {"contract": "a.b.c.v1", "change": "field_renamed:$.x", "reason": "agreed", "expires": date(2025, 7, 1)},
        {"contract": "a.b.c.v1", "change": "type_changed", "reason": "r", "expires": "2025-01-01"},
    ]})
    assert [(e.change, e.expires) for e in entries] == [("field_renamed:$.x", date(2025, 7, 1)), ("type_changed", date(2025, 1, 1))]
    assert gate.parse_allowlist(None) == [] and gate.parse_allowlist({"exceptions": None}) == []


@pytest.mark.parametrize(("entry", "message"), [
    ({"contract": "a.b.c.v1", "change": "type_changed"}, "'reason' is required"),
    ({"contract": "a.b.c.v1", "change": "type_changed", "reason": "  "}, "'reason' is required"),
    ({"contract": "a.b.c.v1", "change": "type_mangled", "reason": "r"}, "unknown change kind 'type_mangled'"),
    ({"change": "type_changed", "reason": "r"}, "'contract' is required"),
    ({"contract": "a.b.c.v1", "change": "type_changed", "reason": "r", "why": "x"}, "unknown key"),
    ({"contract": "a.b.c.v1", "change": "type_changed", "reason": "r", "expires": "soon"}, "must be a date"),
    ("just a string", "must be a mapping"),
])
def test_a_bad_allowlist_entry_is_an_error(entry, message):
    with pytest.raises(gate.ConfigError, match=message):
        gate.parse_allowlist({"exceptions": [entry]})


# --- check -------------------------------------------------------------------------------


def test_unchanged_compatible_new_and_new_major():
    base = published(**{"x.thing.done.v1": A1, "x.other.done.v1": A1})
    report = gate.check(base, current(x__thing__done__v1=A2, x__other__done__v1=A1, x__thing__done__v2=A1), [], today=TODAY)
    assert report.ok
    assert statuses(report) == {"x.thing.done.v1": "compatible", "x.other.done.v1": "unchanged", "x.thing.done.v2": "new"}
    assert gate.format_summary(report).startswith("contract gate: OK - 2 published contract(s): 1 unchanged, "
                                                  "1 changed compatibly, 0 with accepted breaks; 1 new")


def test_a_breaking_change_and_a_removed_type_fail_with_a_message_per_contract():
    base = published(**{"x.thing.done.v1": A1, "x.gone.done.v1": A1})
    broken = obj({"id": {"type": "integer"}, "n": {"type": "integer"}}, ("id",))
    report = gate.check(base, current(x__thing__done__v1=broken), [], today=TODAY)
    assert not report.ok
    assert statuses(report) == {"x.thing.done.v1": "breaking", "x.gone.done.v1": "removed"}
    text = gate.format_failure(report, consumers={"x.thing.done.v1": ["billing", "mail"]})
    assert text.splitlines()[0] == "contract gate: FAILED - 2 breaking change(s) in 2 published contract(s)"
    assert "x.thing.done.v1 [BACKWARD_TRANSITIVE] (owner team; consumed by billing, mail):" in text
    assert "type_changed:$.id: type string -> integer (vs published v1)" in text
    assert "publish x.thing.done.v2 beside it" in text
    assert "contract_removed:x.gone.done.v1" in text


def test_backward_transitive_checks_all_published_versions_and_per_contract_modes_apply():
    v1 = obj({"b": {"type": "string"}})
    v2 = obj({})
    base = gate.update(published(**{"x.t.d.v1": v1}), current(x__t__d__v1=v2), None)
    assert [v["version"] for v in base["contracts"]["x.t.d.v1"]["versions"]] == [1, 2]
    v3 = obj({"b": {"type": "integer"}})
    report = gate.check(base, current(x__t__d__v1=v3), [], today=TODAY)
    assert not report.ok and report.results[0].violations[0].version == "v1"
    assert gate.check(base, current(x__t__d__v1=v3), [], today=TODAY, mode=Mode.BACKWARD).ok
    # A per-contract mode in the baseline wins over the command line.
    base["contracts"]["x.t.d.v1"]["compatibility"] = "FORWARD"
    required_added = obj({"b": {"type": "string"}, "c": {"type": "string"}}, ("c",))
    assert gate.check(base, current(x__t__d__v1=required_added), [], today=TODAY, mode=Mode.FULL).ok
    base["contracts"]["x.t.d.v1"]["compatibility"] = "FULL_TRANSITIVE"
    assert not gate.check(base, current(x__t__d__v1=required_added), [], today=TODAY, mode=Mode.NONE).ok


def test_allowlisted_breaks_pass_until_they_expire_and_stale_entries_are_reported():
    base = published(**{"x.t.d.v1": A1})
    renamed = obj({"ident": {"type": "string", "x-renamed-from": "id"}, "n": {"type": "integer"}}, ("ident",))
    entries = gate.parse_allowlist({"exceptions": [
        {"contract": "x.t.d.v1", "change": "field_renamed:$.id", "reason": "no consumer yet", "expires": "2025-12-31"},
        {"contract": "x.other.d.v1", "change": "type_changed", "reason": "old"},
    ]})
    report = gate.check(base, current(x__t__d__v1=renamed), entries, today=TODAY)
    assert report.ok and statuses(report)["x.t.d.v1"] == "accepted"
    assert [e.contract for e in report.stale_entries] == ["x.other.d.v1"]
    assert "matches no breaking change" in gate.format_warnings(report)[0]
    expired = gate.check(base, current(x__t__d__v1=renamed), entries, today=date(2026, 1, 1))
    assert not expired.ok
    assert "expired on 2025-12-31" in gate.format_failure(expired)


def test_a_kind_entry_covers_every_change_of_that_kind():
    base = published(**{"x.t.d.v1": A1})
    entries = gate.parse_allowlist({"exceptions": [{"contract": "x.t.d.v1", "change": "contract_removed", "reason": "r"}]})
    report = gate.check(base, {}, entries, today=TODAY)
    assert report.ok and statuses(report) == {"x.t.d.v1": "accepted"}
    assert gate.update(base, {}, report)["contracts"] == {}  # an accepted removal leaves the baseline


# --- update ------------------------------------------------------------------------------


def test_update_appends_compatible_versions_refuses_breaks_and_restarts_after_accepted_ones():
    base = published(**{"x.t.d.v1": A1})
    again = gate.update(base, current(x__t__d__v1=A1), gate.check(base, current(x__t__d__v1=A1), [], today=TODAY))
    assert gate.dumps(again) == gate.dumps(base)  # nothing changed: identical file
    grown = gate.update(base, current(x__t__d__v1=A2), gate.check(base, current(x__t__d__v1=A2), [], today=TODAY))
    assert [v["version"] for v in grown["contracts"]["x.t.d.v1"]["versions"]] == [1, 2]

    broken = obj({"id": {"type": "integer"}}, ("id",))
    report = gate.check(grown, current(x__t__d__v1=broken), [], today=TODAY)
    with pytest.raises(gate.ConfigError, match="not updated while there are breaking changes"):
        gate.update(grown, current(x__t__d__v1=broken), report)
    forced = gate.update(grown, current(x__t__d__v1=broken), report, force=True)
    assert [v["version"] for v in forced["contracts"]["x.t.d.v1"]["versions"]] == [3]

    entries = gate.parse_allowlist({"exceptions": [{"contract": "x.t.d.v1", "change": "type_changed", "reason": "r"}]})
    accepted = gate.check(grown, current(x__t__d__v1=broken), entries, today=TODAY)
    restarted = gate.update(grown, current(x__t__d__v1=broken), accepted)
    assert [v["version"] for v in restarted["contracts"]["x.t.d.v1"]["versions"]] == [3]
    # After the restart the entry matches nothing: the gate says it can go.
    after = gate.check(restarted, current(x__t__d__v1=broken), entries, today=TODAY)
    assert after.ok and after.stale_entries


def test_update_keeps_per_contract_modes():
    base = published(**{"x.t.d.v1": A1})
    base["contracts"]["x.t.d.v1"]["compatibility"] = "FULL"
    new = gate.update(base, current(x__t__d__v1=A2), gate.check(base, current(x__t__d__v1=A2), [], today=TODAY))
    assert new["contracts"]["x.t.d.v1"]["compatibility"] == "FULL"


def test_malformed_baselines_are_config_errors():
    for bad in ({}, {"format": 2, "contracts": {}}, {"format": 1, "contracts": {"a": {"versions": []}}},
                {"format": 1, "contracts": {}, "default_compatibility": "SOMETIMES"}):
        with pytest.raises(gate.ConfigError):
            gate.validate_baseline(bad)


# --- the real command --------------------------------------------------------------------


def run_gate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "services.schema_council.gate", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def test_the_gate_passes_on_this_repository():
    result = run_gate()
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("contract gate: OK - ")
    committed = json.loads(BASELINE.read_text())
    # Every published contract is still registered (a removal would have failed the gate).
    assert set(committed["contracts"]) <= {spec.type for spec in REGISTRY}


def test_the_committed_allowlist_is_valid():
    gate.parse_allowlist(yaml.safe_load(ALLOWLIST.read_text()))


@pytest.fixture
def tmp_baseline(tmp_path) -> Path:
    path = tmp_path / "events.json"
    path.write_text(BASELINE.read_text())
    return path


def _break(path: Path, contract: str, mutate) -> None:
    data = json.loads(path.read_text())
    mutate(data["contracts"][contract]["versions"][-1]["schema"])
    path.write_text(json.dumps(data))


def test_the_gate_fails_on_a_synthetic_breaking_change(tmp_baseline):
    contract = "governance.proposal.submitted.v1"

    def published_without_owner(schema):  # so the current schema 'adds' a required field
        schema["required"].remove("owner")
        del schema["properties"]["owner"]

    _break(tmp_baseline, contract, published_without_owner)
    result = run_gate("--baseline", str(tmp_baseline))
    assert result.returncode == 1
    assert "contract gate: FAILED - 1 breaking change(s) in 1 published contract(s)" in result.stderr
    assert f"{contract} [BACKWARD_TRANSITIVE] (owner schema-council" in result.stderr
    assert "required_field_added:$.owner" in result.stderr
    assert result.stdout == ""


def test_the_gate_fails_on_a_removed_published_type_and_passes_when_it_is_allowlisted(tmp_baseline, tmp_path):
    data = json.loads(tmp_baseline.read_text())
    data["contracts"]["governance.vanished.thing.v1"] = copy.deepcopy(data["contracts"]["governance.proposal.submitted.v1"])
    tmp_baseline.write_text(json.dumps(data))
    result = run_gate("--baseline", str(tmp_baseline))
    assert result.returncode == 1 and "contract_removed:governance.vanished.thing.v1" in result.stderr

    allow = tmp_path / "allow.yaml"
    allow.write_text(yaml.safe_dump({"exceptions": [{"contract": "governance.vanished.thing.v1",
                                                     "change": "contract_removed", "reason": "never had a consumer"}]}))
    ok = run_gate("--baseline", str(tmp_baseline), "--allowlist", str(allow))
    assert ok.returncode == 0, ok.stderr
    assert "1 with accepted breaks" in ok.stdout

    allow.write_text(yaml.safe_dump({"exceptions": [{"contract": "governance.vanished.thing.v1",
                                                     "change": "contract_removed"}]}))
    bad = run_gate("--baseline", str(tmp_baseline), "--allowlist", str(allow))
    assert bad.returncode == 2 and "'reason' is required" in bad.stderr


def test_update_baseline_writes_then_is_stable_and_the_changelog_lists_changes(tmp_path):
    path = tmp_path / "new" / "events.json"
    missing = run_gate("--baseline", str(path))
    assert missing.returncode == 2 and "--update-baseline" in missing.stderr
    written = run_gate("--baseline", str(path), "--update-baseline")
    assert written.returncode == 0 and "written" in written.stdout
    first = path.read_text()
    assert set(json.loads(first)["contracts"]) == {spec.type for spec in REGISTRY}
    again = run_gate("--baseline", str(path), "--update-baseline")
    assert again.returncode == 0 and "up to date" in again.stdout and path.read_text() == first

    data = json.loads(first)
    schema = data["contracts"]["governance.contract.deprecated.v1"]["versions"][0]["schema"]
    del schema["properties"]["notice"]  # the current schema adds an optional field: compatible
    path.write_text(json.dumps(data))
    log = run_gate("--baseline", str(path), "--changelog", "json")
    assert log.returncode == 0 and "changed compatibly" in log.stderr
    entries = {e["contract"]: e for e in json.loads(log.stdout)["contracts"]}
    assert [c["id"] for c in entries["governance.contract.deprecated.v1"]["changes"]] == ["field_added:$.notice"]
    md = run_gate("--baseline", str(path), "--changelog", "markdown")
    assert "## `governance.contract.deprecated.v1`: compatible" in md.stdout
