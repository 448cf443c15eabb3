from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.services.api_tokens import api_client_create


class Command(BaseCommand):
    help = "Register an API client (e.g. the Office add-in) and print its x-api-key once."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Who the client is, e.g. 'Office add-in'.")
        parser.add_argument(
            "--origin",
            action="append",
            default=[],
            help="A browser origin allowed to call the API with credentials (repeatable), e.g. https://addin.example.com",
        )

    def handle(self, *args, name, origin, **options):
        try:
            client, key = api_client_create(name=name, origins=origin)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"API client {client.name!r} created. Its key is shown only now; store it safely:")
        self.stdout.write(key)
