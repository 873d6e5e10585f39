from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _search_settings_on_connect(sender, connection, **kwargs) -> None:
    # Once per connection instead of a SET LOCAL round trip per request (recommender.queries).
    if connection.vendor != "postgresql":
        return
    from recommender.queries import set_search_settings

    with connection.cursor() as cursor:
        set_search_settings(cursor)


class RecommenderConfig(AppConfig):
    name = "recommender"
    verbose_name = "Recommender"

    def ready(self) -> None:
        connection_created.connect(_search_settings_on_connect, dispatch_uid="recommender_search_settings")
