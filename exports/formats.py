"""Export formats: pure functions from one database row to zero or more JSONL lines.

Rows come from the export query (see ``services``) as plain dicts:

* a task row: ``id, external_id, data, is_gold, gold, state, agreement,
  consensus, resolution`` (the resolution's ``values`` or ``None``);
* an annotation row: a task row plus ``annotation_id, annotator_id, values,
  lead_time_s, review_state, source, created_at, updated_at``.

The rule that turns several answers into one training example (``final_answer``):
a reviewer's resolution first, then the task's consensus (unless that question
is listed in ``consensus["_ties"]``), else the task gives no example for that
question. A consensus document marked ``"_single"`` holds one answer where
the project asks for several: it is never a consensus, and is exported (as
``source: "single"``) only when the export includes incomplete tasks.
``sft`` and ``alpaca`` fall back to the task's ``reference`` when the project
has no text answer for it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from projects import questions as question_types

FORMATS = ("sft", "alpaca", "preference", "annotations")
TASK_FORMATS = frozenset({"sft", "alpaca", "preference"})
# What each task format takes from a question's answers (see QuestionType.yields).
YIELDS = {"sft": "text", "alpaca": "text", "preference": "pairs"}


@dataclass(frozen=True)
class Context:
    """What a formatter needs besides the row."""

    project_id: int
    questions: list[dict]
    secret: str = ""
    question: str | None = None  # the question to export; None = the first that fits
    quality: dict[int, float] = field(default_factory=dict)
    include_incomplete: bool = False  # a single answer may stand for the task
    pseudonyms: dict[int, str] = field(default_factory=dict, compare=False, repr=False)

    def annotator(self, user_id: int) -> str:
        # Cached: one HMAC per annotator, not per line.
        if user_id not in self.pseudonyms:
            self.pseudonyms[user_id] = pseudonym(user_id, self.secret)
        return self.pseudonyms[user_id]

    def yielding(self, kind: str) -> list[dict]:
        """The questions to export whose type gives ``kind`` (``text``, ``pairs``)."""
        types = question_types.yielding(kind)
        return [
            q
            for q in self.questions
            if q.get("type") in types and (self.question is None or q["name"] == self.question)
        ]


def pseudonym(user_id: int, secret: str) -> str:
    """A stable, non-reversible annotator id: HMAC-SHA256 of the user id."""
    digest = hmac.new(secret.encode(), f"annotator:{user_id}".encode(), hashlib.sha256)
    return "ann_" + digest.hexdigest()[:16]


def final_answer(task: dict, name: str, *, single: bool = False) -> tuple[Any, str] | None:
    """The one answer a task gives to question ``name``, and where it came from.

    Resolution first, then consensus (not when tied), else ``None``. A lone
    answer where several are asked is no consensus: it comes as ``single``,
    and only when ``single`` allows it.
    """
    resolution = task.get("resolution")
    if isinstance(resolution, dict) and _present(resolution.get(name)):
        return resolution[name], "resolution"
    consensus = task.get("consensus")
    if isinstance(consensus, dict) and name not in (consensus.get("_ties") or []):
        value = consensus.get(name)
        if _present(value):
            if consensus.get("_single"):
                return (value, "single") if single else None
            return value, "consensus"
    return None


def left_out_reason(task: dict, ctx: Context, kind: str | None) -> str:
    """Why a task that passed the filters gave no line: ``tie``, ``incomplete`` or ``no_answer``.

    ``kind`` is what the format takes from the questions (``text``, ``pairs``;
    None for the annotations format, where a task without answers gives none).
    """
    consensus = task.get("consensus") if isinstance(task.get("consensus"), dict) else {}
    names = [q["name"] for q in ctx.yielding(kind)] if kind else []
    if kind == YIELDS["sft"]:  # sft and alpaca take the first such question only
        names = names[:1]
    if any(name in (consensus.get("_ties") or []) for name in names):
        return "tie"
    if names and consensus.get("_single") and not ctx.include_incomplete:
        return "incomplete"
    return "no_answer"


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def prompt_text(data: dict) -> str:
    """Instruction and input as one user turn."""
    instruction = (data.get("instruction") or "").strip()
    extra = (data.get("input") or "").strip()
    return f"{instruction}\n\n{extra}" if instruction and extra else instruction or extra


def _system(data: dict) -> str | None:
    meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
    system = data.get("system") or meta.get("system")
    return system if isinstance(system, str) and system.strip() else None


def _turn(m: Any) -> dict | None:
    """One message as ``{role, content}``, or None when it is not a usable turn."""
    if isinstance(m, dict) and isinstance(m.get("content"), str) and m.get("role"):
        return {"role": m["role"], "content": m["content"]}
    return None


def _turns(data: dict) -> list[tuple[int, dict]]:
    """The task's usable turns as ``(index in data.messages, {role, content})``."""
    turns = ((index, _turn(m)) for index, m in enumerate(data.get("messages") or []))
    return [(index, m) for index, m in turns if m is not None]


def _with_system(data: dict, messages: list[dict]) -> list[dict]:
    system = _system(data)
    if system and messages and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": system})
    return messages


def _conversation(data: dict) -> list[dict]:
    """The task's conversation, without a trailing assistant turn (the one being answered)."""
    messages = [m for _, m in _turns(data)]
    if messages and messages[-1]["role"] == "assistant":
        messages = messages[:-1]
    return messages


def _prompt_messages(data: dict) -> list[dict]:
    messages = _conversation(data)
    if not messages:
        messages = [{"role": "user", "content": prompt_text(data)}]
    return _with_system(data, messages)


