"""What labeling tells the apps that build on it, without importing them.

``answers_changed(project_id=…)`` is sent after the transaction that stored,
revised or imported answers has committed; agreement listens to schedule a
recomputation.
"""

from django.dispatch import Signal

answers_changed = Signal()
