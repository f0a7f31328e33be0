"""Runs the VM test's script (tests/vm/docker-tools.nix) on this machine instead of in
NixOS VMs: each node is this machine, and its commands run here, against the Docker
engine and podman installed on it. What the NixOS test driver gives a script
(start_all, subtest, the machines' succeed and wait_for_unit) is stood in for here; the
engines are called as this machine needs them (containers without a network, podman
with runc), which the VMs would not need.

    python3 tests/vm/driver.py <test script>
"""

import atexit
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request


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
        """The engines here are already running; the registry is started on first use."""
        if unit == "docker-registry.service":
            Registry.ensure()


class Registry:
    """The nodes' registry on localhost:5000 (services.dockerRegistry): Debian's
    docker-registry, serving a temporary directory until the script ends (and at most
    ten minutes)."""
    started = None

    @classmethod
    def ensure(cls):
        if cls.started:
            return
        storage = tempfile.mkdtemp(prefix="stowage-vm-registry-")
        config = os.path.join(storage, "config.yml")
        with open(config, "w", encoding="utf-8") as f:
            f.write("version: 0.1\nlog: {level: error}\n"
                    f"storage: {{filesystem: {{rootdirectory: {storage}/data}}}}\n"
                    "http: {addr: 127.0.0.1:5000}\n")
        cls.started = subprocess.Popen(["timeout", "600", "docker-registry", "serve", config],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        atexit.register(cls.started.kill)
        for _ in range(100):
            try:
                urllib.request.urlopen("http://127.0.0.1:5000/v2/", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("docker-registry did not answer on 127.0.0.1:5000")


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
