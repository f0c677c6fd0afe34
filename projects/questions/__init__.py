"""The question types, one module each, and the registry callers ask.

    >>> from projects import questions
    >>> questions.get("rating").level({"type": "rating", "min": 1, "max": 5})
    'ordinal'
    >>> questions.question_type({"type": "ranking"}).display({}, [1, 0])
    'B > A'

Adding a type: a module here with a :class:`~.base.QuestionType` subclass, an
entry in ``_TYPES``, a widget template ``templates/questions/<type>.html`` and
tests (docs/questions.md).
"""

from __future__ import annotations

from .base import QuestionType
from .label import Label
from .multilabel import Multilabel
from .preference import Preference
from .ranking import Ranking
from .rating import Rating
from .text import Text

_TYPES: tuple[QuestionType, ...] = (
    Text(),
    Rating(),
    Label(),
    Multilabel(),
    Preference(),
    Ranking(),
)

#: Every type by name, in the order the docs list them.
REGISTRY: dict[str, QuestionType] = {t.name: t for t in _TYPES}
TYPES: tuple[str, ...] = tuple(REGISTRY)


def get(name: str) -> QuestionType:
    """The type called ``name``; KeyError for an unknown one."""
    return REGISTRY[name]


def question_type(question: dict) -> QuestionType:
    """The type of a (validated) question."""
    return REGISTRY[question["type"]]


def disputed(questions: list[dict], answers: list[dict]) -> list[str]:
    """Names of the questions on which ``answers`` (each an annotation's values) disagree.

    Each question is judged alone by its type's ``agrees`` under its ``agree``
    threshold: one question in dispute is enough, whatever the others say.
    """
    return [
        q["name"]
        for q in questions
        if not question_type(q).agrees(q, [values.get(q["name"]) for values in answers])
    ]


def unsure(
    questions: list[dict], answers: list[dict], accuracies: list, threshold: float
) -> list[str]:
    """Names of the questions whose consensus is less than ``threshold`` likely.

    Each answer is weighed by its annotator's estimated accuracy (``accuracies``
    go with ``answers``; None: unknown). See ``QuestionType.confident``.
    """
    return [
        q["name"]
        for q in questions
        if not question_type(q).confident(
            q, [values.get(q["name"]) for values in answers], accuracies, threshold
        )
    ]


def compares_pair(questions: list[dict]) -> bool:
    """Whether any question compares responses 0 and 1 as A and B."""
    return any(question_type(q).compares_pair for q in questions)


def yielding(kind: str) -> tuple[str, ...]:
    """Names of the types whose answers give ``kind`` for exports (``text``, ``pairs``)."""
    return tuple(t.name for t in _TYPES if kind in t.yields)


__all__ = [
    "REGISTRY",
    "TYPES",
    "QuestionType",
    "compares_pair",
    "disputed",
    "get",
    "question_type",
    "unsure",
    "yielding",
]
