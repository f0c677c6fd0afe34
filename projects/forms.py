from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError

from web.input import BadInput, json_loads

from .models import Project, Role
from .schema import validate_questions

QUESTIONS_HELP = (
    "A JSON list of questions. Types: text, rating, label, multilabel, preference, ranking."
)


class ProjectForm(forms.ModelForm):
    skip_reasons = forms.CharField(
        label="Skip reasons",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One a line: offered in the skip dialog beside the annotator's own words.",
    )
    questions_json = forms.CharField(
        label="Questions",
        widget=forms.Textarea(attrs={"class": "code", "spellcheck": "false", "rows": 18}),
        help_text=QUESTIONS_HELP,
        initial="[]",
    )

    class Meta:
        model = Project
        fields = [
            "name", "description", "guidelines", "overlap", "overlap_max", "stop_confidence",
            "task_order",
            "shuffle_responses",
            "gold_fraction", "lease_seconds", "agreement_threshold", "status", "skip_reasons",
        ]  # fmt: skip
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "guidelines": forms.Textarea(attrs={"rows": 8}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["skip_reasons"] = "\n".join(self.instance.skip_reasons or [])
        if self.instance.pk and not self.is_bound:
            self.initial["questions_json"] = json.dumps(self.instance.questions, indent=2)
        # A form posted without the order keeps the project's (or the default).
        self.fields["task_order"].required = False
        # Labels and hints in the annotation lead's words, not the model's field names.
        labels_hints = {
            "overlap": ("Answers per task", None),
            "overlap_max": (
                "Most answers per task",
                "While the answers disagree a task asks for more, up to this many "
                "(empty: the same as answers per task).",
            ),
            "stop_confidence": (
                "Stop at confidence",
                "Complete a task as soon as each question's answer is at least this likely "
                "(above 0.5 and below 1, e.g. 0.9), trusting each annotator as far as their "
                "estimated accuracy; needs a larger “most answers per task”. "
                "Empty: complete when the answers agree.",
            ),
            "gold_fraction": (
                "Gold fraction",
                "Share of the tasks an annotator gets that are gold tasks with a known "
                "answer (0 to 1), to measure accuracy.",
            ),
            "lease_seconds": (
                "Lease (seconds)",
                "How long a task stays reserved for the annotator who opened it.",
            ),
            "agreement_threshold": ("Dispute threshold", None),
        }
        for name, (label, hint) in labels_hints.items():
            self.fields[name].label = label
            if hint:
                self.fields[name].help_text = hint

    def clean_skip_reasons(self) -> list[str]:
        lines = self.cleaned_data["skip_reasons"].splitlines()
        return [line.strip() for line in lines if line.strip()]

    def clean_task_order(self) -> str:
        return self.cleaned_data.get("task_order") or self.instance.task_order

    def clean(self) -> dict:
        cleaned = super().clean()
        overlap, top = cleaned.get("overlap"), cleaned.get("overlap_max")
        if overlap is not None and top is not None and not overlap <= top <= 50:
            self.add_error("overlap_max", f"overlap_max must be between overlap ({overlap}) and 50")
        confidence = cleaned.get("stop_confidence")
        if confidence is not None and not 0.5 < confidence < 1:
            self.add_error("stop_confidence", "stop_confidence must be above 0.5 and below 1")
        return cleaned

    def clean_questions_json(self) -> list[dict]:
        return parse_questions(self.cleaned_data["questions_json"])

    def service_fields(self) -> dict:
        fields = {name: self.cleaned_data[name] for name in self.Meta.fields}
        fields["questions"] = self.cleaned_data["questions_json"]
        return fields


def parse_questions(raw: str) -> list[dict]:
    """Parse and validate the questions JSON; errors name the line or the question."""
    try:
        questions = json_loads(raw or "[]", "questions")
    except BadInput as exc:
        problem = exc.problem[0].upper() + exc.problem[1:]
        raise ValidationError(f"{exc.field}: {problem}") from None
    try:
        return validate_questions(questions)
    except ValidationError as exc:
        raise ValidationError(
            [m for messages in exc.message_dict.values() for m in messages]
        ) from None


class MemberForm(forms.Form):
    username = forms.CharField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)


class MembersAddForm(forms.Form):
    members = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "alice\nbob reviewer"}),
        help_text="One username a line, optionally followed by a role. "
        "Accounts that do not exist yet are created.",
    )
    role = forms.ChoiceField(
        choices=Role.choices, initial=Role.ANNOTATOR, label="Role for lines without one"
    )
