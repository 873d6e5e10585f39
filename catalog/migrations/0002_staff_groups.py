"""The ``Merchandiser`` and ``Catalog staff`` groups and their permissions (owner: admin engineer).

Merchandisers edit seasons and seasonal rules and see everything else read-only: products
(so prices and stock), users, preferences and interactions. Catalog staff manage products,
variants, images and crop corrections, and read rules. A person may be in both groups.
Members also need ``is_staff`` to sign in to admin; a superuser sets it.

Permissions are normally created after ``migrate`` finishes (``post_migrate``); on a fresh
database they do not exist yet when this migration runs, so it creates them first.
"""

from django.db import migrations

MERCHANDISER = "Merchandiser"
CATALOG_STAFF = "Catalog staff"

ALL = ("add", "change", "delete", "view")
VIEW = ("view",)

GROUPS = {
    MERCHANDISER: {
        ("catalog", "season"): ALL,
        ("catalog", "seasonalrule"): ALL,
        ("catalog", "seasonalrulechange"): VIEW,
        ("catalog", "product"): VIEW,
        ("catalog", "productvariant"): VIEW,
        ("catalog", "productimage"): VIEW,
        ("catalog", "category"): VIEW,
        ("catalog", "brand"): VIEW,
        ("recommender", "garment"): VIEW,
        ("recommender", "garmentcorrection"): VIEW,
        ("recommender", "encoderversion"): VIEW,
        ("users", "userpreference"): VIEW,
        ("users", "interaction"): VIEW,
        ("auth", "user"): VIEW,
    },
    CATALOG_STAFF: {
        ("catalog", "product"): ALL,
        ("catalog", "productvariant"): ALL,
        ("catalog", "productimage"): ALL,
        ("catalog", "category"): ALL,
        ("catalog", "brand"): ALL,
        ("catalog", "season"): VIEW,
        ("catalog", "seasonalrule"): VIEW,
        ("catalog", "seasonalrulechange"): VIEW,
        ("recommender", "garment"): VIEW,
        ("recommender", "garmentcorrection"): ("add", "view"),
        ("recommender", "encoderversion"): VIEW,
        ("users", "userpreference"): VIEW,
        ("users", "interaction"): VIEW,
        ("auth", "user"): VIEW,
    },
}


def create_groups(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_label in ("auth", "catalog", "recommender", "users"):
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True  # create_permissions skips apps it thinks have no models
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, grants in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        codenames = [(app, f"{action}_{model}") for (app, model), actions in grants.items() for action in actions]
        permissions = [
            Permission.objects.get(content_type__app_label=app, codename=codename) for app, codename in codenames
        ]
        group.permissions.set(permissions)


def delete_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("catalog", "0001_initial"),
        ("recommender", "0003_garment_correction"),
        ("users", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_groups, delete_groups)]
