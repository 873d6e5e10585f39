from django.apps import AppConfig
from django.db.backends.signals import connection_created

from catalog import hooks


class RecommenderConfig(AppConfig):
    name = "recommender"
    verbose_name = "Recommender"

    def ready(self) -> None:
        # Imported here because they import models, which exist only once the registry is ready.
        # ``tasks`` registers the task that ingest sends by name, in the web process too (eager mode).
        from recommender import queries, tasks  # noqa: F401
        from recommender.services import ingest

        connection_created.connect(queries.search_settings_on_connect, dispatch_uid="recommender_search_settings")
        # The catalog stores images and asks for them to be processed; the recommender does it.
        hooks.image_processing_register(ingest.product_images_enqueue)
