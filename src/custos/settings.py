"""Django settings for Custos, read from the environment.

Defaults are the embedded set-up (SQLite file and Huey's SQLite storage under ./var); production
sets DATABASE_URL, CUSTOS_REDIS_URL, ALLOWED_HOSTS and CUSTOS_SECRET_KEY.
"""

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from custos.core.datadir import data_dir, secret_file


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = data_dir()

DEBUG = env_bool("DEBUG")
SECRET_KEY = os.environ.get("CUSTOS_SECRET_KEY") or secret_file("secret-key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    # The API docs page then loads Swagger UI from Custos's own static files, not from a CDN:
    # it works on a network with no way out (issue 23).
    "ninja",
    "huey.contrib.djhuey",
    "custos.core",
    "custos.org",
    "custos.access",
    "custos.ledger",
    "custos.customers",
    "custos.evidence",
    "custos.archive",
    "custos.detection",
    "custos.handover",
    "custos.pool",
    "custos.field",
    "custos.care",
    "custos.alerts",
    "custos.wecom",
    "custos.devices",
    "custos.insights",
    "custos.api",
    "custos.console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "custos.api.middleware.JsonApiErrorsMiddleware",
    "custos.api.middleware.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "custos.console.middleware.ChineseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "custos.access.middleware.RefuseInactiveEmployeeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "custos.urls"
WSGI_APPLICATION = "custos.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "custos.console.context.viewer",
            ],
        },
    },
]

SQLITE_OPTIONS = {
    # WAL lets readers go on while one writer appends; IMMEDIATE takes the write lock at BEGIN,
    # so two writers queue instead of failing half-way with "database is locked".
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
}


def database_config(url: str) -> dict:
    config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = dict(SQLITE_OPTIONS)
        config["CONN_MAX_AGE"] = 0
    return config


DATABASES = {"default": database_config(os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'custos.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Covering indexes (INCLUDE) serve PostgreSQL's counts; on SQLite the key columns alone are
# indexed, which is what we want there, so Django's warning that the rest is ignored is noise.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:home"

# Failed sign-ins slow down, per user name (existing or not: names are not revealed), per second
# factor and per client address (custos.access.login): past MAX_FAILURES for a name (ADDRESS_MAX_FAILURES
# from one address) every further failure earns a wait of BACKOFF_SECONDS, doubling up to
# LOCK_SECONDS. One failure is forgiven every FORGIVE_SECONDS. A name waiting still signs in with
# its password and TOTP code together, so an outsider cannot lock its owner out.
CUSTOS_LOGIN_MAX_FAILURES = int(os.environ.get("CUSTOS_LOGIN_MAX_FAILURES", "5"))
CUSTOS_LOGIN_ADDRESS_MAX_FAILURES = int(os.environ.get("CUSTOS_LOGIN_ADDRESS_MAX_FAILURES", "20"))
CUSTOS_LOGIN_BACKOFF_SECONDS = int(os.environ.get("CUSTOS_LOGIN_BACKOFF_SECONDS", "30"))
CUSTOS_LOGIN_LOCK_SECONDS = int(os.environ.get("CUSTOS_LOGIN_LOCK_SECONDS", "900"))
CUSTOS_LOGIN_FORGIVE_SECONDS = int(os.environ.get("CUSTOS_LOGIN_FORGIVE_SECONDS", "3600"))
# Behind a reverse proxy the client's address is the last one the proxy appended to X-Forwarded-For.
CUSTOS_TRUST_PROXY = env_bool("CUSTOS_TRUST_PROXY")

# Alert webhooks never reach loopback, link-local (cloud metadata), private, multicast or reserved
# addresses (custos.alerts.egress) unless allowed here: a receiver inside the company's own network
# is allowed with CUSTOS_WEBHOOK_ALLOW_PRIVATE=true (RFC 1918, 100.64.0.0/10, fc00::/7) or, exactly,
# with CUSTOS_WEBHOOK_ALLOW_NETWORKS=10.20.0.0/16,192.168.5.7/32 (any kind of network listed).
CUSTOS_WEBHOOK_ALLOW_PRIVATE = env_bool("CUSTOS_WEBHOOK_ALLOW_PRIVATE")
CUSTOS_WEBHOOK_ALLOW_NETWORKS = env_list("CUSTOS_WEBHOOK_ALLOW_NETWORKS", "")

# Evidence package ZIPs are deleted this many days after they were built (0: kept forever); the
# package record stays, marked expired, and a new package for the same selection can be built.
CUSTOS_EVIDENCE_KEEP_DAYS = os.environ.get("CUSTOS_EVIDENCE_KEEP_DAYS", "30")

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = 60 * 60 * 12
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Production behind TLS sets CUSTOS_SECURE=true: secure cookies, HSTS, HTTPS redirect.
SECURE = env_bool("CUSTOS_SECURE")
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = SECURE and not env_bool("CUSTOS_BEHIND_PROXY_WITHOUT_TLS")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if CUSTOS_TRUST_PROXY else None
SECURE_HSTS_SECONDS = 31536000 if SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("CUSTOS_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

REDIS_URL = os.environ.get("CUSTOS_REDIS_URL")
HUEY = {
    # Two deployments (or a test run) on one Redis keep apart by the queue's name.
    "name": os.environ.get("CUSTOS_HUEY_NAME", "custos"),
    "immediate": env_bool("CUSTOS_HUEY_IMMEDIATE"),
    # An idle consumer polls the SQLite queue at most every max_delay seconds: alert webhooks go out within it.
    "consumer": {"workers": int(os.environ.get("CUSTOS_WORKERS", "2")), "worker_type": "thread", "max_delay": 2.0},
}
if REDIS_URL:
    HUEY.update({"huey_class": "huey.RedisHuey", "url": REDIS_URL})
else:
    HUEY.update({"huey_class": "huey.SqliteHuey", "filename": str(DATA_DIR / "huey.sqlite3")})

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CUSTOS_LOG_LEVEL", "INFO")},
    # Huey's consumer installs its own handler; propagating too would print every line twice.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "huey": {"propagate": False}},
}

NINJA_PAGINATION_PER_PAGE = 50
NINJA_PAGINATION_CLASS = "custos.api.pagination.Page"
NINJA_PAGINATION_MAX_LIMIT = 500
