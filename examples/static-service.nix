# A static-binary service: busybox's httpd serving one page as an unprivileged user.
# Nothing is in `contents`: the Cmd's store path brings busybox (and only it) into the
# image; extraCommands writes the page, fakeRootCommands gives it to the service's user.
#
#   nix-build examples/static-service.nix --option sandbox true --option substituters ''
#   docker load -i result
#   docker run --rm -d --name static-service -p 8080:8080 static-service:1.0
#   wget -qO- http://127.0.0.1:8080/
#
# Without container networking (`--network=none`), ask from inside the container, with
# the busybox of the Cmd (`docker inspect static-service:1.0` shows its store path):
#   docker exec static-service /nix/store/<hash>-busybox-tools/bin/wget -qO- http://127.0.0.1:8080/
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
  name = "static-service";
  tag = "1.0";
  extraCommands = ''
    mkdir -p srv/www tmp
    chmod 1777 tmp
    cat > srv/www/index.html <<'EOF'
    <!doctype html>
    <title>static-service</title>
    <p>Served by busybox httpd from a stowage image.</p>
    EOF
  '';
  # Runs after extraCommands; the ownership is recorded in the layer, no root needed.
  fakeRootCommands = ''
    chown -R 1000:1000 srv
  '';
  config = {
    Cmd = [ "${tools}/bin/httpd" "-f" "-v" "-p" "8080" "-h" "/srv/www" ];
    ExposedPorts."8080/tcp" = { };
    User = "1000:1000";
    WorkingDir = "/srv";
    Labels = {
      "org.opencontainers.image.title" = "static-service";
      "org.opencontainers.image.description" = "busybox httpd serving /srv/www";
    };
  };
}
