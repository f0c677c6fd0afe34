"""Answers as numbers: how each kind of question is loaded, coded and read back.

Every question-type decision of the agreement computation lives here, in one
small class per kind of encoding (categorical, rating, preference, multilabel,
ranking, text), chosen by ``encoder_for(question)``. The rest of the app works
on what an encoder produces (``Encoded``: long arrays of unit, row and value)
and on the facts it declares (numeric or not, consensus rule, Dawid-Skene).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from agreement import metrics, sql
from projects import questions as question_types
from projects.schema import preference_score, question_level

BITMASK_OPTIONS = 62  # options up to which a multilabel answer loads as one bigint bit mask
MAX_TALLY = 32  # categories up to which a question keeps its units x categories counts

# How a unit's answers make its consensus (see agreement.consensus.consensus).
MAJORITY = "majority"  # the most frequent category; Dawid-Skene breaks ties
OPTION_MAJORITY = "option_majority"  # per option: chosen by more than half
MEAN = "mean"
MEDIAN = "median"  # the lower median; Dawid-Skene breaks ties


@dataclass
class Encoded:
    """One question's answers in long form.

    ``units`` index ``unit_task`` (a unit is a task, or a task x option / task x
    response for multilabel and ranking questions); ``rows`` index the loaded
    annotations so results can be mapped back to annotators.
    """

    rows: np.ndarray
    units: np.ndarray
    values: np.ndarray
    unit_task: np.ndarray
    level: str
    scale: np.ndarray
    span: float
    labels: list = field(default_factory=list)  # category names for nominal codes


@dataclass
class Tally:
    """One question's answers counted per unit.

    ``cats`` are the categories (the declared scale plus any value outside
    it), ``codes`` each answer's index among them, ``total`` the answers per
    unit, ``counts`` the categories x units matrix (None with many
    categories), one row per category so that work across categories runs
    on contiguous rows.
    """

    cats: np.ndarray
    codes: np.ndarray | None  # None until the answers are encoded (multilabel)
    total: np.ndarray
    counts: np.ndarray | None


def tally(enc: Encoded, n_units: int) -> Tally:
    """Count a question's encoded answers per unit (see ``Tally``)."""
    cats, codes = metrics.categories_codes(enc.values, enc.scale)
    total = np.bincount(enc.units, minlength=n_units)
    counts = None
    if len(cats) <= MAX_TALLY:
        k = len(cats)
        counts = np.bincount(codes * n_units + enc.units, minlength=k * n_units)
        counts = counts.reshape(k, n_units)
    return Tally(cats, codes, total, counts)


