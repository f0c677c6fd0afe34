from __future__ import annotations

from django import forms

from .formats import FORMATS
from .services import GOLD_CHOICES


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=[(f, f) for f in FORMATS])
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
    min_agreement = forms.FloatField(required=False, min_value=-1, max_value=1)
    min_annotator_quality = forms.FloatField(required=False, min_value=0, max_value=1)
    gold = forms.ChoiceField(choices=[(g, g) for g in GOLD_CHOICES], initial="include")
    split = forms.ChoiceField(
        required=False, choices=[("", "all"), ("train", "train"), ("validation", "validation")]
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
