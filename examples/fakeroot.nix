# Ownership and modes without root, fakeroot or a VM: fakeRootCommands' chown is
# recorded into the layer (numeric owners), `perms` sets a mode declaratively, and
# enableFakechroot runs the commands chrooted into the image, so `/etc` and `/data`
# are the image's own.
#
#   nix-build examples/fakeroot.nix --option sandbox true --option substituters ''
#   docker load -i result && docker run --rm --network=none fakeroot:latest
#
# prints the user (app, 12345), the owners and modes of /data, and the secret, which
# only app can read.
#
# Needs the static stowage binary (scripts/build-static builds it).
{
  stowageBinary ? import ../nix/static-binary.nix,
  busybox ? /usr/bin/busybox,
}:
let
  inherit (import ../nix/test-support.nix { inherit stowageBinary busybox; }) lib tools;
in
lib.buildLayeredImage {
  name = "fakeroot";
  tag = "latest";
  contents = [ tools ];
  enableFakechroot = true;
  fakeRootCommands = ''
    mkdir -p /etc /data
    cat > /etc/passwd <<'EOF'
    root:x:0:0:root:/root:/bin/sh
    app:x:12345:12345:app:/data:/bin/sh
    EOF
    cat > /etc/group <<'EOF'
    root:x:0:
    app:x:12345:
    EOF
    echo 'for app only' > /data/secret
    echo 'hello from /data' > /data/greeting
    chown -R 12345:12345 /data
  '';
  # Applied when the layer is packed, after the commands.
  perms = [
    { path = "/data/secret"; mode = "0600"; }
  ];
  config = {
    User = "app";
    WorkingDir = "/data";
    Cmd = [
      "/bin/sh"
      "-c"
      "id; stat -c '%U:%G %a %n' /data /data/greeting /data/secret; cat /data/secret"
    ];
  };
}
