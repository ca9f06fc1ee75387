"""summit_common.sql.Where: conditions and bound values line up; column names are checked."""

from datetime import UTC, datetime

import pytest

from summit_common.sql import Where, identifier

AT = datetime(2024, 3, 1, tzinfo=UTC)


def test_filters_not_given_are_left_out():
    where = Where().equal("tenant_id", "t1").equal("status", None).at_least("at", None).below("at", None)
    assert str(where) == "WHERE tenant_id = $1"
    assert where.args == ["t1"]


def test_each_condition_binds_the_next_placeholder():
    where = (Where().equal("tenant_id", "t1").equal("status", "open").at_least("at", AT).below("at", AT)
             .keyset_below(("at", "id"), (AT, "x")))
    assert str(where) == "WHERE tenant_id = $1 AND status = $2 AND at >= $3 AND at < $4 AND (at, id) < ($5, $6)"
    assert where.args == ["t1", "open", AT, AT, AT, "x"]
    assert where.bind(50) == "$7"
    assert where.args[-1] == 50


def test_no_conditions_render_nothing():
    assert str(Where()) == ""
    assert str(Where().keyset_below(("at", "id"), None)) == ""


def test_a_keyset_needs_one_value_per_column():
    with pytest.raises(ValueError, match="one value per column"):
        Where().keyset_below(("at", "id"), (AT,))


@pytest.mark.parametrize("name", ["status; DROP TABLE x", "Status", "a b", "", "1a", "x = 1 OR true"])
def test_only_plain_names_are_accepted(name):
    with pytest.raises(ValueError, match="not a plain SQL name"):
        Where().equal(name, "v")
    with pytest.raises(ValueError):
        identifier(name)


def test_table_qualified_names_are_plain():
    assert str(Where().equal("m.tenant_id", "t1")) == "WHERE m.tenant_id = $1"


def test_a_condition_written_in_code_binds_each_value_and_is_left_out_without_values():
    where = Where().equal("tenant_id", "acme").condition("{} = ANY(affected)", "node-1").condition("x > {}", None)
    where.condition("EXISTS (SELECT 1 WHERE a = {} AND b = {})", "s", None)  # one given: kept
    assert str(where) == "WHERE tenant_id = $1 AND $2 = ANY(affected) AND EXISTS (SELECT 1 WHERE a = $3 AND b = $4)"
    assert where.args == ["acme", "node-1", "s", None]
