# Checks of arguments at evaluation, where they are cheap, so a mistake that `docker load`
# (or the container, silently) would only meet after the build is named before it:
#   config  the image's runtime config: every key a field of Docker's and OCI's config,
#           of the right type (the table is image-config-fields.json, which the builder
#           reads too and checks again for confs that come from elsewhere)
#   perms   each rule an attribute set with an absolute image `path`
#   archive an image the builder reads as a docker-archive or stream script (fromImage,
#           mergeImages, imageIndex), not one of our OCI layouts
# Each returns its argument unchanged, or throws "stowage: <image>: <what>".
# Internal: not part of the scope.
let
  inherit (builtins.fromJSON (builtins.readFile ./image-config-fields.json)) fields;

  # Strings in Nix also come as paths and derivations (which toJSON writes as strings).
  isText = v: builtins.isString v || builtins.isPath v || (builtins.isAttrs v && v ? outPath);
  isTexts = v: builtins.isList v && builtins.all isText v;
  fits = {
    text = isText;
    command = v: isText v || isTexts v;
    list = isTexts;
    object = v: builtins.isAttrs v && !(v ? outPath);
    number = builtins.isInt;
    bool = builtins.isBool;
  };
  describe = {
    text = "a string";
    command = "a list of strings (or one string)";
    list = "a list of strings";
    object = "an attribute set";
    number = "an integer";
    bool = "true or false";
  };
  shown = v: if builtins.isFunction v then "a function" else builtins.toJSON v;

  # Edit distance of two strings, a swap of neighbours counting as one, as the builder
  # computes it for its "did you mean" hint.
  distance = a: b:
    let
      chars = s: builtins.genList (i: builtins.substring i 1 s) (builtins.stringLength s);
      x = chars a;
      y = chars b;
      at = l: i: builtins.elemAt l i;
      min = p: q: if p < q then p else q;
      # Rows of the table; each row needs the two before it for the swap.
      step = { before, row }: i:
        let
          next = builtins.foldl'
            (acc: j:
              let
                cost = if at x (i - 1) == at y (j - 1) then 0 else 1;
                plain = min (min (at row j + 1) (builtins.elemAt acc (j - 1) + 1)) (at row (j - 1) + cost);
                swapped =
                  if i > 1 && j > 1 && at x (i - 1) == at y (j - 2) && at x (i - 2) == at y (j - 1)
                  then min plain (at before (j - 2) + 1)
                  else plain;
              in
              acc ++ [ swapped ])
            [ i ]
            (builtins.genList (j: j + 1) (builtins.length y));
        in
        { before = row; row = next; };
      first = builtins.genList (j: j) (builtins.length y + 1);
      last = builtins.foldl' step { before = first; row = first; } (builtins.genList (i: i + 1) (builtins.length x));
    in
    at last.row (builtins.length y);

  lower = (import ./strings.nix).toLower;

  unknownField = key:
    let
      scored = map (name: { inherit name; d = distance (lower key) (lower name); }) (builtins.attrNames fields);
      best = builtins.foldl' (b: c: if b == null || c.d < b.d then c else b) null scored;
    in
    if best != null && best.d <= 2 then
      "config.${key} is not a field of an image config; did you mean ${best.name}? (an unknown field is ignored by every engine)"
    else
      "config.${key} is not a field of an image config (an unknown field is ignored by every engine); the fields are ${builtins.concatStringsSep ", " (builtins.attrNames fields)}";

  fieldProblem = config: key:
    let
      value = config.${key};
      kind = fields.${key} or null;
    in
    if value == null then null
    else if kind == null then unknownField key
    else if !(fits.${kind} value) then "config.${key} must be ${describe.${kind}}, not ${shown value}"
    else if key == "Labels" && !(builtins.all isText (builtins.attrValues value)) then
      "config.Labels values must be strings, not ${shown value}"
    else null;

  firstOf = problems: builtins.foldl' (found: p: if found == null then p else found) null problems;

  permsKeys = [ "path" "regex" "mode" "uid" "gid" "uname" "gname" ];
  permsProblem = index: rule:
    let
      at = "perms[${toString index}]";
      unknown = builtins.filter (k: !(builtins.elem k permsKeys)) (builtins.attrNames (if builtins.isAttrs rule then rule else { }));
    in
    if !(builtins.isAttrs rule) then
      "${at} must be an attribute set { path; regex?; mode?; uid?; gid?; uname?; gname?; }"
    else if unknown != [ ] then
      "${at}.${builtins.head unknown} is not a field of a perms rule; the fields are ${builtins.concatStringsSep ", " permsKeys}"
    else if !(rule ? path) || !(builtins.isString rule.path) then
      "${at}.path must be given, as an absolute image path such as \"/data\""
    else if builtins.substring 0 1 rule.path != "/" then
      "${at}.path: \"${rule.path}\" must be an absolute image path such as \"/data\""
    else null;

  orThrow = name: problem: value:
    if problem == null then value else throw "stowage: ${name}: ${problem}";
in
{
  config = name: config:
    if config == null then config
    else if !(builtins.isAttrs config) then throw "stowage: ${name}: config must be an attribute set, not ${shown config}"
    else orThrow name (firstOf (map (fieldProblem config) (builtins.attrNames config))) config;

  archive = name: what: image:
    let format = if builtins.isAttrs image then image.imageFormat or "docker" else "docker";
    in
    if format == "docker" then image
    else throw "stowage: ${name}: ${what} is an OCI layout (format = ${builtins.toJSON format}), which stowage does not read; give that image with format = \"docker\" (the default)";

  perms = name: perms:
    if !(builtins.isList perms) then throw "stowage: ${name}: perms must be a list of rules, not ${shown perms}"
    else orThrow name (firstOf (builtins.genList (i: permsProblem i (builtins.elemAt perms i)) (builtins.length perms))) perms;
}
