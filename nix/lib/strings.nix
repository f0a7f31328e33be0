# String helpers the library needs and builtins lack. Internal: not part of the scope.
let
  # A word for a POSIX shell, quoted so that nothing in it is interpreted.
  escapeShellArg = text: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] text + "'";
  upper = [ "A" "B" "C" "D" "E" "F" "G" "H" "I" "J" "K" "L" "M" "N" "O" "P" "Q" "R" "S" "T" "U" "V" "W" "X" "Y" "Z" ];
  lower = [ "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o" "p" "q" "r" "s" "t" "u" "v" "w" "x" "y" "z" ];
in
{
  # ASCII lower-casing: image names are lower-case (Docker refuses upper case).
  toLower = builtins.replaceStrings upper lower;

  # The 32-character hash part of a store path: /nix/store/<hash>-<name> -> <hash>.
  storeHashPart = path: builtins.substring 0 32 (baseNameOf path);

  inherit escapeShellArg;

  # Words for a POSIX shell, each quoted, separated by spaces.
  escapeShellArgs = words: builtins.concatStringsSep " " (map escapeShellArg words);
}
