"""The checked-in gRPC code in services/v1 must be what protos/ generates."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_code_has_not_drifted_from_the_proto_files(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "protos" / "generate.py"), "--out", str(tmp_path)], check=True)
    generated = sorted(p.name for p in tmp_path.iterdir())
    assert generated == ["learner_pb2.py", "learner_pb2.pyi", "learner_pb2_grpc.py"]
    for name in generated:
        checked_in = (ROOT / "services" / "v1" / name).read_text()
        assert checked_in == (tmp_path / name).read_text(), f"services/v1/{name} is stale: run `make protos`"
