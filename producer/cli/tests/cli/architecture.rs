//! The modules' no-cycle rule (ARCHITECTURE.md) and the size rule for
//! source files, checked on the real workspace.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_source_file_is_over_600_lines() {
    let mut files = Vec::new();
    rust_files(&workspace().join("producer"), &mut files);
    assert!(files.len() > 20);
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > 600).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these: {long:?}");
}

// The module rule: in every crate, the graph of modules is acyclic. A node
// is a source file under `src/` (`lib.rs` or `main.rs` is the crate, and
// `a/mod.rs` and `a.rs` are `a`); an edge A -> B is A's non-test code
// naming an item of B by path: `use crate::b::X`, `use super::X`,
// `crate::b::f()`, `self::b::X` or `b::X` for a child `b`. A bare `mod b;`
// is no edge, and a path names the deepest module it passes through.
// Test code (`#[cfg(test)]` items, `tests.rs` files) is left out. Paths
// are what the check sees: an inherent method called on a value is no
// edge, so a type's `impl` blocks stay in its module or above it.

/// Rust source as tokens, comments and literals left out: identifiers
/// (`$crate` as `crate`), numbers, `::`, and other characters one by one.
fn tokens(src: &str) -> Vec<String> {
    let c: Vec<char> = src.chars().collect();
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let at = |i: usize| c.get(i).copied().unwrap_or(' ');
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if ch == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if ch == '\'' && at(i + 1) == '\\' {
            // An escaped character: past the escape, to the closing quote.
            i += 3;
            while i < c.len() && c[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else if ch == '\'' && at(i + 2) == '\'' {
            i += 3;
        } else if ch == '\'' {
            // A lifetime or label: its name follows as an identifier.
            i += 1;
        } else if ident(ch) || (ch == '$' && ident(at(i + 1))) {
            let start = if ch == '$' { i + 1 } else { i };
            i = start;
            while i < c.len() && ident(c[i]) {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let hashes = c[i..].iter().take_while(|&&h| h == '#').count();
            if matches!(word.as_str(), "r" | "br" | "cr") && at(i + hashes) == '"' {
                // A raw string: to the quote followed by as many hashes.
                i += hashes + 1;
                while i < c.len() && !(c[i] == '"' && (1..=hashes).all(|k| at(i + k) == '#')) {
                    i += 1;
                }
                i += hashes + 1;
            } else if !(matches!(word.as_str(), "b" | "c") && matches!(at(i), '"' | '\'')) {
                out.push(word);
            }
        } else if ch == ':' && at(i + 1) == ':' {
            out.push("::".to_string());
            i += 2;
        } else {
            out.push(ch.to_string());
            i += 1;
        }
    }
    out
}

/// The tokens without test code: each item under `#[cfg(test)]`, to its
/// `;` or to the `}` that closes its body.
fn without_tests(t: Vec<String>) -> Vec<String> {
    let attr = ["#", "[", "cfg", "(", "test", ")", "]"];
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        if !t[i..].starts_with(&attr.map(String::from)) {
            out.push(t[i].clone());
            i += 1;
            continue;
        }
        i += attr.len();
        let mut depth = 0;
        while i < t.len() {
            i += 1;
            match t[i - 1].as_str() {
                "(" | "[" | "{" => depth += 1,
                ")" | "]" => depth -= 1,
                "}" => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                ";" if depth == 0 => break,
                _ => {}
            }
        }
    }
    out
}

/// The paths of the `use` tree at `t[*i]`, each with the name it binds
/// (none for a glob): `use a::{b, c::{self, d as e}}` gives `a::b` as `b`,
/// `a::c::self` as `c` and `a::c::d` as `e`.
type Used = (Vec<String>, Option<String>);

fn use_tree(t: &[String], i: &mut usize, prefix: &[String], out: &mut Vec<Used>) {
    let mut path = prefix.to_vec();
    while *i < t.len() {
        match t[*i].as_str() {
            "::" => *i += 1,
            "{" => {
                *i += 1;
                while *i < t.len() && t[*i] != "}" {
                    use_tree(t, i, &path, out);
                    if t.get(*i).is_some_and(|x| x == ",") {
                        *i += 1;
                    }
                }
                *i += 1;
                return;
            }
            "*" => {
                *i += 1;
                out.push((path, None));
                return;
            }
            "as" => {
                let name = t.get(*i + 1).cloned();
                *i += 2;
                out.push((path, name));
                return;
            }
            "," | "}" | ";" => {
                let name = path.iter().rev().find(|s| *s != "self").cloned();
                out.push((path, name));
                return;
            }
            seg => {
                path.push(seg.to_string());
                *i += 1;
            }
        }
    }
}

fn join(base: &str, seg: &str) -> String {
    if base.is_empty() {
        seg.to_string()
    } else {
        format!("{base}::{seg}")
    }
}

/// The deepest module of the crate that `path`, written in `current`,
/// passes through, and whether the whole path names it; None for other
/// crates, the standard library and local names.
fn resolve(
    path: &[String],
    current: &str,
    modules: &BTreeSet<String>,
    aliases: &BTreeMap<String, String>,
) -> Option<(String, bool)> {
    let (mut base, mut rest) = match path.first()?.as_str() {
        "crate" => (String::new(), &path[1..]),
        "self" => (current.to_string(), &path[1..]),
        "super" => {
            let supers = path.iter().take_while(|s| *s == "super").count();
            let mut base = current.to_string();
            for _ in 0..supers {
                base = base.rsplit_once("::").map_or("", |(p, _)| p).to_string();
            }
            (base, &path[supers..])
        }
        name if modules.contains(&join(current, name)) => (current.to_string(), path),
        name => (aliases.get(name)?.clone(), &path[1..]),
    };
    while let Some((seg, tail)) = rest.split_first() {
        if seg == "self" {
            rest = tail;
            break;
        }
        let next = join(&base, seg);
        if !modules.contains(&next) {
            break;
        }
        base = next;
        rest = tail;
    }
    Some((base, rest.is_empty()))
}

/// The modules that `current`'s code (tokens, tests left out) refers to.
fn references(current: &str, code: &[String], modules: &BTreeSet<String>) -> BTreeSet<String> {
    let ident = |t: &String| t.chars().all(|c| c.is_alphanumeric() || c == '_');
    let mut aliases = BTreeMap::new();
    let mut paths = Vec::new();
    let mut i = 0;
    while i < code.len() {
        if code[i] == "use" {
            i += 1;
            let mut tree = Vec::new();
            use_tree(code, &mut i, &[], &mut tree);
            for (p, name) in tree {
                // `use a::b;` or `use a::b::{self}` of a module `b`: `b::X` follows.
                if let (Some((m, true)), Some(name)) =
                    (resolve(&p, current, modules, &aliases), name)
                {
                    aliases.insert(name, m);
                }
                paths.push(p);
            }
        } else if ident(&code[i])
            && code.get(i + 1).is_some_and(|t| t == "::")
            && (i == 0 || code[i - 1] != "::")
        {
            let mut p = vec![code[i].clone()];
            i += 1;
            while code.get(i).is_some_and(|t| t == "::") && code.get(i + 1).is_some_and(ident) {
                p.push(code[i + 1].clone());
                i += 2;
            }
            paths.push(p);
        } else {
            i += 1;
        }
    }
    paths
        .iter()
        .filter_map(|p| Some(resolve(p, current, modules, &aliases)?.0))
        .filter(|m| m != current)
        .collect()
}

/// The module of a source file below `src`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts.join("::")
}

