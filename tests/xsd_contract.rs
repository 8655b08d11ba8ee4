//! The service contract in `xsd/` and `wsdl/`, checked three ways:
//!
//! 1. **Element trees.** A small XSD reader (below, on quick-xml) expands every
//!    global element of the paForNode namespace into a canonical tree: element
//!    name and namespace, min/max occurrences, sequence/choice structure, and for
//!    each leaf its built-in base type plus the sorted set of facets collected
//!    along its restriction chain. Type names and prefixes play no part, so two
//!    schemas written differently compare equal exactly when they describe the
//!    same documents. Ours is compared with the official schema kept under
//!    `../shared/reference/` (skipped, with a note, when that copy is absent; the
//!    same test also checks that our named types exist there under the same
//!    names), and a second test proves the comparison fails on deliberately
//!    altered copies.
//! 2. **Envelopes.** Hand-written SOAP envelopes go through xmllint against both
//!    schema sets; valid ones must pass and broken ones must fail on both sides.
//! 3. **WSDL.** Well-formed, six document/literal operations with SOAPAction =
//!    operation name, every part naming a global element of our schema, and the
//!    same operation → element mapping as the official WSDL.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use common::xmllint::{
    PAFN_NS, SchemaSet, available_schema_sets, official_schema_path, official_wsdl_path,
    our_schema_path, our_wsdl_path, validate_envelope, validate_envelope_against, well_formed,
};
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

const XS_NS: &str = "http://www.w3.org/2001/XMLSchema";
const WSDL_NS: &str = "http://schemas.xmlsoap.org/wsdl/";
const WSDL_SOAP_NS: &str = "http://schemas.xmlsoap.org/wsdl/soap/";

/// The twelve request/response elements, by operation.
const GLOBAL_ELEMENTS: [&str; 12] = [
    "paVerifyPaymentNoticeReq",
    "paVerifyPaymentNoticeRes",
    "paGetPaymentReq",
    "paGetPaymentRes",
    "paGetPaymentV2Request",
    "paGetPaymentV2Response",
    "paSendRTReq",
    "paSendRTRes",
    "paSendRTV2Request",
    "paSendRTV2Response",
    "paDemandPaymentNoticeRequest",
    "paDemandPaymentNoticeResponse",
];

// ======================================================================
// A minimal namespace-aware DOM (element structure and attributes only)
// ======================================================================

mod dom {
    use super::*;

    /// An element: its resolved name, its attributes, the prefix bindings in
    /// scope (needed to resolve QName-valued attributes such as `type`), and
    /// its child elements. Text and comments are dropped.
    #[derive(Debug, Clone)]
    pub struct Node {
        pub ns: Option<String>,
        pub local: String,
        /// Unprefixed attributes by name; namespaced ones as `{uri}local`.
        pub attrs: BTreeMap<String, String>,
        scope: Rc<BTreeMap<String, String>>,
        pub children: Vec<Node>,
    }

    impl Node {
        pub fn is(&self, ns: &str, local: &str) -> bool {
            self.ns.as_deref() == Some(ns) && self.local == local
        }

        pub fn attr(&self, name: &str) -> Option<&str> {
            self.attrs.get(name).map(String::as_str)
        }

        /// Resolves a QName-valued attribute (`pafn:ctQrCode`, `string`...) to
        /// (namespace, local name). As XSD requires, an unprefixed QName takes
        /// the default namespace when one is in scope.
        pub fn resolve_qname(&self, value: &str) -> Result<(Option<String>, String), String> {
            let value = value.trim();
            let (prefix, local) = match value.split_once(':') {
                Some((p, l)) => (p, l),
                None => ("", value),
            };
            match self.scope.get(prefix) {
                Some(uri) if uri.is_empty() => Ok((None, local.to_owned())),
                Some(uri) => Ok((Some(uri.clone()), local.to_owned())),
                None if prefix.is_empty() => Ok((None, local.to_owned())),
                None => Err(format!("unbound prefix '{prefix}' in QName '{value}'")),
            }
        }

        pub fn display_name(&self) -> String {
            match &self.ns {
                Some(ns) => format!("{{{ns}}}{}", self.local),
                None => self.local.clone(),
            }
        }
    }

    fn open(
        e: &BytesStart<'_>,
        parent_scope: &Rc<BTreeMap<String, String>>,
    ) -> Result<Node, String> {
        let mut decls = Vec::new();
        let mut plain = Vec::new();
        for a in e.attributes() {
            let a = a.map_err(|e| e.to_string())?;
            let key = a.key.as_ref().to_owned();
            let value = a
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| e.to_string())?
                .into_owned();
            if key == "xmlns" {
                decls.push((String::new(), value));
            } else if let Some(p) = key.strip_prefix("xmlns:") {
                decls.push((p.to_owned(), value));
            } else {
                plain.push((key, value));
            }
        }
        let scope = if decls.is_empty() {
            Rc::clone(parent_scope)
        } else {
            let mut s = (**parent_scope).clone();
            s.extend(decls);
            Rc::new(s)
        };
        let resolve = |qname: &str, attribute: bool| -> Result<(Option<String>, String), String> {
            match qname.split_once(':') {
                Some(("xml", l)) => Ok((
                    Some("http://www.w3.org/XML/1998/namespace".into()),
                    l.into(),
                )),
                Some((p, l)) => match scope.get(p) {
                    Some(uri) if !uri.is_empty() => Ok((Some(uri.clone()), l.into())),
                    _ => Err(format!("unbound prefix '{p}' on '{qname}'")),
                },
                // Unprefixed attributes are in no namespace; elements take the default one.
                None if attribute => Ok((None, qname.into())),
                None => Ok((
                    scope.get("").filter(|u| !u.is_empty()).cloned(),
                    qname.into(),
                )),
            }
        };
        let (ns, local) = resolve(e.name().as_ref(), false)?;
        let mut attrs = BTreeMap::new();
        for (k, v) in plain {
            let key = match resolve(&k, true)? {
                (None, l) => l,
                (Some(uri), l) => format!("{{{uri}}}{l}"),
            };
            attrs.insert(key, v);
        }
        Ok(Node {
            ns,
            local,
            attrs,
            scope,
            children: Vec::new(),
        })
    }

    pub fn parse(text: &str) -> Result<Node, String> {
        let mut reader = Reader::from_str(text);
        let empty_scope = Rc::new(BTreeMap::new());
        let mut stack: Vec<Node> = Vec::new();
        let mut root = None;
        loop {
            let event = reader
                .read_event()
                .map_err(|e| format!("XML error at byte {}: {e}", reader.buffer_position()))?;
            let finished = match event {
                Event::Start(e) => {
                    let scope = stack.last().map_or(&empty_scope, |n| &n.scope);
                    let node = open(&e, scope)?;
                    stack.push(node);
                    None
                }
                Event::Empty(e) => {
                    let scope = stack.last().map_or(&empty_scope, |n| &n.scope);
                    Some(open(&e, scope)?)
                }
                Event::End(_) => Some(stack.pop().ok_or("unbalanced end tag")?),
                Event::Eof => break,
                _ => None,
            };
            if let Some(node) = finished {
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None if root.is_none() => root = Some(node),
                    None => return Err("more than one root element".into()),
                }
            }
        }
        if !stack.is_empty() {
            return Err("unexpected end of document".into());
        }
        root.ok_or_else(|| "no root element".into())
    }
}

use dom::Node;

