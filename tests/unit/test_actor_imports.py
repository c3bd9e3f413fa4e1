"""Actors must not need TensorFlow: importing and starting the actor side never loads it."""

import subprocess
import sys


def test_the_actor_side_never_imports_tensorflow():
    code = (
        "import sys\n"
        "import seedrl.cli, seedrl.actor.loop, seedrl.envs.batch\n"
        "from seedrl.envs.batch import EnvBatch\n"
        "EnvBatch.make('gym:CartPole-v1', 2, seed=0).reset()\n"
        "seedrl.cli.build_parser()\n"
        "print('tensorflow' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
