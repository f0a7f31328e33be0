//! Parsing a pipeline: turning its JSON into [`Step`]s, store paths resolved to graph
//! nodes, with the error messages for every mistake. The whole pipeline is checked
//! before it runs, so a mistake in a branch that this closure never reaches is still
//! reported.

use super::{show, Direction, Op, Split, Step};
use crate::graph::Graph;
use serde_json::Value as Json;
use std::path::Path;

/// The operators nixpkgs' `pipe.py` knows, sorted, for error messages.
pub(super) const OPERATORS: [&str; 12] = [
    "flatten",
    "limit_layers",
    "map",
    "over",
    "pipe",
    "popularity_contest",
    "remove_paths",
    "reverse",
    "split_every",
    "split_paths",
    "subcomponent_in",
    "subcomponent_out",
];

/// The parts `split_paths` and `subcomponent_*` name, in the order nixpkgs lists them.
const PARTS: [&str; 3] = ["main", "common", "rest"];

/// Where a step sits: the steps around it and, within a list of steps, its number.
struct Place<'a> {
    /// `""` at the top, else the enclosing steps ending in `" > "`.
    parent: &'a str,
    /// 1-based position in a list of steps; `None` for the function of `over`/`map`.
    index: Option<usize>,
}

impl Place<'_> {
    /// The step's location once its operator is known.
    fn at(&self, op: &str) -> String {
        match self.index {
            Some(i) => format!("{}step {i} ({op})", self.parent),
            None => format!("{}{op}", self.parent),
        }
    }

    /// The step's location before its operator is known.
    fn here(&self) -> String {
        match self.index {
            Some(i) => format!("{}step {i}", self.parent),
            None => self.parent.trim_end_matches(" > ").to_owned(),
        }
    }
}

/// Parses a JSON array of steps; `parent` prefixes their locations.
pub(super) fn parse_steps(graph: &Graph, json: &Json, parent: &str) -> Result<Vec<Step>, String> {
    let Json::Array(items) = json else {
        return Err(format!(
            "{}: expects a list of steps, got {}",
            parent.trim_end_matches(" > "),
            show(json)
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            parse_step(
                graph,
                item,
                &Place {
                    parent,
                    index: Some(i + 1),
                },
            )
        })
        .collect()
}

/// Parses one `["op", args…]` step.
fn parse_step(graph: &Graph, json: &Json, place: &Place) -> Result<Step, String> {
    let here = place.here();
    let Json::Array(items) = json else {
        return Err(format!(
            "{here}: expected a step [\"operator\", arguments…], got {}",
            show(json)
        ));
    };
    let Some(first) = items.first() else {
        return Err(format!(
            "{here}: empty step; expected [\"operator\", arguments…]"
        ));
    };
    let Json::String(name) = first else {
        return Err(format!(
            "{here}: the operator must be a string, got {}",
            show(first)
        ));
    };
    let Some(&name) = OPERATORS.iter().find(|&&known| known == name) else {
        return Err(format!(
            "{here}: unknown operator {}; known: {}",
            show(first),
            OPERATORS.join(", ")
        ));
    };
    let at = place.at(name);
    let args = &items[1..];
    let arity = |n: usize, usage: &str| -> Result<(), String> {
        if args.len() == n {
            return Ok(());
        }
        let plural = if n == 1 { "" } else { "s" };
        Err(format!(
            "{at}: expects {n} argument{plural}, got {}; write {usage}",
            args.len()
        ))
    };
    let op = match name {
        "popularity_contest" => {
            arity(0, "[\"popularity_contest\"]")?;
            Op::PopularityContest
        }
        "reverse" => {
            arity(0, "[\"reverse\"]")?;
            Op::Reverse
        }
        "flatten" => {
            arity(0, "[\"flatten\"]")?;
            Op::Flatten
        }
        "limit_layers" => {
            arity(1, "[\"limit_layers\", <positive integer>]")?;
            Op::LimitLayers(positive(&args[0], &at)?)
        }
        "split_every" => {
            arity(1, "[\"split_every\", <positive integer>]")?;
            Op::SplitEvery(positive(&args[0], &at)?)
        }
        "split_paths" => {
            arity(
                1,
                "[\"split_paths\", [<store path or {\"children_of\": store paths}>, …]]",
            )?;
            let Json::Array(specs) = &args[0] else {
                return Err(format!(
                    "{at}: expects a list of store paths, got {}",
                    show(&args[0])
                ));
            };
            Op::SplitPaths(
                specs
                    .iter()
                    .map(|spec| split_spec(graph, spec, &at))
                    .collect::<Result<_, _>>()?,
            )
        }
        "subcomponent_in" | "subcomponent_out" => {
            arity(1, &format!("[\"{name}\", [<store path>, …]]"))?;
            let Json::Array(list) = &args[0] else {
                return Err(format!(
                    "{at}: expects a list of store paths, got {}",
                    show(&args[0])
                ));
            };
            let direction = if name == "subcomponent_in" {
                Direction::In
            } else {
                Direction::Out
            };
            Op::Subcomponent(
                direction,
                list.iter()
                    .map(|p| known_path(graph, p, &at))
                    .collect::<Result<_, _>>()?,
            )
        }
        "remove_paths" => {
            arity(1, "[\"remove_paths\", <store path or [store paths]>]")?;
            Op::RemovePaths(removable(graph, &args[0], &at)?)
        }
        "over" => {
            arity(2, "[\"over\", \"main\" | \"common\" | \"rest\", <step>]")?;
            let part = match &args[0] {
                Json::String(s) => PARTS.iter().find(|&&p| p == s).copied(),
                _ => None,
            };
            let Some(part) = part else {
                return Err(format!(
                    "{at}: unknown part {}; split_paths gives main, common and rest, subcomponent_in/out give main and rest",
                    show(&args[0])
                ));
            };
            let parent = format!("{at} > ");
            Op::Over(
                part,
                Box::new(parse_step(
                    graph,
                    &args[1],
                    &Place {
                        parent: &parent,
                        index: None,
                    },
                )?),
            )
        }
        "map" => {
            arity(1, "[\"map\", <step>]")?;
            let parent = format!("{at} > ");
            Op::Map(Box::new(parse_step(
                graph,
                &args[0],
                &Place {
                    parent: &parent,
                    index: None,
                },
            )?))
        }
        "pipe" => {
            arity(1, "[\"pipe\", [<step>, …]]")?;
            Op::Pipe(parse_steps(graph, &args[0], &format!("{at} > "))?)
        }
        _ => unreachable!("every name in OPERATORS is handled"),
    };
    Ok(Step { op, at })
}

/// A count argument: nixpkgs asserts `limit_layers`' is above 0, and `split_every` by 0
/// never ends.
fn positive(json: &Json, at: &str) -> Result<usize, String> {
    json.as_u64()
        .filter(|&n| n > 0)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("{at}: expects a positive integer, got {}", show(json)))
}

