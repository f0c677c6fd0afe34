"""What every question type provides: the interface ``projects.schema`` and the pages rely on.

A question type is one module under ``projects/questions/`` holding a subclass
of :class:`QuestionType`, and one widget template ``templates/questions/<type>.html``.
Nothing outside the package branches on a type's name: callers ask the type.
See docs/questions.md.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from django.http import QueryDict

from web.input import is_int_text

from .confidence import consensus_confidence

#: ``err(field, message)``: record a schema error on ``questions[i].<field>``.
ErrorFn = Callable[[str, str], None]

# ASCII digits only: ``\d`` also takes other scripts' digits, and ``int()`` then too.
TARGET_RE = re.compile(r"^responses\.[0-9]{1,4}\Z")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def letter(index: int) -> str:
    """A response's name as people see it: A, B, ... (then 27, 28, ... past Z)."""
    return chr(ord("A") + index) if index < 26 else str(index + 1)


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2)


def task_field(data: Any, path: str | None) -> str | None:
    """The task text a question points at (``responses.1``, ``meta.source``, ...)."""
    if not path or not isinstance(data, dict):
        return None
    head, _, rest = path.partition(".")
    value = data.get(head)
    if rest:
        if isinstance(value, list) and is_int_text(rest):
            value = value[int(rest)] if int(rest) < len(value) else None
        elif isinstance(value, dict):
            value = value.get(rest)
        else:
            value = None
    return None if value is None else as_text(value)


def check_target(q: dict, err: ErrorFn) -> None:
    """``target``: the response a judging question is about."""
    if "target" in q:
        target = q["target"]
        if not isinstance(target, str) or not TARGET_RE.match(target):
            err("target", "must be responses.N (the response this question judges)")


def check_agree(kind: QuestionType, q: dict, err: ErrorFn) -> None:
    """``agree``: the question's agreement threshold for disputes (common to every type)."""
    if "agree" not in q:
        return
    value = q["agree"]
    if kind.agree_unit == "steps":
        if not is_int(value) or value < 0:
            err("agree", "must be a whole number of scale steps (0 = the same rating)")
    elif isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        err("agree", "must be a similarity above 0 and at most 1 (1 = the same answer)")


