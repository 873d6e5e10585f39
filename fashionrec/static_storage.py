"""Static files storage for production: WhiteNoise's compressed manifest storage that also
rewrites the demo's ES module imports to hashed names."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class ModuleManifestStaticFilesStorage(CompressedManifestStaticFilesStorage):
    # The demo's script is ES modules that import each other by relative URL ("./query.js").
    # Without the rewrite only the entry point gets a hashed, cached-for-a-year name; the modules
    # it imports keep their plain names (WhiteNoise caches those for 60 s), so just after a
    # deploy a browser could pair the new main.js with an old query.js.
    support_js_module_import_aggregation = True
