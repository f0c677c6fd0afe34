from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError

from .models import Project, Role
from .schema import validate_questions

QUESTIONS_HELP = (
    "A JSON list of questions. Types: text, rating, label, multilabel, preference, ranking."
)


class ProjectForm(forms.ModelForm):
    questions_json = forms.CharField(
        label="Questions",
        widget=forms.Textarea(attrs={"class": "code", "spellcheck": "false", "rows": 18}),
        help_text=QUESTIONS_HELP,
        initial="[]",
    )

    class Meta:
        model = Project
        fields = [
            "name", "description", "guidelines", "overlap", "gold_fraction", "lease_seconds",
            "agreement_threshold", "status",
        ]  # fmt: skip
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "guidelines": forms.Textarea(attrs={"rows": 8}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["questions_json"] = json.dumps(self.instance.questions, indent=2)

    def clean_questions_json(self) -> list[dict]:
        return parse_questions(self.cleaned_data["questions_json"])

    def service_fields(self) -> dict:
        fields = {name: self.cleaned_data[name] for name in self.Meta.fields}
        fields["questions"] = self.cleaned_data["questions_json"]
        return fields


def parse_questions(raw: str) -> list[dict]:
    """Parse and validate the questions JSON; errors name the line or the question."""
    try:
        questions = json.loads(raw or "[]")
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"Not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    try:
        return validate_questions(questions)
    except ValidationError as exc:
        raise ValidationError(
            [m for messages in exc.message_dict.values() for m in messages]
        ) from None


class MemberForm(forms.Form):
    username = forms.CharField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)
