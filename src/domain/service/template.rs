//! The texts of a spontaneous payment's notice (its description, each transfer's remittance
//! information): literal text with `{field}` placeholders, filled from the request's fields.

use crate::domain::Text;

/// A text with `{field}` placeholders, replaced by the field's value (nothing when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Piece>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Field(String),
}

impl Template {
    /// Parses `text`; `{{` and `}}` stand for literal braces.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    let closed = loop {
                        match chars.next() {
                            Some('}') => break true,
                            Some(c) => name.push(c),
                            None => break false,
                        }
                    };
                    if !closed || name.is_empty() || name.contains('{') {
                        return Err(format!("'{{{name}' is not a {{field}} placeholder"));
                    }
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Field(name));
                }
                '}' => return Err("'}' without '{' (write '}}' for a brace)".to_owned()),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        let template = Template(pieces);
        if template.literal_text().trim().is_empty() {
            return Err("must have some text besides {field} placeholders".to_owned());
        }
        Ok(template)
    }

    pub(super) fn fields(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|p| match p {
            Piece::Field(f) => Some(f.as_str()),
            Piece::Literal(_) => None,
        })
    }

    pub(super) fn literal_text(&self) -> String {
        self.0
            .iter()
            .filter_map(|p| match p {
                Piece::Literal(l) => Some(l.as_str()),
                Piece::Field(_) => None,
            })
            .collect()
    }

    /// The text with the values in, trimmed and cut to N characters.
    pub(super) fn render<const N: usize>(&self, values: &Values) -> Text<N> {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Literal(l) => out.push_str(l),
                Piece::Field(f) => out.push_str(values.get(f).unwrap_or("")),
            }
        }
        let cut: String = out.trim().chars().take(N).collect();
        Text::new(cut.trim_end()).expect("a template has non-blank literal text")
    }
}

/// The checked values of one request, by field name.
pub(super) struct Values<'a>(pub(super) Vec<(&'a str, &'a str)>);

impl Values<'_> {
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert_eq!(
            Template::parse("a {x} {{b}}").unwrap().0,
            vec![
                Piece::Literal("a ".into()),
                Piece::Field("x".into()),
                Piece::Literal(" {b}".into())
            ]
        );
        for bad in ["{x}", "a {x", "a }", "a {}", " {x} "] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
        let long = Template::parse(&format!("{} {{x}}", "a".repeat(139))).unwrap();
        let values = Values(vec![("x", "yyy")]);
        assert_eq!(long.render::<140>(&values).as_str(), "a".repeat(139));
    }
}
