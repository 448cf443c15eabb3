"""Demo data for `make run`: the API contract's demo numbers, a staff user, their documents.

Only meaningful with the simulator provider, which approves, denies or ignores
these numbers; every step is idempotent.
"""

from accounts.models import User
from documents.demo import demo_documents_ensure

DEMO_USERS = [
    # (phone, name, email, what the simulator does)
    ("+12025550100", "Ada Approve", "ada@example.com", "approves after ~2 s"),
    ("+12025550101", "Dan Deny", "dan@example.com", "denies"),
    ("+12025550102", "Tim Timeout", "tim@example.com", "never answers"),
]
DEMO_STAFF_PHONE = "+12025550199"


def demo_users_ensure() -> list[User]:
    users = []
    for phone, name, email, _ in DEMO_USERS:
        user = User.objects.filter(phone_number=phone).first() or User.objects.create_user(
            phone, name=name, email=email
        )
        users.append(user)
    if not User.objects.filter(phone_number=DEMO_STAFF_PHONE).exists():
        User.objects.create_user(DEMO_STAFF_PHONE, name="Sam Support", email="support@example.com", is_staff=True)
    return users


def demo_data_load() -> list[str]:
    users = demo_users_ensure()
    lines = [
        f"{user.name}: {user.phone_number} — the simulator {what}"
        for user, (*_, what) in zip(users, DEMO_USERS, strict=True)
    ]
    count = demo_documents_ensure(users=users)
    lines.append(f"{count} demo documents with grants and a share")
    return lines