// ======================================================================
// Reading a schema set (entry schema + everything it imports)
// ======================================================================

mod xsd {
    use super::*;

    /// A qualified name; `None` namespace = no namespace.
    pub type QName = (Option<String>, String);

    pub fn show(q: &QName) -> String {
        match &q.0 {
            Some(ns) => format!("{{{ns}}}{}", q.1),
            None => q.1.clone(),
        }
    }

    /// Where a declaration was written: decides the namespace of its local elements.
    #[derive(Debug, Clone)]
    pub struct Origin {
        pub tns: Option<String>,
        pub elements_qualified: bool,
        pub file: PathBuf,
    }

    #[derive(Debug, Clone)]
    pub struct Decl {
        pub node: Node,
        pub origin: Rc<Origin>,
    }

    /// All global components of a schema and its imports, by qualified name.
    #[derive(Debug, Default)]
    pub struct SchemaSet {
        pub elements: BTreeMap<QName, Decl>,
        pub complex_types: BTreeMap<QName, Decl>,
        pub simple_types: BTreeMap<QName, Decl>,
    }

    /// Lexical normalisation (`a/b/../c` -> `a/c`), so the same file reached by
    /// two relative routes is read once, without touching the file system.
    pub fn normalize(p: &Path) -> PathBuf {
        let mut out = PathBuf::new();
        for c in p.components() {
            match c {
                Component::ParentDir => {
                    if !out.pop() {
                        out.push("..");
                    }
                }
                Component::CurDir => {}
                other => out.push(other),
            }
        }
        out
    }

    impl SchemaSet {
        pub fn load(entry: &Path) -> Result<SchemaSet, String> {
            Self::load_with(entry, &|p| {
                std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
            })
        }

        /// Loads through `read`, so tests can substitute altered file contents.
        pub fn load_with(
            entry: &Path,
            read: &dyn Fn(&Path) -> Result<String, String>,
        ) -> Result<SchemaSet, String> {
            let mut set = SchemaSet::default();
            let mut queue = vec![(normalize(entry), None::<String>)];
            let mut seen = BTreeSet::new();
            while let Some((file, expected_ns)) = queue.pop() {
                if !seen.insert(file.clone()) {
                    continue;
                }
                let text = read(&file)?;
                let root = dom::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?;
                if !root.is(XS_NS, "schema") {
                    return Err(format!("{}: root is not xs:schema", file.display()));
                }
                let tns = root.attr("targetNamespace").map(str::to_owned);
                if let Some(expected) = expected_ns
                    && tns.as_deref() != Some(expected.as_str())
                {
                    return Err(format!(
                        "{}: imported as {expected} but its targetNamespace is {tns:?}",
                        file.display()
                    ));
                }
                let origin = Rc::new(Origin {
                    tns: tns.clone(),
                    elements_qualified: root.attr("elementFormDefault") == Some("qualified"),
                    file: file.clone(),
                });
                for child in &root.children {
                    if child.ns.as_deref() != Some(XS_NS) {
                        return Err(format!(
                            "{}: unexpected top-level {}",
                            file.display(),
                            child.display_name()
                        ));
                    }
                    let table = match child.local.as_str() {
                        "annotation" => continue,
                        "import" => {
                            let loc = child.attr("schemaLocation").ok_or_else(|| {
                                format!("{}: xs:import without schemaLocation", file.display())
                            })?;
                            let dir = file.parent().unwrap_or(Path::new(""));
                            let ns = child.attr("namespace").map(str::to_owned);
                            queue.push((normalize(&dir.join(loc)), ns));
                            continue;
                        }
                        "element" => &mut set.elements,
                        "complexType" => &mut set.complex_types,
                        "simpleType" => &mut set.simple_types,
                        other => {
                            return Err(format!(
                                "{}: top-level xs:{other} is not supported by this reader",
                                file.display()
                            ));
                        }
                    };
                    let name = child.attr("name").ok_or_else(|| {
                        format!(
                            "{}: global xs:{} without a name",
                            file.display(),
                            child.local
                        )
                    })?;
                    let key = (tns.clone(), name.to_owned());
                    let decl = Decl {
                        node: child.clone(),
                        origin: Rc::clone(&origin),
                    };
                    if table.insert(key.clone(), decl).is_some() {
                        return Err(format!("duplicate global {} {}", child.local, show(&key)));
                    }
                }
            }
            Ok(set)
        }

        /// Names of the global elements declared in namespace `ns`.
        pub fn global_elements_in(&self, ns: &str) -> BTreeSet<String> {
            self.elements
                .keys()
                .filter(|(n, _)| n.as_deref() == Some(ns))
                .map(|(_, l)| l.clone())
                .collect()
        }
    }
}

// ======================================================================
// Canonical trees
// ======================================================================

mod canon {
    use super::xsd::{Decl, Origin, QName, SchemaSet, show};
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Occurs {
        pub min: u64,
        /// `None` = unbounded.
        pub max: Option<u64>,
    }

    impl Occurs {
        pub const ONCE: Occurs = Occurs {
            min: 1,
            max: Some(1),
        };
    }

    impl std::fmt::Display for Occurs {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self.max {
                Some(m) => write!(f, "{}..{m}", self.min),
                None => write!(f, "{}..*", self.min),
            }
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Group {
        Sequence,
        Choice,
        All,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Particle {
        Element(Box<Element>),
        Group {
            kind: Group,
            occurs: Occurs,
            items: Vec<Particle>,
        },
    }

    /// A simple type reduced to what decides validity: the built-in type it
    /// restricts and every facet on the way there.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Leaf {
        pub base: String,
        pub facets: BTreeSet<(String, String)>,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Content {
        Simple(Leaf),
        /// Element-only content; `None` = must be empty.
        Complex(Option<Particle>),
        /// `xs:anyType`: anything goes.
        Any,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Element {
        pub name: QName,
        pub occurs: Occurs,
        pub nillable: bool,
        pub default: Option<String>,
        pub fixed: Option<String>,
        pub content: Content,
    }

    fn unsupported(origin: &Origin, what: &str) -> String {
        format!(
            "{}: {what} is not supported by this reader",
            origin.file.display()
        )
    }

    fn check_attrs(node: &Node, origin: &Origin, allowed: &[&str]) -> Result<(), String> {
        match node.attrs.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(unsupported(
                origin,
                &format!("attribute '{k}' on xs:{}", node.local),
            )),
            None => Ok(()),
        }
    }

    fn xs_children<'n>(
        node: &'n Node,
        origin: &Origin,
    ) -> Result<impl Iterator<Item = &'n Node>, String> {
        if let Some(c) = node
            .children
            .iter()
            .find(|c| c.ns.as_deref() != Some(XS_NS))
        {
            return Err(unsupported(
                origin,
                &format!("{} inside xs:{}", c.display_name(), node.local),
            ));
        }
        Ok(node.children.iter().filter(|c| c.local != "annotation"))
    }

