"""Rank 0's view of a run: a progress bar (images/s, loss, ETA) and one line per epoch."""
from __future__ import annotations

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeRemainingColumn)


class TrainProgress:
    """Silent unless ``enabled`` (rank 0 with progress on); the bar only on a terminal."""

    def __init__(self, enabled: bool, total_steps: int, done_steps: int, main: bool = True):
        self.enabled, self.main = enabled, main
        # No markup: notes hold the user's paths, and rich read "[bold]" in a run folder's name
        # as a style (the path lost it) and "[/x]" as a tag closing nothing (MarkupError).
        self.console = Console(stderr=True, markup=False)
        self.bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} img/s  loss {task.fields[loss]}"),
            TimeRemainingColumn(), console=self.console, transient=True,
            disable=not (enabled and self.console.is_terminal))
        self.task = self.bar.add_task("train", total=total_steps, completed=done_steps,
                                      rate="-", loss="-")
        self.bar.start()

    def step(self, epoch: int, loss: float, images_per_s: float) -> None:
        self.bar.update(self.task, advance=1, description=f"epoch {epoch + 1}",
                        rate=f"{images_per_s:,.0f}", loss=f"{loss:.4f}")

    def epoch(self, record: dict, epochs: int) -> None:
        parts = [f"epoch {record['epoch']}/{epochs}", f"loss {record['loss']:.4f}"]
        if "top1" in record:
            parts.append(f"top-1 {record['top1']:.2%}")
        if "top5" in record:
            parts.append(f"top-5 {record['top5']:.2%}")
        parts += [f"{record['images_per_s']:,.0f} img/s", f"{record['seconds']:.1f} s",
                  f"lr {record['lr']:.2e}"]
        if "comm_bytes_per_step" in record:
            parts.append(f"gradients {record['comm_bytes_per_step'] / 1e6:.3f} MB/step")
        self.note("  ".join(parts))

    def note(self, message: str, always: bool = False) -> None:
        """Printed when enabled, or on rank 0 whatever the setting when ``always``."""
        if self.enabled or (always and self.main):
            self.console.print(message, highlight=False, soft_wrap=True)

    def close(self) -> None:
        self.bar.stop()
