# The `format` argument of the image functions: what the result is, and what the
# builder is told. Internal: not part of the scope.
#   "docker"       a docker-archive, compressed as a whole per `compressor` (the default:
#                  `docker load -i result`)
#   "oci"          an OCI image layout directory (`skopeo copy oci:result:NAME:TAG …`,
#                  `umoci unpack`), each layer compressed per `compressor`
#   "oci-archive"  that layout as one tar (`podman load -i result`)
# Gives the suffix of the result's name and the attributes of the builder's derivation:
# none for "docker", so docker-archives keep the derivations (and store paths) they had.
name: format: compressor:
let
  # Checked for every format: it also says how an OCI layout's layers are compressed.
  extension = import ./compression.nix name compressor;
  formats = {
    docker = { suffix = extension; attrs = { }; };
    oci = { suffix = "-oci"; attrs.format = "oci-dir"; };
    oci-archive = { suffix = "-oci.tar"; attrs.format = "oci-archive"; };
  };
  fail = throw "stowage: ${name}: the format argument ${builtins.toJSON format} is unknown; use \"docker\" (a docker-archive), \"oci\" (an OCI layout directory) or \"oci-archive\" (its tar)";
in
if builtins.isString format && formats ? ${format} then
  builtins.seq extension formats.${format}
else
  fail