    fn occurs(node: &Node) -> Result<Occurs, String> {
        let num = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|e| format!("bad occurrence '{s}': {e}"))
        };
        let min = node.attr("minOccurs").map(num).transpose()?.unwrap_or(1);
        let max = match node.attr("maxOccurs").map(str::trim) {
            None => Some(1),
            Some("unbounded") => None,
            Some(s) => Some(num(s)?),
        };
        Ok(Occurs { min, max })
    }

    /// Equivalent spellings of the same regular expression: `{n,n}` is `{n}`.
    fn normalize_pattern(p: &str) -> String {
        let mut out = String::new();
        let mut rest = p;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) => {
                    let inner = &after[..close];
                    match inner.split_once(',') {
                        Some((a, b)) if a == b && !a.is_empty() => {
                            out.push('{');
                            out.push_str(a);
                            out.push('}');
                        }
                        _ => {
                            out.push('{');
                            out.push_str(inner);
                            out.push('}');
                        }
                    }
                    rest = &after[close + 1..];
                }
                None => {
                    out.push_str(&rest[open..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }

    const FACETS: [&str; 12] = [
        "length",
        "minLength",
        "maxLength",
        "pattern",
        "enumeration",
        "minInclusive",
        "maxInclusive",
        "minExclusive",
        "maxExclusive",
        "totalDigits",
        "fractionDigits",
        "whiteSpace",
    ];

    /// Expands global elements of one schema set into canonical trees.
    pub struct Expander<'s> {
        set: &'s SchemaSet,
        /// Named complex types being expanded (recursion guard).
        in_progress: Vec<QName>,
    }

    impl<'s> Expander<'s> {
        pub fn new(set: &'s SchemaSet) -> Self {
            Expander {
                set,
                in_progress: Vec::new(),
            }
        }

        pub fn global_element(&mut self, name: &QName) -> Result<Element, String> {
            let decl = self
                .set
                .elements
                .get(name)
                .ok_or_else(|| format!("no global element {}", show(name)))?;
            self.element(&decl.node, &decl.origin, true)
        }

        fn element(
            &mut self,
            node: &Node,
            origin: &Rc<Origin>,
            global: bool,
        ) -> Result<Element, String> {
            check_attrs(
                node,
                origin,
                &[
                    "name",
                    "type",
                    "ref",
                    "minOccurs",
                    "maxOccurs",
                    "form",
                    "nillable",
                    "default",
                    "fixed",
                    "id",
                ],
            )?;
            let occurs = if global { Occurs::ONCE } else { occurs(node)? };
            if let Some(r) = node.attr("ref") {
                let target = node.resolve_qname(r)?;
                let mut el = self.global_element(&target)?;
                el.occurs = occurs;
                return Ok(el);
            }
            let local = node
                .attr("name")
                .ok_or_else(|| unsupported(origin, "xs:element without name or ref"))?;
            let qualified = global
                || match node.attr("form") {
                    Some(f) => f == "qualified",
                    None => origin.elements_qualified,
                };
            let name = (
                if qualified { origin.tns.clone() } else { None },
                local.to_owned(),
            );
            let inline: Vec<&Node> = xs_children(node, origin)?.collect();
            let content = match (node.attr("type"), inline.as_slice()) {
                (Some(t), []) => self.named_type(&node.resolve_qname(t)?)?,
                (None, []) => Content::Any,
                (None, [t]) if t.local == "complexType" => self.complex_type(t, origin)?,
                (None, [t]) if t.local == "simpleType" => {
                    Content::Simple(self.simple_type(t, origin)?)
                }
                _ => {
                    return Err(unsupported(
                        origin,
                        &format!("content of element '{local}'"),
                    ));
                }
            };
            Ok(Element {
                name,
                occurs,
                nillable: node.attr("nillable") == Some("true"),
                default: node.attr("default").map(str::to_owned),
                fixed: node.attr("fixed").map(str::to_owned),
                content,
            })
        }

        fn named_type(&mut self, name: &QName) -> Result<Content, String> {
            if name.0.as_deref() == Some(XS_NS) {
                return Ok(if name.1 == "anyType" {
                    Content::Any
                } else {
                    Content::Simple(Leaf {
                        base: name.1.clone(),
                        facets: BTreeSet::new(),
                    })
                });
            }
            if let Some(Decl { node, origin }) = self.set.complex_types.get(name) {
                if self.in_progress.contains(name) {
                    return Err(format!("recursive type {} is not supported", show(name)));
                }
                self.in_progress.push(name.clone());
                let (node, origin) = (node.clone(), Rc::clone(origin));
                let c = self.complex_type(&node, &origin);
                self.in_progress.pop();
                return c;
            }
            Ok(Content::Simple(self.named_simple_type(name)?))
        }

        fn named_simple_type(&mut self, name: &QName) -> Result<Leaf, String> {
            if name.0.as_deref() == Some(XS_NS) {
                return Ok(Leaf {
                    base: name.1.clone(),
                    facets: BTreeSet::new(),
                });
            }
            let Decl { node, origin } = self
                .set
                .simple_types
                .get(name)
                .ok_or_else(|| format!("type {} is not declared", show(name)))?;
            let (node, origin) = (node.clone(), Rc::clone(origin));
            self.simple_type(&node, &origin)
        }

        fn simple_type(&mut self, node: &Node, origin: &Rc<Origin>) -> Result<Leaf, String> {
            check_attrs(node, origin, &["name", "id"])?;
            let kids: Vec<&Node> = xs_children(node, origin)?.collect();
            let [restriction] = kids.as_slice() else {
                return Err(unsupported(origin, "xs:simpleType without one derivation"));
            };
            if restriction.local != "restriction" {
                return Err(unsupported(origin, &format!("xs:{}", restriction.local)));
            }
            check_attrs(restriction, origin, &["base", "id"])?;
            let mut base = None;
            let mut facets = BTreeSet::new();
            for f in xs_children(restriction, origin)? {
                if f.local == "simpleType" {
                    base = Some(self.simple_type(f, origin)?);
                } else if FACETS.contains(&f.local.as_str()) {
                    check_attrs(f, origin, &["value", "fixed", "id"])?;
                    let v = f
                        .attr("value")
                        .ok_or_else(|| unsupported(origin, "facet without value"))?;
                    let v = if f.local == "pattern" {
                        normalize_pattern(v)
                    } else {
                        v.trim().to_owned()
                    };
                    facets.insert((f.local.clone(), v));
                } else {
                    return Err(unsupported(
                        origin,
                        &format!("xs:{} in a restriction", f.local),
                    ));
                }
            }
            let mut leaf = match (restriction.attr("base"), base) {
                (Some(b), None) => self.named_simple_type(&restriction.resolve_qname(b)?)?,
                (None, Some(inline)) => inline,
                _ => return Err(unsupported(origin, "restriction without exactly one base")),
            };
            // Facets of every derivation step apply together.
            leaf.facets.extend(facets);
            Ok(leaf)
        }

        fn complex_type(&mut self, node: &Node, origin: &Rc<Origin>) -> Result<Content, String> {
            check_attrs(node, origin, &["name", "id", "mixed"])?;
            if node.attr("mixed") == Some("true") {
                return Err(unsupported(origin, "mixed content"));
            }
            let kids: Vec<&Node> = xs_children(node, origin)?.collect();
            let particle = match kids.as_slice() {
                [] => None,
                [g] if matches!(g.local.as_str(), "sequence" | "choice" | "all") => {
                    Some(self.group(g, origin)?)
                }
                [cc] if cc.local == "complexContent" => self.complex_content(cc, origin)?,
                [other, ..] => {
                    return Err(unsupported(
                        origin,
                        &format!("xs:{} in a complexType", other.local),
                    ));
                }
            };
            Ok(Content::Complex(particle.and_then(normalize_top)))
        }

        fn complex_content(
            &mut self,
            cc: &Node,
            origin: &Rc<Origin>,
        ) -> Result<Option<Particle>, String> {
            check_attrs(cc, origin, &["id"])?;
            let kids: Vec<&Node> = xs_children(cc, origin)?.collect();
            let [ext] = kids.as_slice() else {
                return Err(unsupported(origin, "complexContent without one derivation"));
            };
            if ext.local != "extension" {
                return Err(unsupported(
                    origin,
                    &format!("complexContent/xs:{}", ext.local),
                ));
            }
            check_attrs(ext, origin, &["base", "id"])?;
            let base_name = ext.resolve_qname(
                ext.attr("base")
                    .ok_or_else(|| unsupported(origin, "extension without base"))?,
            )?;
            let base = match self.named_type(&base_name)? {
                Content::Complex(p) => p,
                _ => {
                    return Err(unsupported(
                        origin,
                        &format!("extension of non-complex {}", show(&base_name)),
                    ));
                }
            };
            let own: Vec<&Node> = xs_children(ext, origin)?.collect();
            let own = match own.as_slice() {
                [] => None,
                [g] if matches!(g.local.as_str(), "sequence" | "choice" | "all") => {
                    Some(self.group(g, origin)?)
                }
                _ => return Err(unsupported(origin, "content of an extension")),
            };
            // Base content model first, then the extension's, as one sequence.
            Ok(match (base, own) {
                (b, None) => b,
                (None, o) => o,
                (Some(b), Some(o)) => Some(Particle::Group {
                    kind: Group::Sequence,
                    occurs: Occurs::ONCE,
                    items: vec![b, o],
                }),
            })
        }

        fn group(&mut self, g: &Node, origin: &Rc<Origin>) -> Result<Particle, String> {
            check_attrs(g, origin, &["minOccurs", "maxOccurs", "id"])?;
            let kind = match g.local.as_str() {
                "sequence" => Group::Sequence,
                "choice" => Group::Choice,
                _ => Group::All,
            };
            let mut items = Vec::new();
            for c in xs_children(g, origin)? {
                items.push(match c.local.as_str() {
                    "element" => Particle::Element(Box::new(self.element(c, origin, false)?)),
                    "sequence" | "choice" => self.group(c, origin)?,
                    other => {
                        return Err(unsupported(origin, &format!("xs:{other} in a model group")));
                    }
                });
            }
            Ok(Particle::Group {
                kind,
                occurs: occurs(g)?,
                items,
            })
        }
    }

    /// Structure-preserving simplification: a once-only sequence inside a
    /// sequence (or choice inside a choice) is spliced into its parent, and an
    /// empty top-level group means "empty content".
    fn normalize(p: Particle) -> Particle {
        match p {
            Particle::Element(_) => p,
            Particle::Group {
                kind,
                occurs,
                items,
            } => {
                let mut flat = Vec::new();
                for item in items.into_iter().map(normalize) {
                    match item {
                        Particle::Group {
                            kind: k,
                            occurs: Occurs::ONCE,
                            items: inner,
                        } if k == kind && kind != Group::All => flat.extend(inner),
                        other => flat.push(other),
                    }
                }
                Particle::Group {
                    kind,
                    occurs,
                    items: flat,
                }
            }
        }
    }

    fn normalize_top(p: Particle) -> Option<Particle> {
        match normalize(p) {
            Particle::Group { items, .. } if items.is_empty() => None,
            p => Some(p),
        }
    }

    // ---------- flattening for readable diffs ----------

    fn leaf_text(l: &Leaf) -> String {
        let facets: Vec<String> = l.facets.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if facets.is_empty() {
            l.base.clone()
        } else {
            format!("{} {{{}}}", l.base, facets.join(", "))
        }
    }

    fn model_text(p: &Particle) -> String {
        match p {
            Particle::Element(e) => show(&e.name),
            Particle::Group {
                kind,
                occurs,
                items,
            } => {
                let name = match kind {
                    Group::Sequence => "sequence",
                    Group::Choice => "choice",
                    Group::All => "all",
                };
                let inner: Vec<String> = items.iter().map(model_text).collect();
                let occ = if *occurs == Occurs::ONCE {
                    String::new()
                } else {
                    format!("[{occurs}]")
                };
                format!("{name}{occ}({})", inner.join(", "))
            }
        }
    }

    fn element_text(e: &Element) -> String {
        let mut s = format!("[{}]", e.occurs);
        if e.name.0.is_some() {
            s.push_str(&format!(" name={}", show(&e.name)));
        }
        if e.nillable {
            s.push_str(" nillable");
        }
        if let Some(d) = &e.default {
            s.push_str(&format!(" default={d:?}"));
        }
        if let Some(f) = &e.fixed {
            s.push_str(&format!(" fixed={f:?}"));
        }
        match &e.content {
            Content::Simple(l) => s.push_str(&format!(" {}", leaf_text(l))),
            Content::Complex(None) => s.push_str(" (empty)"),
            Content::Complex(Some(p)) => s.push_str(&format!(" {}", model_text(p))),
            Content::Any => s.push_str(" anyType"),
        }
        s
    }

    /// One line per element: `path/to/element` -> its occurrences, namespace
    /// (when qualified), type and facets or content model.
    pub fn flatten(e: &Element) -> BTreeMap<String, String> {
        fn walk_element(e: &Element, prefix: &str, out: &mut BTreeMap<String, String>) {
            let mut path = if prefix.is_empty() {
                e.name.1.clone()
            } else {
                format!("{prefix}/{}", e.name.1)
            };
            if out.contains_key(&path) {
                let mut n = 2;
                while out.contains_key(&format!("{path}#{n}")) {
                    n += 1;
                }
                path = format!("{path}#{n}");
            }
            out.insert(path.clone(), element_text(e));
            if let Content::Complex(Some(p)) = &e.content {
                walk_particle(p, &path, out);
            }
        }
        fn walk_particle(p: &Particle, prefix: &str, out: &mut BTreeMap<String, String>) {
            match p {
                Particle::Element(e) => walk_element(e, prefix, out),
                Particle::Group { items, .. } => {
                    for i in items {
                        walk_particle(i, prefix, out);
                    }
                }
            }
        }
        let mut out = BTreeMap::new();
        walk_element(e, "", &mut out);
        out
    }
}

