from __future__ import annotations

from django import forms

from .formats import FORMATS
from .models import Export
from .services import GOLD_CHOICES

# What each gold choice does, in words (the values are the API's).
GOLD_LABELS = {
    "include": "Include gold tasks",
    "exclude": "Leave gold tasks out",
    "only": "Only gold tasks",
}


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=[(f, Export.Format(f).label) for f in FORMATS])
    reviewed_only = forms.BooleanField(
        required=False,
        label="Only resolved or accepted",
        help_text="Tasks a reviewer resolved, or whose answers were accepted.",
    )
    include_incomplete = forms.BooleanField(
        required=False,
        label="Include incomplete tasks",
        help_text="Tasks whose answers have not reached their overlap (a single answer included).",
    )
    min_agreement = forms.FloatField(
        required=False,
        min_value=-1,
        max_value=1,
        help_text="Keep tasks whose agreement is at least this; resolved tasks always stay.",
    )
    min_annotator_quality = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        help_text="Keep only answers from annotators whose quality is at least this (0 to 1).",
    )
    gold = forms.ChoiceField(
        choices=[(g, GOLD_LABELS.get(g, g)) for g in GOLD_CHOICES], initial="include"
    )
    split = forms.ChoiceField(
        required=False,
        choices=[("", "All tasks"), ("train", "Train only"), ("validation", "Validation only")],
    )
    validation_ratio = forms.FloatField(initial=0.1, min_value=0.001, max_value=0.999)
    seed = forms.CharField(initial="quorum", max_length=100)

    def filters(self) -> dict:
        data = self.cleaned_data
        return {
            "reviewed_only": data["reviewed_only"],
            "include_incomplete": data["include_incomplete"],
            "min_agreement": data["min_agreement"],
            "min_annotator_quality": data["min_annotator_quality"],
            "gold": data["gold"],
            "split": data["split"] or None,
            "validation_ratio": data["validation_ratio"],
            "seed": data["seed"],
        }


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100)
