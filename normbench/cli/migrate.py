"""`normbench migrate DIR...`: bring run directories written by earlier normbench versions up to date
(normbench/rundir/migrate.py says what changes). Exit 0 when every run is current, 1 if some could not be
read, 2 on a bad argument."""

import argparse
import sys
from pathlib import Path

from normbench.errors import ConfigError
from normbench.rundir.migrate import migrate_tree


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="normbench migrate", description=__doc__.split("(")[0].strip(),
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("dirs", nargs="+", type=Path, help="results directories to migrate (searched recursively)")
    parser.add_argument("--dry-run", action="store_true", help="say what would change, write nothing")
    args = parser.parse_args(argv)
    try:
        results = [m for root in args.dirs for m in migrate_tree(root, args.dry_run)]
    except ConfigError as error:
        print(f"normbench migrate: error: {error}", file=sys.stderr)
        return 2
    for migration in results:
        if migration.outcome != "current":
            print(f"{migration.outcome}: {migration.run_dir} {migration.detail}".rstrip())
    counts = {outcome: sum(m.outcome == outcome for m in results) for outcome in ("migrated", "current", "unreadable")}
    verb = "would migrate" if args.dry_run else "migrated"
    print(f"normbench migrate: {verb} {counts['migrated']}, already current {counts['current']}, "
          f"unreadable {counts['unreadable']} (of {len(results)} run directories)")
    return 1 if counts["unreadable"] else 0
