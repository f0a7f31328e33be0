//! Tests of layering pipelines: nixpkgs' own pipe tests, each operator, the reasons
//! given for each path, and the error messages.

use super::parse::OPERATORS;
use super::*;
use crate::layering::test_graphs::{all, graph, render, store_path};
use serde_json::json;

/// A test store path as a JSON-ready string (see [`store_path`]).
fn sp(hash: char, name: &str) -> String {
    store_path(hash, name).display().to_string()
}

/// Plans `pipeline` over the whole of `g` and renders it.
fn run(g: &Graph, pipeline: Json) -> String {
    render(g, &plan(g, &all(g), &pipeline).unwrap())
}

/// The error `pipeline` gives over `g`.
fn error(g: &Graph, pipeline: Json) -> String {
    plan(g, &all(g), &pipeline).unwrap_err()
}

/// nixpkgs' pipe_test graph: Root1→A, A→B, A→C, B→D, B→E, E→F, B→G, Root2→B,
/// Root3→C (E, F and G have hash characters f, g and h: there is no 'e' in nixbase32).
fn nixpkgs_pipe_graph() -> Graph {
    graph(&[
        ('1', "Root1", 7, "a"),
        ('2', "Root2", 8, "b"),
        ('3', "Root3", 9, "c"),
        ('a', "A", 0, "bc"),
        ('b', "B", 1, "dfh"),
        ('c', "C", 2, ""),
        ('d', "D", 3, ""),
        ('f', "E", 4, "g"),
        ('g', "F", 5, ""),
        ('h', "G", 6, ""),
    ])
}