/// A crate's modules (`""` is the crate) and the modules each refers to.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let code: BTreeMap<String, Vec<String>> = files
        .iter()
        .map(|f| (module_of(src, f), f))
        .filter(|(m, _)| !m.split("::").any(|s| s == "tests"))
        .map(|(m, f)| {
            (
                m,
                without_tests(tokens(&std::fs::read_to_string(f).unwrap())),
            )
        })
        .collect();
    let modules: BTreeSet<String> = code.keys().cloned().collect();
    code.iter()
        .map(|(m, c)| (m.clone(), references(m, c, &modules)))
        .collect()
}

/// Cycles of a graph: one for each edge back onto the path of a
/// depth-first search, so a graph with a cycle gives at least one.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        found: &mut Vec<Vec<String>>,
    ) {
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(at) = path.iter().position(|p| p == next) {
                let mut cycle = path[at..].to_vec();
                cycle.push(next.clone());
                found.push(cycle);
            } else if !done.contains(next) {
                visit(next, graph, path, done, found);
            }
        }
        path.pop();
        done.insert(node.to_string());
    }
    let mut found = Vec::new();
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if !done.contains(node) {
            visit(node, graph, &mut Vec::new(), &mut done, &mut found);
        }
    }
    found
}

fn shown(cycle: &[String]) -> String {
    let names: Vec<&str> = cycle
        .iter()
        .map(|m| if m.is_empty() { "crate" } else { m })
        .collect();
    names.join(" -> ")
}

