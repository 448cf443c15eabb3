"""Progress on a terminal: one self-rewriting line on a TTY, a line per stage otherwise (logs, CI)."""

import time


def _human(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"


class TerminalProgress:
    def __init__(self, stream):
        self.stream = stream
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.stage = None
        self.last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != self.stage:
            if self.tty and self.stage is not None:
                self.stream.write("\n")
            self.stage, self.last = stage, 0.0
            if not self.tty:
                self.stream.write(f"  {stage}...\n")
        if not self.tty or now - self.last < 0.2:
            return
        self.last = now
        percent = f" {100 * done / total:5.1f}%" if total else ""
        self.stream.write(f"\r  {stage}:{percent} {_human(done)}" + (f" of {_human(total)}" if total else "") + "   ")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty and self.stage is not None:
            self.stream.write("\n")