use canon::{Element, Expander, flatten};
use xsd::{QName, SchemaSet as Xsd};

/// Every global element of the paForNode namespace, expanded.
fn expand_all(set: &Xsd) -> Result<BTreeMap<String, Element>, String> {
    let mut ex = Expander::new(set);
    set.global_elements_in(PAFN_NS)
        .into_iter()
        .map(|name| {
            let q: QName = (Some(PAFN_NS.to_owned()), name.clone());
            ex.global_element(&q).map(|e| (name, e))
        })
        .collect()
}

/// Compares two schema sets; returns a human-readable list of differences
/// (empty when they describe the same documents).
fn compare(ours: &Xsd, official: &Xsd) -> Result<Vec<String>, String> {
    let a = expand_all(ours)?;
    let b = expand_all(official)?;
    let mut diffs = Vec::new();
    for name in a.keys().filter(|n| !b.contains_key(*n)) {
        diffs.push(format!("global element {name}: only in ours"));
    }
    for name in b.keys().filter(|n| !a.contains_key(*n)) {
        diffs.push(format!(
            "global element {name}: only in the official schema"
        ));
    }
    for (name, ea) in &a {
        let Some(eb) = b.get(name) else { continue };
        if ea == eb {
            continue;
        }
        let (fa, fb) = (flatten(ea), flatten(eb));
        let paths: BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
        let before = diffs.len();
        for p in paths {
            match (fa.get(p), fb.get(p)) {
                (Some(x), Some(y)) if x == y => {}
                (Some(x), Some(y)) => {
                    diffs.push(format!("{p}\n      ours:     {x}\n      official: {y}"))
                }
                (Some(x), None) => diffs.push(format!("{p}: only in ours: {x}")),
                (None, Some(y)) => diffs.push(format!("{p}: only in official: {y}")),
                (None, None) => unreachable!(),
            }
        }
        if diffs.len() == before {
            diffs.push(format!(
                "{name}: trees differ (not visible in the flattened view)"
            ));
        }
    }
    Ok(diffs)
}