#[test]
fn no_crate_has_a_module_cycle() {
    for krate in ["gen", "capacity", "cli"] {
        let src = workspace().join("producer").join(krate).join("src");
        let graph = module_graph(&src);
        let edges: usize = graph.values().map(BTreeSet::len).sum();
        assert!(graph.len() > 5 && edges > graph.len(), "{krate}: {graph:?}");
        let found: Vec<String> = cycles(&graph).iter().map(|c| shown(c)).collect();
        assert!(found.is_empty(), "module cycles in {krate}: {found:#?}");
    }
}

/// The graph is the code's: known edges of each kind are found.
#[test]
fn the_module_graph_sees_every_kind_of_reference() {
    let cli = module_graph(&workspace().join("producer/cli/src"));
    let refers = |a: &str, b: &str| cli[a].contains(b);
    // `use super::sibling::X`, `use crate::a::X`, and the crate's children.
    assert!(refers("pipeline::backfill", "pipeline::ledger"));
    assert!(refers("pipeline::backfill", "settings"));
    assert!(refers("", "pipeline"));
    // Test files are no modules of the graph.
    let capacity = module_graph(&workspace().join("producer/capacity/src"));
    assert!(capacity[""].contains("plan"));
    assert!(!capacity.contains_key("tests"));
}

#[test]
fn the_cycle_finder_finds_cycles_and_only_cycles() {
    let modules: BTreeSet<String> = ["", "a", "a::b", "a::c", "d", "e"].map(String::from).into();
    let source = r#"
        //! `crate::e` in a comment; "crate::e" in a string.
        mod b;
        use super::d::{self, X};
        use crate::a::c as see;
        fn f<'a>(s: &'a str) -> char { see::g(); b::h(); d::i(); '\'' }
        #[cfg(test)]
        mod tests { use crate::e::Y; }
    "#;
    let refs = references("a", &without_tests(tokens(source)), &modules);
    assert_eq!(refs, ["a::b", "a::c", "d"].map(String::from).into());
    let graph = |edges: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in edges {
            g.entry(a.to_string()).or_default().insert(b.to_string());
            g.entry(b.to_string()).or_default();
        }
        g
    };
    let cyclic = graph(&[
        ("", "a"),
        ("a", "a::b"),
        ("a::b", "d"),
        ("d", "a"),
        ("", "d"),
    ]);
    assert_eq!(
        cycles(&cyclic).iter().map(|c| shown(c)).collect::<Vec<_>>(),
        ["a -> a::b -> d -> a"]
    );
    let acyclic = graph(&[("", "a"), ("a", "a::b"), ("a::b", "d"), ("", "d")]);
    assert!(cycles(&acyclic).is_empty());
}
