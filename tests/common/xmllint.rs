//! Schema validation of whole SOAP 1.1 envelopes with `xmllint` (Debian package
//! `libxml2-utils`).
//!
//! Each envelope is checked against a *strict* SOAP 1.1 envelope schema written
//! here (the Body holds exactly one element, validated strictly, so a payload in
//! an unknown namespace is an error rather than "lax, skipped") combined with a
//! paForNode schema set: the project's own `xsd/paForNode.xsd`, and the official
//! one under `../shared/reference/` when that copy exists.
//!
//! The envelope schema and one wrapper schema per set are written once per test
//! process into `CARGO_TARGET_TMPDIR`; every document goes to its own temporary
//! file, so tests may validate in parallel.

use std::fmt;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// SOAP 1.1 envelope namespace.
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// Namespace of the paForNode request/response elements.
pub const PAFN_NS: &str = "http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd";

/// Which paForNode schema set an envelope is validated against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaSet {
    /// The project's own `xsd/paForNode.xsd` (+ `xsd/pagopa-common-types.xsd`).
    Ours,
    /// The official schema kept for reference in `../shared/reference/pagopa-api/`.
    Official,
}

impl fmt::Display for SchemaSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SchemaSet::Ours => "our xsd/paForNode.xsd",
            SchemaSet::Official => "official reference paForNode.xsd",
        })
    }
}

/// The project's own paForNode schema.
pub fn our_schema_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("xsd/paForNode.xsd")
}

/// The project's own WSDL.
pub fn our_wsdl_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("wsdl/paForNode.wsdl")
}

/// Root of the reference copy of the official schemas (may be absent).
pub fn reference_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/pagopa-api")
}

/// The official paForNode schema, when the reference copy is present.
pub fn official_schema_path() -> Option<PathBuf> {
    let p = reference_root().join("wsdl/xsd/paForNode.xsd");
    p.is_file().then_some(p)
}

/// The official WSDL, when the reference copy is present.
pub fn official_wsdl_path() -> Option<PathBuf> {
    let p = reference_root().join("wsdl/paForNode.wsdl");
    p.is_file().then_some(p)
}

/// The schema sets available in this checkout: always ours, the official one when present.
pub fn available_schema_sets() -> Vec<SchemaSet> {
    let mut sets = vec![SchemaSet::Ours];
    if official_schema_path().is_some() {
        sets.push(SchemaSet::Official);
    }
    sets
}

/// Validates a whole SOAP 1.1 envelope (bytes) with xmllint: strict envelope
/// (Body holds exactly one element, processed strictly) + our
/// `xsd/paForNode.xsd`, and also the official schema under `../shared/reference`
/// when it exists. `Err` carries xmllint's message and which schema set failed.
/// Panics with a clear message if xmllint is not installed.
pub fn validate_envelope(xml: &[u8]) -> Result<(), String> {
    let mut errors = Vec::new();
    for set in available_schema_sets() {
        if let Err(e) = validate_envelope_against(xml, set) {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

/// Like [`validate_envelope`], against one schema set only.
///
/// Panics if `set` is [`SchemaSet::Official`] and the reference copy is absent
/// (check [`available_schema_sets`] first), if xmllint is missing, or if
/// xmllint cannot compile the schema (that is a bug in the schemas, not a
/// verdict on the document).
pub fn validate_envelope_against(xml: &[u8], set: SchemaSet) -> Result<(), String> {
    let files = schema_files();
    let wrapper = match set {
        SchemaSet::Ours => &files.ours,
        SchemaSet::Official => files
            .official
            .as_ref()
            .expect("the official reference schema is not present in ../shared/reference"),
    };
    let mut doc = tempfile::Builder::new()
        .prefix("envelope-")
        .suffix(".xml")
        .tempfile_in(&files.dir)
        .expect("create a temporary document file");
    doc.write_all(xml).expect("write the temporary document");
    doc.flush().expect("flush the temporary document");

    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(wrapper)
        .arg(doc.path())
        .output()
        .unwrap_or_else(|e| panic!("running xmllint failed: {e}"));
    let stderr =
        String::from_utf8_lossy(&out.stderr).replace(&*doc.path().to_string_lossy(), "<envelope>");
    match out.status.code() {
        Some(0) => Ok(()),
        // 5: the schema itself did not compile. Never report that as "document invalid".
        Some(5) => panic!("xmllint could not compile the schema set for {set}:\n{stderr}"),
        code => Err(format!(
            "[{set}] rejected (xmllint exit {}):\n{}",
            code.map_or_else(|| "by signal".to_owned(), |c| c.to_string()),
            stderr.trim_end()
        )),
    }
}

/// Checks that `path` is a well-formed XML document (no schema).
pub fn well_formed(path: &Path) -> Result<(), String> {
    ensure_xmllint();
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--nonet")
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("running xmllint failed: {e}"));
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

struct SchemaFiles {
    dir: PathBuf,
    ours: PathBuf,
    official: Option<PathBuf>,
}

fn schema_files() -> &'static SchemaFiles {
    static FILES: OnceLock<SchemaFiles> = OnceLock::new();
    FILES.get_or_init(|| {
        ensure_xmllint();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("xmllint-envelopes");
        std::fs::create_dir_all(&dir).expect("create the xmllint work directory");
        write_atomically(&dir.join("soap11-strict.xsd"), STRICT_SOAP11_ENVELOPE);

        let ours = dir.join("envelope+ours.xsd");
        write_atomically(&ours, &wrapper_schema(&our_schema_path()));
        let official = official_schema_path().map(|schema| {
            let wrapper = dir.join("envelope+official.xsd");
            write_atomically(&wrapper, &wrapper_schema(&schema));
            wrapper
        });
        if official.is_none() {
            eprintln!(
                "note: {} not found; envelopes are validated against our schema only",
                reference_root().display()
            );
        }
        SchemaFiles {
            dir,
            ours,
            official,
        }
    })
}

fn ensure_xmllint() {
    match Command::new("xmllint").arg("--version").output() {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => panic!(
            "xmllint is not installed; the schema tests need it \
             (Debian/Ubuntu: apt-get install -y libxml2-utils)"
        ),
        Err(e) => panic!("cannot run xmllint: {e}"),
    }
}

/// Several test processes may run at once: each writes the same bytes to a
/// private file and renames it into place.
fn write_atomically(path: &Path, content: &str) {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, content).unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
    std::fs::rename(&tmp, path).unwrap_or_else(|e| panic!("rename to {}: {e}", path.display()));
}

fn xml_attr_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

/// A schema without a target namespace that pulls in the strict envelope and
/// one paForNode schema (by absolute path).
fn wrapper_schema(pafn_schema: &Path) -> String {
    let location = std::path::absolute(pafn_schema).expect("absolute schema path");
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:import namespace="{SOAP11_NS}" schemaLocation="soap11-strict.xsd"/>
  <xs:import namespace="{PAFN_NS}" schemaLocation="{}"/>
</xs:schema>
"#,
        xml_attr_escape(&location.to_string_lossy())
    )
}

/// A deliberately narrow SOAP 1.1 envelope: optional Header (anything inside,
/// lax), then a Body holding exactly one element, either a SOAP Fault or an
/// element of another namespace that must have a global declaration
/// (`processContents="strict"`). Only Envelope is global, so a bare Body or
/// Fault is not a valid document. Fault children are unqualified, as in SOAP 1.1.
const STRICT_SOAP11_ENVELOPE: &str = include_str!("../schemas/soap11-strict.xsd");