class QuestionType(ABC):
    """One kind of question. Subclasses set the class attributes and override what differs.

    ``q`` is always a question already accepted by :meth:`check` (normalised by
    ``projects.schema.validate_questions``); ``value`` is a stored answer, or a
    consensus/resolution shaped like one.
    """

    #: The ``type`` in the schema.
    name: ClassVar[str]
    #: Schema fields of this type besides the common ones (name, type, title, help, required).
    fields: ClassVar[frozenset[str]] = frozenset()
    #: Level of measurement for agreement: nominal, ordinal, interval or text.
    default_level: ClassVar[str] = "nominal"
    #: How agreement codes the answers, one of agreement/encoding.py's ENCODERS:
    #: ``categorical`` (one of a set), ``scale`` (integers on min..max), ``preference``
    #: (A/B/tie with strength, -3..3), ``subset`` (a set of options), ``ranking``
    #: (an order of responses), ``text`` (free text, token F1).
    encoding: ClassVar[str] = "categorical"
    #: Whether answers compare responses 0 and 1 as "A" and "B": those two are
    #: then always shown first, so the letters name them (see order.py).
    compares_pair: ClassVar[bool] = False
    #: What the type feeds exports with: ``"text"`` (SFT targets), ``"pairs"`` (preference).
    yields: ClassVar[frozenset[str]] = frozenset()

    # --- the schema ---------------------------------------------------------

    def check(self, q: dict, err: ErrorFn) -> None:
        """Validate the type's own fields, calling ``err(field, message)`` per problem."""
        return None  # a type with no fields of its own has nothing to check

    def level(self, q: dict) -> str:
        """The level of measurement agreement is computed at."""
        return self.default_level

    def schema_change(self, old: dict, new: dict) -> str | None:
        """Why ``old`` may not become ``new`` once answers exist, or None when it may.

        The type itself is already known to be unchanged.
        """
        return None

    # --- agreement --------------------------------------------------------

    #: What ``agree`` counts: ``similarity`` (0..1; two answers agree when their
    #: :meth:`similarity` reaches it) or ``steps`` (at most that many points apart).
    agree_unit: ClassVar[str] = "similarity"
    #: ``agree`` when the question has none: 1.0 means the very same answer.
    default_agree: ClassVar[float] = 1.0

    def agree_threshold(self, q: dict) -> float:
        return q.get("agree", self.default_agree)

    def similarity(self, q: dict, a: Any, b: Any) -> float:
        """How alike two answers are, 0..1 (exact match unless the type knows better)."""
        return 1.0 if a == b else 0.0

    def pair_agrees(self, q: dict, a: Any, b: Any) -> bool:
        """Whether two answers agree under the question's ``agree``."""
        if a is None or b is None:
            return a is b
        return self.similarity(q, a, b) >= self.agree_threshold(q)

    def agrees(self, q: dict, values: list) -> bool:
        """Whether a task's answers agree: more than half agree with one of them.

        With two answers both must agree; with three, two; with four, three. A
        missing answer (None) agrees only with another missing one.
        """
        n = len(values)
        if n < 2:
            return True
        best = max(sum(self.pair_agrees(q, a, b) for b in values) for a in values)
        return 2 * best > n

    def answer_space(self, q: dict) -> int | None:
        """How many different answers the question allows; None when too many to weigh.

        Under a project's ``stop_confidence`` a question with a space is settled
        by :func:`~.confidence.consensus_confidence`, one without by :meth:`agrees`.
        """
        return None

    def confident(self, q: dict, values: list, accuracies: list, threshold: float) -> bool:
        """Whether the likeliest answer among ``values`` is at least ``threshold`` likely.

        ``accuracies`` are the annotators' estimated accuracies (None: unknown).
        """
        space = self.answer_space(q)
        if space is None or space < 2:
            return len(values) >= 2 and self.agrees(q, values)
        return consensus_confidence(values, accuracies, space) >= threshold

    # --- answers ------------------------------------------------------------

    @abstractmethod
    def validate(
        self, q: dict, value: Any, *, n_responses: int, assistant_turns: frozenset[int]
    ) -> Any:
        """The normalised answer, or ValueError saying why (prefixed with the name by the caller).

        Only called with a value that :meth:`blank` left non-empty.
        """

    def blank(self, value: Any) -> Any:
        """``value``, with an answer that says nothing turned into ``None``, ``""`` or ``[]``."""
        return value

    def required(self, q: dict) -> bool:
        """Whether an empty answer is an error (unless the answer is partial)."""
        return q.get("required", True)

    def from_post(self, q: dict, post: QueryDict, field: str) -> Any:
        """The answer as the widget posts it under ``field`` (``q-<name>``); None when absent.

        Bad input is passed on as it came, for :meth:`validate` to name.
        """
        return post.get(field)

    def canonical(self, q: dict, value: Any, order: list[int] | None) -> Any:
        """A posted answer given on responses shown in ``order``, in the stored order.

        ``order`` lists canonical response indices, first shown first (None: as
        stored). Types whose answers do not name responses keep the value.
        """
        return value

    def display(self, q: dict, value: Any, task: Any = None) -> str:
        """A stored value as a person reads it: titles, labels, letters, 1-based numbers.

        ``task`` (a Task or its data) is optional context; never raw JSON or 0-based indexes.
        """
        if value is None:
            return "—"
        return str(value)

    # --- the widget ---------------------------------------------------------

    @property
    def template(self) -> str:
        return f"questions/{self.name}.html"

    def keys(self, q: dict) -> dict[str, str]:
        """Keyboard behaviour, rendered as ``data-<key>`` on the question (see labeling.js).

        ``digits``: what 0-9 do: ``value`` (check the input of that value),
        ``nth`` (toggle the n-th option), ``order`` (put response n next);
        ``digit-field``: a suffix to the field name digits act on (``-strength``);
        ``advance``: move to the next question after a digit;
        ``letters``: ``"a=A,b=B"``, a letter key checks that value;
        ``enter``: a selector in the question that Enter focuses.
        """
        return {}

    def widget(self, q: dict, value: Any, *, data: Any, view: dict) -> dict:
        """Extra template context for the widget; ``view`` is ``task_view(data, order)``.

        ``value`` is canonical; a widget that names responses draws it in ``view["order"]``.
        """
        return {}

    # --- exports ------------------------------------------------------------

    def preference_pairs(self, q: dict, value: Any, n_responses: int) -> list[tuple[int, int]]:
        """(chosen, rejected) response indices that a final answer implies."""
        return []

    def text_target(self, q: dict, value: Any) -> tuple[str, int | None] | None:
        """The assistant text an answer gives, and the turn it corrects (None: the next)."""
        return None
