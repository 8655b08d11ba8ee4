//! The notice's fonts and the little text layout it needs: each character is drawn with the
//! style's font, or with the fallback font when that one lacks it (Greek, Cyrillic and other
//! scripts in debtors' names), measured for wrapping and right alignment. No shaping: the
//! texts are Latin, Greek or Cyrillic, where glyphs map one to one onto characters.

use std::sync::OnceLock;

use krilla::text::{Font, GlyphId, KrillaGlyph};
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::{FontRef, MetadataProvider, charmap::Charmap};
use unicode_normalization::UnicodeNormalization;

/// The guidelines' fonts: Titillium Web for text, Roboto Mono for numbers and codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    Text,
    TextBold,
    Mono,
    MonoBold,
}

struct Face {
    font: Font,
    charmap: Charmap<'static>,
    metrics: GlyphMetrics<'static>,
    units_per_em: f32,
}

impl Face {
    fn load(data: &'static [u8]) -> Face {
        // The fonts are compiled in and read by the tests: a broken one fails every render test.
        let font_ref = FontRef::new(data).expect("embedded font parses");
        let units_per_em = font_ref.head().map(|h| h.units_per_em()).unwrap_or(1000) as f32;
        Face {
            font: Font::new(data.into(), 0).expect("embedded font loads"),
            charmap: font_ref.charmap(),
            metrics: font_ref.glyph_metrics(Size::unscaled(), LocationRef::default()),
            units_per_em,
        }
    }

    fn glyph(&self, c: char) -> Option<skrifa::GlyphId> {
        self.charmap.map(c)
    }

    /// The advance of a glyph, in ems.
    fn advance(&self, glyph: skrifa::GlyphId) -> f32 {
        self.metrics.advance_width(glyph).unwrap_or(0.0) / self.units_per_em
    }
}

use skrifa::raw::TableProvider;

struct Fonts {
    text: Face,
    text_bold: Face,
    mono: Face,
    mono_bold: Face,
    fallback: Face,
}

fn fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(|| Fonts {
        text: Face::load(include_bytes!(
            "../../../assets/fonts/TitilliumWeb-Regular.ttf"
        )),
        text_bold: Face::load(include_bytes!(
            "../../../assets/fonts/TitilliumWeb-Bold.ttf"
        )),
        mono: Face::load(include_bytes!(
            "../../../assets/fonts/RobotoMono-Regular.ttf"
        )),
        mono_bold: Face::load(include_bytes!("../../../assets/fonts/RobotoMono-Bold.ttf")),
        fallback: Face::load(include_bytes!("../../../assets/fonts/DejaVuSans.ttf")),
    })
}

impl Style {
    fn face(self) -> &'static Face {
        let f = fonts();
        match self {
            Style::Text => &f.text,
            Style::TextBold => &f.text_bold,
            Style::Mono => &f.mono,
            Style::MonoBold => &f.mono_bold,
        }
    }
}

/// A stretch of text drawn with one font.
pub(super) struct Run {
    pub font: Font,
    pub text: String,
    pub glyphs: Vec<KrillaGlyph>,
    /// In ems.
    pub width: f32,
}

/// `text` cut into runs of one font each, characters the style's font lacks taken from the
/// fallback font (or drawn as the style font's missing-glyph box when neither has them).
pub(super) fn runs(style: Style, text: &str) -> Vec<Run> {
    let primary = style.face();
    let fallback = &fonts().fallback;
    let mut out: Vec<Run> = Vec::new();
    let mut current: Option<(&Face, Run)> = None;
    for c in text.nfc() {
        let c = if c.is_control() { ' ' } else { c };
        let (face, glyph) = match primary.glyph(c) {
            Some(g) => (primary, g),
            None => match fallback.glyph(c) {
                Some(g) => (fallback, g),
                None => (primary, skrifa::GlyphId::NOTDEF),
            },
        };
        if let Some((f, _)) = &current
            && !std::ptr::eq(*f, face)
        {
            out.push(current.take().expect("a current run").1);
        }
        let (_, run) = current.get_or_insert_with(|| {
            (
                face,
                Run {
                    font: face.font.clone(),
                    text: String::new(),
                    glyphs: Vec::new(),
                    width: 0.0,
                },
            )
        });
        let start = run.text.len();
        run.text.push(c);
        let advance = face.advance(glyph);
        run.glyphs.push(KrillaGlyph::new(
            GlyphId::new(glyph.to_u32()),
            advance,
            0.0,
            0.0,
            0.0,
            start..run.text.len(),
            None,
        ));
        run.width += advance;
    }
    out.extend(current.map(|(_, r)| r));
    out
}

/// The width of `text` in points at `size`.
pub(super) fn width(style: Style, size: f32, text: &str) -> f32 {
    runs(style, text).iter().map(|r| r.width).sum::<f32>() * size
}

/// `text` broken into lines at most `max` points wide, at spaces where possible.
pub(super) fn wrap(style: Style, size: f32, text: &str, max: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if width(style, size, &candidate) <= max {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // A word longer than the line is cut wherever it overflows.
        for c in word.chars() {
            line.push(c);
            if width(style, size, &line) > max && line.chars().count() > 1 {
                line.pop();
                lines.push(std::mem::take(&mut line));
                line.push(c);
            }
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Whether every character of `text` has a glyph in the style's font or in the fallback font.
#[cfg(test)]
pub(super) fn covers(style: Style, text: &str) -> bool {
    text.nfc()
        .all(|c| style.face().glyph(c).is_some() || fonts().fallback.glyph(c).is_some())
}

/// Whether the style's own font has every character of `text`.
#[cfg(test)]
pub(super) fn own_font_covers(style: Style, text: &str) -> bool {
    text.nfc().all(|c| style.face().glyph(c).is_some())
}
