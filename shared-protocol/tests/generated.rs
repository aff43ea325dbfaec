//! The generated artefacts of the protocol, checked against the committed copies:
//!
//! - `ui/src/protocol/cti.ts`: TypeScript declarations of every type reachable from
//!   `ClientMsg` and `ServerMsg` (ts-rs), plus the protocol constants;
//! - `docs/cti-protocol.schema.json`: one JSON Schema (draft 2020-12, schemars) whose
//!   `$defs` hold `ClientMsg`, `ServerMsg` and everything they use.
//!
//! The test fails when a committed file differs from what the Rust types produce.
//! `UPDATE_GENERATED=1 cargo test -p shared-protocol --test generated` rewrites them.

use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};
use shared_protocol::{ClientMsg, ServerMsg, MAX_FRAME, PROTOCOL_VERSION};
use std::any::TypeId;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use ts_rs::{TypeVisitor, TS};

const TS_FILE: &str = "ui/src/protocol/cti.ts";
const SCHEMA_FILE: &str = "docs/cti-protocol.schema.json";
const HOW_TO_UPDATE: &str = "UPDATE_GENERATED=1 cargo test -p shared-protocol --test generated";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("shared-protocol lives inside the workspace")
        .to_path_buf()
}

/// Collects the declaration of every exportable type reachable from the visited roots.
struct Collect<'a> {
    cfg: &'a ts_rs::Config,
    seen: HashSet<TypeId>,
    /// Name → JSDoc plus `export type …;`, sorted by name.
    decls: BTreeMap<String, String>,
}

impl TypeVisitor for Collect<'_> {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        // Primitives, `Option`, `Vec` have no output path: nothing to declare, but their
        // parameters are visited through the parent's dependency list.
        if T::output_path().is_none() || !self.seen.insert(TypeId::of::<T>()) {
            return;
        }
        let name = T::ident(self.cfg);
        let decl = format!(
            "{}export {}",
            T::docs().unwrap_or_default(),
            T::decl(self.cfg)
        );
        if let Some(other) = self.decls.insert(name.clone(), decl) {
            panic!("two types are named {name} in TypeScript:\n{other}");
        }
        T::visit_dependencies(self);
    }
}

fn typescript() -> String {
    // u64/i64 travel as JSON numbers (below 2^53 in practice); never `bigint`, which
    // `JSON.parse` does not produce.
    let cfg = ts_rs::Config::new().with_large_int("number");
    let mut c = Collect {
        cfg: &cfg,
        seen: HashSet::new(),
        decls: BTreeMap::new(),
    };
    c.visit::<ClientMsg>();
    c.visit::<ServerMsg>();
    let mut out = format!(
        "// Generated from the Rust crate `shared-protocol` by shared-protocol/tests/generated.rs.\n\
         // Do not edit by hand. Regenerate with: {HOW_TO_UPDATE}\n\
         // Reference: docs/cti-protocol.md\n\
         \n\
         /** Version of the protocol these types describe (`protocol` in the snapshot). */\n\
         export const PROTOCOL_VERSION = {PROTOCOL_VERSION};\n\
         \n\
         /** Longest frame a peer accepts, in bytes. */\n\
         export const MAX_FRAME = {MAX_FRAME};\n"
    );
    for decl in c.decls.values() {
        out.push('\n');
        // ts-rs leaves a space after `{` and `,` at line ends; editors and linters strip them.
        for line in decl.trim_end().lines() {
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

/// Rebuilds objects with their keys in order, whatever map serde_json was built with.
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let entries: BTreeMap<String, Value> =
                m.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(entries.into_iter().collect::<Map<_, _>>())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn schema() -> String {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let client = generator.subschema_for::<ClientMsg>();
    let server = generator.subschema_for::<ServerMsg>();
    let defs = generator.take_definitions(true);
    let doc = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Centralino CTI protocol",
        "description": format!(
            "Frames of the Centralino CTI protocol, version {PROTOCOL_VERSION} (see docs/cti-protocol.md). \
             A frame from a client matches #/$defs/ClientMsg, a frame from the server #/$defs/ServerMsg. \
             Generated from the crate shared-protocol; do not edit by hand."
        ),
        "anyOf": [client, server],
        "$defs": defs,
    });
    let mut text = serde_json::to_string_pretty(&sorted(doc)).expect("a JSON value serialises");
    text.push('\n');
    text
}

/// Compares `generated` with the committed file, or writes it with `UPDATE_GENERATED=1`.
/// Returns a description of the mismatch, if any.
fn check(relative: &str, generated: &str) -> Option<String> {
    let path = workspace_root().join(relative);
    if std::env::var_os("UPDATE_GENERATED").is_some_and(|v| v == "1") {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create the output folder");
        }
        std::fs::write(&path, generated).expect("write the generated file");
        eprintln!("wrote {}", path.display());
        return None;
    }
    let committed = match std::fs::read_to_string(&path) {
        Ok(text) => text.replace("\r\n", "\n"),
        Err(e) => return Some(format!("{relative}: cannot read it ({e})")),
    };
    if committed == generated {
        return None;
    }
    let first_diff = committed
        .lines()
        .zip(generated.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
    let line = first_diff + 1;
    Some(format!(
        "{relative} is out of date (first difference at line {line}):\n  committed: {:?}\n  generated: {:?}",
        committed.lines().nth(first_diff).unwrap_or("<end of file>"),
        generated.lines().nth(first_diff).unwrap_or("<end of file>"),
    ))
}

#[test]
fn typescript_declarations_are_up_to_date() {
    let ts = typescript();
    // Every type the frames use is declared (spot checks of the leaves).
    for name in [
        "ClientMsg",
        "Command",
        "ServerMsg",
        "Snapshot",
        "Event",
        "CommandData",
        "ErrorCode",
        "ExtensionState",
        "CallInfo",
        "CallSide",
        "ForwardKind",
        "PresenceState",
        "HistoryEntry",
        "UserInfo",
        "Permissions",
    ] {
        assert!(
            ts.contains(&format!("export type {name} =")),
            "{name} is not declared in the TypeScript output"
        );
    }
    assert!(
        !ts.contains("bigint"),
        "a 64-bit integer became bigint; JSON numbers are `number`"
    );
    if let Some(problem) = check(TS_FILE, &ts) {
        panic!("{problem}\nRegenerate with: {HOW_TO_UPDATE}");
    }
}

#[test]
fn json_schema_is_up_to_date() {
    let text = schema();
    let doc: Value = serde_json::from_str(&text).expect("the schema is JSON");
    for name in ["ClientMsg", "ServerMsg", "Command", "Event", "Snapshot"] {
        assert!(
            doc["$defs"].get(name).is_some(),
            "{name} is missing from $defs"
        );
    }
    if let Some(problem) = check(SCHEMA_FILE, &text) {
        panic!("{problem}\nRegenerate with: {HOW_TO_UPDATE}");
    }
}
