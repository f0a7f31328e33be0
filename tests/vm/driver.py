"""Runs the VM test's script (tests/vm/docker-tools.nix) on this machine instead of in
NixOS VMs: each node is this machine, and its commands run here, against the Docker
engine and podman installed on it. What the NixOS test driver gives a script
(start_all, subtest, the machines' succeed and wait_for_unit) is stood in for here; the
engines are called as this machine needs them (containers without a network, podman
with runc), which the VMs would not need.

    python3 tests/vm/driver.py <test script>
"""

import contextlib
import re
import subprocess
import sys


class Machine:
    """A node of the test, played by this machine."""

    # How this machine runs each engine (see DESIGN.md: the engines here have no
    # network for containers, and podman needs runc).
    ENGINE_OPTIONS = {
        "docker": ("docker", "docker run --network=none"),
        "podman": ("podman --runtime runc", "podman --runtime runc run --network=none"
                   " --ulimit nofile=1024:1024 --ulimit nproc=1024:1024"),
    }

    def __init__(self, name):
        self.name = name

    def _local(self, command):
        engine, run = self.ENGINE_OPTIONS[self.name]
        command = re.sub(rf"\b{self.name} run\b", run, command)
        return re.sub(rf"\b{self.name} (?!--runtime)", engine + " ", command)

    def succeed(self, command):
        local = self._local(command)
        result = subprocess.run(["sh", "-c", local], capture_output=True, text=True)
        if result.returncode != 0:
            raise AssertionError(
                f"{self.name}: `{local}` exited with {result.returncode}:\n"
                f"{result.stdout}{result.stderr}")
        return result.stdout

    def wait_for_unit(self, unit):
        """The engines here are already running."""


@contextlib.contextmanager
def subtest(title):
    print(f"subtest: {title}", flush=True)
    yield


def main(script_path):
    with open(script_path, encoding="utf-8") as f:
        script = f.read()
    names = {"docker": Machine("docker"), "podman": Machine("podman"),
             "start_all": lambda: None, "subtest": subtest}
    exec(compile(script, script_path, "exec"), names)
    print("all subtests passed")


if __name__ == "__main__":
    main(sys.argv[1])
