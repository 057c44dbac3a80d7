"""`cnnspace spec`: write the spec of a zoo model or family point as YAML."""
from __future__ import annotations

import sys

from ..spec import dumps, save
from ._checkpoints import load_spec
from ._common import CHECKPOINT_HELP, add_model_args


def register(sub) -> None:
    p = sub.add_parser("spec", help="write a model's spec as YAML (every command reads it back)")
    add_model_args(p, help=CHECKPOINT_HELP)
    p.add_argument("-o", "--output", metavar="FILE", help="write here (.yaml or .json) instead of stdout")
    p.set_defaults(run=run)


def run(args) -> int:
    spec = load_spec(args.model, args.settings, args.input)
    if args.output:
        save(spec, args.output)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(dumps(spec))
    return 0
