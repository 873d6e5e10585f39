"""manage.py ensure_admin: the first superuser of a fresh install, once."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_a_fresh_install_gets_a_superuser_with_the_given_password(monkeypatch):
    # given
    monkeypatch.setenv("DJANGO_ADMIN_PASSWORD", "a-chosen-admin-password")
    out = io.StringIO()

    # when
    call_command("ensure_admin", username="boss", stdout=out)

    # then
    boss = get_user_model().objects.get(username="boss")
    assert boss.is_superuser and boss.is_staff
    assert boss.check_password("a-chosen-admin-password")
    assert "'a-chosen-admin-password'" in out.getvalue()


def test_a_generated_password_is_shown_once_and_works(monkeypatch):
    # given no password in the environment
    monkeypatch.delenv("DJANGO_ADMIN_PASSWORD", raising=False)
    out = io.StringIO()

    # when
    call_command("ensure_admin", username="boss", stdout=out)

    # then the printed password signs in
    password = out.getvalue().split("with password '")[1].split("'")[0]
    assert len(password) >= 12
    assert get_user_model().objects.get(username="boss").check_password(password)


def test_a_second_run_creates_nobody(monkeypatch):
    # given
    monkeypatch.setenv("DJANGO_ADMIN_PASSWORD", "a-chosen-admin-password")
    call_command("ensure_admin", username="boss", stdout=io.StringIO())
    out = io.StringIO()

    # when
    call_command("ensure_admin", username="another", stdout=out)

    # then
    assert get_user_model().objects.filter(is_superuser=True).count() == 1
    assert "exists already" in out.getvalue()
