"""``python -m mnistref.vectors --write DIR`` (or ``--refresh DIR``): write the golden vectors."""

from __future__ import annotations

import sys

from mnistref.vectors._files import GENERATOR, write


def _main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] in ("--write", "--refresh"):
        for path in write(argv[1], refresh=argv[0] == "--refresh"):
            print(f"wrote {path} ({path.stat().st_size} bytes)")
        return 0
    print(
        f"usage: {GENERATOR.replace('spec/vectors', 'DIR')}\n"
        f"       {GENERATOR.replace('--write spec/vectors', '--refresh DIR')}  "
        "(rewrite the files from DIR's .npz arrays)",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main(sys.argv[1:]))
