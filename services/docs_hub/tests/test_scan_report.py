"""The scan (catalogue, specs, files of a checkout) and the CI report, without a database:
synthetic checkouts in tmp_path, and this repository itself. Counts are compared against what
`export_catalog()` returns now (other services come and go)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from services.docs_hub import domain, report, scan
from services.docs_hub.config import DEFAULT_REPO_ROOT
from summit_common.catalog import export_catalog

KINTELL_README = """# kintell-connector

| Method | Path |
|---|---|
| GET | `/v1/sessions/{id}` |
| POST | `/v1/import/kintell-sessions` |

Emits kintell.session.completed.v1.
"""


@pytest.fixture(scope="module")
def exported():
    return export_catalog()


@pytest.fixture(scope="module")
def loaded():
    return scan.load_catalogue()


def write(root: Path, relative: str, text: str | bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def endpoint_count(exported) -> int:
    return sum(len(r["methods"]) for s in exported["services"] for r in s["http"])


# --- the catalogue and specs ----------------------------------------------------------------------


def test_the_catalogue_is_the_platforms_own(loaded, exported):
    catalogue, services, openapis, errors = loaded
    assert not [e for e in errors if "docs" in e]  # another team's half-written service may be listed; never ours
    assert {s.name for s in catalogue.services} == {s["name"] for s in exported["services"]}
    assert catalogue.event_types == {e["type"] for e in exported["events"]}
    for entry in exported["services"]:
        info = catalogue.service(entry["name"])
        assert sorted(r.key for r in info.routes) == sorted(f"{m} {r['path']}" for r in entry["http"] for m in r["methods"])
        assert set(info.consumes) == set(entry["consumes"]) and set(info.produces) == set(entry["produces"])
        assert (DEFAULT_REPO_ROOT / info.folder / "service.py").is_file()
    assert catalogue.service("docs-hub").owns == ("governance.docs.coverage.reported.v1",)
    for event_type, module in catalogue.event_modules.items():
        assert module.startswith("libs/contracts/summit_contracts/events/") and (DEFAULT_REPO_ROOT / module).is_file(), event_type


def test_each_service_gets_its_openapi_and_asyncapi_documents(loaded, exported):
    catalogue, services, openapis, _ = loaded
    specs, errors = scan.spec_documents(catalogue, services, openapis)
    by_key = {d.key: d for d in specs}
    for entry in exported["services"]:
        name = entry["name"]
        if any(e.startswith(f"{name}:") for e in errors + loaded[3]):
            assert name != "docs-hub"
            continue  # another team's service that cannot build its specs right now is reported, not indexed
        if entry["http"]:
            doc = json.loads(by_key[f"openapi:{name}"].content)
            assert doc["info"]["title"] == name
            assert set(doc["paths"]) == {r["path"] for r in entry["http"]}
            assert "/healthz" not in doc["paths"]  # the service's own routes only
        has_events = bool(entry["consumes"] or entry["produces"])
        assert (f"asyncapi:{name}" in by_key) is has_events
        if has_events:
            channels = json.loads(by_key[f"asyncapi:{name}"].content)["channels"]
            assert {c["address"] for c in channels.values()} == set(entry["consumes"]) | set(entry["produces"])


def test_every_route_is_found_from_its_own_openapi_path(loaded):
    catalogue = loaded[0]
    for s in catalogue.services:
        for r in s.routes:
            assert r in domain.best_routes(r.method, r.path, s.routes), r.key
            if r.template.endswith(":path}"):  # e.g. a gateway's /api/{path:path} takes several segments
                prefix = r.template.rsplit("/{", 1)[0]
                assert r in domain.best_routes(r.method, prefix + "/a/b/c", s.routes), r.key


def test_two_scans_of_the_same_checkout_hash_the_same(tmp_path):
    write(tmp_path, "services/kintell_connector/README.md", KINTELL_README)
    first, second = scan.scan(tmp_path), scan.scan(tmp_path)
    assert {d.key: d.sha256 for d in first.docs} == {d.key: d.sha256 for d in second.docs}


def test_a_failing_export_falls_back_to_the_services_that_load(monkeypatch, exported):
    import summit_common.catalog

    def broken():
        raise RuntimeError("half-written service")

    monkeypatch.setattr(summit_common.catalog, "export_catalog", broken)
    catalogue, _, _, errors = scan.load_catalogue()
    assert any("export_catalog failed" in e for e in errors)
    assert {s.name for s in catalogue.services} == {s["name"] for s in exported["services"]}
    assert sum(len(s.routes) for s in catalogue.services) == endpoint_count(exported)


# --- files of a checkout --------------------------------------------------------------------------


def test_repo_documents_of_a_synthetic_checkout(tmp_path, loaded, monkeypatch):
    catalogue = loaded[0]
    write(tmp_path, "services/kintell_connector/README.md", KINTELL_README)
    write(tmp_path, "services/not_a_service/README.md", "# orphan\n")
    write(tmp_path, "docs/adr/0001-outbox.md", "# ADR 1: outbox\n\nunified-profile emits through the outbox.\n")
    write(tmp_path, "docs/adr/notes.txt", "not markdown")
    write(tmp_path, "docs/runbooks/kintell_connector-outage.md", "# When Kintell is down\n")
    write(tmp_path, "docs/runbooks/latin1.md", "caf\xe9".encode("latin-1"))
    write(tmp_path, "docs/runbooks/huge.md", "x" * 2000)
    monkeypatch.setattr(scan, "MAX_DOC_BYTES", 1000)

    docs, errors, skipped = scan.repo_documents(tmp_path, catalogue)
    by_key = {d.key: d for d in docs}
    assert errors == []
    assert sorted(by_key) == ["docs/adr/0001-outbox.md", "docs/runbooks/kintell_connector-outage.md",
                              "services/kintell_connector/README.md"]
    assert by_key["services/kintell_connector/README.md"].services == ("kintell-connector",)
    assert by_key["services/kintell_connector/README.md"].title == "kintell-connector"
    assert by_key["docs/adr/0001-outbox.md"].services == ("unified-profile",)
    assert by_key["docs/adr/0001-outbox.md"].kind == "adr"
    assert by_key["docs/runbooks/kintell_connector-outage.md"].services == ("kintell-connector",)
    assert by_key["docs/runbooks/kintell_connector-outage.md"].kind == "runbook"
    assert sorted(skipped) == [
        "docs/runbooks/huge.md: larger than 1000 bytes",
        "docs/runbooks/latin1.md: not UTF-8",
        "services/not_a_service/README.md: services/not_a_service is not a service in the catalogue",
    ]


def test_an_empty_checkout_has_only_specs(tmp_path, exported):
    found = scan.scan(tmp_path)
    assert {d.kind for d in found.docs} <= {"openapi", "asyncapi"}
    assert sum(1 for d in found.docs if d.kind == "openapi") == sum(1 for s in exported["services"] if s["http"])


# --- the CI report --------------------------------------------------------------------------------


def test_the_report_on_this_repository(capsys, exported):
    assert report.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Documentation coverage of {DEFAULT_REPO_ROOT}")
    for entry in exported["services"]:
        assert f"\n{entry['name']} " in out
    assert "\noverall: " in out and "% of endpoints and events documented" in out


def test_the_json_report_counts_what_the_catalogue_has(capsys, exported):
    assert report.main(["--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["overall"]["endpoints"]["total"] == endpoint_count(exported)
    assert [s["service"] for s in data["services"]] == sorted(s["name"] for s in exported["services"])
    # docs-hub documents itself completely
    [mine] = [s for s in data["services"] if s["service"] == "docs-hub"]
    assert mine["endpoints"]["undocumented"] == [] and mine["events"]["undocumented"] == []
    assert data["documents"]["readme"] >= 1


def test_min_coverage_fails_below_the_threshold(tmp_path, capsys):
    # a checkout without any README: nothing is documented
    assert report.main(["--repo-root", str(tmp_path), "--min-coverage", "1"]) == 1
    captured = capsys.readouterr()
    assert "overall: 0.0%" in captured.out and "below the minimum 1%" in captured.err
    assert report.main(["--repo-root", str(tmp_path), "--min-coverage", "0"]) == 0


def test_min_coverage_passes_at_or_above_the_threshold(capsys):
    assert report.main(["--format", "json"]) == 0
    overall = 100 * json.loads(capsys.readouterr().out)["overall"]["overall"]
    assert report.main(["--min-coverage", f"{max(overall - 0.01, 0):.4f}"]) == 0
    if overall < 100:
        assert report.main(["--min-coverage", "100"]) == 1


@pytest.mark.parametrize("argv", [["--min-coverage", "150"], ["--min-coverage", "-1"], ["--format", "xml"],
                                  ["--repo-root", "/nonexistent/summit"]])
def test_usage_errors_exit_2(argv):
    with pytest.raises(SystemExit) as exc:
        report.main(argv)
    assert exc.value.code == 2


def test_markdown_and_verbose_formats(tmp_path, capsys):
    write(tmp_path, "services/kintell_connector/README.md", KINTELL_README)
    assert report.main(["--repo-root", str(tmp_path), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Documentation coverage") and "| Service | Endpoints | % | Events | % |" in out
    assert report.main(["--repo-root", str(tmp_path), "-v"]) == 0
    out = capsys.readouterr().out
    assert "undocumented: GET /v1/sessions\n" in out  # the list route is not in the README
    assert "undocumented: GET /v1/sessions/{session_id}" not in out  # {id} documents it


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("M\tservices/a/api.py\n", [("services/a/api.py", "modified")]),
        ("A\tx.md\nD\ty.md\nT\tz\n", [("x.md", "added"), ("y.md", "deleted"), ("z", "modified")]),
        ("R087\told/README.md\tnew/README.md\n", [("new/README.md", "added"), ("old/README.md", "deleted")]),
        ("C100\ta.py\tb.py\n", [("b.py", "added")]),
        ("\n\ngarbage\n", []),
    ],
)
def test_parse_name_status(output, expected):
    assert [(c.path, c.change) for c in report.parse_name_status(output)] == expected


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
                   check=True, capture_output=True)


def test_since_runs_the_drift_check_on_the_git_diff(tmp_path, capsys):
    write(tmp_path, "services/kintell_connector/README.md", KINTELL_README)
    write(tmp_path, "services/kintell_connector/api.py", "# routes\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "start")
    write(tmp_path, "services/kintell_connector/api.py", "# routes, changed\n")

    assert report.main(["--repo-root", str(tmp_path), "--since", "HEAD"]) == 0  # reports only
    assert report.main(["--repo-root", str(tmp_path), "--since", "HEAD", "--fail-on-drift"]) == 1
    out = capsys.readouterr().out
    assert "drift check: FAILED" in out and "spec_changed_without_doc" in out

    write(tmp_path, "services/kintell_connector/README.md", KINTELL_README + "\nMore.\n")
    assert report.main(["--repo-root", str(tmp_path), "--since", "HEAD", "--fail-on-drift", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["drift"]["passed"] is True and data["drift"]["findings"] == []


def test_since_with_an_unknown_ref_exits_2(tmp_path, capsys):
    _git(tmp_path, "init", "-q")
    assert report.main(["--repo-root", str(tmp_path), "--since", "no-such-ref"]) == 2
    assert "cannot read the git diff" in capsys.readouterr().err
