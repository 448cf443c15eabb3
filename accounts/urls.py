from django.urls import path

from accounts.views import approve, enroll, login, profile

app_name = "accounts"

urlpatterns = [
    path("login/", login.login_view, name="login"),
    path("login/wait/<uuid:request_id>/", login.wait_view, name="wait"),
    path("login/status/<uuid:request_id>", login.status_view, name="status"),
    path("login/passkey/options", login.passkey_options_view, name="passkey-options"),
    path("login/passkey/complete", login.passkey_complete_view, name="passkey-complete"),
    path("logout/", login.logout_view, name="logout"),
    path("approve/<str:token>/", approve.approve_view, name="approve"),
    path("approve/<str:token>/code", approve.approve_code_view, name="approve-code"),
    path("approve/<str:token>/deny", approve.approve_deny_view, name="approve-deny"),
    path("approve/<str:token>/fraud", approve.approve_fraud_view, name="approve-fraud"),
    path("approve/<str:token>/options", approve.approve_options_view, name="approve-options"),
    path("approve/<str:token>/verify", approve.approve_verify_view, name="approve-verify"),
    path("approve/<str:token>/push", approve.approve_push_view, name="approve-push"),
    path("sw.js", approve.service_worker_view, name="service-worker"),
    path("enroll/done/", enroll.enrolled_view, name="enrolled"),
    path("enroll/<str:token>/", enroll.enroll_view, name="enroll"),
    path("enroll/<str:token>/options", enroll.enroll_options_view, name="enroll-options"),
    path("enroll/<str:token>/complete", enroll.enroll_complete_view, name="enroll-complete"),
    path("profile/", profile.profile_view, name="profile"),
    path("profile/devices/<int:device_id>/remove", profile.device_remove_view, name="device-remove"),
    path("profile/devices/<int:device_id>/rename", profile.device_rename_view, name="device-rename"),
    path("profile/sessions/<int:session_id>/revoke", profile.session_revoke_view, name="session-revoke"),
    path("profile/api-tokens/<int:token_id>/revoke", profile.api_token_revoke_view, name="api-token-revoke"),
    path("profile/sign-out-everywhere", profile.sign_out_everywhere_view, name="sign-out-everywhere"),
]
