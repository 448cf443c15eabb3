import factory

from accounts.models import User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    phone_number = factory.Sequence(lambda n: f"+1312555{2000 + n % 8000:04d}")
    name = factory.Faker("name")
    email = factory.LazyAttribute(lambda u: f"{u.name.split()[0].lower()}{u.phone_number[-4:]}@example.com")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # The manager normalises the phone number and gives end users no usable password.
        return model_class.objects.create_user(*args, **kwargs)


class StaffFactory(UserFactory):
    is_staff = True


# --- documents ---------------------------------------------------------------------


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "auth.Group"

    name = factory.Sequence(lambda n: f"team-{n}")


_document_counter = iter(range(1, 10**9))


def make_document(owner, *, name: str = "report.pdf", data: bytes | None = None, **fields):
    """A real uploaded document (through the upload service), with unique bytes unless `data` is given."""
    from django.core.files.base import ContentFile

    from documents import samples, services

    if data is None:
        data = samples.pdf_bytes(f"{name} #{next(_document_counter)}")
    return services.document_upload(acting_user=owner, file=ContentFile(data, name=name), name=name, **fields)
