from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    url: str
    tag: str = ""


class NotifierError(Exception):
    """A backend could not deliver; the message never contains the link or the phone number."""
