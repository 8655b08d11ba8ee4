//! Checks JSON values against the schemas of an OpenAPI 3.0 document (the gateway's own, or
//! one of the platform's in `../shared/reference`): the subset of schema objects these
//! documents use (`$ref`, `type`, `properties`, `required`, `additionalProperties: false`,
//! `items`, `enum`, `nullable`, `minimum`, `maximum`, `minLength`, `maxLength`, `minItems`,
//! `maxItems`, `pattern`, `allOf`, `oneOf`, `anyOf`). A keyword it does not know fails the
//! check, so a document cannot hold schemas that are silently not checked. `format` is not
//! checked: the platform's services write dates in more shapes than the formats they name.
//! [`OpenApi::closed`] also refuses fields a schema does not name, for documents that leave
//! their objects open but describe every field an answer may have.

use std::path::PathBuf;

use regex::Regex;
use serde_json::Value;

pub struct OpenApi {
    pub doc: Value,
    /// Every object schema taken as `additionalProperties: false`.
    closed: bool,
}

const KNOWN: &[&str] = &[
    "$ref",
    "type",
    "format",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "nullable",
    "minimum",
    "maximum",
    "maxLength",
    "pattern",
    "default",
    "description",
    "minLength",
    "minItems",
    "maxItems",
    "allOf",
    "oneOf",
    "anyOf",
    "readOnly",
    "example",
    "deprecated",
    "title",
];

/// Where the platform's official documents are, when they are beside the repository.
pub fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference")
}

impl OpenApi {
    pub fn new(doc: Value) -> OpenApi {
        OpenApi { doc, closed: false }
    }

    /// The same document, with fields no schema names refused.
    pub fn closed(self) -> OpenApi {
        OpenApi {
            closed: true,
            ..self
        }
    }

    /// An official document under [`reference_dir`] (`pagopa-api/openapi/gpd-4-aca.json`,
    /// `send/….yaml`), or `None` when the reference documents are not there.
    pub fn reference(relative: &str) -> Option<OpenApi> {
        let text = std::fs::read_to_string(reference_dir().join(relative)).ok()?;
        let doc = if relative.ends_with(".yaml") {
            serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{relative}: {e}"))
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{relative}: {e}"))
        };
        Some(OpenApi::new(doc))
    }

    /// The object a local `$ref` points to.
    pub fn resolve<'a>(&'a self, reference: &str) -> &'a Value {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local references: {reference}"));
        self.doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling reference {reference}"))
    }

    /// `schema`, or what its `$ref` points to.
    pub fn resolve_schema<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => self.resolve(r),
            None => schema,
        }
    }

    /// Every `(method, path template)` the document describes.
    pub fn operations(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (path, item) in self.doc["paths"].as_object().expect("paths") {
            for method in ["get", "put", "post", "delete", "patch"] {
                if item.get(method).is_some() {
                    out.push((method.to_uppercase(), path.clone()));
                }
            }
        }
        out
    }

    /// The schema of the documented response, or an error if that status or content type is
    /// not documented for the operation.
    pub fn response_schema(
        &self,
        method: &str,
        template: &str,
        status: u16,
        content_type: &str,
    ) -> Result<Option<&Value>, String> {
        let operation = self.doc["paths"][template]
            .get(method.to_lowercase())
            .ok_or_else(|| format!("{method} {template} is not documented"))?;
        let response = operation["responses"]
            .get(status.to_string())
            .ok_or_else(|| format!("{method} {template}: status {status} is not documented"))?;
        // A response may be one of `components/responses`.
        let response = self.resolve_schema(response);
        let Some(content) = response.get("content") else {
            return Ok(None);
        };
        let media = content_type.split(';').next().unwrap_or("").trim();
        let entry = content.get(media).ok_or_else(|| {
            format!("{method} {template} {status}: content type {media} is not documented")
        })?;
        Ok(entry.get("schema"))
    }

    /// Checks `value` against `schema`; the errors name the JSON path.
    pub fn check(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.walk(schema, value, "$", &mut errors);
        errors
    }

    fn walk(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = self.resolve_schema(schema);
        let map = schema.as_object().expect("a schema is an object");
        for key in map.keys() {
            if !KNOWN.contains(&key.as_str()) {
                errors.push(format!("{at}: schema keyword {key} is not checked"));
            }
        }
        if value.is_null() {
            if schema["nullable"] != Value::Bool(true) {
                errors.push(format!("{at}: null where the schema does not allow it"));
            }
            return;
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            errors.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
        for part in schema
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.walk(part, value, at, errors);
        }
        for keyword in ["oneOf", "anyOf"] {
            if let Some(parts) = schema.get(keyword).and_then(Value::as_array) {
                let fits = parts
                    .iter()
                    .filter(|p| self.check(p, value).is_empty())
                    .count();
                if fits == 0 || (keyword == "oneOf" && fits > 1) {
                    errors.push(format!("{at}: {fits} of the {keyword} schemas fit"));
                }
            }
        }
        let Some(kind) = schema.get("type").and_then(Value::as_str) else {
            return;
        };
        match (kind, value) {
            ("object", Value::Object(fields)) => {
                let props = schema.get("properties").and_then(Value::as_object);
                for name in schema
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let name = name.as_str().expect("required names");
                    if !fields.contains_key(name) {
                        errors.push(format!("{at}: required field {name} is missing"));
                    }
                }
                for (name, v) in fields {
                    match props.and_then(|p| p.get(name)) {
                        Some(s) => self.walk(s, v, &format!("{at}.{name}"), errors),
                        None if self.closed
                            || schema["additionalProperties"] == Value::Bool(false) =>
                        {
                            errors.push(format!("{at}: field {name} is not documented"))
                        }
                        None => {}
                    }
                }
            }
            ("array", Value::Array(items)) => {
                let count = items.len() as u64;
                if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
                    && count < min
                {
                    errors.push(format!("{at}: fewer than {min} items"));
                }
                if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
                    && count > max
                {
                    errors.push(format!("{at}: more than {max} items"));
                }
                for (i, item) in items.iter().enumerate() {
                    self.walk(&schema["items"], item, &format!("{at}[{i}]"), errors);
                }
            }
            ("string", Value::String(s)) => {
                let length = s.chars().count() as u64;
                if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
                    && length > max
                {
                    errors.push(format!("{at}: longer than {max}"));
                }
                if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
                    && length < min
                {
                    errors.push(format!("{at}: shorter than {min}"));
                }
                if let Some(p) = schema.get("pattern").and_then(Value::as_str)
                    && !pattern(p).is_match(s)
                {
                    errors.push(format!("{at}: '{s}' does not match {p}"));
                }
            }
            ("integer" | "number", Value::Number(n))
                if kind == "number" || n.is_i64() || n.is_u64() =>
            {
                let n = n.as_f64().expect("a number");
                if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
                    && n < min
                {
                    errors.push(format!("{at}: {n} is below {min}"));
                }
                if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
                    && n > max
                {
                    errors.push(format!("{at}: {n} is above {max}"));
                }
            }
            ("boolean", Value::Bool(_)) => {}
            (kind, value) => errors.push(format!("{at}: {value} is not of type {kind}")),
        }
    }
}