fn load_ours() -> Xsd {
    Xsd::load(&our_schema_path()).unwrap_or_else(|e| panic!("reading our schema: {e}"))
}

// ======================================================================
// Tests: element trees
// ======================================================================

#[test]
fn our_schema_declares_the_twelve_elements_and_expands() {
    let ours = load_ours();
    let expected: BTreeSet<String> = GLOBAL_ELEMENTS.iter().map(|s| s.to_string()).collect();
    assert_eq!(ours.global_elements_in(PAFN_NS), expected);
    let trees = expand_all(&ours).expect("expand our schema");

    // A few facts of the contract, checked even without the reference copy.
    let v2 = flatten(&trees["paGetPaymentV2Response"]);
    let line = |p: &str| {
        v2.get(p)
            .unwrap_or_else(|| panic!("no {p} in {v2:#?}"))
            .clone()
    };
    assert_eq!(
        line("paGetPaymentV2Response"),
        format!("[1..1] name={{{PAFN_NS}}}paGetPaymentV2Response sequence(outcome, fault, data)")
    );
    assert_eq!(
        line("paGetPaymentV2Response/data/transferList/transfer"),
        "[1..5] sequence(idTransfer, transferAmount, fiscalCodePA, companyName, \
         choice(IBAN, richiestaMarcaDaBollo), remittanceInformation, transferCategory, metadata)"
    );
    assert_eq!(
        line("paGetPaymentV2Response/data/paymentAmount"),
        "[1..1] decimal {maxInclusive=999999999.99, minInclusive=0.01, pattern=\\d+\\.\\d{2}}"
    );
    assert_eq!(
        line("paGetPaymentV2Response/data/metadata/mapEntry"),
        "[1..15] sequence(key, value)"
    );
    let rt = flatten(&trees["paSendRTV2Request"]);
    assert_eq!(rt["paSendRTV2Request/receipt/standIn"], "[0..1] boolean");
    assert_eq!(
        rt["paSendRTV2Request/receipt/paymentAmount"],
        "[1..1] decimal {maxInclusive=999999999.99, pattern=\\d+\\.\\d{2}}"
    );
    // Children are unqualified: no name= (namespace) on any nested element.
    for tree in trees.values() {
        for (path, text) in flatten(tree).iter().filter(|(p, _)| p.contains('/')) {
            assert!(
                !text.contains("name="),
                "{path} is namespace-qualified: {text}"
            );
        }
    }
}

#[test]
fn element_trees_match_the_official_schema() {
    let Some(official_path) = official_schema_path() else {
        eprintln!(
            "note: official paForNode.xsd not found under ../shared/reference; \
             contract comparison skipped"
        );
        return;
    };
    let ours = load_ours();
    let official = Xsd::load(&official_path).expect("reading the official schema");
    assert_eq!(
        ours.global_elements_in(PAFN_NS),
        official.global_elements_in(PAFN_NS),
        "the global elements of the paForNode namespace differ"
    );
    let diffs = compare(&ours, &official).expect("expanding the schemas");
    assert!(
        diffs.is_empty(),
        "our xsd/ differs from the official schema:\n  {}",
        diffs.join("\n  ")
    );
    let n: usize = expand_all(&ours)
        .unwrap()
        .values()
        .map(|e| flatten(e).len())
        .sum();
    eprintln!("compared {n} element paths under 12 global elements: identical");

    // Type names are visible to clients too (xsi:type, generated classes): every
    // named type we declare exists, simple or complex alike, in the official set.
    for (ours_table, official_table, kind) in [
        (&ours.complex_types, &official.complex_types, "complexType"),
        (&ours.simple_types, &official.simple_types, "simpleType"),
    ] {
        for name in ours_table.keys() {
            assert!(
                official_table.contains_key(name),
                "{kind} {} is not a {kind} of the official schema",
                xsd::show(name)
            );
        }
    }
}

/// Loads our schema set with one file's text altered in memory.
fn ours_altered(file: &str, from: &str, to: &str) -> Xsd {
    let target = xsd::normalize(&our_schema_path().with_file_name(file));
    let read = |p: &Path| -> Result<String, String> {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if p == target {
            assert_eq!(
                text.matches(from).count(),
                1,
                "{from:?} must occur once in {file}"
            );
            Ok(text.replacen(from, to, 1))
        } else {
            Ok(text)
        }
    };
    Xsd::load_with(&our_schema_path(), &read).expect("load altered schema")
}

#[test]
fn comparison_reports_alterations() {
    let ours = load_ours();
    assert_eq!(compare(&ours, &load_ours()).unwrap(), Vec::<String>::new());

    // Each alteration must be reported, and the report must name the element path.
    let cases: [(&str, &str, &str, &str); 8] = [
        (
            "pagopa-common-types.xsd",
            r#"<xs:maxLength value="35"/>"#,
            r#"<xs:maxLength value="36"/>"#,
            "paVerifyPaymentNoticeReq/idPA\n      ours:     [1..1] string {maxLength=35",
        ),
        (
            "pagopa-common-types.xsd",
            r#"<xs:pattern value="\d+\.\d{2}"/>"#,
            r#"<xs:pattern value="\d+(\.\d{2})?"/>"#,
            "paGetPaymentReq/amount",
        ),
        (
            "paForNode.xsd",
            r#"type="pafn:ctTransferPAV2" maxOccurs="5""#,
            r#"type="pafn:ctTransferPAV2" maxOccurs="6""#,
            "paGetPaymentV2Response/data/transferList/transfer\n      ours:     [1..5]",
        ),
        (
            "paForNode.xsd",
            "<xs:element name=\"civicNumber\" type=\"cmn:stText16\" minOccurs=\"0\"/>\n      \
             <xs:element name=\"postalCode\" type=\"cmn:stText16\" minOccurs=\"0\"/>",
            "<xs:element name=\"postalCode\" type=\"cmn:stText16\" minOccurs=\"0\"/>\n      \
             <xs:element name=\"civicNumber\" type=\"cmn:stText16\" minOccurs=\"0\"/>",
            "paGetPaymentRes/data/debtor\n",
        ),
        (
            "paForNode.xsd",
            "<xs:choice>\n        <xs:element name=\"IBAN\" type=\"pafn:stIBAN\"/>\n        \
             <xs:element name=\"MBDAttachment\" type=\"xs:base64Binary\"/>\n      </xs:choice>",
            "<xs:sequence>\n        <xs:element name=\"IBAN\" type=\"pafn:stIBAN\"/>\n        \
             <xs:element name=\"MBDAttachment\" type=\"xs:base64Binary\"/>\n      </xs:sequence>",
            "paSendRTV2Request/receipt/transferList/transfer\n",
        ),
        (
            "paForNode.xsd",
            r#"version="1.0.0">"#,
            r#"version="1.0.0" elementFormDefault="qualified">"#,
            "paVerifyPaymentNoticeReq/idPA\n      ours:     [1..1] string",
        ),
        (
            "paForNode.xsd",
            r#"<xs:element name="allCCP" type="xs:boolean">"#,
            r#"<xs:element name="allCCP" type="xs:string">"#,
            "paVerifyPaymentNoticeRes/paymentList/paymentOptionDescription/allCCP",
        ),
        (
            "paForNode.xsd",
            r#"<xs:element name="paSendRTV2Response" type="pafn:paSendRTV2Response"/>"#,
            "",
            "global element paSendRTV2Response: only in ours",
        ),
    ];
    for (file, from, to, expected) in cases {
        let altered = ours_altered(file, from, to);
        // The altered copy plays "official": the comparison must notice.
        let diffs = compare(&ours, &altered).expect("compare");
        let report = diffs.join("\n");
        assert!(
            report.contains(expected),
            "altering {file} ({from:?} -> {to:?}) should be reported as {expected:?}; got:\n{report}"
        );
    }
}