def pair_scores(enc: Encoded, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Agreement of two answers in 0..1: equality when nominal, 1 - |a-b|/span otherwise."""
    if enc.level == "nominal":
        return (a == b).astype(float)
    return 1.0 - np.abs(a - b) / enc.span


def parse(raw: str | None):
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _numbers(raw: np.ndarray) -> np.ndarray:
    return np.array([np.nan if r is None else r for r in raw], dtype=float)


def unique_ints(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)`` for integers; counts when the range is small."""
    lo, hi = int(keys.min()), int(keys.max())
    if hi - lo > 4 * len(keys) + 65536:
        return np.unique(keys, return_inverse=True)
    seen = np.zeros(hi - lo + 1, dtype=bool)
    seen[keys - lo] = True
    uniq = np.flatnonzero(seen)
    position = np.cumsum(seen) - 1
    return uniq + lo, position[keys - lo]


def distinct(values: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values among the present ones, code of every entry; -1 where absent)."""
    chosen = values[present]
    if chosen.ndim == 1 and chosen.dtype.kind in "iu" and len(chosen):
        uniq, inverse = unique_ints(chosen)
    else:
        uniq, inverse = np.unique(chosen, return_inverse=True, axis=0 if chosen.ndim > 1 else None)
    codes = np.full(len(values), -1, dtype=np.int64)
    codes[present] = inverse.ravel()
    return uniq, codes


def _plain_numbers(choice: np.ndarray, missing: np.ndarray, tied: np.ndarray):
    """Consensus values as numbers (4 decimals): for means and answers off the scale."""
    uniq, codes = distinct(np.round(choice, 4), ~missing)
    return codes, [float(v) for v in uniq], tied


# --- one class per kind of encoding -----------------------------------------------


class Encoder:
    """A question's encoding: its SQL, its codes, its consensus rule and answer shape.

    ``numeric``: loaded as one float per answer (else as text).
    ``free_text``: no codes at all; agreement is text similarity.
    ``consensus``: the rule that makes a unit's consensus from its answers.
    ``dawid_skene``: ties of the consensus are broken by Dawid-Skene.
    ``deferred``: the per-task pass needs only counts, so the long arrays are
    built later (``first_pass`` / ``complete``).
    """

    numeric = False
    free_text = False
    consensus = MEDIAN
    dawid_skene = False
    deferred = False

    def __init__(self, question: dict):
        self.question = question
        self.name = question["name"]

    def select_sql(self) -> tuple[str, list]:
        """SQL that reads the answer as a number where it can, so Python never parses JSON."""
        return sql.ANSWER_TEXT, [self.name]

    def from_value(self, value):
        """The loaded form of an answer held in Python (a gold answer)."""
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def _present(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows that hold an answer, those answers)."""
        if self.numeric:
            numbers = raw if raw.dtype == float else _numbers(raw)
            rows = np.nonzero(~np.isnan(numbers))[0]
            return rows, numbers[rows]
        present = np.array([r is not None and r != "" for r in raw], dtype=bool)
        return np.nonzero(present)[0], raw[present]

    def encode(self, raw: np.ndarray, task_idx: np.ndarray, n_tasks: int) -> Encoded | None:
        """Turn the loaded answers into (unit, value) arrays; None when there is nothing to code."""
        return None

    def first_pass(self, raw: np.ndarray, task_idx: np.ndarray, n_tasks: int):
        """``(enc, tally, raw kept for complete())`` for the per-task pass; None to skip."""
        enc = self.encode(raw, task_idx, n_tasks)
        if enc is None:
            return None
        return enc, tally(enc, len(enc.unit_task)), None

    def complete(self, raw, task_idx, n_tasks, counted: Tally) -> Encoded:
        """The long arrays of a ``deferred`` encoding (see ``first_pass``)."""
        raise NotImplementedError

    def answers(self, enc: Encoded, choice: np.ndarray, tied: np.ndarray, n_tasks: int):
        """Per task: the consensus in the question's answer shape, as a code into a table.

        Returns ``(codes, table, ties)``: task ``t``'s consensus is
        ``table[codes[t]]``, ``None`` where the code is -1. Tasks that agree on
        the answer share a code, so each distinct answer is built once.
        """
        return _plain_numbers(choice, np.isnan(choice), tied)

    def distribution(self, enc: Encoded, counted: Tally, n_tasks: int) -> dict:
        """Extra figures about how the answers spread (none by default)."""
        return {}

    def distribution_answer(self, key: object) -> object:
        """A ``distribution`` value as an answer, so pages show it as they show answers."""
        return key


class _Scaled(Encoder):
    """One number per task on a declared scale: label, rating, preference."""

    numeric = True

    def _encoded(self, raw, task_idx, n_tasks, level, scale, span, labels=()) -> Encoded:
        rows, answers = self._present(raw)
        return Encoded(
            rows, task_idx[rows], answers, np.arange(n_tasks), level, scale, span, list(labels)
        )

    def distribution(self, enc: Encoded, counted: Tally, n_tasks: int) -> dict:
        counts = np.bincount(
            np.searchsorted(enc.scale, enc.values), minlength=len(enc.scale)
        ).tolist()
        keys = enc.labels or [str(int(v)) for v in enc.scale]
        # A list, not an object: JSONB would reorder the keys.
        return {
            "distribution": [
                {"value": key, "count": count} for key, count in zip(keys, counts, strict=True)
            ]
        }


class Categorical(_Scaled):
    """label: the index of the chosen option."""

    consensus = MAJORITY
    dawid_skene = True

    def __init__(self, question: dict):
        super().__init__(question)
        self.options = list(question.get("options", []))

    def select_sql(self):
        return sql.ANSWER_OPTION_INDEX, [list(self.question["options"]), self.name]

    def from_value(self, value):
        if value is None:
            return None
        options = list(self.question["options"])
        return options.index(value) if value in options else None

    def encode(self, raw, task_idx, n_tasks):
        scale = np.arange(len(self.options), dtype=float)
        return self._encoded(raw, task_idx, n_tasks, "nominal", scale, 1.0, self.options)

    def answers(self, enc, choice, tied, n_tasks):
        codes = np.where(np.isnan(choice), -1, np.nan_to_num(choice)).astype(np.int64)
        return codes, list(enc.labels), tied


class Rating(_Scaled):
    """rating: the number, ordinal (median consensus) or interval (mean)."""

    dawid_skene = True

    def __init__(self, question: dict):
        super().__init__(question)
        self.level = question_level(question)
        self.consensus = MEAN if self.level == "interval" else MEDIAN

    def select_sql(self):
        return sql.ANSWER_NUMBER, [self.name, self.name]

    def from_value(self, value):
        if value is None:
            return None
        return float(value) if isinstance(value, int | float) else None

    def encode(self, raw, task_idx, n_tasks):
        lo, hi = int(self.question.get("min", 1)), int(self.question.get("max", 5))
        scale = np.arange(lo, hi + 1, dtype=float)
        return self._encoded(raw, task_idx, n_tasks, self.level, scale, float(max(hi - lo, 1)))

    def answers(self, enc, choice, tied, n_tasks):
        missing = np.isnan(choice)
        if enc.level == "interval":
            return _plain_numbers(choice, missing, tied)
        table = [int(v) for v in enc.scale]
        codes = np.where(missing, -1, np.nan_to_num(choice) - int(enc.scale[0])).astype(np.int64)
        if codes.max(initial=-1) < len(table) and codes.min(initial=0) >= -1:
            return codes, table, tied
        # Answers off the declared scale (the scale was edited): plain numbers.
        uniq, codes = distinct(choice, ~missing)
        return codes, [int(v) for v in uniq], tied


class Preference(_Scaled):
    """preference: the score -3..3 of ``preference_score`` (-1..1 without strength)."""

    def select_sql(self):
        return sql.ANSWER_PREFERENCE, [self.name] * 5

    def from_value(self, value):
        if value is None:
            return None
        return preference_score(value)

    def encode(self, raw, task_idx, n_tasks):
        top = 3 if self.question.get("strength") else 1
        scale = np.arange(-top, top + 1, dtype=float)
        return self._encoded(raw, task_idx, n_tasks, "ordinal", scale, float(2 * top))

    def _answer(self, score: int):
        side = "tie" if score == 0 else ("A" if score < 0 else "B")
        return {"choice": side, "strength": abs(score)} if self.question.get("strength") else side

    def distribution_answer(self, key):
        try:
            return self._answer(int(key))
        except (TypeError, ValueError):
            return key

    def answers(self, enc, choice, tied, n_tasks):
        missing = np.isnan(choice)
        table = [self._answer(int(v)) for v in enc.scale]
        codes = np.where(missing, -1, np.nan_to_num(choice) - int(enc.scale[0])).astype(np.int64)
        if codes.max(initial=-1) < len(table) and codes.min(initial=0) >= -1:
            return codes, table, tied
        return _plain_numbers(choice, missing, tied)


class Multilabel(Encoder):
    """multilabel: per option a binary unit (task, option), 1 if the option was chosen.

    Up to ``BITMASK_OPTIONS`` options the answer loads as one bit mask and the
    per-task pass counts straight from the masks; beyond, as JSON text.
    """

    consensus = OPTION_MAJORITY

    def __init__(self, question: dict):
        super().__init__(question)
        self.options = list(question.get("options", []))
        self.bitmask = len(self.options) <= BITMASK_OPTIONS
        self.numeric = self.deferred = self.bitmask

    def select_sql(self):
        if not self.bitmask:
            return super().select_sql()
        params = [p for option in self.question["options"] for p in (self.name, option)]
        return sql.answer_bitmask(len(self.question["options"])), [self.name, *params]

    def from_value(self, value):
        if value is None or not self.bitmask:
            return super().from_value(value)
        options = list(self.question["options"])
        return sum(1 << options.index(o) for o in value if o in options)

    def _outline(self, n_tasks: int) -> Encoded:
        """The ``Encoded`` without the answers: units and scale only."""
        empty = np.zeros(0, dtype=np.int64)
        return Encoded(
            empty,
            empty,
            np.zeros(0),
            np.repeat(np.arange(n_tasks), len(self.options)),
            "nominal",
            np.array([0.0, 1.0]),
            1.0,
            self.options,
        )

    def first_pass(self, raw, task_idx, n_tasks):
        if not self.bitmask:
            return super().first_pass(raw, task_idx, n_tasks)
        # The per-task pass needs only the counts per (task, option): the
        # answers are spread over (task, option) units for the coefficients.
        enc = self._outline(n_tasks)
        return enc, _bitmask_tally(raw, task_idx, n_tasks, len(self.options)), raw

    def complete(self, raw, task_idx, n_tasks, counted):
        enc = self.encode(raw, task_idx, n_tasks)
        counted.codes = enc.values.astype(np.int64)  # categories 0 and 1
        return enc

    def encode(self, raw, task_idx, n_tasks):
        rows, answers = self._present(raw)
        options = self.options
        k = len(options)
        if self.bitmask:
            masks = answers.astype(np.int64)
            chosen = ((masks[:, None] >> np.arange(k)) & 1).astype(np.uint8)
        else:
            lookup = {o: i for i, o in enumerate(options)}
            chosen = np.zeros((len(answers), k), dtype=np.uint8)
            for n, answer in enumerate(answers):
                for option in parse(answer) or []:
                    if option in lookup:
                        chosen[n, lookup[option]] = 1
        # Order the entries by unit (task, option), answers in row order within a
        # unit, so pairing needs no sort. Rows come sorted by task.
        t = task_idx[rows].astype(np.int64)
        m = np.bincount(t, minlength=n_tasks)
        index = np.int32 if n_tasks * k < 2**31 else np.int64
        per_task = int(m.max(initial=0))
        if len(rows) and np.all((m == per_task) | (m == 0)):
            # The same number of answers on every answered task (a fixed
            # overlap): a per-task transpose of answers x options.
            tasks = np.flatnonzero(m)
            shape = (len(tasks), k, per_task)
            units = np.broadcast_to(
                (tasks[:, None] * k + np.arange(k)).astype(index)[:, :, None], shape
            ).ravel()
            r = np.broadcast_to(rows.reshape(len(tasks), 1, per_task), shape).ravel()
            values = chosen.reshape(len(tasks), per_task, k).transpose(0, 2, 1).astype(float)
            values = values.ravel()
        else:
            # The entry (answer p, option o) of a task whose m answers start at
            # row f goes to f * k + o * m + (p - f): a scatter instead of a sort.
            first = np.cumsum(m) - m
            start = first[t] * (k - 1) + np.arange(len(rows))
            dest = (start[:, None] + np.arange(k) * m[t][:, None]).ravel()
            units = np.empty(len(dest), dtype=index)
            units[dest] = (t[:, None] * k + np.arange(k)).ravel()
            r = np.empty(len(dest), dtype=rows.dtype)
            r[dest] = np.repeat(rows, k)
            values = np.empty(len(dest))
            values[dest] = chosen.ravel()
            del dest
        del chosen
        return Encoded(
            r,
            units,
            values,
            np.repeat(np.arange(n_tasks), k),
            "nominal",
            np.array([0.0, 1.0]),
            1.0,
            options,
        )

    def answers(self, enc, choice, tied, n_tasks):
        missing = np.isnan(choice)
        width = len(enc.labels)
        grid = choice.reshape(n_tasks, width) == 1.0
        tie_tasks = tied.reshape(n_tasks, width).any(axis=1)
        answered = ~missing.reshape(n_tasks, width).all(axis=1)
        if width <= BITMASK_OPTIONS:
            masks = grid.astype(np.int64) @ (np.int64(1) << np.arange(width, dtype=np.int64))
            uniq, codes = distinct(masks, answered)
            table = [[enc.labels[i] for i in range(width) if int(m) >> i & 1] for m in uniq]
        else:
            uniq, codes = distinct(grid, answered)
            table = [[enc.labels[i] for i in np.flatnonzero(row)] for row in uniq]
        return codes, table, tie_tasks

    def distribution(self, enc, counted, n_tasks):
        width = len(enc.labels)
        # Units are (task, option): option o's units are o, o + width, ...
        chosen = counted.counts[1].reshape(n_tasks, width).sum(axis=0)
        per_option = {}
        for o, label in enumerate(enc.labels):
            rows, weights = metrics.distinct_rows(counted.counts[:, o::width].T)
            per_option[label] = metrics.alpha_from_counts(
                rows, "nominal", np.array([0.0, 1.0]), weights
            )
        return {
            "distribution": [
                {"value": o, "count": int(c)} for o, c in zip(enc.labels, chosen, strict=True)
            ],
            "per_option_alpha": per_option,
        }


def _bitmask_tally(masks: np.ndarray, task_idx: np.ndarray, n_tasks: int, k: int) -> Tally:
    """Counts per (task, option) unit straight from the bit masks, rows sorted by task."""
    present = ~np.isnan(masks)
    tasks = task_idx[present]
    total = np.repeat(np.bincount(tasks, minlength=n_tasks), k)
    counts = np.zeros((2, n_tasks * k), dtype=np.int64)
    yes = counts[1].reshape(n_tasks, k)
    if len(tasks):
        bits = masks[present].astype(np.int64)
        starts = np.flatnonzero(np.concatenate([[True], tasks[1:] != tasks[:-1]]))
        for o in range(k):
            yes[tasks[starts], o] = np.add.reduceat((bits >> o) & 1, starts)
    np.subtract(total, counts[1], out=counts[0])
    return Tally(np.array([0.0, 1.0]), None, total, counts)


class Ranking(Encoder):
    """ranking: per response a unit (task, response), valued by its position (0 = best)."""

    consensus = MEAN

    def encode(self, raw, task_idx, n_tasks):
        rows, answers = self._present(raw)
        orders = [parse(a) or [] for a in answers]
        width = max((len(o) for o in orders), default=0)
        if width == 0:
            return None
        position = np.full((len(orders), width), np.nan)
        for n, order in enumerate(orders):
            for rank, response in enumerate(order):
                if isinstance(response, int) and 0 <= response < width:
                    position[n, response] = rank
        flat = position.ravel()
        keep = ~np.isnan(flat)
        r = np.repeat(rows, width)[keep]
        units = (task_idx[np.repeat(rows, width)] * width + np.tile(np.arange(width), len(rows)))[
            keep
        ]
        return Encoded(
            r,
            units,
            flat[keep],
            np.repeat(np.arange(n_tasks), width),
            "ordinal",
            np.arange(width, dtype=float),
            float(max(width - 1, 1)),
        )

    def answers(self, enc, choice, tied, n_tasks):
        width = len(enc.unit_task) // max(n_tasks, 1)
        grid = choice.reshape(n_tasks, width)
        seen = ~np.isnan(grid)
        tie_tasks = tied.reshape(n_tasks, width).any(axis=1)
        # Responses by mean position; a stable sort keeps index order among equal
        # means and puts the unanswered (NaN) last.
        order = np.argsort(grid, axis=1, kind="stable")
        ranked = np.take_along_axis(grid, order, axis=1)
        tie_tasks |= (ranked[:, 1:] == ranked[:, :-1]).any(axis=1)
        order = np.where(np.arange(width) < seen.sum(axis=1)[:, None], order, -1)
        uniq, codes = distinct(order, seen.any(axis=1))
        table = [[int(i) for i in row if i >= 0] for row in uniq]
        return codes, table, tie_tasks


class Text(Encoder):
    """text: no codes; compared by token F1 (see agreement.consensus.text_agreement)."""

    free_text = True

    def select_sql(self):
        # The whole answer as JSON: a string, or {"text", "turn"} for a corrected turn.
        return sql.ANSWER_JSON, [self.name]


# Keyed by QuestionType.encoding: a new question type picks one of these in
# its own module; only a new kind of answer needs a new encoder here.
ENCODERS: dict[str, type[Encoder]] = {
    "categorical": Categorical,
    "scale": Rating,
    "preference": Preference,
    "subset": Multilabel,
    "ranking": Ranking,
    "text": Text,
}


def encoder_for(question: dict) -> Encoder:
    """The encoding of one question, as its type declares (``QuestionType.encoding``)."""
    kind = question_types.REGISTRY.get(question.get("type"))
    return ENCODERS.get(kind.encoding if kind else "", Encoder)(question)
