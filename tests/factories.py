import factory

from accounts.models import User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    phone_number = factory.Sequence(lambda n: f"+1312555{2000 + n % 8000:04d}")
    name = factory.Faker("name")
    email = factory.LazyAttribute(lambda u: f"{u.name.split()[0].lower()}{u.phone_number[-4:]}@example.com")
    password = factory.PostGenerationMethodCall("set_unusable_password")


class StaffFactory(UserFactory):
    is_staff = True
