"""The console's language: the browser's Accept-Language by default, the user menu's choice remembered on
the person (and in a cookie, so the login page follows it too)."""

from django.conf import settings

from tests.base import PASSWORD, AccountTestCase


class LanguageTest(AccountTestCase):
    def lang(self, response) -> str:
        return response.content.decode().split('<html lang="', 1)[1].split('"', 1)[0]

    def test_the_browsers_language_by_default(self):
        self.client.login(username="viewer@example.com", password=PASSWORD)
        page = self.client.get(self.url("accounts:overview"), headers={"accept-language": "zh-CN,zh;q=0.9"})
        self.assertEqual(self.lang(page), "zh-hans")
        page = self.client.get(self.url("accounts:overview"), headers={"accept-language": "en-US"})
        self.assertEqual(self.lang(page), "en")

    def test_the_choice_is_remembered_on_the_person(self):
        self.client.login(username="viewer@example.com", password=PASSWORD)
        overview = self.url("accounts:overview")
        response = self.client.post("/language/", {"language": "zh-hans", "next": overview})
        self.assertRedirects(response, overview)
        self.viewer.refresh_from_db()
        self.assertEqual(self.viewer.language, "zh-hans")
        # Another browser, English by its headers and without the cookie: still Chinese once signed in.
        self.client.cookies.pop(settings.LANGUAGE_COOKIE_NAME)
        page = self.client.get(overview, headers={"accept-language": "en-US"})
        self.assertEqual(self.lang(page), "zh-hans")
        self.assertContains(page, 'id="language-menu"')
        # Back to the browser's language.
        self.client.post("/language/", {"language": "", "next": overview})
        self.viewer.refresh_from_db()
        self.assertEqual(self.viewer.language, "")
        self.assertEqual(self.lang(self.client.get(overview, headers={"accept-language": "en-US"})), "en")

    def test_the_login_page_follows_the_cookie_and_refuses_odd_values(self):
        response = self.client.post("/language/", {"language": "zh-hans", "next": "https://evil.example/"})
        self.assertRedirects(response, "/", fetch_redirect_response=False)
        self.assertEqual(self.lang(self.client.get("/login/", headers={"accept-language": "en"})), "zh-hans")
        self.client.post("/language/", {"language": "klingon", "next": "/login/"})
        self.assertEqual(self.lang(self.client.get("/login/", headers={"accept-language": "en"})), "en")
