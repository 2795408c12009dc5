from django.apps import AppConfig


class ExtendAccessConfig(AppConfig):
    name = "extend_access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import postback, signals  # noqa: F401  (connects the handler, patches the URL)

        postback.point_at_stand_in()
