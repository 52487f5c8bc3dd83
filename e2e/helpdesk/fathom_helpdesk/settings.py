"""A minimal Django project around django-helpdesk, on SQLite, for Fathom's handoff tests.

Everything that varies comes from the environment (set by run.sh):
- HELPDESK_DATA_DIR: where db.sqlite3 and uploaded files live;
- FATHOM_WEBHOOK_URL: Fathom's inbound URL for django-helpdesk (with its token), called after
  every new follow-up (django-helpdesk's follow-up webhook).
Not for production: DEBUG, a fixed secret key, the development server.
"""
import os
from pathlib import Path

DATA_DIR = Path(os.environ.get("HELPDESK_DATA_DIR", Path(__file__).resolve().parent.parent / "data"))
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get("HELPDESK_SECRET_KEY", "fathom-e2e-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
SITE_ID = 1

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "helpdesk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "fathom_helpdesk.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "db.sqlite3",
        "OPTIONS": {"timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"
MEDIA_ROOT = DATA_DIR / "media"
LOGIN_URL = "/helpdesk/login/"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# The API: DRF token auth (`Authorization: Token <key>`) and HTTP Basic for the API users.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.BasicAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
}

# No teams (pinax-teams is an optional extra), no public ticket submission form.
HELPDESK_TEAMS_MODE_ENABLED = False
HELPDESK_VIEW_A_TICKET_PUBLIC = False
HELPDESK_SUBMIT_A_TICKET_PUBLIC = False


# django-helpdesk's follow-up webhook: it POSTs {"ticket": {...}, "queue_slug", "followup_id"} to
# these URLs after every follow-up (agent reply, status change). It cannot sign them, so Fathom's
# URL carries a secret token. (The new-ticket webhook stays off: Fathom creates the tickets.)
def _fathom_webhook_urls():
    url = os.environ.get("FATHOM_WEBHOOK_URL", "").strip()
    return [url] if url else []


HELPDESK_GET_FOLLOWUP_WEBHOOK_URLS = _fathom_webhook_urls
HELPDESK_WEBHOOK_TIMEOUT = 10

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