/// A document's pattern as a regex. The documents write Java's (`\h` for a horizontal space)
/// and counts up to `i32::MAX`, which are one or more.
fn pattern(p: &str) -> Regex {
    let translated = p.replace("\\h", "[ \\t]").replace("{1,2147483647}", "+");
    Regex::new(&translated).unwrap_or_else(|e| panic!("pattern {p}: {e}"))
}

/// A parameter's value as written in a path, query or header, as the JSON value its schema
/// types: numbers and booleans parsed, anything else a string.
pub fn parameter_value(schema: &Value, text: &str) -> Value {
    match schema.get("type").and_then(Value::as_str) {
        Some("integer" | "number") => text
            .parse::<serde_json::Number>()
            .map(Value::Number)
            .unwrap_or_else(|_| Value::String(text.to_owned())),
        Some("boolean") => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text.to_owned()),
        },
        _ => Value::String(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_checker_finds_what_is_wrong() {
        let api = OpenApi::new(json!({"components": {"schemas": {
            "T": {"type": "object", "additionalProperties": false, "required": ["a"],
                  "properties": {"a": {"type": "integer", "minimum": 1},
                                 "b": {"type": "string", "pattern": "^[0-9]{2}$", "nullable": true},
                                 "c": {"type": "array", "items": {"type": "string", "enum": ["X"]}}}}}}}));
        let schema = json!({"$ref": "#/components/schemas/T"});
        assert!(
            api.check(&schema, &json!({"a": 1, "b": "12", "c": ["X"]}))
                .is_empty()
        );
        assert!(api.check(&schema, &json!({"a": 1, "b": null})).is_empty());
        let errors = api.check(&schema, &json!({"a": 0, "b": "1x", "c": ["Y"], "d": 1}));
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert_eq!(api.check(&schema, &json!({"b": "12"})).len(), 1);
        assert_eq!(api.check(&schema, &json!({"a": "1"})).len(), 1);
        let open = json!({"type": "object", "properties": {"a": {"type": "integer"}}});
        assert!(api.check(&open, &json!({"a": 1, "z": 2})).is_empty());
        assert_eq!(api.closed().check(&open, &json!({"a": 1, "z": 2})).len(), 1);
    }

    #[test]
    fn java_patterns_and_combinations_are_checked() {
        let api = OpenApi::new(json!({}));
        let amount = json!({"type": "string", "pattern": "^\\d{1,2147483647}[.]\\d{1,2}?$"});
        assert!(api.check(&amount, &json!("10.50")).is_empty());
        assert_eq!(api.check(&amount, &json!("10,50")).len(), 1);
        let words = json!({"type": "string", "pattern": "[\\w*\\h-]+", "minLength": 2});
        assert!(api.check(&words, &json!("a b-c")).is_empty());
        assert_eq!(api.check(&words, &json!("a")).len(), 1);
        let either = json!({"oneOf": [{"type": "integer"}, {"type": "string"}]});
        assert!(api.check(&either, &json!(1)).is_empty());
        assert_eq!(api.check(&either, &json!(true)).len(), 1);
        let list = json!({"type": "array", "items": {"type": "number"}, "maxItems": 1});
        assert_eq!(api.check(&list, &json!([1.5, 2])).len(), 1);
    }
}
