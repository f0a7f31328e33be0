# streamNixShellImage and buildNixShellImage: an image in which `docker run` enters a
# derivation's build environment as `nix-shell` does (the derivation's variables, its
# stdenv's setup sourced, the shell hook run, `buildDerivation` on PATH to build it).
# Takes nixpkgs' arguments; gives the arguments of the layered image that does it, which
# default.nix hands to streamLayeredImage or buildLayeredImage.
#
# The environment follows what Nix sets up for a build (the derivation's attributes as
# strings, passAsFile as files, the outputs' paths, the sandbox's /build and variables)
# and what nix-shell's rcfile does, so that the container behaves like `nix-shell drv`.
# Internal: default.nix serves the two functions.
{ stowage, system, helpers, packages }:

{
  # The derivation whose build environment the image enters.
  drv,
  name ? drv.name + "-env",
  tag ? null,
  # The user the container runs as (many builds refuse root).
  uid ? 1000,
  gid ? 1000,
  # $HOME; need not exist (nixpkgs' tests use "/homeless-shelter").
  homeDirectory ? "/build",
  # The shell (nix-shell's NIX_BUILD_SHELL); bash by default.
  shell ? null,
  # Run this in the environment in an interactive shell (nix-shell --command) …
  command ? null,
  # … or in a non-interactive one (nix-shell --run).
  run ? null,
}:
let
  strings = import ./strings.nix;
  stowageDerivation = import ./stowageDerivation.nix { inherit stowage; };
  fail = message: throw "stowage: streamNixShellImage: ${message}";

  shell' =
    if shell != null then shell
    else "${packages.bashInteractive or (fail "the default shell is bash: pass packages.bashInteractive to nix/lib, or pass shell")}/bin/bash";

  # Where Nix builds in its sandbox, and so where the build starts here.
  buildDir = "/build";
  storeDir = builtins.storeDir;

  # An attribute as Nix passes it to a builder: paths copied into the store, lists
  # joined by spaces, true as "1", false and null as "".
  asString = value:
    if builtins.isPath value then "${value}"
    else if builtins.isList value then toString (map asString value)
    else toString value;

  # A file holding `text` (passAsFile), made without a shell.
  textFile = attr: text:
    "${stowageDerivation { name = "pass-as-text-${attr}"; inherit system; command = "write-tree"; files.text = text; }}/text";

  attrs = drv.drvAttrs;
  passAsFile = attrs.passAsFile or [ ];
  drvEnv =
    builtins.listToAttrs (map
      (attr:
        let value = asString attrs.${attr}; in
        if builtins.elem attr passAsFile
        then { name = "${attr}Path"; value = textFile attr value; }
        else { name = attr; inherit value; })
      (builtins.attrNames attrs))
    # Each output's path, where the build will put it.
    // builtins.listToAttrs (map
      (output: { name = output; value = builtins.unsafeDiscardStringContext drv.${output}.outPath; })
      (drv.outputs or [ "out" ]));

  # `buildDerivation`: runs the derivation's builder with its arguments, as Nix would.
  builder = stowageDerivation {
    name = "build-derivation";
    inherit system;
    command = "write-tree";
    executables."bin/buildDerivation" = ''
      #!${shell'}
      exec ${strings.escapeShellArgs ([ (asString attrs.builder) ] ++ map asString (attrs.args or [ ]))}
    '';
  };

  staticPath = "${dirOf shell'}:${builder}/bin";

  # What nix-shell's rcfile does, written so that bash and POSIX shells both take it.
  rcfile = stowageDerivation {
    name = "nix-shell-rc";
    inherit system;
    command = "write-tree";
    files.rc = ''
      unset PATH
      dontAddDisableDepTrack=1
      [ -e "$stdenv/setup" ] && . "$stdenv/setup"
      PATH=${staticPath}:"$PATH"
      SHELL=${strings.escapeShellArg shell'}
      BASH=${strings.escapeShellArg shell'}
      set +e
      [ -n "$PS1" ] && [ -z "$NIX_SHELL_PRESERVE_PROMPT" ] && PS1='\n[nix-shell:\w]\$ '
      if command -v runHook >/dev/null 2>&1; then
        runHook shellHook
      fi
      unset NIX_ENFORCE_PURITY
      if command -v shopt >/dev/null 2>&1; then
        shopt -u nullglob
        shopt -s execfail
      fi
      ${if command != null then "${command}\nexit" else if run != null then "${run}\nexit" else ""}
    '';
  };

  # The sandbox's variables (Nix's local-derivation-goal), then the derivation's, then
  # the ones Nix always overrides.
  env = {
    SSL_CERT_FILE = "${packages.cacert or (fail "SSL_CERT_FILE needs a CA bundle: pass packages.cacert to nix/lib")}/etc/ssl/certs/ca-bundle.crt";
    PATH = staticPath;
    HOME = homeDirectory;
    NIX_STORE = storeDir;
    NIX_BUILD_CORES = "1";
  } // drvEnv // {
    NIX_BUILD_TOP = buildDir;
    TMPDIR = buildDir;
    TEMPDIR = buildDir;
    TMP = buildDir;
    TEMP = buildDir;
    PWD = buildDir;
    TERM = "xterm-256color";
  };
  ids = "${toString uid}:${toString gid}";
in
if attrs.__structuredAttrs or false then
  fail "the derivation ${drv.name} uses __structuredAttrs, whose environment a shell cannot be given this way"
else if command != null && run != null then
  fail "give command or run, not both"
else
{
  inherit name tag;
  contents = [
    helpers.binSh
    helpers.usrBinEnv
    # The build user, so that programs can look up its home directory.
    (helpers.fakeNss.override {
      extraPasswdLines = [ "nixbld:x:${ids}:Build user:${homeDirectory}:/noshell" ];
      extraGroupLines = [ "nixbld:!:${toString gid}:" ];
    })
  ];
  # A store the user can add build results to, and a build directory of theirs.
  fakeRootCommands = ''
    mkdir -p .${storeDir} ./nix/var/nix ./etc/nix .${buildDir}
    chmod a+w+t .${storeDir}
    chown -R ${ids} ./nix/var/nix ./etc/nix .${buildDir}
  '';
  config = {
    User = ids;
    # nix-shell: an interactive shell reading the rcfile, or the rcfile as a script.
    Cmd = if run == null then [ shell' "--rcfile" "${rcfile}/rc" ] else [ shell' "${rcfile}/rc" ];
    WorkingDir = buildDir;
    Env = map (n: "${n}=${env.${n}}") (builtins.attrNames env);
  };
}
