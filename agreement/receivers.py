"""Agreement follows the answers: a debounced recomputation after each change."""

from django.dispatch import receiver

from agreement.scheduling import agreement_refresh_later
from labeling.signals import answers_changed


@receiver(answers_changed, dispatch_uid="agreement-refresh-later")
def refresh_after_answers(sender, *, project_id: int, **kwargs) -> None:
    agreement_refresh_later(project_id)
