# The file extension of an archive compressed with `compressor` ("none", "gz" or
# "zstd"), as nixpkgs names its image outputs. Internal: not part of the scope.
name: compressor:
{
  none = ".tar";
  gz = ".tar.gz";
  zstd = ".tar.zst";
}.${compressor}
  or (throw "stowage: ${name}: compressor ${builtins.toJSON compressor} is unknown; use \"none\", \"gz\" or \"zstd\"")
