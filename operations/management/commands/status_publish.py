from django.core.management.base import BaseCommand

from operations.services.status import status_page_publish


class Command(BaseCommand):
    help = "Publish the status page to the var dir (nginx serves it when DocuID does not answer)."

    def handle(self, *args, **options):
        path = status_page_publish()
        if path is None:
            self.stderr.write("The status page could not be published (see the log); the last one stays.")
        else:
            self.stdout.write(f"Status page published to {path}.")
