# Assertions of nix/lib/platform.nix, in pure Nix: evaluates to `true`, or throws naming
# the first row that failed.
#
#   nix-instantiate --eval --strict tests/nix/platform-tests.nix
#
# The expected values are written out here rather than read from the table, so a wrong
# row in the table is a failure, not a tautology. tests/tests/nix_files.rs runs this file.
let
  platform = import ../../nix/lib/platform.nix;

  # Nix system -> what the image config must say.
  expected = {
    "x86_64-linux" = { architecture = "amd64"; variant = null; };
    "i386-linux" = { architecture = "386"; variant = null; };
    "i486-linux" = { architecture = "386"; variant = null; };
    "i586-linux" = { architecture = "386"; variant = null; };
    "i686-linux" = { architecture = "386"; variant = null; };
    "aarch64-linux" = { architecture = "arm64"; variant = null; };
    "armv5tel-linux" = { architecture = "arm"; variant = "v5"; };
    "armv6l-linux" = { architecture = "arm"; variant = "v6"; };
    "armv7l-linux" = { architecture = "arm"; variant = "v7"; };
    "armv7a-linux" = { architecture = "arm"; variant = "v7"; };
    "powerpc64le-linux" = { architecture = "ppc64le"; variant = null; };
    "powerpc64-linux" = { architecture = "ppc64"; variant = null; };
    "riscv64-linux" = { architecture = "riscv64"; variant = null; };
    "s390x-linux" = { architecture = "s390x"; variant = null; };
    "loongarch64-linux" = { architecture = "loong64"; variant = null; };
    "mips-linux" = { architecture = "mips"; variant = null; };
    "mipsel-linux" = { architecture = "mipsle"; variant = null; };
    "mips64-linux" = { architecture = "mips64"; variant = null; };
    "mips64el-linux" = { architecture = "mips64le"; variant = null; };
  };

  # Systems that must be refused: CPUs Go has no port for, macOS, other kernels, and
  # strings that are not Nix systems at all.
  refused = [
    "sparc64-linux"
    "riscv32-linux"
    "powerpc-linux"
    "s390-linux"
    "m68k-linux"
    "microblaze-linux"
    "aarch64-darwin"
    "x86_64-darwin"
    "x86_64-freebsd"
    "wasm32-wasi"
    "x86_64"
    "x86_64-unknown-linux-gnu"
    ""
  ];

  darwin = [ "aarch64-darwin" "x86_64-darwin" ];
  notDarwin = [ "x86_64-linux" "aarch64-linux" "x86_64-freebsd" "darwin" "-darwin" "" ];

  known = [ "386" "amd64" "arm" "arm64" "loong64" "mips" "mipsle" "mips64" "mips64le" "ppc64" "ppc64le" "riscv64" "s390x" "wasm" ];
  unknown = [ "x86_64" "aarch64" "arm64/v8" "armhf" "i686" "AMD64" "" ];

  fail = what: throw "platform-tests: ${what}";

  checkRow = system:
    let
      want = expected.${system} // { os = "linux"; };
      got = platform.dockerPlatform system;
    in
    got == want
    || fail "dockerPlatform ${builtins.toJSON system}: expected ${builtins.toJSON want}, got ${builtins.toJSON got}";

  # deepSeq: a lazily thrown attribute must count as a refusal too.
  checkRefused = system:
    let r = builtins.tryEval (let p = platform.dockerPlatform system; in builtins.deepSeq p p);
    in !r.success || fail "dockerPlatform ${builtins.toJSON system} should throw, gave ${builtins.toJSON r.value}";

  checkAll = f: list: builtins.all (x: x) (map f list);
in
checkAll checkRow (builtins.attrNames expected)
&& checkAll checkRefused refused
&& checkAll (s: platform.isDarwin s || fail "isDarwin ${builtins.toJSON s} should be true") darwin
&& checkAll (s: !platform.isDarwin s || fail "isDarwin ${builtins.toJSON s} should be false") notDarwin
&& checkAll (a: platform.isKnownArchitecture a || fail "isKnownArchitecture ${builtins.toJSON a} should be true") known
&& checkAll (a: !platform.isKnownArchitecture a || fail "isKnownArchitecture ${builtins.toJSON a} should be false") unknown
# Every architecture the table produces is one an explicit `architecture` may name.
&& checkAll
  (s: platform.isKnownArchitecture expected.${s}.architecture || fail "the table gives ${expected.${s}.architecture}, which isKnownArchitecture refuses")
  (builtins.attrNames expected)
