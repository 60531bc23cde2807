"""`make bench`'s last step: one table per database of every figure the benchmarks recorded (BENCH_RESULTS),
with its baseline, the ratio, the target and whether it is met."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand

from sending.management.commands._bench import TARGETS


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


class Command(BaseCommand):
    help = "Print the summary table of a make bench run's recorded figures."

    def add_arguments(self, parser):
        parser.add_argument("results", help="The JSON-lines file the benchmarks wrote (BENCH_RESULTS).")

    def handle(self, *args, **options):
        path = Path(options["results"])
        rows = (
            [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            if path.exists()
            else []
        )
        if not rows:
            self.stdout.write("No figures were recorded.")
            return
        order = list(TARGETS)
        for database in dict.fromkeys(row["database"] for row in rows):
            self.stdout.write(f"\n== Summary: {database}")
            table = [("figure", "value", "baseline", "ratio", "target", "met")]
            met_all = True
            for row in sorted(
                (r for r in rows if r["database"] == database), key=lambda r: order.index(r["key"])
            ):
                target = TARGETS[row["key"]]
                value, baseline = row["value"], row["baseline"]
                ratio = value / baseline if baseline else None
                shown_target, met = "—", "—"
                if target.kind == "ratio" and ratio is not None:
                    shown_target, met = (
                        f">= {target.threshold:.2f}x",
                        "yes" if ratio >= target.threshold else "no",
                    )
                elif target.kind == "max":
                    shown_target = f"<= {_number(target.threshold)} {row['unit']}"
                    met = "yes" if value <= target.threshold else "no"
                met_all = met_all and met != "no"
                table.append((
                    target.name,
                    f"{_number(value)} {row['unit']}",
                    f"{_number(baseline)} ({row['baseline_name']})" if baseline else "—",
                    f"{ratio:.2f}" if ratio is not None else "—",
                    shown_target,
                    met,
                ))  # fmt: skip
            widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
            for number, line in enumerate(table):
                self.stdout.write(
                    "  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
                )
                if number == 0:
                    self.stdout.write("  " + "  ".join("-" * width for width in widths))
            self.stdout.write(f"  every target met: {'yes' if met_all else 'no'}")
