"""The name search: a name of two characters, pinyin and initials find the same customers as a
plain reading of every key, and on PostgreSQL they come off the two-character index
(customer_search_key_bigrams, migration 0009), never a read of the whole table."""

import pytest
from django.db import connection

from custos.customers import names, selectors
from custos.customers.models import Customer

pytestmark = pytest.mark.django_db

NAMES = ["任磊", "任磊明", "王任磊", "任雷", "宏达建材", "佛山宏达", "张娟", "张娟娟", "李明", "王明华"]
QUERIES = [
    "任磊",
    "磊明",
    "renlei",
    "rl",
    "宏达",
    "hongda",
    "hd",
    "张娟",
    "娟娟",
    "明华",
    "wmh",
    "不存在",
    "zz",
]


def test_bigrams_are_the_two_character_pieces():
    assert names.bigrams("任磊明") == sorted(["任磊", "磊明"])
    assert names.bigrams("aaa") == ["aa"]
    assert names.bigrams("a") == []


@pytest.mark.parametrize("q", QUERIES)
def test_a_search_finds_exactly_the_keys_that_hold_it(company, make_customer, q):
    for i, name in enumerate(NAMES):
        make_customer(company.sales_a, name=name, grade="ABCD"[i % 4])
    found = set(
        selectors.list_customers(company.admin, selectors.Filters(q=q)).values_list("name", flat=True)
    )
    key = names.normalise(q)
    expected = {c.name for c in Customer.objects.all() if key in c.search_key}
    assert found == expected
    if q in ("任磊", "hd", "张娟"):
        assert found  # the queries that must find someone do


def test_postgres_reads_a_two_character_name_off_the_index(company, make_customer):
    if connection.vendor != "postgresql":
        pytest.skip("the index is PostgreSQL's; SQLite reads its (small) table")
    for name in NAMES:
        make_customer(company.sales_a, name=name)
    qs = selectors.list_customers(company.admin, selectors.Filters(q="任磊")).order_by("-updated_at")[:50]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # ten rows: the planner would rather read them all
        sql, params = qs.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(r[0] for r in cursor.fetchall())
    assert "customer_search_key_bigrams" in plan, plan
    assert {c.name for c in qs} == {"任磊", "任磊明", "王任磊"}
