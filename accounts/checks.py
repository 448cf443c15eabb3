from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_biometric_login(app_configs=None, **kwargs):
    problems = []
    if settings.DOCUID_BIOMETRIC_PROVIDER == "simulator":
        problems.append(
            Error(
                "The simulator biometric provider approves demo numbers without any biometric.",
                hint="Set DOCUID_BIOMETRIC_PROVIDER=webauthn (or ivalt) in production.",
                id="accounts.E001",
            )
        )
    if "console" in settings.DOCUID_NOTIFIERS:
        problems.append(
            Warning(
                "The console notifier only prints links in development.",
                hint="Remove it from DOCUID_NOTIFIERS.",
                id="accounts.W001",
            )
        )
    if "webpush" in settings.DOCUID_NOTIFIERS and not (
        settings.DOCUID_VAPID_PUBLIC_KEY and settings.DOCUID_VAPID_PRIVATE_KEY
    ):
        problems.append(
            Error(
                "Web push is enabled without VAPID keys.",
                hint="Set DOCUID_VAPID_PUBLIC_KEY and DOCUID_VAPID_PRIVATE_KEY.",
                id="accounts.E002",
            )
        )
    if "sms" in settings.DOCUID_NOTIFIERS and not (
        settings.DOCUID_TWILIO_ACCOUNT_SID and settings.DOCUID_TWILIO_AUTH_TOKEN and settings.DOCUID_TWILIO_FROM
    ):
        problems.append(
            Error(
                "SMS is enabled without Twilio credentials.",
                hint="Set DOCUID_TWILIO_ACCOUNT_SID, _AUTH_TOKEN, _FROM.",
                id="accounts.E003",
            )
        )
    if not settings.DOCUID_SITE_URL.startswith("https://"):
        problems.append(
            Error(
                "DOCUID_SITE_URL must be the site's https URL (WebAuthn origin, links sent to phones).",
                id="accounts.E004",
            )
        )
    return problems
