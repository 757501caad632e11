"""Facts → status (web/core/facts.py): latest by occurred time, verified before unverified."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from web.campaigns.logic import household_after, person_after
from web.core import facts

T0 = datetime(2026, 12, 4, 20, 0, tzinfo=timezone.utc)


def fact(source: str, minutes: int, value: str, id_: int) -> dict:
    return {"id": id_, "person": 1, "item": "sampled", "source": source, "occurred_at": T0 + timedelta(minutes=minutes),
            "value": value}


def test_a_verified_fact_outranks_a_later_self_report_which_waits_beside_it():
    winner = facts.latest([fact("head", 0, "yes", 1), fact("self", 30, "no", 2)], ("person", "item"))[(1, "sampled")]
    assert winner["source"] == "head" and winner["value"] == "yes"
    assert winner["newer_unverified"]["value"] == "no"


def test_a_self_report_older_than_the_door_or_agreeing_with_it_is_not_offered():
    older = facts.latest([fact("self", 0, "no", 1), fact("head", 30, "yes", 2)], ("person", "item"))[(1, "sampled")]
    agreeing = facts.latest([fact("head", 0, "yes", 1), fact("self", 30, "yes", 2)], ("person", "item"))[(1, "sampled")]
    assert "newer_unverified" not in older and "newer_unverified" not in agreeing


def test_a_head_saving_in_the_same_second_as_the_self_report_confirms_it():
    """Device times are kept to the second: a tie goes to the later arrival."""
    winner = facts.latest([fact("head", 0, "yes", 1), fact("self", 1, "no", 2), fact("head", 1, "yes", 3)],
                          ("person", "item"))[(1, "sampled")]
    assert winner["id"] == 3 and "newer_unverified" not in winner


def test_without_a_verified_fact_the_latest_self_report_stands():
    winner = facts.latest([fact("self", 0, "no", 1), fact("self", 10, "yes", 2)], ("person", "item"))[(1, "sampled")]
    assert winner["value"] == "yes" and winner["source"] == "self"


def test_among_verified_facts_the_latest_occurred_wins_whatever_the_arrival():
    winner = facts.latest([fact("head", 30, "no", 1), fact("site", 10, "yes", 2)], ("person", "item"))[(1, "sampled")]
    assert winner["value"] == "no"


SWEEPS = st.lists(st.tuples(st.sampled_from(["head", "self", "site"]), st.integers(0, 600),
                            st.sampled_from(["visited", "nobody_home", ""]), st.sampled_from(["yes", "no"])),
                  min_size=1, max_size=6)


@given(SWEEPS, st.randoms())
def test_verified_status_ends_the_same_in_any_arrival_order(sweeps, rnd):
    """Replays in any order leave the same verified figures (the self-report flag aside:
    whether a report is new depends on what was seen when it came)."""

    def replay(order):
        household, person = None, None
        for source, minute, outcome, sampled in order:
            at = T0 + timedelta(minutes=minute)
            household = household_after(household, outcome if source == "head" else "", source, at)
            person = person_after(person, {"sampled": sampled}, source, at, {"sampled": "yes"})
        # (A person's "checked" is sticky by design: a tick taken back unsees nobody.)
        return household[:2] if household else None, person[2] if person else None

    distinct = {minute for _, minute, _, _ in sweeps}
    if len(distinct) < len(sweeps):
        return  # ties go to the later arrival by design
    shuffled = list(sweeps)
    rnd.shuffle(shuffled)
    assert replay(sweeps) == replay(shuffled)


def test_a_self_report_never_moves_what_was_verified():
    at = T0
    person = person_after(None, {"present": "yes", "sampled": "yes"}, "head", at)
    after = person_after(person, {"sampled": "no"}, "self", at + timedelta(hours=1), {"sampled": "yes"})
    assert after[0] is True and after[2] is True and after[1] is True  # checked, sampled kept; to confirm
    same = person_after(person, {"sampled": "yes"}, "self", at + timedelta(hours=1), {"sampled": "yes"})
    assert same[1] is False
