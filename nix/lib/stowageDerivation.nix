# Internal: a derivation whose builder is `stowage nix <command>`, reading its attributes
# from .attrs.json (__structuredAttrs). Every derivation of the library is one of these:
# no shell runs unless the user's commands need one.
{ stowage }:

{ name, system, command, ... }@attrs:
derivation (builtins.removeAttrs attrs [ "command" ] // {
  builder = "${stowage}/bin/stowage";
  args = [ "nix" command ];
  __structuredAttrs = true;
})
