"""Generate the Python gRPC code for `protos/seedrl/v1/*.proto` into `services/v1/`.

The import package `seedrl` is the `services/` folder, so `seedrl/v1/*_pb2.py` lands
in `services/v1/`. `tests/unit/test_protocol_codegen.py` regenerates into a temporary
folder and fails when the checked-in code has drifted from the `.proto` files.

Usage: python protos/generate.py [--out DIR]   (DIR defaults to services/v1)
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parent
DEFAULT_OUT = PROTO_ROOT.parent / "services" / "v1"
PACKAGE_DIR = Path("seedrl") / "v1"


def generate(out_dir: Path) -> list[Path]:
    """Run protoc (from grpcio-tools) and write the generated modules into `out_dir`."""
    from grpc_tools import protoc  # dev dependency: only needed to regenerate

    protos = sorted((PROTO_ROOT / PACKAGE_DIR).glob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "protoc",
            f"-I{PROTO_ROOT}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            *(str(p) for p in protos),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed: {' '.join(args)}")
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for generated in sorted((Path(tmp) / PACKAGE_DIR).iterdir()):
            target = out_dir / generated.name
            shutil.copyfile(generated, target)
            written.append(target)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    for path in generate(parser.parse_args().out):
        print(path)


if __name__ == "__main__":
    main()
