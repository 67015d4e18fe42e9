"""Whatever a (buggy or hostile) phone signs and sends, the agent routes answer 2xx or a 4xx with
the API's error shape, never a 5xx."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custos.field import agent

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
near = {
    "customer_id": st.integers(-3, 10**20),
    "visit_id": st.integers(-3, 10**20),
    "lat": st.floats(-200, 200) | st.text(max_size=5),
    "lon": st.floats(-400, 400),
    "accuracy_m": st.floats(-5, 10**7),
    "at": st.sampled_from(
        ["2026-12-01T10:00:00+08:00", "2099-01-01T00:00:00Z", "yesterday", "", "2026-13-45T99:00"]
    ),
    "photo_sha256": st.sampled_from(["0" * 64, "z" * 64, ""]),
    "mock_location": st.booleans() | st.text(max_size=3),
    "report": st.text(max_size=50),
    "points": st.lists(
        st.dictionaries(st.sampled_from(["lat", "lon", "accuracy_m", "at"]), json_values), max_size=3
    ),
}
bodies = st.fixed_dictionaries({}, optional=near) | json_values


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from([agent.CHECK_IN_PATH, agent.CHECK_OUT_PATH, agent.TRACK_PATH]), body=bodies)
def test_signed_garbage_is_a_4xx(field, phone, path, body):
    p = phone(field.company.sales_a)
    response = p.raw("POST", path, body)
    assert response.status_code < 500, (path, body, response.content[:300])
    if response.status_code >= 400:
        data = response.json()
        assert data["error"] and data["message"], data
