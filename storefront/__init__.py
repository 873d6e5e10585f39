"""The shopper-facing demo pages, the top layer: they read catalog and recommender models and talk
to the public API like any client. Templates and scripts: ``fashionrec/templates``, ``fashionrec/static``."""