/// nixpkgs' pipe_test `test_1`: split, subcomponent, popularity, flatten, map, limit.
#[test]
fn nixpkgs_pipe_test_1() {
    let g = nixpkgs_pipe_graph();
    let pipeline = json!([
        ["split_paths", [sp('b', "B")]],
        [
            "over",
            "main",
            [
                "pipe",
                [
                    ["subcomponent_in", [sp('b', "B")]],
                    ["over", "rest", ["popularity_contest"]]
                ]
            ]
        ],
        ["flatten"],
        ["map", ["remove_paths", sp('3', "Root3")]],
        ["limit_layers", 5]
    ]);
    // nixpkgs expects [B], [F], [D], [E], [Root1 A C Root2 G].
    insta::assert_snapshot!(run(&g, pipeline), @r"
    B
    F
    D
    E
    Root1 Root2 A C G
    ");
}

/// nixpkgs' pipe_test `test_2`: the popularity contest, limited and reversed.
#[test]
fn nixpkgs_pipe_test_2() {
    // Root1→A→B, Root2 alone.
    let g = graph(&[
        ('1', "Root1", 1, "a"),
        ('2', "Root2", 1, ""),
        ('a', "A", 1, "b"),
        ('b', "B", 1, ""),
    ]);
    insta::assert_snapshot!(run(&g, json!([["popularity_contest"]])), @r"
    B
    A
    Root1
    Root2
    ");
    insta::assert_snapshot!(run(&g, json!([["popularity_contest"], ["limit_layers", 3]])), @r"
    B
    A
    Root1 Root2
    ");
    insta::assert_snapshot!(run(&g, json!([["popularity_contest"], ["reverse"], ["limit_layers", 3]])), @r"
    Root2
    Root1
    A B
    ");
}

/// nixpkgs' flatten_references_graph_test, with and without an excluded path.
#[test]
fn nixpkgs_flatten_references_graph_test() {
    // A→C, B→C, B→D; sizes 2, 4, 6, 8.
    let g = graph(&[
        ('a', "A", 2, "c"),
        ('b', "B", 4, "cd"),
        ('c', "C", 6, ""),
        ('d', "D", 8, ""),
    ]);
    insta::assert_snapshot!(run(&g, json!([["split_paths", [sp('b', "B")]]])), @r"
    B D
    C
    A
    ");
    let pipeline = json!([
        ["split_paths", [sp('b', "B")]],
        ["over", "main", ["subcomponent_in", [sp('b', "B")]]]
    ]);
    insta::assert_snapshot!(run(&g, pipeline), @r"
    B
    D
    C
    A
    ");
    // With A excluded, B is the only root: main takes everything.
    let without_a: BTreeSet<usize> = all(&g)
        .into_iter()
        .filter(|&p| g.nodes()[p].path.name() != "A")
        .collect();
    let layers = plan(&g, &without_a, &json!([["split_paths", [sp('b', "B")]]])).unwrap();
    insta::assert_snapshot!(render(&g, &layers), @"B C D");
}

/// nixpkgs' split_paths_test graph: Root1→A, A→B, A→D, D→E, B→D, B→F, Root2→B,
/// Root3→C, X alone.
fn split_test_graph() -> Graph {
    graph(&[
        ('1', "Root1", 1, "a"),
        ('2', "Root2", 1, "b"),
        ('3', "Root3", 1, "c"),
        ('a', "A", 1, "bd"),
        ('b', "B", 1, "dg"),
        ('c', "C", 1, ""),
        ('d', "D", 1, "f"),
        ('f', "E", 1, ""),
        ('g', "F", 1, ""),
        ('x', "X", 1, ""),
    ])
}

/// nixpkgs' split_paths_test cases, plus `children_of`.
#[test]
fn split_paths_like_nixpkgs() {
    let g = split_test_graph();
    // main [B F], common [D E], rest [Root1 A Root2 Root3 C X].
    insta::assert_snapshot!(run(&g, json!([["split_paths", [sp('b', "B")]]])), @r"
    B F
    D E
    Root1 Root2 Root3 A C X
    ");
    insta::assert_snapshot!(run(&g, json!([["split_paths", [sp('b', "B"), sp('3', "Root3")]]])), @r"
    Root3 B C F
    D E
    Root1 Root2 A X
    ");
    // No common part: main [D E], rest the others.
    insta::assert_snapshot!(run(&g, json!([["split_paths", [sp('d', "D")]]])), @r"
    D E
    Root1 Root2 Root3 A B C F X
    ");
    // children_of B: D and F are split off with E, which only D uses; B stays in rest.
    insta::assert_snapshot!(run(&g, json!([["split_paths", [{"children_of": sp('b', "B")}]]])), @r"
    D E F
    Root1 Root2 Root3 A B C X
    ");
}

/// References to split paths are cut, so later steps see the split paths as roots.
#[test]
fn split_paths_drops_references_to_split_paths() {
    // A→B, both split off: B becomes a root of main, so the popularity contest over
    // main ranks them alike (nixpkgs deletes the edges pointing at split paths).
    let g = graph(&[('r', "R", 1, "a"), ('a', "A", 1, "b"), ('b', "B", 1, "")]);
    let pipeline = json!([
        ["split_paths", [sp('a', "A"), sp('b', "B")]],
        ["over", "main", ["popularity_contest"]]
    ]);
    let layers = plan(&g, &all(&g), &pipeline).unwrap();
    insta::assert_snapshot!(render(&g, &layers), @r"
    A
    B
    R
    ");
    let reasons: Vec<&String> = layers.iter().flat_map(|l| l.reasons.values()).collect();
    insta::assert_snapshot!(reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>().join("\n"), @r"
    pipeline step 2 (over) > popularity_contest: popularity rank 1 of 2 (popularity 1)
    pipeline step 2 (over) > popularity_contest: popularity rank 2 of 2 (popularity 1)
    pipeline step 1 (split_paths): rest (the split paths do not depend on it)
    ");
}

/// nixpkgs' subcomponent_test cases, plus a path outside `paths`.
#[test]
fn subcomponents_like_nixpkgs() {
    // subcomponent_test graph: Root1→A, A→B, A→C, B→D, B→E, Root2→B, Root3→C, X.
    let g = graph(&[
        ('1', "Root1", 1, "a"),
        ('2', "Root2", 1, "b"),
        ('3', "Root3", 1, "c"),
        ('a', "A", 1, "bc"),
        ('b', "B", 1, "df"),
        ('c', "C", 1, ""),
        ('d', "D", 1, ""),
        ('f', "E", 1, ""),
        ('x', "X", 1, ""),
    ]);
    insta::assert_snapshot!(run(&g, json!([["subcomponent_out", [sp('b', "B")]]])), @r"
    B D E
    Root1 Root2 Root3 A C X
    ");
    insta::assert_snapshot!(run(&g, json!([["subcomponent_out", [sp('b', "B"), sp('3', "Root3")]]])), @r"
    Root3 B C D E
    Root1 Root2 A X
    ");
    insta::assert_snapshot!(run(&g, json!([["subcomponent_in", [sp('b', "B")]]])), @r"
    Root1 Root2 A B
    Root3 C D E X
    ");
    insta::assert_snapshot!(run(&g, json!([["subcomponent_in", [sp('b', "B"), sp('3', "Root3")]]])), @r"
    Root1 Root2 Root3 A B
    C D E X
    ");
    // An excluded path is ignored, like any path not in this part of the graph.
    let b = g.index_of(Path::new(&sp('b', "B"))).unwrap();
    let without_b: BTreeSet<usize> = all(&g).into_iter().filter(|&p| p != b).collect();
    let layers = plan(
        &g,
        &without_b,
        &json!([["subcomponent_out", [sp('b', "B")]]]),
    )
    .unwrap();
    insta::assert_snapshot!(render(&g, &layers), @"Root1 Root2 Root3 A C D E X");
}

/// A closure with ties: three tools of equal popularity and size.
fn tools() -> Graph {
    graph(&[
        ('a', "app", 40, "xyzl"),
        ('x', "tool", 5, "l"),
        ('y', "tool", 5, "l"),
        ('z', "awk", 5, "l"),
        ('l', "libc", 30, ""),
        ('d', "docs", 1, ""),
    ])
}

/// Ties in the popularity contest go by name, then hash.
#[test]
fn popularity_contest_with_ties() {
    let g = tools();
    insta::assert_snapshot!(run(&g, json!([["popularity_contest"], ["limit_layers", 3]])), @r"
    libc
    awk
    app docs tool tool
    ");
    // The two tools differ by hash only: hash decides.
    let layers = plan(&g, &all(&g), &json!([["popularity_contest"]])).unwrap();
    let order: Vec<String> = layers
        .iter()
        .map(|l| g.nodes()[l.paths[0]].path.to_string())
        .collect();
    assert_eq!(
        order[1..4],
        [sp('z', "awk"), sp('x', "tool"), sp('y', "tool")]
    );
}

/// `split_every` cuts the graph order: NAR size, then store path.
#[test]
fn split_every_goes_by_size_then_path() {
    let g = tools();
    // Graph order: docs (1), tool x, tool y, awk (5, by path), libc (30), app (40).
    // Each line lists a layer's paths by store path (the tools' hashes x, y; awk's z).
    insta::assert_snapshot!(run(&g, json!([["split_every", 2]])), @r"
    docs tool
    tool awk
    app libc
    ");
    insta::assert_snapshot!(run(&g, json!([["split_every", 4]])), @r"
    docs tool tool awk
    app libc
    ");
}

/// The structural operators combined.
#[test]
fn map_over_pipe_reverse_flatten() {
    let g = tools();
    let pipeline = json!([
        ["subcomponent_out", [sp('x', "tool")]],
        [
            "over",
            "rest",
            [
                "pipe",
                [
                    ["split_every", 2],
                    ["map", ["popularity_contest"]],
                    ["flatten"],
                    ["reverse"]
                ]
            ]
        ],
        ["over", "main", ["popularity_contest"]],
        ["flatten"],
        ["limit_layers", 4]
    ]);
    // main: tool x and libc by popularity; rest in pairs by graph order (docs,
    // tool y / awk, app), each pair ranked, all reversed, then limited to 4.
    insta::assert_snapshot!(run(&g, pipeline), @r"
    libc
    tool
    app
    docs tool awk
    ");
}

/// Removed paths are in no layer; unknown ones are skipped.
#[test]
fn remove_paths_leaves_paths_out() {
    let g = tools();
    let pipeline = json!([
        [
            "remove_paths",
            [
                sp('l', "libc"),
                "/nix/store/00000000000000000000000000000000-elsewhere"
            ]
        ],
        ["popularity_contest"]
    ]);
    insta::assert_snapshot!(run(&g, pipeline), @r"
    awk
    tool
    tool
    app
    docs
    ");
    insta::assert_snapshot!(run(&g, json!([["remove_paths", sp('d', "docs")]])), @"app libc tool tool awk");
}

/// `over` a part split_paths left out leaves the parts as they are.
#[test]
fn over_a_missing_part_changes_nothing() {
    let g = tools();
    // Splitting app off takes everything but docs, so there is no common part.
    let pipeline = json!([
        ["split_paths", [sp('a', "app")]],
        ["over", "common", ["popularity_contest"]]
    ]);
    insta::assert_snapshot!(run(&g, pipeline), @r"
    app libc tool tool awk
    docs
    ");
}

/// `limit_layers` merges the tail, and says so in the reasons.
#[test]
fn limit_layers_always_adds_the_merged_layer() {
    let g = tools();
    // Fewer items than allowed: nothing merged; the empty merged graph is dropped.
    let layers = plan(
        &g,
        &all(&g),
        &json!([["split_every", 3], ["limit_layers", 5]]),
    )
    .unwrap();
    assert_eq!(layers.len(), 2);
    let merged = plan(
        &g,
        &all(&g),
        &json!([["popularity_contest"], ["limit_layers", 2]]),
    )
    .unwrap();
    let reason = &merged[1].reasons[&g.index_of(Path::new(&sp('d', "docs"))).unwrap()];
    assert_eq!(
        reason,
        "pipeline step 1 (popularity_contest): popularity rank 6 of 6 (popularity 1); then pipeline step 2 (limit_layers): merged into the last layer (6 came in, 2 allowed)"
    );
}

/// Each path's reason names the step that placed it.
#[test]
fn reasons_name_the_step() {
    let g = tools();
    let pipeline = json!([
        ["subcomponent_in", [sp('x', "tool")]],
        [
            "over",
            "rest",
            ["pipe", [["popularity_contest"], ["limit_layers", 2]]]
        ]
    ]);
    let layers = plan(&g, &all(&g), &pipeline).unwrap();
    let lines: Vec<String> = layers
        .iter()
        .flat_map(|l| {
            l.paths
                .iter()
                .map(|p| format!("{}: {}", g.nodes()[*p].path.name(), l.reasons[p]))
        })
        .collect();
    insta::assert_snapshot!(lines.join("\n"), @r"
    app: pipeline step 1 (subcomponent_in): main (one of the given paths or depends on one)
    tool: pipeline step 1 (subcomponent_in): main (one of the given paths or depends on one)
    libc: pipeline step 2 (over) > pipe > step 1 (popularity_contest): popularity rank 1 of 4 (popularity 4)
    docs: pipeline step 2 (over) > pipe > step 1 (popularity_contest): popularity rank 3 of 4 (popularity 1); then pipeline step 2 (over) > pipe > step 2 (limit_layers): merged into the last layer (4 came in, 2 allowed)
    tool: pipeline step 2 (over) > pipe > step 1 (popularity_contest): popularity rank 4 of 4 (popularity 1); then pipeline step 2 (over) > pipe > step 2 (limit_layers): merged into the last layer (4 came in, 2 allowed)
    awk: pipeline step 2 (over) > pipe > step 1 (popularity_contest): popularity rank 2 of 4 (popularity 1); then pipeline step 2 (over) > pipe > step 2 (limit_layers): merged into the last layer (4 came in, 2 allowed)
    ");
    let untouched = plan(&g, &all(&g), &json!([])).unwrap();
    assert_eq!(untouched.len(), 1);
    assert!(untouched[0]
        .reasons
        .values()
        .all(|r| r == "pipeline: no step split it from the rest"));
}

/// Every mistake is reported on one line naming the step.
#[test]
fn errors_name_the_step() {
    let g = tools();
    let known = OPERATORS.join(", ");
    let cases = [
        (json!({"steps": []}), "the pipeline must be a JSON array of steps, like [[\"popularity_contest\"], [\"limit_layers\", 100]]; got {\"steps\":[]}".to_owned()),
        (json!([["popularity_contest"], ["limit_layers", "x"]]), "step 2 (limit_layers): expects a positive integer, got \"x\"".to_owned()),
        (json!([["limit_layers", 0]]), "step 1 (limit_layers): expects a positive integer, got 0".to_owned()),
        (json!([["split_every", 2.5]]), "step 1 (split_every): expects a positive integer, got 2.5".to_owned()),
        (json!([["foo"]]), format!("step 1: unknown operator \"foo\"; known: {known}")),
        (json!([["limit_layers"]]), "step 1 (limit_layers): expects 1 argument, got 0; write [\"limit_layers\", <positive integer>]".to_owned()),
        (json!([["popularity_contest", 3]]), "step 1 (popularity_contest): expects 0 arguments, got 1; write [\"popularity_contest\"]".to_owned()),
        (json!([[]]), "step 1: empty step; expected [\"operator\", arguments…]".to_owned()),
        (json!(["popularity_contest"]), "step 1: expected a step [\"operator\", arguments…], got \"popularity_contest\"".to_owned()),
        (json!([[7]]), "step 1: the operator must be a string, got 7".to_owned()),
        (
            json!([["split_paths", ["/nix/store/00000000000000000000000000000000-nope"]]]),
            "step 1 (split_paths): /nix/store/00000000000000000000000000000000-nope is not in the closure graph".to_owned(),
        ),
        (
            json!([["subcomponent_out", [sp('a', "app"), "/nix/store/00000000000000000000000000000000-nope"]]]),
            "step 1 (subcomponent_out): /nix/store/00000000000000000000000000000000-nope is not in the closure graph".to_owned(),
        ),
        (json!([["subcomponent_in", sp('a', "app")]]), format!("step 1 (subcomponent_in): expects a list of store paths, got \"{}\"", sp('a', "app"))),
        (json!([["split_paths", [{"parents_of": sp('a', "app")}]]]), "step 1 (split_paths): unexpected key \"parents_of\" in a split path; the only key is \"children_of\"".to_owned()),
        (json!([["remove_paths", [1]]]), "step 1 (remove_paths): expects store paths (strings), got 1".to_owned()),
        (
            json!([["split_paths", []], ["over", "mian", ["popularity_contest"]]]),
            "step 2 (over): unknown part \"mian\"; split_paths gives main, common and rest, subcomponent_in/out give main and rest".to_owned(),
        ),
        (
            json!([["subcomponent_out", []], ["over", "rest", ["pipe", [["popularity_contest"], ["limit_layers", -1]]]]]),
            "step 2 (over) > pipe > step 2 (limit_layers): expects a positive integer, got -1".to_owned(),
        ),
        (json!([["map", ["bar"]]]), format!("step 1 (map): unknown operator \"bar\"; known: {known}")),
        (json!([["pipe", {}]]), "step 1 (pipe): expects a list of steps, got {}".to_owned()),
        // Wrong kinds of values, found while running.
        (json!([["popularity_contest"], ["popularity_contest"]]), "step 2 (popularity_contest): expects a graph, got a list of 6 items; apply it to each item with [\"map\", …]".to_owned()),
        (json!([["limit_layers", 3]]), "step 1 (limit_layers): expects a list, got a graph of 6 paths; split it first (popularity_contest, split_every)".to_owned()),
        (json!([["subcomponent_out", []], ["reverse"]]), "step 2 (reverse): expects a list, got split parts (main, rest); flatten it first".to_owned()),
        (json!([["over", "main", ["popularity_contest"]]]), "step 1 (over): expects the parts split_paths or subcomponent_in/out give, got a graph of 6 paths".to_owned()),
        (
            json!([["subcomponent_out", []], ["map", ["reverse"]]]),
            "step 2 (map): expects a list, got split parts (main, rest); flatten it first".to_owned(),
        ),
        (
            json!([["split_every", 2], ["map", ["subcomponent_out", []]], ["limit_layers", 1]]),
            "step 3 (limit_layers): item 1 is split parts (main, rest); only graphs can be merged into the last layer: flatten first".to_owned(),
        ),
    ];
    for (pipeline, message) in cases {
        assert_eq!(error(&g, pipeline.clone()), message, "{pipeline}");
    }
}

/// A string pipeline is read from the file it names.
#[test]
fn a_string_names_a_pipeline_file() {
    let g = tools();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pipeline.json");
    std::fs::write(&file, r#"[["popularity_contest"],["limit_layers",2]]"#).unwrap();
    let layers = plan(&g, &all(&g), &json!(file.to_str().unwrap())).unwrap();
    assert_eq!(render(&g, &layers), "libc\napp docs tool tool awk");
    let missing = plan(
        &g,
        &all(&g),
        &json!(dir.path().join("none.json").to_str().unwrap()),
    )
    .unwrap_err();
    assert!(missing.starts_with("the pipeline file "), "{missing}");
}