#[test]
fn pattern_spellings_compare_equal() {
    // `[A-Z]{2}` in ours and `[A-Z]{2,2}` would describe the same strings.
    let a = ours_altered(
        "pagopa-common-types.xsd",
        r#"value="[A-Z]{2}""#,
        r#"value="[A-Z]{2,2}""#,
    );
    assert!(compare(&load_ours(), &a).unwrap().is_empty());
}

// ======================================================================
// Tests: envelopes through xmllint, against both schema sets
// ======================================================================

fn envelope(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
                  xmlns:paf="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd">
  <soapenv:Header/>
  <soapenv:Body>
{body}
  </soapenv:Body>
</soapenv:Envelope>
"#
    )
}

const VERIFY_REQ: &str = r#"    <paf:paVerifyPaymentNoticeReq>
      <idPA>77777777777</idPA>
      <idBrokerPA>15376371009</idBrokerPA>
      <idStation>15376371009_01</idStation>
      <qrCode>
        <fiscalCode>77777777777</fiscalCode>
        <noticeNumber>311111111112222222</noticeNumber>
      </qrCode>
    </paf:paVerifyPaymentNoticeReq>"#;

const VERIFY_OK: &str = r#"    <paf:paVerifyPaymentNoticeRes>
      <outcome>OK</outcome>
      <paymentList>
        <paymentOptionDescription>
          <amount>30.00</amount>
          <options>EQ</options>
          <dueDate>2026-12-31</dueDate>
          <detailDescription>Waste tax, first instalment</detailDescription>
          <allCCP>false</allCCP>
        </paymentOptionDescription>
      </paymentList>
      <paymentDescription>Waste tax 2026</paymentDescription>
      <fiscalCodePA>77777777777</fiscalCodePA>
      <companyName>Comune di Esempio</companyName>
      <officeName>Tributi</officeName>
    </paf:paVerifyPaymentNoticeRes>"#;

fn transfer_v2(id: u32, amount: &str, account: &str) -> String {
    format!(
        r#"          <transfer>
            <idTransfer>{id}</idTransfer>
            <transferAmount>{amount}</transferAmount>
            <fiscalCodePA>77777777777</fiscalCodePA>
            {account}
            <remittanceInformation>Rata {id}</remittanceInformation>
            <transferCategory>9/0101100IM/</transferCategory>
          </transfer>
"#
    )
}

const IBAN: &str = "<IBAN>IT15V0306909420100000300069</IBAN>";
const STAMP: &str = "<richiestaMarcaDaBollo>\
<hashDocumento>wHpFSLCGZjIvNSXxqtGbpdxZJ0zJxv8v3RuA8zFzlcM=</hashDocumento>\
<tipoBollo>01</tipoBollo><provinciaResidenza>RM</provinciaResidenza>\
</richiestaMarcaDaBollo>";

fn get_payment_v2_ok(amount: &str, transfers: &str) -> String {
    format!(
        r#"    <paf:paGetPaymentV2Response>
      <outcome>OK</outcome>
      <data>
        <creditorReferenceId>11111111112222222</creditorReferenceId>
        <paymentAmount>{amount}</paymentAmount>
        <dueDate>2026-12-31</dueDate>
        <description>Certificate with revenue stamp</description>
        <companyName>Comune di Esempio</companyName>
        <debtor>
          <uniqueIdentifier>
            <entityUniqueIdentifierType>F</entityUniqueIdentifierType>
            <entityUniqueIdentifierValue>RSSMRA80A01H501U</entityUniqueIdentifierValue>
          </uniqueIdentifier>
          <fullName>Mario Rossi</fullName>
          <country>IT</country>
          <e-mail>mario.rossi@example.it</e-mail>
        </debtor>
        <transferList>
{transfers}        </transferList>
        <metadata>
          <mapEntry><key>NOTIFICATION_FEE</key><value>200</value></mapEntry>
        </metadata>
      </data>
    </paf:paGetPaymentV2Response>"#
    )
}

const SEND_RT_V2_REQ: &str = r#"    <paf:paSendRTV2Request>
      <idPA>77777777777</idPA>
      <idBrokerPA>15376371009</idBrokerPA>
      <idStation>15376371009_01</idStation>
      <receipt>
        <receiptId>c110729d258c4ab1b765fe902038af7a</receiptId>
        <noticeNumber>311111111112222222</noticeNumber>
        <fiscalCode>77777777777</fiscalCode>
        <outcome>OK</outcome>
        <creditorReferenceId>11111111112222222</creditorReferenceId>
        <paymentAmount>46.00</paymentAmount>
        <description>Certificate with revenue stamp</description>
        <companyName>Comune di Esempio</companyName>
        <debtor>
          <uniqueIdentifier>
            <entityUniqueIdentifierType>G</entityUniqueIdentifierType>
            <entityUniqueIdentifierValue>01234567890</entityUniqueIdentifierValue>
          </uniqueIdentifier>
          <fullName>Esempio S.r.l.</fullName>
        </debtor>
        <transferList>
          <transfer>
            <idTransfer>1</idTransfer>
            <transferAmount>30.00</transferAmount>
            <fiscalCodePA>77777777777</fiscalCodePA>
            <companyName>Comune di Esempio</companyName>
            <IBAN>IT15V0306909420100000300069</IBAN>
            <remittanceInformation>Certificate</remittanceInformation>
            <transferCategory>9/0101100IM/</transferCategory>
          </transfer>
          <transfer>
            <idTransfer>2</idTransfer>
            <transferAmount>16.00</transferAmount>
            <fiscalCodePA>77777777777</fiscalCodePA>
            <MBDAttachment>PG1hcmNhRGFCb2xsbz48L21hcmNhRGFCb2xsbz4=</MBDAttachment>
            <remittanceInformation>Revenue stamp</remittanceInformation>
            <transferCategory>9/0301109AP/</transferCategory>
          </transfer>
        </transferList>
        <idPSP>ABI03069</idPSP>
        <pspFiscalCode>00799960158</pspFiscalCode>
        <PSPCompanyName>Banca Esempio</PSPCompanyName>
        <idChannel>00799960158_01</idChannel>
        <channelDescription>app</channelDescription>
        <paymentMethod>creditCard</paymentMethod>
        <fee>1.00</fee>
        <primaryCiIncurredFee>0.00</primaryCiIncurredFee>
        <idBundle>1</idBundle>
        <paymentDateTime>2026-11-28T10:15:30</paymentDateTime>
        <applicationDate>2026-11-28</applicationDate>
        <transferDate>2026-11-29</transferDate>
        <standIn>false</standIn>
      </receipt>
    </paf:paSendRTV2Request>"#;

