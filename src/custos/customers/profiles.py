"""What a customer file holds, beyond name and contacts (seeds 002-004).

A person: birthday, what they like to buy (sizes, styles, budget), their family (spouse,
children and their schools, elders and what they enjoy), notes. A company, in the five parts
the seeds name: overview, business status, the boss as a person, settlement habits, key staff.

Profiles are validated here and stored as JSON. Contact details never go in a profile: they
are encrypted in CustomerContact, so a phone number typed into free text is refused.
"""

from datetime import date
from typing import Annotated, Any, Literal

import phonenumbers
from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic import ValidationError as PydanticError

from custos.core.errors import InvalidInput
from custos.customers.contacts import default_region

Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Preferences(_Part):
    sizes: Short | None = Field(None, description="sizes worn, e.g. 'M / 鞋38码'")
    styles: list[Word] = Field(default_factory=list, max_length=12)
    colors: list[Word] = Field(default_factory=list, max_length=12)
    brands: list[Word] = Field(default_factory=list, max_length=12)
    budget: Short | None = Field(None, description="usual spend, e.g. '800-1500元/件'")


class Spouse(_Part):
    name: Short | None = None
    birthday: date | None = None
    occupation: Short | None = None
    likes: Line | None = None


class Child(_Part):
    name: Short | None = None
    birth_year: int | None = Field(None, ge=1900, le=2100)
    school: Short | None = None
    likes: Line | None = None


class Elder(_Part):
    relation: Short | None = Field(None, description="e.g. 母亲, 岳父")
    age: int | None = Field(None, ge=0, le=130)
    likes: Line | None = Field(None, description="what they enjoy, eat, do")
    health: Line | None = None


class Family(_Part):
    spouse: Spouse | None = None
    children: list[Child] = Field(default_factory=list, max_length=10)
    elders: list[Elder] = Field(default_factory=list, max_length=10)


class PersonProfile(_Part):
    gender: Literal["female", "male"] | None = None
    birthday: date | None = None
    occupation: Short | None = None
    hometown: Short | None = None
    preferences: Preferences | None = None
    family: Family | None = None
    notes: Text | None = None


class Overview(_Part):
    industry: Short | None = None
    founded_year: int | None = Field(None, ge=1800, le=2100)
    staff_size: Short | None = Field(None, description="e.g. '50-100人'")
    main_business: Line | None = None
    region: Short | None = None


class BusinessStatus(_Part):
    annual_revenue: Short | None = None
    main_products: Line | None = None
    channels: Line | None = None
    condition: Line | None = Field(None, description="how business is going")
    competitors: Line | None = None


class Boss(_Part):
    name: Short | None = None
    birthday: date | None = None
    hometown: Short | None = None
    hobbies: Line | None = None
    family: Line | None = None
    notes: Text | None = None


class Settlement(_Part):
    terms: Short | None = Field(None, description="e.g. 现结, 月结, 60天账期")
    payment_days: int | None = Field(None, ge=0, le=3650)
    credit_limit: Short | None = None
    invoice: Short | None = None
    habits: Line | None = Field(None, description="how and when they really pay")


class KeyStaff(_Part):
    name: Short | None = None
    title: Short | None = None
    notes: Line | None = None


class CompanyProfile(_Part):
    overview: Overview | None = None
    business: BusinessStatus | None = None
    boss: Boss | None = None
    settlement: Settlement | None = None
    key_staff: list[KeyStaff] = Field(default_factory=list, max_length=30)
    notes: Text | None = None


MODELS: dict[str, type[_Part]] = {"person": PersonProfile, "company": CompanyProfile}


def _prune(value: Any) -> Any:
    """Drop empty strings, lists and sections, so 'filled' means something (completeness.py)."""
    if isinstance(value, dict):
        kept = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [v for v in (_prune(v) for v in value) if v not in (None, "", [], {})]
    return value


def _texts(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _texts(v)
    elif isinstance(value, list):
        for v in value:
            yield from _texts(v)


def refuse_phone_numbers(*texts: str) -> None:
    """Refuse free text holding a phone number: stored there it would be in clear, for ever in the ledger."""
    for text in texts:
        if not text or not any(c.isdigit() for c in text):
            continue
        for match in phonenumbers.PhoneNumberMatcher(
            text, default_region(), leniency=phonenumbers.Leniency.VALID
        ):
            raise InvalidInput(
                _("“%(found)s” looks like a phone number: add it as a contact, where it is kept encrypted.")
                % {"found": match.raw_string}
            )


def clean(kind: str, data: dict | None) -> dict:
    """The validated, pruned profile for a customer of `kind`, or InvalidInput naming the field."""
    if not isinstance(data, dict):
        raise InvalidInput(_("A profile is an object."))
    try:
        model = MODELS[kind].model_validate(data)
    except PydanticError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(
            _("Profile field %(field)s: %(problem)s") % {"field": where, "problem": first["msg"]}
        ) from exc
    except KeyError as exc:
        raise InvalidInput(_("Unknown customer kind: %(kind)s") % {"kind": kind}) from exc
    profile = _prune(model.model_dump(mode="json"))
    if any("\x00" in t for t in _texts(profile)):
        raise InvalidInput(_("The profile holds characters that are not allowed."))
    refuse_phone_numbers(*_texts(profile))
    return profile


def merged(kind: str, current: dict, changes: dict) -> dict:
    """`changes` laid over `current` section by section (a section given as null is removed)."""
    if not isinstance(changes, dict):
        raise InvalidInput(_("A profile is an object."))
    result = dict(current)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return clean(kind, result)


def fill_gaps(survivor: Any, duplicate: Any) -> Any:
    """For a merge: the survivor's profile, with what only the duplicate knew added in."""
    if isinstance(survivor, dict) and isinstance(duplicate, dict):
        out = dict(survivor)
        for key, value in duplicate.items():
            out[key] = fill_gaps(out[key], value) if key in out else value
        return out
    if isinstance(survivor, list) and isinstance(duplicate, list):
        return survivor + [v for v in duplicate if v not in survivor]
    return survivor