/// A `split_paths` argument.
fn split_spec(graph: &Graph, json: &Json, at: &str) -> Result<Split, String> {
    match json {
        Json::Object(map) => {
            if let Some(key) = map.keys().find(|k| *k != "children_of") {
                return Err(format!(
                    "{at}: unexpected key {} in a split path; the only key is \"children_of\"",
                    show(&Json::String(key.clone()))
                ));
            }
            let Some(of) = map.get("children_of") else {
                return Err(format!("{at}: an object split path needs \"children_of\""));
            };
            let parents = match of {
                Json::Array(list) => list
                    .iter()
                    .map(|p| known_path(graph, p, at))
                    .collect::<Result<_, _>>()?,
                single => vec![known_path(graph, single, at)?],
            };
            Ok(Split::ChildrenOf(parents))
        }
        other => Ok(Split::Path(known_path(graph, other, at)?)),
    }
}

/// A store path argument that must be in the closure graph.
fn known_path(graph: &Graph, json: &Json, at: &str) -> Result<usize, String> {
    let Json::String(path) = json else {
        return Err(format!(
            "{at}: expects store paths (strings), got {}",
            show(json)
        ));
    };
    graph
        .index_of(Path::new(path))
        .ok_or_else(|| format!("{at}: {path} is not in the closure graph"))
}

/// `remove_paths`' argument: one path or a list; paths outside the graph are skipped.
fn removable(graph: &Graph, json: &Json, at: &str) -> Result<Vec<usize>, String> {
    let list = match json {
        Json::Array(list) => list.as_slice(),
        single => std::slice::from_ref(single),
    };
    let mut found = Vec::new();
    for item in list {
        let Json::String(path) = item else {
            return Err(format!(
                "{at}: expects store paths (strings), got {}",
                show(item)
            ));
        };
        found.extend(graph.index_of(Path::new(path)));
    }
    Ok(found)
}