const DEMAND_REQ: &str = r#"    <paf:paDemandPaymentNoticeRequest>
      <idPA>77777777777</idPA>
      <idBrokerPA>15376371009</idBrokerPA>
      <idStation>15376371009_01</idStation>
      <idServizio>DONAZ</idServizio>
      <idSoggettoServizio>00001</idSoggettoServizio>
      <datiSpecificiServizioRequest>PHNlcnZpY2UgeG1sbnM9Imh0dHA6Ly9QdW50b0FjY2Vzc29QU1Auc3Bjb29wLmdvdi5pdC9HZW5lcmFsU2VydmljZSI+PGltcG9ydG8+MTAuMDA8L2ltcG9ydG8+PC9zZXJ2aWNlPg==</datiSpecificiServizioRequest>
    </paf:paDemandPaymentNoticeRequest>"#;

const DEMAND_OK: &str = r#"    <paf:paDemandPaymentNoticeResponse>
      <outcome>OK</outcome>
      <qrCode>
        <fiscalCode>77777777777</fiscalCode>
        <noticeNumber>302000000000000173</noticeNumber>
      </qrCode>
      <paymentList>
        <paymentOptionDescription>
          <amount>10.00</amount>
          <options>EQ</options>
          <dueDate>2026-12-31</dueDate>
          <detailDescription>Donazione</detailDescription>
          <allCCP>false</allCCP>
        </paymentOptionDescription>
      </paymentList>
      <paymentDescription>Donazione</paymentDescription>
      <fiscalCodePA>77777777777</fiscalCodePA>
      <companyName>Comune di Esempio</companyName>
    </paf:paDemandPaymentNoticeResponse>"#;

const KO_RES: &str = r#"    <paf:paGetPaymentRes>
      <outcome>KO</outcome>
      <fault>
        <faultCode>PAA_PAGAMENTO_SCONOSCIUTO</faultCode>
        <faultString>Pagamento in attesa risulta sconosciuto all'Ente Creditore</faultString>
        <id>77777777777</id>
        <description>No debt position for notice 311111111112222222</description>
      </fault>
    </paf:paGetPaymentRes>"#;

fn valid_samples() -> Vec<(&'static str, String)> {
    let stamp_payment = format!(
        "{}{}",
        transfer_v2(1, "30.00", IBAN),
        transfer_v2(2, "16.00", STAMP)
    );
    vec![
        ("verify request", envelope(VERIFY_REQ)),
        ("verify OK response", envelope(VERIFY_OK)),
        (
            "getPaymentV2 OK with a stamp transfer",
            envelope(&get_payment_v2_ok("46.00", &stamp_payment)),
        ),
        ("sendRTV2 request", envelope(SEND_RT_V2_REQ)),
        ("getPayment KO response", envelope(KO_RES)),
        ("demand request", envelope(DEMAND_REQ)),
        ("demand OK response", envelope(DEMAND_OK)),
        (
            "verify request, default namespace and xmlns=\"\" children, no Header",
            r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>
<paVerifyPaymentNoticeReq xmlns="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd">
<idPA xmlns="">77777777777</idPA><idBrokerPA xmlns="">15376371009</idBrokerPA>
<idStation xmlns="">15376371009_01</idStation><qrCode xmlns=""><fiscalCode>77777777777</fiscalCode>
<noticeNumber>311111111112222222</noticeNumber></qrCode></paVerifyPaymentNoticeReq>
</S:Body></S:Envelope>"#
                .to_owned(),
        ),
        (
            "SOAP Fault",
            r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
<soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode>
<faultstring>not a SOAP envelope</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#
                .to_owned(),
        ),
    ]
}

/// (what, document, a fragment xmllint's message must contain on both sides)
fn invalid_samples() -> Vec<(&'static str, String, &'static str)> {
    let six: String = (1..=6).map(|i| transfer_v2(i, "10.00", IBAN)).collect();
    vec![
        (
            "qualified child <paf:idPA>",
            envelope(&VERIFY_REQ.replace(
                "<idPA>77777777777</idPA>",
                "<paf:idPA>77777777777</paf:idPA>",
            )),
            r#"Expected is ( idPA )"#,
        ),
        (
            "amount with one decimal (10.5)",
            envelope(&VERIFY_OK.replace("<amount>30.00</amount>", "<amount>10.5</amount>")),
            r#"[facet 'pattern'] The value '10.5'"#,
        ),
        (
            "six transfers",
            envelope(&get_payment_v2_ok("60.00", &six)),
            r#"Element 'transfer': This element is not expected"#,
        ),
        (
            "payload in a wrong namespace",
            envelope(VERIFY_REQ).replace(
                r#"xmlns:paf="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd""#,
                r#"xmlns:paf="http://pagopa-api.pagopa.gov.it/paForNode""#,
            ),
            r#"demanded by the strict wildcard"#,
        ),
        (
            "SOAP 1.2 envelope",
            envelope(VERIFY_REQ).replace(
                "http://schemas.xmlsoap.org/soap/envelope/",
                "http://www.w3.org/2003/05/soap-envelope",
            ),
            r#"soap-envelope}Envelope': No matching global declaration"#,
        ),
        (
            "unqualified payload element",
            envelope(&VERIFY_REQ.replace("paf:paVerify", "paVerify")),
            r#"Element 'paVerifyPaymentNoticeReq': This element is not expected"#,
        ),
        (
            "zero paymentAmount (stAmountNotZero)",
            envelope(&get_payment_v2_ok("0.00", &transfer_v2(1, "0.00", IBAN))),
            r#"[facet 'minInclusive'] The value '0.00'"#,
        ),
        (
            "unknown outcome",
            envelope(&KO_RES.replace("<outcome>KO</outcome>", "<outcome>KKL</outcome>")),
            r#"The value 'KKL' is not an element of the set"#,
        ),
        (
            "missing idPA",
            envelope(&VERIFY_REQ.replace("<idPA>77777777777</idPA>", "")),
            r#"Element 'idBrokerPA': This element is not expected. Expected is ( idPA )"#,
        ),
        (
            "two elements in Body",
            envelope(&format!("{VERIFY_REQ}\n{VERIFY_REQ}")),
            r#"paVerifyPaymentNoticeReq': This element is not expected"#,
        ),
        (
            "idServizio of four characters",
            envelope(&DEMAND_REQ.replace(">DONAZ<", ">DONA<")),
            r#"'idServizio': [facet 'length']"#,
        ),
        (
            "demand response with two payment options",
            envelope(&DEMAND_OK.replace(
                "</paymentOptionDescription>",
                "</paymentOptionDescription><paymentOptionDescription><amount>1.00</amount><options>EQ</options><allCCP>false</allCCP></paymentOptionDescription>",
            )),
            r#"Element 'paymentOptionDescription': This element is not expected"#,
        ),
        (
            "stamp type 02",
            envelope(&get_payment_v2_ok(
                "16.00",
                &transfer_v2(1, "16.00", &STAMP.replace(">01<", ">02<")),
            )),
            r#"The value '02' is not an element of the set {'01'}"#,
        ),
    ]
}

