from django.apps import AppConfig
from django.db.backends.signals import connection_created

from catalog import hooks
from recommender.queries import set_search_settings


def _search_settings_on_connect(sender, connection, **kwargs) -> None:
    # Once per connection instead of a SET LOCAL round trip per request (recommender.queries).
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        set_search_settings(cursor)


class RecommenderConfig(AppConfig):
    name = "recommender"
    verbose_name = "Recommender"

    def ready(self) -> None:
        # Imported here because they import models, which exist only once the registry is ready.
        # ``tasks`` registers the task that ingest sends by name, in the web process too (eager mode).
        from recommender import tasks  # noqa: F401
        from recommender.services import ingest

        connection_created.connect(_search_settings_on_connect, dispatch_uid="recommender_search_settings")
        # The catalog stores images and asks for them to be processed; the recommender does it.
        hooks.image_processing_register(ingest.product_images_enqueue)
