//! Two rules a newcomer can rely on, checked on the source itself.
//!
//! **No import cycles.** Every file under `src/` is a module; a reference `crate::a::b::…`, `super::…` or `self::…` in its code
//! (tests and comments left out) is an edge to the deepest module it names. Edges between
//! a module and its own ancestors or descendants are the module tree itself (a parent
//! declares and re-exports its children; a child uses its parent's types) and are not
//! counted. Any other cycle fails, naming the modules in it.
//!
//! **No function over 80 lines** in `src/` (tests beside the code excepted): from its `fn`
//! line to its closing brace.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// `src/app/visit.rs` → ["app", "visit"]; `src/app/mod.rs` → ["app"]; lib.rs → [].
fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file
        .strip_prefix(src)
        .expect("under src")
        .with_extension("");
    let mut m: Module = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(m.last().map(String::as_str), Some("mod" | "lib")) {
        m.pop();
    }
    m
}

/// The code of a file without its test module and comments.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

fn deepest(known: &BTreeSet<Module>, path: &[String]) -> Option<Module> {
    (1..=path.len())
        .rev()
        .map(|k| path[..k].to_vec())
        .find(|m| known.contains(m))
}

fn edges(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut list = Vec::new();
    files(src, &mut list);
    let list: Vec<(Module, PathBuf)> = list
        .into_iter()
        .filter(|f| !f.ends_with("main.rs"))
        .map(|f| (module_of(src, &f), f))
        .collect();
    let known: BTreeSet<Module> = list.iter().map(|(m, _)| m.clone()).collect();
    let crate_ref = regex::Regex::new(r"crate((?:::[a-z_0-9]+)+)").unwrap();
    let super_ref = regex::Regex::new(r"\b((?:super::)+)([a-z_0-9]+(?:::[a-z_0-9]+)*)").unwrap();
    let self_ref = regex::Regex::new(r"\bself::([a-z_0-9]+)").unwrap();
    let mut out = BTreeMap::new();
    for (m, file) in &list {
        let text = code(&std::fs::read_to_string(file).expect("read source"));
        let mut to = BTreeSet::new();
        for c in crate_ref.captures_iter(&text) {
            let path: Vec<String> = c[1].split("::").skip(1).map(str::to_owned).collect();
            to.extend(deepest(&known, &path));
        }
        for c in super_ref.captures_iter(&text) {
            let up = c[1].matches("super::").count();
            let mut path: Vec<String> = m[..m.len().saturating_sub(up)].to_vec();
            path.extend(c[2].split("::").map(str::to_owned));
            to.extend(deepest(&known, &path));
        }
        for c in self_ref.captures_iter(&text) {
            let mut path = m.clone();
            path.push(c[1].to_owned());
            to.extend(deepest(&known, &path));
        }
        let related = |a: &Module, b: &Module| a.starts_with(b) || b.starts_with(a);
        to.retain(|t| !related(m, t));
        out.insert(m.clone(), to);
    }
    out
}

/// Strongly connected components of more than one module (Tarjan).
fn cycles(g: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<String>> {
    struct State<'g> {
        g: &'g BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'g Module, usize>,
        low: BTreeMap<&'g Module, usize>,
        stack: Vec<&'g Module>,
        on: BTreeSet<&'g Module>,
        out: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g Module) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on.insert(v);
        for w in s.g.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let l = s.low[w].min(s.low[v]);
                s.low.insert(v, l);
            } else if s.on.contains(w) {
                let l = s.index[w].min(s.low[v]);
                s.low.insert(v, l);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w.join("::"));
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn modules_have_no_import_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = edges(&src);
    assert!(g.len() > 50, "only {} modules found under src/", g.len());
    assert!(
        g[&vec!["api".to_string()]].contains(&vec!["app".to_string()]),
        "the parser lost the api → app edge"
    );
    let found = cycles(&g);
    assert!(
        found.is_empty(),
        "import cycles (move the shared types down into a module both use): {found:?}"
    );
}

#[test]
fn the_checker_sees_a_cycle() {
    let m = |s: &str| s.split("::").map(str::to_owned).collect::<Module>();
    let mut g = BTreeMap::new();
    g.insert(m("store::db"), BTreeSet::from([m("store::pg")]));
    g.insert(m("store::pg"), BTreeSet::from([m("store::db")]));
    g.insert(m("api"), BTreeSet::from([m("store::db")]));
    assert_eq!(cycles(&g), vec![vec!["store::db", "store::pg"]]);
}

/// Functions of `text` (before its test module) longer than `max` lines: (name, line, length).
fn long_functions(text: &str, max: usize) -> Vec<(String, usize, usize)> {
    let fn_line = regex::Regex::new(
        r"^\s*(pub(\([a-z:]+\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+([A-Za-z_0-9]+)",
    )
    .unwrap();
    let strings = regex::Regex::new(r#""(\\.|[^"\\])*"|'(\\.|[^'\\])'"#).unwrap();
    let lines: Vec<&str> = text
        .split("#[cfg(test)]")
        .next()
        .unwrap_or_default()
        .lines()
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(c) = fn_line.captures(lines[i]) else {
            i += 1;
            continue;
        };
        let (mut depth, mut opened, mut j) = (0i64, false, i);
        while j < lines.len() {
            let code = strings.replace_all(lines[j], "\"\"");
            let code = code.split("//").next().unwrap_or_default();
            for ch in code.chars() {
                match ch {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if (opened && depth <= 0) || (!opened && code.trim_end().ends_with(';')) {
                break;
            }
            j += 1;
        }
        let len = j + 1 - i;
        if opened && len > max {
            out.push((c[6].to_string(), i + 1, len));
        }
        i = if opened { j + 1 } else { i + 1 };
    }
    out
}

#[test]
fn no_function_is_longer_than_80_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut list = Vec::new();
    files(&src, &mut list);
    let mut long = Vec::new();
    for f in &list {
        let text = std::fs::read_to_string(f).expect("read source");
        for (name, line, len) in long_functions(&text, 80) {
            long.push(format!(
                "{}:{line} {name} ({len} lines)",
                f.strip_prefix(&src).unwrap_or(f).display()
            ));
        }
    }
    assert!(long.is_empty(), "functions over 80 lines: {long:#?}");
}

#[test]
fn the_length_check_counts_a_long_function() {
    let body: String = (0..85)
        .map(|i| format!("    let x{i} = \"{{\";\n"))
        .collect();
    let text = format!("pub fn long() {{\n{body}}}\n\nfn short() {{}}\n");
    let found = long_functions(&text, 80);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].0.as_str(), found[0].2), ("long", 87));
}
