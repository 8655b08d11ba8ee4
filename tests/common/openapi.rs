//! Checks JSON values against the schemas of the gateway's OpenAPI document: the subset of
//! OpenAPI 3.0 schema objects the document uses (`$ref`, `type`, `properties`, `required`,
//! `additionalProperties: false`, `items`, `enum`, `nullable`, `minimum`, `maximum`,
//! `maxLength`, `pattern` as a plain-ASCII class check). A keyword it does not know fails the
//! check, so the document cannot drift into schemas that are silently not checked.

use serde_json::Value;

pub struct OpenApi {
    pub doc: Value,
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
];

impl OpenApi {
    pub fn new(doc: Value) -> OpenApi {
        OpenApi { doc }
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
        let schema = match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => self.resolve(r),
            None => schema,
        };
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
                        None if schema["additionalProperties"] == Value::Bool(false) => {
                            errors.push(format!("{at}: field {name} is not documented"))
                        }
                        None => {}
                    }
                }
            }
            ("array", Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    self.walk(&schema["items"], item, &format!("{at}[{i}]"), errors);
                }
            }
            ("string", Value::String(s)) => {
                if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
                    && s.chars().count() as u64 > max
                {
                    errors.push(format!("{at}: longer than {max}"));
                }
                if let Some(p) = schema.get("pattern").and_then(Value::as_str)
                    && !simple_pattern(p, s)
                {
                    errors.push(format!("{at}: '{s}' does not match {p}"));
                }
            }
            ("integer", Value::Number(n)) if n.is_i64() || n.is_u64() => {
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
            ("number", Value::Number(_)) | ("boolean", Value::Bool(_)) => {}
            (kind, value) => errors.push(format!("{at}: {value} is not of type {kind}")),
        }
    }
}

/// The patterns the document uses: `^[class]{n}$` or `^[class]{n,m}$` with ranges like `0-9`,
/// `A-Z`. Anything else fails loudly.
fn simple_pattern(pattern: &str, s: &str) -> bool {
    let inner = pattern
        .strip_prefix("^[")
        .and_then(|p| p.strip_suffix('$'))
        .unwrap_or_else(|| panic!("pattern {pattern} is not of the checked form"));
    let (class, count) = inner
        .split_once("]{")
        .unwrap_or_else(|| panic!("pattern {pattern} is not of the checked form"));
    let count = count.strip_suffix('}').expect("closing brace");
    let (min, max) = match count.split_once(',') {
        Some((a, b)) => (a.parse().unwrap(), b.parse().unwrap()),
        None => (count.parse().unwrap(), count.parse().unwrap()),
    };
    let class: Vec<char> = class.chars().collect();
    let ranges: Vec<(char, char)> = class
        .chunks(3)
        .map(|c| match c {
            [a, '-', b] => (*a, *b),
            _ => panic!("pattern {pattern}: only ranges like 0-9"),
        })
        .collect();
    let n = s.chars().count();
    (min..=max).contains(&n)
        && s.chars()
            .all(|c| ranges.iter().any(|(a, b)| (*a..=*b).contains(&c)))
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
    }
}
