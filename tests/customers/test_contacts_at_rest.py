"""Contact details are never in the database in clear, and one number is one number however typed."""

import pytest
from cryptography.exceptions import InvalidTag
from django.db import connection

from custos.core import crypto
from custos.core.errors import InvalidInput
from custos.customers import contacts, services
from custos.customers.models import CustomerContact
from custos.customers.services import NewContact
from custos.ledger.models import Entry

PHONE = "13912345678"
WECHAT = "Zhang_San-1988"
ADDRESS = "广州市天河区体育西路191号中石化大厦B座2803"


def dump_all_tables() -> str:
    """Every row of every table, as a DBA running SELECT * would see it."""
    text = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names from introspection
            for row in cursor.fetchall():
                text.append(
                    " ".join(bytes(v).hex() if isinstance(v, bytes | memoryview) else str(v) for v in row)
                )
    return "\n".join(text)


def test_a_raw_dump_holds_no_phone_wechat_or_address(company, make_customer):
    customer = make_customer(
        company.sales_a,
        contacts_in=[
            NewContact("phone", "139 1234 5678", "本人"),
            NewContact("wechat", WECHAT),
            NewContact("address", ADDRESS),
        ],
        profile={"notes": "喜欢周末来店"},
    )
    services.add_contact(actor=company.sales_a, customer=customer, kind="phone", value="+86 138-0013-8000")
    dump = dump_all_tables()
    assert customer.name in dump  # the dump is real: the name is there
    for secret in (PHONE, "+8613912345678", "13800138000", WECHAT, WECHAT.lower(), ADDRESS, "体育西路191号"):
        assert secret not in dump, secret
    assert "139****5678" in dump  # the masked form is what people see, and all that is stored in clear


def test_values_decrypt_only_on_their_own_row(company, make_customer):
    a = make_customer(company.sales_a, phone=PHONE)
    b = make_customer(company.sales_a)
    contact = a.contacts.get()
    assert contacts.open_value(contact) == "+8613912345678"
    assert contact.value_encrypted.startswith(f"v{crypto.current_version()}:")
    # A ciphertext copied to another customer's row is refused by AES-GCM's associated data.
    moved = b.contacts.get()
    moved.value_encrypted = contact.value_encrypted
    with pytest.raises(InvalidTag):
        contacts.open_value(moved)


@pytest.mark.parametrize(
    "typed",
    [
        "13912345678",
        "139 1234 5678",
        "139-1234-5678",
        "+86 139 1234 5678",
        "008613912345678",
        "+8613912345678",
    ],
)
def test_phones_are_stored_as_e164_whatever_way_they_were_typed(typed):
    assert contacts.normalise("phone", typed) == "+8613912345678"


@pytest.mark.parametrize("typed", ["12345", "1391234567", "abc", "139123456789", "+1 555 0100"])
def test_invalid_phones_are_refused_with_a_clear_message(typed):
    with pytest.raises(InvalidInput) as exc:
        contacts.normalise("phone", typed)
    assert "不是有效的电话号码" in exc.value.message or "not a valid phone number" in exc.value.message


def test_a_landline_and_a_foreign_number_in_full_form_are_valid():
    assert contacts.normalise("phone", "020-8888 6666") == "+862088886666"
    assert contacts.normalise("phone", "+852 9123 4567") == "+85291234567"


def test_wechat_ids_compare_without_case_and_addresses_are_not_indexed(company, make_customer):
    customer = make_customer(
        company.sales_a, contacts_in=[NewContact("wechat", WECHAT), NewContact("address", ADDRESS)]
    )
    wechat = customer.contacts.get(kind="wechat")
    address = customer.contacts.get(kind="address")
    assert wechat.blind_index == crypto.blind_index(WECHAT.lower(), purpose="customer.wechat")
    assert address.blind_index is None and address.masked == "广州市天河区****"
    assert wechat.masked.startswith("zh") and WECHAT.lower() not in wechat.masked


def test_the_same_number_as_phone_and_as_wechat_has_different_indexes():
    assert contacts.index("phone", "+8613912345678") != contacts.index("wechat", "+8613912345678")


def test_creating_a_customer_writes_no_contact_value_into_the_ledger(company, make_customer):
    make_customer(company.sales_a, phone=PHONE)
    entry = Entry.objects.get(kind="customer.created")
    assert PHONE not in entry.payload and "139****5678" in entry.payload
    assert entry.customer_id is not None and entry.unit_id == company.store_a.pk


def test_the_database_refuses_a_second_active_row_with_the_same_number(company, make_customer):
    from django.db import IntegrityError, transaction

    customer = make_customer(company.sales_a, phone=PHONE)
    other = make_customer(company.sales_a)
    row = customer.contacts.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerContact.objects.create(
            customer=other, kind="phone", value_encrypted="x", blind_index=row.blind_index, masked="x"
        )
