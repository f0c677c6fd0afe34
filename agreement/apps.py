from django.apps import AppConfig


class AgreementConfig(AppConfig):
    name = "agreement"

    def ready(self) -> None:
        from agreement import receivers  # noqa: F401  (connects to labeling's signal)
