"""The simulator's field work (check-ins, check-outs, tracks) through custos.field.agent.

The field app owns what a visit looks like (custos.field.agent.field_day); the simulator hands it
each phone's signed sender and the sites of the customers the phone's holder serves, as
`custos device sites` writes them ({serial: [{customer_id, lat, lon, name, address}, ...]}).
Each phone plays one day of visits, on its first round; `fake` phones fake one visit of it.
"""

import random

from custos.devices.simulate import Phone


def agent(sites: dict[str, list[dict]], fake: set[str]):
    """A function (phone, rng) -> calls made, or None when the field app has no agent module."""
    try:
        from custos.field import agent as field_agent
    except ImportError:
        return None
    played: set[str] = set()

    def play(phone: Phone, rng: random.Random) -> int:
        if phone.serial in played or not sites.get(phone.serial):
            return 0
        played.add(phone.serial)
        calls = 0

        def send(method: str, path: str, body) -> dict:
            nonlocal calls
            calls += 1
            return phone.sender.call(method, path, body)

        # A refusal (simulate.Refused) ends the day and is counted by the run.
        field_agent.field_day(send, rng=rng, sites=sites[phone.serial][:4], fake=phone.serial in fake)
        return calls

    return play
