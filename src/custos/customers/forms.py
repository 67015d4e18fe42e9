"""Console forms for customer records, and the mapping between a flat form and a nested profile.

Lists in a profile (children, elders, key staff) are edited as lines of comma-separated
values, one person a line: what a salesperson types on a phone without fiddly sub-forms.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from custos.customers.models import Customer, CustomerContact, FollowUp

SPLIT = ",，、"  # a comma, a full-width comma, an enumeration comma


def split_list(text: str, limit: int | None = None) -> list[str]:
    for sep in SPLIT[1:]:
        text = text.replace(sep, SPLIT[0])
    parts = [p.strip() for p in text.split(SPLIT[0])]
    if limit is not None:
        parts = (parts + [""] * limit)[:limit]
    return parts


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _overlay(current: dict, shown: dict) -> dict:
    """`shown` (what the form edits) over `current`, so fields the form does not show survive."""
    out = dict(current)
    for key, value in shown.items():
        out[key] = (
            _overlay(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def _keep_unshown(current: list[dict], shown: list[dict], key: str = "name") -> list[dict]:
    """List items rebuilt from lines keep the fields the form does not show, matched by name."""
    by_name = {item.get(key): item for item in current if item.get(key)}
    return [_overlay(by_name.get(item.get(key), {}), item) for item in shown]


def _int(text: str) -> int | str | None:
    text = text.strip()
    if not text:
        return None
    return int(text) if text.isdigit() else text  # a non-number is left for validation to name


class CustomerForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Customer.Kind.choices)
    name = forms.CharField(label=_("Name"), max_length=100)
    grade = forms.ChoiceField(label=_("Grade"))
    source = forms.CharField(
        label=_("Source"), max_length=50, required=False, help_text=_("e.g. walk-in, referral")
    )
    tags = forms.CharField(
        label=_("Tags"), max_length=300, required=False, help_text=_("separated by commas")
    )
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    wechat = forms.CharField(label=_("WeChat"), max_length=64, required=False)
    address = forms.CharField(label=_("Address"), max_length=200, required=False)
    owner = forms.TypedChoiceField(label=_("Owner"), coerce=int, required=False)

    def __init__(self, *args, grades, owners=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["grade"].choices = [(g, g) for g in grades]
        if owners:
            self.fields["owner"].choices = owners
        else:
            del self.fields["owner"]

    def contacts(self) -> list[tuple[str, str]]:
        data = self.cleaned_data
        return [(kind, data[kind]) for kind in ("phone", "wechat", "address") if data.get(kind, "").strip()]


class PersonProfileForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    grade = forms.ChoiceField(label=_("Grade"))
    source = forms.CharField(label=_("Source"), max_length=50, required=False)
    tags = forms.CharField(
        label=_("Tags"), max_length=300, required=False, help_text=_("separated by commas")
    )
    gender = forms.ChoiceField(
        label=_("Gender"), required=False, choices=[("", "—"), ("female", _("Female")), ("male", _("Male"))]
    )
    birthday = forms.DateField(
        label=_("Birthday"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    occupation = forms.CharField(label=_("Occupation"), max_length=100, required=False)
    hometown = forms.CharField(label=_("Hometown"), max_length=100, required=False)
    sizes = forms.CharField(label=_("Sizes"), max_length=100, required=False)
    styles = forms.CharField(
        label=_("Styles"), max_length=300, required=False, help_text=_("separated by commas")
    )
    colors = forms.CharField(
        label=_("Colours"), max_length=300, required=False, help_text=_("separated by commas")
    )
    budget = forms.CharField(label=_("Budget"), max_length=100, required=False)
    spouse = forms.CharField(
        label=_("Spouse"), max_length=300, required=False, help_text=_("name, occupation, what they like")
    )
    children = forms.CharField(
        label=_("Children"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("one a line: name, birth year, school"),
    )
    elders = forms.CharField(
        label=_("Elders"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("one a line: relation, age, what they like"),
    )
    notes = forms.CharField(
        label=_("Notes"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def profile(self, current: dict) -> dict:
        d = self.cleaned_data
        spouse = split_list(d["spouse"], 3)
        family = current.get("family", {})
        shown = {
            "gender": d["gender"] or None,
            "birthday": d["birthday"].isoformat() if d["birthday"] else None,
            "occupation": d["occupation"],
            "hometown": d["hometown"],
            "preferences": {
                "sizes": d["sizes"],
                "styles": [s for s in split_list(d["styles"]) if s],
                "colors": [s for s in split_list(d["colors"]) if s],
                "budget": d["budget"],
            },
            "family": {
                "spouse": {"name": spouse[0], "occupation": spouse[1], "likes": spouse[2]},
                "children": _keep_unshown(
                    family.get("children", []),
                    [
                        {"name": c[0], "birth_year": _int(c[1]), "school": c[2]}
                        for c in (split_list(line, 3) for line in _lines(d["children"]))
                    ],
                ),
                "elders": _keep_unshown(
                    family.get("elders", []),
                    [
                        {"relation": e[0], "age": _int(e[1]), "likes": e[2]}
                        for e in (split_list(line, 3) for line in _lines(d["elders"]))
                    ],
                    key="relation",
                ),
            },
            "notes": d["notes"],
        }
        return _overlay(current, shown)

    @staticmethod
    def initial_from(customer: Customer) -> dict:
        p = customer.profile
        prefs, family = p.get("preferences", {}), p.get("family", {})
        spouse = family.get("spouse", {})
        return {
            "gender": p.get("gender", ""),
            "birthday": p.get("birthday"),
            "occupation": p.get("occupation", ""),
            "hometown": p.get("hometown", ""),
            "sizes": prefs.get("sizes", ""),
            "styles": "，".join(prefs.get("styles", [])),
            "colors": "，".join(prefs.get("colors", [])),
            "budget": prefs.get("budget", ""),
            "spouse": "，".join(str(spouse.get(k, "")) for k in ("name", "occupation", "likes")).rstrip("，"),
            "children": "\n".join(
                "，".join(str(c.get(k) or "") for k in ("name", "birth_year", "school")).rstrip("，")
                for c in family.get("children", [])
            ),
            "elders": "\n".join(
                "，".join(str(e.get(k) or "") for k in ("relation", "age", "likes")).rstrip("，")
                for e in family.get("elders", [])
            ),
            "notes": p.get("notes", ""),
        }


class CompanyProfileForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    grade = forms.ChoiceField(label=_("Grade"))
    source = forms.CharField(label=_("Source"), max_length=50, required=False)
    tags = forms.CharField(
        label=_("Tags"), max_length=300, required=False, help_text=_("separated by commas")
    )
    industry = forms.CharField(label=_("Industry"), max_length=100, required=False)
    founded_year = forms.IntegerField(label=_("Founded in"), required=False, min_value=1800, max_value=2100)
    staff_size = forms.CharField(label=_("Staff size"), max_length=100, required=False)
    main_business = forms.CharField(label=_("Main business"), max_length=300, required=False)
    annual_revenue = forms.CharField(label=_("Annual revenue"), max_length=100, required=False)
    main_products = forms.CharField(label=_("Main products"), max_length=300, required=False)
    condition = forms.CharField(label=_("How business is going"), max_length=300, required=False)
    boss_name = forms.CharField(label=_("Boss's name"), max_length=100, required=False)
    boss_birthday = forms.DateField(
        label=_("Boss's birthday"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    boss_hometown = forms.CharField(label=_("Boss's hometown"), max_length=100, required=False)
    boss_hobbies = forms.CharField(label=_("Boss's hobbies"), max_length=300, required=False)
    boss_family = forms.CharField(label=_("Boss's family"), max_length=300, required=False)
    terms = forms.CharField(
        label=_("Settlement terms"), max_length=100, required=False, help_text=_("e.g. cash, monthly")
    )
    payment_days = forms.IntegerField(label=_("Payment days"), required=False, min_value=0, max_value=3650)
    credit_limit = forms.CharField(label=_("Credit limit"), max_length=100, required=False)
    habits = forms.CharField(label=_("Payment habits"), max_length=300, required=False)
    key_staff = forms.CharField(
        label=_("Key staff"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("one a line: name, title, notes"),
    )
    notes = forms.CharField(
        label=_("Notes"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def profile(self, current: dict) -> dict:
        d = self.cleaned_data
        shown = {
            "overview": {
                "industry": d["industry"],
                "founded_year": d["founded_year"],
                "staff_size": d["staff_size"],
                "main_business": d["main_business"],
            },
            "business": {
                "annual_revenue": d["annual_revenue"],
                "main_products": d["main_products"],
                "condition": d["condition"],
            },
            "boss": {
                "name": d["boss_name"],
                "birthday": d["boss_birthday"].isoformat() if d["boss_birthday"] else None,
                "hometown": d["boss_hometown"],
                "hobbies": d["boss_hobbies"],
                "family": d["boss_family"],
            },
            "settlement": {
                "terms": d["terms"],
                "payment_days": d["payment_days"],
                "credit_limit": d["credit_limit"],
                "habits": d["habits"],
            },
            "key_staff": _keep_unshown(
                current.get("key_staff", []),
                [
                    {"name": s[0], "title": s[1], "notes": s[2]}
                    for s in (split_list(line, 3) for line in _lines(d["key_staff"]))
                ],
            ),
            "notes": d["notes"],
        }
        return _overlay(current, shown)

    @staticmethod
    def initial_from(customer: Customer) -> dict:
        p = customer.profile
        o, b, boss, s = (p.get(k, {}) for k in ("overview", "business", "boss", "settlement"))
        return {
            "industry": o.get("industry", ""),
            "founded_year": o.get("founded_year"),
            "staff_size": o.get("staff_size", ""),
            "main_business": o.get("main_business", ""),
            "annual_revenue": b.get("annual_revenue", ""),
            "main_products": b.get("main_products", ""),
            "condition": b.get("condition", ""),
            "boss_name": boss.get("name", ""),
            "boss_birthday": boss.get("birthday"),
            "boss_hometown": boss.get("hometown", ""),
            "boss_hobbies": boss.get("hobbies", ""),
            "boss_family": boss.get("family", ""),
            "terms": s.get("terms", ""),
            "payment_days": s.get("payment_days"),
            "credit_limit": s.get("credit_limit", ""),
            "habits": s.get("habits", ""),
            "key_staff": "\n".join(
                "，".join(str(k.get(f) or "") for f in ("name", "title", "notes")).rstrip("，")
                for k in p.get("key_staff", [])
            ),
            "notes": p.get("notes", ""),
        }


PROFILE_FORMS = {Customer.Kind.PERSON: PersonProfileForm, Customer.Kind.COMPANY: CompanyProfileForm}


class FollowUpForm(forms.Form):
    kind = forms.ChoiceField(label=_("Type"), choices=FollowUp.Kind.choices)
    content = forms.CharField(
        label=_("What happened"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    outcome = forms.CharField(label=_("Outcome"), max_length=200, required=False)
    next_follow_up_on = forms.DateField(
        label=_("Next follow-up"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class ContactForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=CustomerContact.Kind.choices)
    value = forms.CharField(label=_("Value"), max_length=200)
    label = forms.CharField(label=_("Label"), max_length=40, required=False)


class PurchaseForm(forms.Form):
    product = forms.CharField(label=_("Product"), max_length=100)
    amount = forms.DecimalField(label=_("Amount"), min_value=0, max_digits=12, decimal_places=2)
    purchased_on = forms.DateField(
        label=_("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class FeedbackForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("Rating"), coerce=int, choices=[(i, "★" * i) for i in range(5, 0, -1)]
    )
    complaint = forms.CharField(
        label=_("Complaint or comment"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
