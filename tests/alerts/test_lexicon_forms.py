"""The lexicon page shows, for each term, the ways of writing it that the unit's engine catches."""


def test_the_lexicon_page_shows_the_forms_a_term_is_caught_in(company, console):
    client = console(company.region_manager)
    client.post(
        "/alerts/lexicon/",
        {"what": "term", "unit": company.south.pk, "text": "走后门", "category": "private_deal", "severity": "high"},
    )
    page = client.get(f"/alerts/lexicon/?unit={company.store_a.pk}").content.decode()
    row = page[page.index('data-term="走后门"') :]
    row = row[: row.index("</tr>")]
    # each example is one the engine was seen to catch, not a promise
    for example in ("<code>走后门</code>", "<code>走 后 门</code>", "<code>走後門</code>", "<code>zou hou men</code>"):
        assert example in row, row
