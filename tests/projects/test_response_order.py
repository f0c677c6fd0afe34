"""Responses shown in an order per annotator: the mapping back to the stored order."""

from __future__ import annotations

from django.http import QueryDict

from projects.questions.order import pair_swapped, response_order
from projects.questions.widgets import question_widgets, task_view, values_from_post

QUESTIONS = [
    {"name": "better", "type": "preference", "strength": True},
    {"name": "plain", "type": "preference"},
    {"name": "order", "type": "ranking"},
    {"name": "score", "type": "rating", "min": 1, "max": 5, "target": "responses.0"},
]
DATA = {"instruction": "Say hi", "responses": ["first", "second", "third"]}


def post(**fields) -> QueryDict:
    q = QueryDict(mutable=True)
    for key, value in fields.items():
        q[key.replace("_", "-")] = value
    return q


def test_order_is_a_stable_permutation_that_differs_between_annotators():
    assert response_order(7, 3, 4) == response_order(7, 3, 4)
    assert sorted(response_order(7, 3, 4)) == [0, 1, 2, 3]
    orders = {tuple(response_order(7, annotator, 3)) for annotator in range(40)}
    assert len(orders) == 6  # every order of three comes up


def test_preference_given_on_a_swapped_pair_is_stored_the_other_way():
    order = [1, 0, 2]
    assert pair_swapped(order)
    values = values_from_post(
        QUESTIONS, post(q_better="A", q_better_strength="3", q_plain="B"), order
    )
    assert values["better"] == {"choice": "B", "strength": 3}  # strength kept
    assert values["plain"] == "A"


def test_tie_and_unswapped_orders_are_unchanged():
    assert values_from_post(QUESTIONS, post(q_plain="tie"), [1, 0, 2]) == {"plain": "tie"}
    tie = values_from_post(QUESTIONS, post(q_better="tie"), [1, 0, 2])["better"]
    assert tie == {"choice": "tie", "strength": 1}
    assert values_from_post(QUESTIONS, post(q_plain="A"), [2, 0, 1]) == {"plain": "A"}
    assert values_from_post(QUESTIONS, post(q_plain="A"), None) == {"plain": "A"}


def test_ranking_posts_canonical_indices_and_starts_in_the_shown_order():
    order = [2, 0, 1]
    # The items carry their stored index: what the widget posts is already canonical.
    assert values_from_post(QUESTIONS, post(q_order="0,2,1"), order) == {"order": [0, 2, 1]}
    widgets = {w["name"]: w for w in question_widgets(QUESTIONS, DATA, order=order)}
    items = widgets["order"]["items"]
    assert [i["index"] for i in items] == order
    assert [i["letter"] for i in items] == ["A", "B", "C"]
    assert widgets["order"]["order"] == ""  # not ranked until the annotator orders it


def test_letters_follow_the_shown_order():
    view = task_view(DATA, [2, 0, 1])
    assert [(r["letter"], r["text"]) for r in view["responses"]] == [
        ("A", "third"),
        ("B", "first"),
        ("C", "second"),
    ]
    widgets = {w["name"]: w for w in question_widgets(QUESTIONS, DATA, order=[2, 0, 1])}
    # The rating is about stored response 0, shown second: "B".
    assert widgets["score"]["target"] == "B"
    # A stored "B" (response 1) is drawn as the choice naming the first of the pair shown.
    stored = {"plain": "B", "better": {"choice": "A", "strength": 2}}
    widgets = question_widgets(QUESTIONS, DATA, values=stored, order=[1, 0, 2])
    checked = {
        w["name"]: [c["value"] for c in w.get("choices", []) if c["checked"]] for w in widgets
    }
    assert checked["plain"] == ["A"]
    assert checked["better"] == ["B"]


def test_an_order_that_does_not_fit_the_task_is_ignored():
    view = task_view(DATA, [0, 1])
    assert [r["index"] for r in view["responses"]] == [0, 1, 2]


def test_a_pair_first_order_keeps_the_compared_pair_in_front_and_shuffles_the_rest():
    orders = [response_order(7, annotator, 4, pair_first=True) for annotator in range(60)]
    assert all(sorted(order[:2]) == [0, 1] for order in orders)
    # Both ways round for the pair (against position bias), and the rest shuffled too.
    assert {tuple(order[:2]) for order in orders} == {(0, 1), (1, 0)}
    assert {tuple(order[2:]) for order in orders} == {(2, 3), (3, 2)}
