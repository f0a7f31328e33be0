# A NixOS VM test of stowage's dockerTools, for machines with nixpkgs and KVM: the images
# of images.nix loaded and run by Docker and by podman, one subtest per function.
#
#   nix build .#checks.x86_64-linux.vm-docker-tools      (the flake, with real nixpkgs)
#   nix-build tests/vm/docker-tools.nix --arg pkgs 'import <nixpkgs> { overlays = [ (import ./nix/overlay.nix) ]; }'
#
# Without nixpkgs (as in this repository's CI) tests/vm/stand-in.nix evaluates it with a
# runNixOSTest that checks its shape and builds every image it names, and
# tests/tests/vm.rs parses its test script as Python.
{ pkgs }:
let
  images = import ./images.nix { inherit pkgs; };
in
pkgs.testers.runNixOSTest {
  name = "stowage-docker-tools";
  nodes = {
    # Each node also runs a registry on localhost:5000, for imageIndex's push.
    docker = {
      virtualisation.docker.enable = true;
      virtualisation.diskSize = 3072;
      services.dockerRegistry.enable = true;
    };
    podman = {
      virtualisation.podman.enable = true;
      virtualisation.diskSize = 3072;
      services.dockerRegistry.enable = true;
    };
  };
  testScript = ''
    start_all()
    machines = {"docker": docker, "podman": podman}

    def load(engine, archive):
        machines[engine].succeed(f"{engine} load --input={archive}")

    def has_nix_db(engine, image):
        machines[engine].succeed(f"{engine} run --rm {image} test -s /nix/var/nix/db/db.sqlite")

    def greets(engine, image, *args):
        out = machines[engine].succeed(f"{engine} run --rm {image} {' '.join(args)}")
        assert "Hello, world!" in out, f"{engine} {image}: {out!r}"

    for engine, machine in machines.items():
        machine.wait_for_unit("multi-user.target")
        if engine == "docker":
            machine.wait_for_unit("sockets.target")

        with subtest(f"{engine}: buildLayeredImage"):
            load(engine, "${images.layered}")
            greets(engine, "stowage-vm/layered:latest")

        with subtest(f"{engine}: streamLayeredImage"):
            machine.succeed(f"${images.streamed} | {engine} load")
            greets(engine, "stowage-vm/streamed:latest")

        with subtest(f"{engine}: buildLayeredImageWithNixDb"):
            load(engine, "${images.layeredWithNixDb}")
            has_nix_db(engine, "stowage-vm/layered-nix-db:latest")

        with subtest(f"{engine}: buildImage"):
            load(engine, "${images.image}")
            greets(engine, "stowage-vm/image:latest")

        with subtest(f"{engine}: buildImageWithNixDb"):
            load(engine, "${images.imageWithNixDb}")
            has_nix_db(engine, "stowage-vm/image-nix-db:latest")

        with subtest(f"{engine}: buildImage with runAsRoot and shadowSetup"):
            load(engine, "${images.runAsRoot}")
            out = machine.succeed(f"{engine} run --rm stowage-vm/run-as-root:latest")
            assert out.startswith("written as root\nroot:x:0:0:"), out

        with subtest(f"{engine}: exportImage"):
            machine.succeed(f"{engine} import ${images.exported} stowage-vm/exported:latest")
            greets(engine, "stowage-vm/exported:latest", "/bin/hello")

        with subtest(f"{engine}: mergeImages"):
            machine.succeed(f"{engine} rmi stowage-vm/layered:latest stowage-vm/image:latest")
            load(engine, "${images.merged}")
            greets(engine, "stowage-vm/layered:latest")
            greets(engine, "stowage-vm/image:latest")

        with subtest(f"{engine}: binSh, usrBinEnv, caCertificates, fakeNss"):
            load(engine, "${images.helpers}")
            out = machine.succeed(f"{engine} run --rm stowage-vm/helpers:latest")
            assert out.strip() == "65534", out

        with subtest(f"{engine}: streamNixShellImage"):
            machine.succeed(f"${images.nixShell} | {engine} load")
            greets(engine, "stowage-vm/nix-shell:latest")

        with subtest(f"{engine}: buildNixShellImage"):
            load(engine, "${images.nixShellArchive}")
            greets(engine, "stowage-vm/nix-shell-archive:latest")

        with subtest(f"{engine}: imageIndex pushed, pulled for this platform"):
            machine.wait_for_unit("docker-registry.service")
            reference = "localhost:5000/stowage-vm/index:latest"
            machine.succeed(
                f"STOWAGE_CACHE_DIR=$(mktemp -d) ${images.index.push}/bin/push-index"
                f" docker://{reference} --format docker")
            insecure = "--tls-verify=false " if engine == "podman" else ""
            machine.succeed(f"{engine} pull {insecure}{reference}")
            greets(engine, reference)
  '';
}
