# Images for tests/tests/push.rs (`stowage push` and the `.push` passthru): images that
# print what they are, two that differ in one store path, one with a large
# incompressible layer, the same image for two architectures, and archives of
# buildLayeredImage and buildImage.
#
#   nix-build tests/nix/push.nix -A changed-a --option sandbox true
{
  stowageBinary ? import ../../nix/static-binary.nix,
  busybox ? /usr/bin/busybox,
  system ? builtins.currentSystem,
}:
let
  support = import ../../nix/test-support.nix { inherit stowageBinary busybox system; };
  inherit (support) lib tools;

  # A store path of one file, `note`, holding `text`: changing the text changes this
  # one path and nothing else.
  note = text: derivation {
    name = "stowage-push-note";
    inherit system text;
    builder = support.busybox;
    args = [ "sh" "-c" "${support.busybox} mkdir $out && echo \"$text\" > $out/note" ];
  };

  # Busybox, and a Cmd that says `words`.
  says = name: words: {
    inherit name;
    tag = "v1";
    contents = [ tools ];
    config.Cmd = [ "${tools}/bin/busybox" "echo" words ];
  };

  # Busybox and a note, the Cmd printing the note.
  noted = text:
    let n = note text;
    in lib.streamLayeredImage {
      name = "stowage-push/changed";
      tag = "v1";
      contents = [ tools n ];
      config.Cmd = [ "${tools}/bin/busybox" "cat" "${n}/note" ];
    };

  # 4 MiB from /dev/urandom: a layer no compressor shrinks. Built once per store.
  noise = derivation {
    name = "stowage-push-noise";
    inherit system;
    builder = support.busybox;
    args = [ "sh" "-c" "${support.busybox} mkdir $out && ${support.busybox} head -c 4194304 /dev/urandom > $out/noise" ];
  };

  # The same image declared for another architecture.
  platform = architecture: lib.streamLayeredImage {
    name = "stowage-push/multi";
    tag = architecture;
    inherit architecture;
    contents = [ tools ];
    config.Cmd = [ "${tools}/bin/busybox" "echo" "pushed for ${architecture}" ];
  };
in
{
  stream = lib.streamLayeredImage (says "stowage-push/hello" "pushed by stowage");
  changed-a = noted "the first note";
  changed-b = noted "the second note";
  big = lib.streamLayeredImage {
    name = "stowage-push/big";
    tag = "v1";
    contents = [ noise ];
  };
  amd64 = platform "amd64";
  arm64 = platform "arm64";
  # nixpkgs' default compressor, gz.
  layered-gz = lib.buildLayeredImage (says "stowage-push/layered" "pushed from a gzip archive");
  build-image = lib.buildImage {
    name = "stowage-push/build-image";
    tag = "v1";
    copyToRoot = tools;
    config.Cmd = [ "/bin/echo" "pushed from a buildImage archive" ];
  };
}
