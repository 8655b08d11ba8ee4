//! Test support: validates whole SOAP documents with xmllint against a strict SOAP 1.1 envelope
//! schema of our own and the official paForNode XSD from `../shared/reference`. Without the
//! reference only well-formedness is checked (and a note printed); without xmllint the calling
//! test fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

const PAFORNODE_XSD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/reference/pagopa-api/wsdl/xsd/paForNode.xsd"
);

/// SOAP 1.1 envelope whose Body holds exactly one element, validated strictly: a paForNode
/// element, or a SOAP Fault.
const SOAP11_STRICT: &str = include_str!("../../tests/schemas/soap11-strict.xsd");

/// What xmllint checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Schema,
    WellFormedOnly,
}

pub struct Xmllint {
    dir: TempDir,
    schema: Option<PathBuf>,
}

impl Xmllint {
    pub fn new() -> Xmllint {
        let dir = tempfile::tempdir().unwrap();
        let schema = match std::fs::canonicalize(PAFORNODE_XSD) {
            Ok(pafornode) => {
                std::fs::write(dir.path().join("soap11-strict.xsd"), SOAP11_STRICT).unwrap();
                let wrapper = format!(
                    r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:import namespace="http://schemas.xmlsoap.org/soap/envelope/" schemaLocation="soap11-strict.xsd"/>
  <xs:import namespace="{}" schemaLocation="{}"/>
</xs:schema>
"#,
                    super::PAFORNODE_NS,
                    pafornode.display()
                );
                let path = dir.path().join("wrapper.xsd");
                std::fs::write(&path, wrapper).unwrap();
                Some(path)
            }
            Err(_) => {
                println!("note: {PAFORNODE_XSD} not found; checking well-formedness only");
                None
            }
        };
        Xmllint { dir, schema }
    }

    pub fn check(&self) -> Check {
        if self.schema.is_some() {
            Check::Schema
        } else {
            Check::WellFormedOnly
        }
    }

    /// xmllint's verdict on one document: Ok, or its messages.
    pub fn validate(&self, name: &str, doc: &[u8]) -> Result<(), String> {
        let file = self.dir.path().join(format!("{name}.xml"));
        std::fs::write(&file, doc).unwrap();
        self.run(&file)
    }

    fn run(&self, file: &Path) -> Result<(), String> {
        let mut command = Command::new("xmllint");
        command.arg("--noout");
        if let Some(schema) = &self.schema {
            command.arg("--schema").arg(schema);
        }
        let output = command
            .arg(file)
            .output()
            .expect("xmllint must be installed (Debian package libxml2-utils)");
        if output.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }
}
