"""Record shapes: recognise a file's shape and normalise each record to the
canonical task of DESIGN.md.

A normaliser takes one parsed record (a dict) and returns a ``Normalised``
task or raises ``RecordError`` with a reason a lead can act on. Fields that a
shape does not use are kept under ``data.meta`` so nothing in the source is
silently dropped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

AUTO = "auto"
CANONICAL = "canonical"
ALPACA = "alpaca"
SELF_INSTRUCT = "self_instruct"
OPENAI = "openai"
SHAREGPT = "sharegpt"
PREFERENCE = "preference"
HH = "hh"
MAPPING = "mapping"

SHAPE_CHOICES = [
    (AUTO, "Detect automatically"),
    (CANONICAL, "Canonical task {external_id, data, is_gold, gold}"),
    (ALPACA, "Alpaca {instruction, input, output}"),
    (SELF_INSTRUCT, "Self-Instruct {instruction, instances: [{input, output}]}"),
    (OPENAI, "OpenAI/TRL {messages: [{role, content}]}"),
    (SHAREGPT, "ShareGPT {conversations: [{from, value}]}"),
    (PREFERENCE, "Preference {prompt, chosen, rejected} or {prompt, responses}"),
    (HH, "Anthropic HH {chosen, rejected} transcripts"),
    (MAPPING, "Field mapping"),
]
SHAPES = frozenset(name for name, _ in SHAPE_CHOICES)
# Short names for lists and job pages: the choice label up to its field list.
SHAPE_NAMES = {name: label.split(" {")[0] for name, label in SHAPE_CHOICES}

# Canonical fields a mapping may fill, and the data keys of a canonical task.
MAPPABLE = ("external_id", "instruction", "input", "responses", "reference", "messages", "is_gold")
DATA_KEYS = frozenset({"instruction", "input", "responses", "messages", "reference", "meta"})
ID_KEYS = ("external_id", "id")
ROLES = frozenset({"system", "user", "assistant", "tool"})
SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "bard": "assistant",
    "model": "assistant",
    "system": "system",
    "tool": "tool",
}


class RecordError(ValueError):
    """One record cannot be imported; the reason names the field."""


@dataclass(slots=True)
class Normalised:
    external_id: str | None
    data: dict
    is_gold: bool = False
    gold: dict | None = None


# --- helpers ----------------------------------------------------------------


def _text(record: dict, key: str, *, required: bool = True, where: str = "") -> str | None:
    value = record.get(key)
    if type(value) is str and value:
        return value
    if value is None or value == "":
        if required:
            raise RecordError(f"{where or key}: missing or empty")
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise RecordError(f"{where or key}: expected text, got {type(value).__name__}")


def _external_id(record: dict) -> str | None:
    for key in ID_KEYS:
        value = record.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise RecordError(f"{key}: expected text or integer, got {type(value).__name__}")
        value = str(value)
        if len(value) > 255:
            raise RecordError(f"{key}: longer than 255 characters")
        return value
    return None


def _meta(record: dict, used: set[str]) -> dict:
    """Everything the shape did not consume, so no source field is lost."""
    meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
    extra = {k: v for k, v in record.items() if k not in used and k not in ID_KEYS and k != "meta"}
    return {**meta, **extra} if extra else dict(meta)


def _finish(data: dict, record: dict, used: set[str]) -> Normalised:
    meta = _meta(record, used)
    if meta:
        data["meta"] = meta
    return Normalised(external_id=_external_id(record), data=data)


def _messages(value: Any, where: str = "messages") -> list[dict]:
    if not isinstance(value, list) or not value:
        raise RecordError(f"{where}: expected a non-empty list of {{role, content}}")
    out = []
    for i, message in enumerate(value):
        if not isinstance(message, dict):
            raise RecordError(f"{where}[{i}]: expected an object with role and content")
        role = message.get("role")
        if role not in ROLES:
            raise RecordError(f"{where}[{i}].role: expected one of {', '.join(sorted(ROLES))}")
        content = message.get("content")
        if not isinstance(content, str):
            raise RecordError(f"{where}[{i}].content: expected text")
        out.append({"role": role, "content": content})
    return out


def _responses(value: Any, where: str = "responses") -> list[str]:
    if not isinstance(value, list):
        raise RecordError(f"{where}: expected a list of texts")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict) and isinstance(item.get("content"), str):
            # A response given as a chat message: keep its text.
            out.append(item["content"])
        else:
            raise RecordError(f"{where}[{i}]: expected text")
    return out


def _split_last_assistant(messages: list[dict], where: str) -> tuple[list[dict], str]:
    if not messages or messages[-1]["role"] != "assistant":
        raise RecordError(f"{where}: the conversation does not end with an assistant turn")
    return messages[:-1], messages[-1]["content"]


# --- shapes -----------------------------------------------------------------


def normalise_canonical(record: dict) -> Normalised:
    data = record.get("data")
    if not isinstance(data, dict):
        raise RecordError("data: expected an object")
    unknown = set(data) - DATA_KEYS
    if unknown:
        raise RecordError(f"data.{sorted(unknown)[0]}: not a task field")
    clean: dict = {}
    if "instruction" in data:
        clean["instruction"] = _text(data, "instruction", where="data.instruction")
    if "input" in data and data["input"] is not None:
        clean["input"] = _text(data, "input", required=False, where="data.input") or ""
    if "messages" in data:
        clean["messages"] = _messages(data["messages"], "data.messages")
    if not clean.get("instruction") and not clean.get("messages"):
        raise RecordError("data: needs instruction or messages")
    if "responses" in data:
        clean["responses"] = _responses(data["responses"], "data.responses")
    if data.get("reference") is not None:
        clean["reference"] = _text(data, "reference", where="data.reference")
    if "meta" in data:
        if not isinstance(data["meta"], dict):
            raise RecordError("data.meta: expected an object")
        clean["meta"] = data["meta"]
    is_gold = record.get("is_gold", False)
    if not isinstance(is_gold, bool):
        raise RecordError("is_gold: expected true or false")
    gold = record.get("gold")
    if gold is not None and not isinstance(gold, dict):
        raise RecordError("gold: expected an object keyed by question name")
    if is_gold and not gold:
        raise RecordError("gold: a gold task needs its expected answers")
    return Normalised(external_id=_external_id(record), data=clean, is_gold=is_gold, gold=gold)


_ALPACA_KEYS = frozenset({"instruction", "input", "output", "response", "target", "reference"})


def normalise_alpaca(record: dict) -> Normalised:
    instruction = record.get("instruction")
    if not (instruction and type(instruction) is str):
        instruction = _text(record, "instruction")
    data = {"instruction": instruction, "input": _text(record, "input", required=False) or ""}
    responses = [
        text
        for key in ("output", "response")
        if key in record and (text := _text(record, key, required=False)) is not None
    ]
    if responses:
        data["responses"] = responses
    reference = _text(record, "reference", required=False) or _text(
        record, "target", required=False
    )
    if reference is not None:
        data["reference"] = reference
    if record.keys() <= _ALPACA_KEYS:
        # The common case: nothing left over for meta.
        return Normalised(external_id=None, data=data)
    return _finish(data, record, set(_ALPACA_KEYS))


def normalise_self_instruct(record: dict) -> Normalised:
    instances = record.get("instances")
    if not isinstance(instances, list) or not instances:
        raise RecordError("instances: expected a non-empty list of {input, output}")
    for i, instance in enumerate(instances):
        if not isinstance(instance, dict):
            raise RecordError(f"instances[{i}]: expected an object with input and output")
    first = instances[0]
    data = {
        "instruction": _text(record, "instruction"),
        "input": _text(first, "input", required=False, where="instances[0].input") or "",
    }
    output = _text(first, "output", required=False, where="instances[0].output")
    if output is not None:
        # The seed output is a human-written answer: a reference, not a response to judge.
        data["reference"] = output
    task = _finish(data, record, {"instruction", "instances"})
    if len(instances) > 1:
        task.data.setdefault("meta", {})["instances"] = instances[1:]
    return task


def normalise_openai(record: dict) -> Normalised:
    data = {"messages": _messages(record.get("messages"))}
    used = {"messages"}
    if "responses" in record:
        data["responses"] = _responses(record["responses"])
        used.add("responses")
    return _finish(data, record, used)


def normalise_sharegpt(record: dict) -> Normalised:
    turns = record.get("conversations")
    if not isinstance(turns, list) or not turns:
        raise RecordError("conversations: expected a non-empty list of {from, value}")
    messages = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise RecordError(f"conversations[{i}]: expected an object with from and value")
        role = SHAREGPT_ROLES.get(str(turn.get("from", "")).lower())
        if role is None:
            raise RecordError(f"conversations[{i}].from: unknown speaker {turn.get('from')!r}")
        value = turn.get("value")
        if not isinstance(value, str):
            raise RecordError(f"conversations[{i}].value: expected text")
        messages.append({"role": role, "content": value})
    data: dict = {"messages": messages}
    used = {"conversations"}
    if isinstance(record.get("system"), str) and record["system"]:
        messages.insert(0, {"role": "system", "content": record["system"]})
        used.add("system")
    return _finish(data, record, used)


def _prompt(record: dict, data: dict) -> None:
    prompt = record.get("prompt")
    if isinstance(prompt, list):
        data["messages"] = _messages(prompt, "prompt")
    else:
        data["instruction"] = _text(record, "prompt")


def normalise_preference(record: dict) -> Normalised:
    data: dict = {}
    _prompt(record, data)
    if "responses" in record:
        data["responses"] = _responses(record["responses"])
        if len(data["responses"]) < 2:
            raise RecordError("responses: a preference needs at least two responses")
        return _finish(data, record, {"prompt", "responses"})
    responses = []
    for key in ("chosen", "rejected"):
        value = record.get(key)
        if isinstance(value, list):
            # TRL's conversational form: the response is the last assistant turn.
            responses.append(_split_last_assistant(_messages(value, key), key)[1])
        else:
            responses.append(_text(record, key))
    data["responses"] = responses
    return _finish(data, record, {"prompt", "chosen", "rejected"})


_HH_TURN = re.compile(r"(?:^|\n\n)(Human|Assistant):[ ]?")


def hh_transcript(text: str, where: str) -> list[dict]:
    """Split an HH transcript ("\\n\\nHuman: …\\n\\nAssistant: …") into messages."""
    parts = _HH_TURN.split(text)
    if len(parts) < 3 or parts[0].strip():
        raise RecordError(f"{where}: not a Human/Assistant transcript")
    messages = []
    for speaker, content in zip(parts[1::2], parts[2::2], strict=True):
        messages.append(
            {"role": "user" if speaker == "Human" else "assistant", "content": content.strip()}
        )
    return messages


def normalise_hh(record: dict) -> Normalised:
    chosen_text = _text(record, "chosen")
    rejected_text = _text(record, "rejected")
    chosen, chosen_final = _split_last_assistant(hh_transcript(chosen_text, "chosen"), "chosen")
    rejected, rejected_final = _split_last_assistant(
        hh_transcript(rejected_text, "rejected"), "rejected"
    )
    if not chosen:
        raise RecordError("chosen: no human turn before the final assistant turn")
    # Position must not give the label away: the pair is stored in an order that
    # depends only on its content (so a re-import gives the same), and which one
    # was chosen is kept as meta.hh_chosen (its index in responses).
    digest = hashlib.sha256(f"{chosen_text}\0{rejected_text}".encode()).digest()
    chosen_at = digest[0] & 1
    pair = [chosen_final, rejected_final] if chosen_at == 0 else [rejected_final, chosen_final]
    data = {"messages": chosen, "responses": pair}
    task = _finish(data, record, {"chosen", "rejected"})
    task.data.setdefault("meta", {})["hh_chosen"] = chosen_at
    if rejected != chosen:
        # A few HH pairs diverge before the last turn: the chosen conversation
        # is what annotators see; the rejected one is kept for audit.
        task.data.setdefault("meta", {})["rejected_messages"] = rejected
    return task


def mapping_normaliser(mapping: dict) -> Callable[[dict], Normalised]:
    """A normaliser from ``{canonical_field: source_field}``.

    ``responses`` may name a list of source fields (one response each) or one
    field that holds a list.
    """
    if not isinstance(mapping, dict) or not mapping:
        raise ValueError("mapping: expected an object {canonical_field: source_field}")
    for field, source in mapping.items():
        if field not in MAPPABLE:
            raise ValueError(f"mapping.{field}: not a canonical field (use {', '.join(MAPPABLE)})")
        ok = isinstance(source, str) or (
            field == "responses"
            and isinstance(source, list)
            and source
            and all(isinstance(s, str) for s in source)
        )
        if not ok:
            raise ValueError(f"mapping.{field}: expected a source field name")
    if "instruction" not in mapping and "messages" not in mapping:
        raise ValueError("mapping: needs instruction or messages")

    def normalise(record: dict) -> Normalised:
        data: dict = {}
        used: set[str] = set()
        for field, source in mapping.items():
            sources = source if isinstance(source, list) else [source]
            used.update(sources)
            if field == "external_id":
                continue
            if field == "responses":
                if isinstance(source, list):
                    data["responses"] = [_text(record, s, where=f"{s} (responses)") for s in source]
                else:
                    value = record.get(source)
                    data["responses"] = (
                        _responses(value, source)
                        if isinstance(value, list)
                        else [_text(record, source)]
                    )
            elif field == "messages":
                data["messages"] = _messages(record.get(source), source)
            elif field == "is_gold":
                continue
            else:
                value = _text(record, source, required=field == "instruction", where=source)
                if value is not None:
                    data[field] = value
        meta = {k: v for k, v in record.items() if k not in used}
        if meta:
            data["meta"] = meta
        external_id = None
        if "external_id" in mapping:
            external_id = _external_id({"id": record.get(mapping["external_id"])})
        is_gold = False
        if "is_gold" in mapping:
            raw = record.get(mapping["is_gold"])
            is_gold = raw is True or str(raw).strip().lower() in {"1", "true", "yes"}
        return Normalised(external_id=external_id, data=data, is_gold=is_gold)

    return normalise


NORMALISERS: dict[str, Callable[[dict], Normalised]] = {
    CANONICAL: normalise_canonical,
    ALPACA: normalise_alpaca,
    SELF_INSTRUCT: normalise_self_instruct,
    OPENAI: normalise_openai,
    SHAREGPT: normalise_sharegpt,
    PREFERENCE: normalise_preference,
    HH: normalise_hh,
}


def detect_shape(record: dict) -> str | None:
    """The shape a record looks like, by its keys; None when nothing fits."""
    keys = record.keys()
    if isinstance(record.get("data"), dict):
        return CANONICAL
    if "conversations" in keys:
        return SHAREGPT
    if "prompt" in keys and ("responses" in keys or {"chosen", "rejected"} <= keys):
        return PREFERENCE
    if {"chosen", "rejected"} <= keys:
        return HH
    if "messages" in keys:
        return OPENAI
    if "instruction" in keys and "instances" in keys:
        return SELF_INSTRUCT
    if "instruction" in keys:
        return ALPACA
    return None