#[test]
fn valid_envelopes_pass_both_schema_sets() {
    for (what, xml) in valid_samples() {
        if let Err(e) = validate_envelope(xml.as_bytes()) {
            panic!("{what}: expected valid, got\n{e}\n--- document ---\n{xml}");
        }
    }
}

#[test]
fn invalid_envelopes_fail_on_both_schema_sets() {
    let sets = available_schema_sets();
    for (what, xml, because) in invalid_samples() {
        for &set in &sets {
            match validate_envelope_against(xml.as_bytes(), set) {
                Ok(()) => panic!("{what}: {set} accepted it\n--- document ---\n{xml}"),
                Err(e) => {
                    eprintln!("{what}: {e}");
                    assert!(e.contains(because), "{what}: expected {because:?} in\n{e}");
                }
            }
        }
        assert!(validate_envelope(xml.as_bytes()).is_err(), "{what}");
    }
}

#[test]
fn error_names_the_schema_set_and_the_problem() {
    let xml = envelope(&VERIFY_OK.replace("<amount>30.00</amount>", "<amount>10.5</amount>"));
    let err = validate_envelope_against(xml.as_bytes(), SchemaSet::Ours).unwrap_err();
    assert!(err.contains("our xsd/paForNode.xsd"), "{err}");
    assert!(err.contains("amount"), "{err}");
}

#[test]
fn parallel_validation_is_safe() {
    let handles: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                let xml = if i % 2 == 0 {
                    envelope(VERIFY_REQ)
                } else {
                    // idPA of 36 characters: one over stText35.
                    envelope(&VERIFY_REQ.replace(
                        "<idPA>77777777777</idPA>",
                        &format!("<idPA>{}</idPA>", "7".repeat(36)),
                    ))
                };
                (i, validate_envelope(xml.as_bytes()).is_ok())
            })
        })
        .collect();
    for h in handles {
        let (i, ok) = h.join().unwrap();
        assert_eq!(ok, i % 2 == 0, "document {i}");
    }
}

// ======================================================================
// Tests: WSDL
// ======================================================================

/// operation -> (soapAction, input element, output element)
type Operations = BTreeMap<String, (String, QName, QName)>;

fn wsdl_operations(path: &Path) -> Operations {
    let text = std::fs::read_to_string(path).unwrap();
    let root = dom::parse(&text).unwrap();
    assert!(root.is(WSDL_NS, "definitions"), "{}", path.display());
    let tns = root.attr("targetNamespace").map(str::to_owned);
    let children = |local: &'static str| root.children.iter().filter(move |c| c.is(WSDL_NS, local));
    let local_of = |n: &Node, attr: &str| -> String {
        let (ns, l) = n.resolve_qname(n.attr(attr).unwrap()).unwrap();
        assert_eq!(
            ns, tns,
            "{attr}={l} should be in the WSDL's target namespace"
        );
        l
    };

    let messages: BTreeMap<String, QName> = children("message")
        .map(|m| {
            let parts: Vec<&Node> = m
                .children
                .iter()
                .filter(|c| c.is(WSDL_NS, "part"))
                .collect();
            assert_eq!(
                parts.len(),
                1,
                "message {:?} must have one part",
                m.attr("name")
            );
            let element = parts[0]
                .resolve_qname(parts[0].attr("element").unwrap())
                .unwrap();
            (m.attr("name").unwrap().to_owned(), element)
        })
        .collect();
    let port_types: Vec<&Node> = children("portType").collect();
    assert_eq!(port_types.len(), 1);
    let bindings: Vec<&Node> = children("binding").collect();
    assert_eq!(bindings.len(), 1);
    let binding = bindings[0];
    assert_eq!(
        local_of(binding, "type"),
        port_types[0].attr("name").unwrap()
    );
    let soap_binding = binding
        .children
        .iter()
        .find(|c| c.is(WSDL_SOAP_NS, "binding"))
        .unwrap();
    assert_eq!(soap_binding.attr("style"), Some("document"));
    assert_eq!(
        soap_binding.attr("transport"),
        Some("http://schemas.xmlsoap.org/soap/http")
    );

    let mut ops = Operations::new();
    for op in port_types[0]
        .children
        .iter()
        .filter(|c| c.is(WSDL_NS, "operation"))
    {
        let name = op.attr("name").unwrap().to_owned();
        let io = |dir: &str| {
            let n = op.children.iter().find(|c| c.is(WSDL_NS, dir)).unwrap();
            messages[&local_of(n, "message")].clone()
        };
        let bop = binding
            .children
            .iter()
            .find(|c| c.is(WSDL_NS, "operation") && c.attr("name") == Some(&name))
            .unwrap_or_else(|| panic!("{name} is not bound"));
        let action = bop
            .children
            .iter()
            .find(|c| c.is(WSDL_SOAP_NS, "operation"))
            .and_then(|c| c.attr("soapAction"))
            .unwrap_or_default()
            .to_owned();
        for dir in ["input", "output"] {
            let body = bop
                .children
                .iter()
                .find(|c| c.is(WSDL_NS, dir))
                .and_then(|d| d.children.iter().find(|c| c.is(WSDL_SOAP_NS, "body")))
                .unwrap_or_else(|| panic!("{name}/{dir} has no soap:body"));
            assert_eq!(body.attr("use"), Some("literal"), "{name}/{dir}");
        }
        ops.insert(name, (action, io("input"), io("output")));
    }
    ops
}

#[test]
fn wsdl_is_well_formed() {
    well_formed(&our_wsdl_path()).unwrap_or_else(|e| panic!("wsdl/paForNode.wsdl: {e}"));
}

#[test]
fn wsdl_binds_six_document_literal_operations_to_our_elements() {
    let path = our_wsdl_path();
    let ops = wsdl_operations(&path);
    let names: Vec<&str> = ops.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "paDemandPaymentNotice",
            "paGetPayment",
            "paGetPaymentV2",
            "paSendRT",
            "paSendRTV2",
            "paVerifyPaymentNotice"
        ]
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let root = dom::parse(&text).unwrap();

    // The schema import resolves (relative to the WSDL) to our xsd/paForNode.xsd.
    let types = root
        .children
        .iter()
        .find(|c| c.is(WSDL_NS, "types"))
        .unwrap();
    let import = types.children[0]
        .children
        .iter()
        .find(|c| c.is(XS_NS, "import"))
        .unwrap();
    assert_eq!(import.attr("namespace"), Some(PAFN_NS));
    assert_eq!(import.attr("schemaLocation"), Some("../xsd/paForNode.xsd"));
    let resolved = xsd::normalize(&path.parent().unwrap().join("../xsd/paForNode.xsd"));
    assert_eq!(resolved, xsd::normalize(&our_schema_path()));

    let schema = load_ours();
    for (op, (action, input, output)) in &ops {
        assert_eq!(action, op, "soapAction of {op}");
        for el in [input, output] {
            assert!(
                schema.elements.contains_key(el),
                "{op}: {el:?} not in xsd/paForNode.xsd"
            );
        }
    }
    assert!(text.contains(r#"<soap:address location="http://localhost:8080/partner"/>"#));
}

#[test]
fn wsdl_operations_match_the_official_wsdl() {
    let Some(official) = official_wsdl_path() else {
        eprintln!("note: official paForNode.wsdl not found; comparison skipped");
        return;
    };
    assert_eq!(
        wsdl_operations(&our_wsdl_path()),
        wsdl_operations(&official)
    );
}
