"""The static files deploy: collectstatic with the production storage (hashed names, every reference a
vendored file makes, such as a source map, must exist) succeeds, and pages then find their files."""

import tempfile

from django.conf import settings
from django.core.management import call_command
from django.test import SimpleTestCase, override_settings

from directmail import settings as production


class CollectStaticTest(SimpleTestCase):
    def test_collectstatic_with_the_production_storage(self):
        with (
            tempfile.TemporaryDirectory() as root,
            override_settings(STATIC_ROOT=root, STORAGES=production.STORAGES),
        ):
            call_command("collectstatic", interactive=False, verbosity=0)
            from django.contrib.staticfiles.storage import staticfiles_storage

            staticfiles_storage._setup()  # the storage re-reads its manifest for the new settings
            for name in (
                "vendor/chartjs/chart.umd.min.js",
                "vendor/bootstrap/bootstrap.min.css",
                "js/console.js",
            ):
                self.assertNotEqual(staticfiles_storage.url(name), settings.STATIC_URL + name)  # hashed