def target_text(task: dict, ctx: Context) -> tuple[str, str, int | None] | None:
    """The assistant text of a task, where it came from, and the turn it corrects (or None).

    The text question's final answer, else the reference. An answer that
    corrects an earlier assistant turn of a conversation names that turn.
    """
    for question in ctx.yielding("text")[:1]:
        answer = final_answer(task, question["name"], single=ctx.include_incomplete)
        target = None
        if answer is not None:
            target = question_types.question_type(question).text_target(question, answer[0])
        if target is not None:
            return target[0], answer[1], target[1]
    reference = (task.get("data") or {}).get("reference")
    if isinstance(reference, str) and reference.strip():
        return reference, "reference", None
    return None


def _corrected_conversation(data: dict, turn: int, text: str) -> list[dict]:
    """The whole conversation, with assistant turn ``turn`` replaced by ``text``."""
    messages = []
    for index, m in enumerate(data.get("messages") or []):
        m = {"role": "assistant", "content": text} if index == turn else _turn(m)
        if m is not None:
            messages.append(m)
    return _with_system(data, messages)


def _metadata(task: dict, ctx: Context, source: str, **extra: Any) -> dict:
    return {
        "project_id": ctx.project_id,
        "task_id": task["id"],
        "external_id": task["external_id"],
        "source": source,
        "agreement": task.get("agreement"),
        "is_gold": bool(task.get("is_gold")),
        **extra,
    }


def sft_lines(task: dict, ctx: Context) -> Iterator[dict]:
    target = target_text(task, ctx)
    if target is None:
        return
    text, source, turn = target
    data = task.get("data") or {}
    if turn is None:
        messages = [*_prompt_messages(data), {"role": "assistant", "content": text}]
    else:
        messages = _corrected_conversation(data, turn, text)
    if not any(m["role"] == "user" and m["content"] for m in messages):
        return
    yield {"messages": messages, "metadata": _metadata(task, ctx, source)}


def alpaca_lines(task: dict, ctx: Context) -> Iterator[dict]:
    target = target_text(task, ctx)
    if target is None:
        return
    data = task.get("data") or {}
    instruction, extra = data.get("instruction") or "", data.get("input") or ""
    turn = target[2]
    if not instruction:
        # A conversation task: the user turn before the answered one is the instruction.
        if turn is None:
            turns = _conversation(data)
        else:
            turns = [m for index, m in _turns(data) if index < turn]
        users = [m["content"] for m in turns if m["role"] == "user"]
        instruction = users[-1] if users else ""
    if not instruction.strip():
        return
    yield {"instruction": instruction, "input": extra, "output": target[0]}


def preference_pairs(question: dict, value: Any, n_responses: int) -> list[tuple[int, int]]:
    """(chosen, rejected) response indices that one final answer implies; ties give none."""
    if question.get("type") not in question_types.TYPES:
        return []
    return question_types.question_type(question).preference_pairs(question, value, n_responses)


def preference_lines(task: dict, ctx: Context) -> Iterator[dict]:
    data = task.get("data") or {}
    responses = [r if isinstance(r, str) else str(r) for r in data.get("responses") or []]
    conversational = bool(_conversation(data))
    prompt: Any = _prompt_messages(data) if conversational else prompt_text(data)
    for question in ctx.yielding("pairs"):
        answer = final_answer(task, question["name"], single=ctx.include_incomplete)
        if answer is None:
            continue
        for chosen, rejected in preference_pairs(question, answer[0], len(responses)):
            if conversational:
                line = {
                    "prompt": prompt,
                    "chosen": [{"role": "assistant", "content": responses[chosen]}],
                    "rejected": [{"role": "assistant", "content": responses[rejected]}],
                }
            else:
                line = {
                    "prompt": prompt,
                    "chosen": responses[chosen],
                    "rejected": responses[rejected],
                }
            line["metadata"] = _metadata(
                task, ctx, answer[1], question=question["name"], chosen=chosen, rejected=rejected
            )
            yield line


def annotation_lines(row: dict, ctx: Context) -> Iterator[dict]:
    yield {
        "annotation_id": row["annotation_id"],
        "project_id": ctx.project_id,
        "task_id": row["id"],
        "external_id": row["external_id"],
        "task": row.get("data"),
        "is_gold": bool(row.get("is_gold")),
        "gold": row.get("gold"),
        "task_state": row.get("state"),
        "task_agreement": row.get("agreement"),
        "consensus": row.get("consensus"),
        "resolution": row.get("resolution"),
        "annotator": ctx.annotator(row["annotator_id"]),
        "annotator_quality": ctx.quality.get(row["annotator_id"]),
        "values": row.get("values"),
        "lead_time_s": row.get("lead_time_s"),
        "review_state": row.get("review_state"),
        "source": row.get("source"),
        # Datetimes are written by the JSON encoder as RFC 3339.
        "created_at": row.get("created_at"),
        "updated_at": row.get("updated_at"),
    }


FORMATTERS: dict[str, Callable[[dict, Context], Iterator[dict]]] = {
    "sft": sft_lines,
    "alpaca": alpaca_lines,
    "preference": preference_lines,
    "annotations": annotation_lines,
}


# --- the deterministic split ------------------------------------------------


def split_of(task_id: int, *, ratio: float, seed: str) -> str:
    """``"validation"`` for a stable ``ratio`` share of task ids, else ``"train"``.

    Depends only on the task id and the seed, so the same task lands in the
    same split in every export made with that seed.
    """
    digest = hashlib.sha256(f"{seed}:{task_id}".encode()).digest()
    return "validation" if int.from_bytes(digest[:8], "big") / 2**64 < ratio else "train"
