"""The CLI's offline commands: errors are one line with a non-zero exit."""

from __future__ import annotations

import json

import jwt

from summit_common import cli


def test_token_mints_a_verifiable_dev_token(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SUMMIT_JWT_SECRET", "s" * 40)
    assert cli.main(["token", "--tenant", "acme", "--roles", "admin,reviewer"]) == 0
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(token, "s" * 40, algorithms=["HS256"], issuer="summit")
    assert claims["tenant"] == "acme" and claims["roles"] == ["admin", "reviewer"] and claims["exp"] > claims["iat"]


def test_publish_rejects_unknown_version_before_connecting(capsys):
    assert cli.main(["publish", "kintell.session.completed.v7", "--tenant", "t", "--data", "{}"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown event type" in err[0]


def test_publish_rejects_invalid_data_with_field_names(capsys):
    assert cli.main(["publish", "kintell.rating.created.v1", "--tenant", "t", "--data", '{"score": "x"}']) == 1
    err = capsys.readouterr().err
    assert "rating_id" in err and "score" in err


def test_publish_rejects_malformed_json(capsys):
    assert cli.main(["publish", "kintell.rating.created.v1", "--tenant", "t", "--data", "{nope"]) == 1
    assert "not valid JSON" in capsys.readouterr().err


def test_unreachable_nats_is_one_clear_line(monkeypatch, capsys):
    monkeypatch.setenv("NATS_URL", "nats://127.0.0.1:1")
    assert cli.main(["dlq", "list"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach NATS" in err[0]


def test_catalog_export_lists_events_with_producers_and_consumers(capsys):
    assert cli.main(["catalog", "export"]) == 0
    catalog = json.loads(capsys.readouterr().out)
    types = {e["type"]: e for e in catalog["events"]}
    assert "kintell.session.completed.v1" in types
    assert types["kintell.session.completed.v1"]["producers"] == ["kintell-connector"]
    assert all("schema" in e for e in catalog["events"])
