"""The formats as pure functions: one row in, JSONL lines out."""

from __future__ import annotations

from exports import formats
from exports.formats import Context, final_answer, split_of

QUESTIONS = [
    {"name": "answer", "type": "text"},
    {"name": "better", "type": "preference"},
    {"name": "order", "type": "ranking"},
]
CTX = Context(project_id=7, questions=QUESTIONS, secret="s3cret")


def task(**kw):
    row = {
        "id": 1,
        "external_id": "t1",
        "data": {
            "instruction": "Fix the grammar.",
            "input": "He go home.",
            "responses": ["He goes home.", "He went home", "Home."],
            "reference": "He goes home.",
        },
        "is_gold": False,
        "gold": None,
        "state": "complete",
        "agreement": 0.8,
        "consensus": None,
        "resolution": None,
    }
    row.update(kw)
    return row


def test_resolution_wins_over_consensus():
    row = task(consensus={"answer": "from consensus"}, resolution={"answer": "from reviewer"})
    assert final_answer(row, "answer") == ("from reviewer", "resolution")


def test_consensus_used_when_no_resolution():
    assert final_answer(task(consensus={"better": "B"}), "better") == ("B", "consensus")


def test_tied_consensus_gives_no_answer():
    row = task(consensus={"better": "A", "_ties": ["better"]})
    assert final_answer(row, "better") is None


def test_no_resolution_no_consensus_excluded_from_preference():
    assert list(formats.preference_lines(task(), CTX)) == []


def test_sft_line_has_user_and_corrected_assistant_turn():
    [line] = formats.sft_lines(task(consensus={"answer": "He goes home."}), CTX)
    assert line["messages"] == [
        {"role": "user", "content": "Fix the grammar.\n\nHe go home."},
        {"role": "assistant", "content": "He goes home."},
    ]
    assert line["metadata"]["source"] == "consensus"
    assert line["metadata"]["task_id"] == 1


def test_sft_falls_back_to_reference_then_excludes():
    [line] = formats.sft_lines(task(), CTX)
    assert line["metadata"]["source"] == "reference"
    row = task()
    del row["data"]["reference"]
    assert list(formats.sft_lines(row, CTX)) == []


def test_sft_system_prompt_from_meta():
    row = task(consensus={"answer": "ok"})
    row["data"]["meta"] = {"system": "You are terse."}
    [line] = formats.sft_lines(row, CTX)
    assert line["messages"][0] == {"role": "system", "content": "You are terse."}


def test_sft_conversation_keeps_turns_and_replaces_last_assistant_turn():
    data = {
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Capital of France?"},
            {"role": "assistant", "content": "Lyon."},
        ]
    }
    [line] = formats.sft_lines(task(data=data, resolution={"answer": "Paris."}), CTX)
    assert [m["content"] for m in line["messages"]] == [
        "Hi",
        "Hello!",
        "Capital of France?",
        "Paris.",
    ]
    [alpaca] = formats.alpaca_lines(task(data=data, resolution={"answer": "Paris."}), CTX)
    assert alpaca == {"instruction": "Capital of France?", "input": "", "output": "Paris."}


def test_sft_keeps_the_whole_conversation_around_a_corrected_earlier_turn():
    data = {
        "messages": [
            {"role": "user", "content": "Capital of Australia?"},
            {"role": "assistant", "content": "Sydney."},
            {"role": "user", "content": "Population?"},
            {"role": "assistant", "content": "About 470,000."},
        ],
        "meta": {"system": "Be brief."},
    }
    corrected = {"answer": {"text": "Canberra.", "turn": 1}}
    [line] = formats.sft_lines(task(data=data, consensus=corrected), CTX)
    assert line["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of Australia?"},
        {"role": "assistant", "content": "Canberra."},
        {"role": "user", "content": "Population?"},
        {"role": "assistant", "content": "About 470,000."},
    ]
    assert line["metadata"]["source"] == "consensus"
    [alpaca] = formats.alpaca_lines(task(data=data, consensus=corrected), CTX)
    assert alpaca == {"instruction": "Capital of Australia?", "input": "", "output": "Canberra."}


def test_alpaca_line():
    [line] = formats.alpaca_lines(task(resolution={"answer": "He goes home."}), CTX)
    assert line == {
        "instruction": "Fix the grammar.",
        "input": "He go home.",
        "output": "He goes home.",
    }


def test_preference_choice_and_strength_shapes():
    [a] = formats.preference_lines(task(consensus={"better": "A"}), CTX)
    assert (a["prompt"], a["chosen"], a["rejected"]) == (
        "Fix the grammar.\n\nHe go home.",
        "He goes home.",
        "He went home",
    )
    [b] = formats.preference_lines(task(resolution={"better": {"choice": "B", "strength": 2}}), CTX)
    assert b["chosen"] == "He went home"
    assert list(formats.preference_lines(task(consensus={"better": "tie"}), CTX)) == []
    [scored] = formats.preference_lines(task(consensus={"better": -2}), CTX)
    assert scored["chosen"] == "He goes home."


def test_ranking_yields_all_ordered_pairs():
    lines = list(formats.preference_lines(task(consensus={"order": [2, 0, 1]}), CTX))
    pairs = [(line["metadata"]["chosen"], line["metadata"]["rejected"]) for line in lines]
    assert pairs == [(2, 0), (2, 1), (0, 1)]
    assert lines[0]["chosen"] == "Home."


def test_ranking_that_is_not_a_permutation_is_excluded():
    assert list(formats.preference_lines(task(consensus={"order": [0, 0, 1]}), CTX)) == []


def test_preference_on_conversation_uses_message_lists():
    data = {"messages": [{"role": "user", "content": "Hi"}], "responses": ["Hello", "Go away"]}
    [line] = formats.preference_lines(task(data=data, consensus={"better": "A"}), CTX)
    assert line["prompt"] == [{"role": "user", "content": "Hi"}]
    assert line["chosen"] == [{"role": "assistant", "content": "Hello"}]
    assert line["rejected"] == [{"role": "assistant", "content": "Go away"}]


def test_annotation_line_is_pseudonymous_and_stable():
    row = task(annotation_id=5, annotator_id=42, values={"better": "A"}, lead_time_s=3.0,
               review_state="accepted", source="ui", created_at=None, updated_at=None)  # fmt: skip
    [line] = formats.annotation_lines(row, CTX)
    assert line["annotator"] == formats.pseudonym(42, "s3cret")
    assert "42" not in line["annotator"]
    assert line["annotator"] != formats.pseudonym(42, "other-secret")
    assert line["values"] == {"better": "A"}
    assert line["task_agreement"] == 0.8


def test_split_is_deterministic_and_near_ratio():
    first = [split_of(i, ratio=0.2, seed="a") for i in range(5000)]
    assert first == [split_of(i, ratio=0.2, seed="a") for i in range(5000)]
    share = first.count("validation") / len(first)
    assert 0.17 < share < 0.23
    assert first != [split_of(i, ratio=0.2, seed="b") for i in range(5000)]
