//! The payment notice as an A4 PDF, laid out as the pagoPA guidelines' modules in their order:
//! header, creditor, recipient, amount and due date, where to pay, then the payment data (the
//! single payment, the installments in rows of 2 or 3, each followed by its Poste slip when the
//! creditor collects through Poste). Blocks are laid out first, in millimetres, then flowed onto
//! pages with the header repeated on each; krilla writes the PDF and subsets the fonts.

mod codes;
mod fonts;
mod texts;

use std::fmt;

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::image::Image;
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule};

use crate::domain::Cents;
use crate::domain::notice::{ImageFormat, Language, Notice, Payable};
use codes::Matrix;
use fonts::Style;

/// Why a notice could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderError {
    /// The creditor's logo is not a readable PNG or JPEG image.
    Logo(String),
    /// A QR code or Data Matrix could not be made from its payload.
    Code(String),
    /// The PDF writer refused the document.
    Pdf(String),
    /// The notice has neither a single payment nor installments.
    NothingPayable,
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::Logo(e) => write!(f, "the creditor's logo cannot be read: {e}"),
            RenderError::Code(e) => write!(f, "cannot encode a payment code: {e}"),
            RenderError::Pdf(e) => write!(f, "cannot write the PDF: {e}"),
            RenderError::NothingPayable => {
                write!(
                    f,
                    "the notice has neither a single payment nor installments"
                )
            }
        }
    }
}

impl std::error::Error for RenderError {}

/// The notice as a PDF document.
pub fn render(notice: &Notice) -> Result<Vec<u8>, RenderError> {
    if notice.single.is_none() && notice.installments.is_empty() {
        return Err(RenderError::NothingPayable);
    }
    let ctx = Ctx::new(notice)?;
    let mut flow = Flow::new(header(&ctx));
    flow.place(parties(&ctx));
    flow.place(amount_and_where(&ctx));
    let mut title = Some(payment_title(&ctx));
    if let Some(single) = &notice.single {
        flow.place(Block::stack(title.take(), single_block(&ctx, single)?));
        if notice.poste.is_some() {
            flow.place(poste_slip(
                &ctx,
                &ctx.tr("datiPagamento.rataUnica").0,
                single,
            )?);
        }
    }
    if !notice.installments.is_empty() {
        flow.place(Block::stack(title.take(), plan_header(&ctx)));
        for row in installment_rows(&ctx)? {
            flow.place(row);
        }
        if notice.poste.is_some() {
            for (i, p) in notice.installments.iter().enumerate() {
                flow.place(poste_slip(&ctx, &ctx.rata(i + 1).0, p)?);
            }
        }
    }
    write_pdf(notice, flow.finish())
}

// ---- units, colours, drawing operations ----

const PT_PER_MM: f32 = 72.0 / 25.4;
const PAGE_W: f32 = 210.0;
const PAGE_H: f32 = 297.0;
const MARGIN: f32 = 10.0;
const WIDTH: f32 = PAGE_W - 2.0 * MARGIN;
/// The space between modules.
const GAP: f32 = 6.0;
/// The two columns of the creditor/recipient and amount/where-to-pay rows.
const COL_W: f32 = 93.0;
const COL2_X: f32 = WIDTH - COL_W;
/// QR code and Data Matrix side, and the white margin kept around them.
const CODE: f32 = 25.0;
const QUIET: f32 = 3.0;
/// The height of a section bar.
const BAR_H: f32 = 5.5;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Colour(u8, u8, u8);

const BLACK: Colour = Colour(0, 0, 0);
/// The second language's colour.
const GREY: Colour = Colour(0x7C, 0x7C, 0x7B);
/// The section bars' background.
const LIGHT: Colour = Colour(0xEC, 0xEC, 0xEC);
/// 70 % black, for Poste's authorisation.
const BLACK_70: Colour = Colour(0x4D, 0x4D, 0x4D);

/// One drawing operation, in millimetres from the top-left corner of its block.
#[derive(Clone)]
enum Op {
    /// `y` is the top of the line; the baseline is computed from the size.
    Text {
        x: f32,
        y: f32,
        style: Style,
        size: f32,
        colour: Colour,
        text: String,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        colour: Colour,
    },
    /// A QR code or Data Matrix, `side` millimetres wide, dark modules in black.
    Code {
        x: f32,
        y: f32,
        side: f32,
        matrix: Matrix,
    },
    Image {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        image: Image,
    },
}

impl Op {
    fn shift(&mut self, dx: f32, dy: f32) {
        let (x, y) = match self {
            Op::Text { x, y, .. }
            | Op::Rect { x, y, .. }
            | Op::Code { x, y, .. }
            | Op::Image { x, y, .. } => (x, y),
        };
        *x += dx;
        *y += dy;
    }
}

/// The height of a line of text of `size` points, in millimetres.
fn line_h(size: f32) -> f32 {
    size * 1.25 / PT_PER_MM
}

/// Width of a text in millimetres.
fn text_w(style: Style, size: f32, text: &str) -> f32 {
    fonts::width(style, size, text) / PT_PER_MM
}

/// A laid-out piece of a page: its operations and its height.
#[derive(Default)]
struct Block {
    ops: Vec<Op>,
    h: f32,
}

impl Block {
    /// `first` (when there is one) above `second`, with a small space between.
    fn stack(first: Option<Block>, second: Block) -> Block {
        let Some(mut first) = first else {
            return second;
        };
        let dy = first.h + 2.0;
        for mut op in second.ops {
            op.shift(0.0, dy);
            first.ops.push(op);
        }
        first.h = dy + second.h;
        first
    }

    fn text(&mut self, x: f32, y: f32, style: Style, size: f32, colour: Colour, text: &str) -> f32 {
        if !text.is_empty() {
            self.ops.push(Op::Text {
                x,
                y,
                style,
                size,
                colour,
                text: text.to_string(),
            });
        }
        x + text_w(style, size, text)
    }

    fn text_right(
        &mut self,
        right: f32,
        y: f32,
        style: Style,
        size: f32,
        colour: Colour,
        text: &str,
    ) {
        let w = text_w(style, size, text);
        self.text(right - w, y, style, size, colour, text);
    }

    /// A paragraph wrapped to `w`; returns the y below it.
    fn para(&mut self, x: f32, y: f32, w: f32, (style, size, colour): Pen, text: &str) -> f32 {
        let mut y = y;
        for line in fonts::wrap(style, size, text, w * PT_PER_MM) {
            self.text(x, y, style, size, colour, &line);
            y += line_h(size);
        }
        y
    }

    /// A text in Italian with its second-language version in grey: beside it when both fit on
    /// one line of `w`, under it otherwise. Returns the y below.
    fn pair(&mut self, x: f32, y: f32, w: f32, style: Style, size: f32, pair: &Pair) -> f32 {
        match pair {
            (it, Some(second))
                if text_w(style, size, it) + 1.5 + text_w(style, size, second) <= w =>
            {
                let end = self.text(x, y, style, size, BLACK, it);
                self.text(end + 1.5, y, style, size, GREY, second);
                y + line_h(size)
            }
            _ => self.pair_para(x, y, w, style, size, pair),
        }
    }

    /// A paragraph in Italian, then its second-language version in grey under it.
    fn pair_para(
        &mut self,
        x: f32,
        y: f32,
        w: f32,
        style: Style,
        size: f32,
        (it, second): &Pair,
    ) -> f32 {
        let y = self.para(x, y, w, (style, size, BLACK), it);
        match second {
            Some(second) => self.para(x, y, w, (style, size, GREY), second),
            None => y,
        }
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, colour: Colour) {
        self.ops.push(Op::Rect { x, y, w, h, colour });
    }

    /// A section bar: a grey band with the title in bold and an optional text at its right
    /// end. Returns the y below it.
    fn bar(&mut self, x: f32, y: f32, w: f32, title: &Pair, right: Option<(&str, Style)>) -> f32 {
        let size = 7.5;
        let right_w = right.map_or(0.0, |(t, s)| text_w(s, size, t) + 3.0);
        // Measure first: the bar grows to two lines when the second language does not fit.
        let mut probe = Block::default();
        let below = probe.pair(
            x + 2.0,
            0.0,
            w - 4.0 - right_w,
            Style::TextBold,
            size,
            title,
        );
        let h = BAR_H.max(below + (BAR_H - line_h(size)));
        self.rect(x, y, w, h, LIGHT);
        let top = y + (BAR_H - line_h(size)) / 2.0;
        self.pair(
            x + 2.0,
            top,
            w - 4.0 - right_w,
            Style::TextBold,
            size,
            title,
        );
        if let Some((text, style)) = right {
            self.text_right(x + w - 2.0, top, style, size, BLACK, text);
        }
        y + h
    }

    /// A small label and its value under it; returns the y below.
    fn field(
        &mut self,
        x: f32,
        y: f32,
        w: f32,
        label: &Pair,
        value: &str,
        (style, size): (Style, f32),
    ) -> f32 {
        let y = self.pair(x, y, w, Style::Text, 6.5, label);
        self.para(x, y, w, (style, size, BLACK), value)
    }

    /// Fields side by side from `y`, each at its x and of its width; returns the y below the
    /// longest.
    fn fields_across(
        &mut self,
        y: f32,
        fields: &[(f32, f32, &Pair, &str)],
        look: (Style, f32),
    ) -> f32 {
        fields.iter().fold(y, |bottom, &(x, w, label, value)| {
            bottom.max(self.field(x, y, w, label, value, look))
        })
    }

    /// A QR code or Data Matrix at (x, y), on white.
    fn code(&mut self, x: f32, y: f32, matrix: Matrix) {
        self.ops.push(Op::Code {
            x,
            y,
            side: CODE,
            matrix,
        });
    }
}

/// How a text is drawn: font, size in points, colour.
type Pen = (Style, f32, Colour);

/// A text in Italian and, when the notice has one, in its second language.
type Pair = (String, Option<String>);

/// Both texts in capitals, as section titles are printed.
fn upper((it, second): Pair) -> Pair {
    (it.to_uppercase(), second.map(|s| s.to_uppercase()))
}

// ---- what the blocks share ----

struct Ctx<'a> {
    notice: &'a Notice,
    second: Option<Language>,
    logo: Option<Image>,
}

impl<'a> Ctx<'a> {
    fn new(notice: &'a Notice) -> Result<Ctx<'a>, RenderError> {
        let logo = match &notice.creditor.logo {
            None => None,
            Some(logo) => {
                let data: krilla::Data = logo.bytes.to_vec().into();
                let image = match logo.format {
                    // PDF/A forbids interpolated images.
                    ImageFormat::Png => Image::from_png(data, false),
                    ImageFormat::Jpeg => Image::from_jpeg(data, false),
                };
                Some(image.map_err(RenderError::Logo)?)
            }
        };
        Ok(Ctx {
            notice,
            second: notice.second_language.filter(|l| *l != Language::It),
            logo,
        })
    }

    fn tr(&self, key: &str) -> Pair {
        self.fill(key, 0)
    }

    fn fill(&self, key: &str, number: usize) -> Pair {
        let name = &self.notice.creditor.name;
        (
            texts::fill(Language::It, key, name, number),
            self.second.map(|l| texts::fill(l, key, name, number)),
        )
    }

    fn rata(&self, n: usize) -> Pair {
        self.fill("datiPagamento.numRata", n)
    }

    fn qr(&self, p: &Payable) -> Result<Matrix, RenderError> {
        codes::qr(&self.notice.qr_payload(p)).map_err(RenderError::Code)
    }
}

/// An amount as the guidelines print it in Italian: `1.020,99 €`.
pub fn format_amount(amount: Cents) -> String {
    let cents = amount.get();
    let (sign, cents) = if cents < 0 {
        ("-", -cents)
    } else {
        ("", cents)
    };
    let euros = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in euros.chars().enumerate() {
        if i > 0 && (euros.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped},{:02} €", cents % 100)
}

/// A notice code printed in groups of four digits: `4700 0000 8800 9990 51`.
pub fn format_notice_code(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

fn format_date(p: &Payable) -> String {
    p.due_date.format("%d/%m/%Y").to_string()
}

/// The largest size up to `size` at which `text` fits in `w` millimetres.
fn fit(style: Style, size: f32, text: &str, w: f32) -> f32 {
    let natural = text_w(style, size, text);
    if natural <= w {
        size
    } else {
        size * w / natural
    }
}

// ---- the modules ----

fn header(ctx: &Ctx) -> Block {
    let mut b = Block::default();
    let text_w = WIDTH - 35.0;
    let title = upper(ctx.tr("intestazione.titolo"));
    let y = b.pair(0.0, 0.0, text_w, Style::TextBold, 8.0, &title);
    let y = b.para(
        0.0,
        y + 2.0,
        text_w,
        (Style::TextBold, 14.0, BLACK),
        &ctx.notice.subject,
    );
    let mut h = y;
    if let Some(image) = &ctx.logo {
        // Fitted into 30×30 mm, aspect kept, against the right margin.
        let (pw, ph) = image.size();
        let scale = 30.0 / (pw.max(ph).max(1) as f32);
        let (w, h_img) = (pw as f32 * scale, ph as f32 * scale);
        b.ops.push(Op::Image {
            x: WIDTH - w,
            y: 0.0,
            w,
            h: h_img,
            image: image.clone(),
        });
        h = h.max(30.0);
    }
    b.h = h;
    b
}

fn parties(ctx: &Ctx) -> Block {
    let n = ctx.notice;
    let mut b = Block::default();
    // Creditor.
    let y = b.bar(
        0.0,
        0.0,
        COL_W,
        &upper(ctx.tr("infoEnteCreditore.titolo")),
        Some((n.creditor.fiscal_code.as_str(), Style::Mono)),
    );
    let mut y = b.para(
        2.0,
        y + 2.0,
        COL_W - 4.0,
        (Style::TextBold, 11.0, BLACK),
        &n.creditor.name,
    );
    if let Some(office) = &n.creditor.office {
        y = b.para(2.0, y + 1.0, COL_W - 4.0, (Style::Text, 8.5, BLACK), office);
    }
    if let Some(info) = &n.creditor.info {
        y = b.para(2.0, y + 1.0, COL_W - 4.0, (Style::Text, 7.0, BLACK), info);
    }
    let left = y;
    // Recipient.
    let y = b.bar(
        COL2_X,
        0.0,
        COL_W,
        &upper(ctx.tr("infoDestinatario.titolo")),
        n.debtor.fiscal_code.as_deref().map(|cf| (cf, Style::Mono)),
    );
    let mut y = b.para(
        COL2_X + 2.0,
        y + 2.0,
        COL_W - 4.0,
        (Style::TextBold, 11.0, BLACK),
        &n.debtor.full_name,
    );
    if let Some(address) = &n.debtor.address {
        y = b.para(
            COL2_X + 2.0,
            y + 1.0,
            COL_W - 4.0,
            (Style::Text, 8.5, BLACK),
            address,
        );
    }
    b.h = left.max(y);
    b
}

fn amount_and_where(ctx: &Ctx) -> Block {
    let n = ctx.notice;
    let mut b = Block::default();
    let inner = COL_W - 4.0;

    // How much and when.
    let y = b.bar(
        0.0,
        0.0,
        COL_W,
        &upper(ctx.tr("importoScadenza.titolo")),
        None,
    );
    let y = y + 2.0;
    let (amount, due) = match &n.single {
        Some(s) => (s.amount, Some(format_date(s))),
        None => {
            let total = n.installments.iter().map(|p| p.amount.get()).sum::<i64>();
            // Bounded by the guidelines' maximum times the installments: never out of range in
            // practice; the first installment's amount stands in if it were.
            let first = n.installments.first().map_or(Cents::ZERO, |p| p.amount);
            (Cents::new(total).unwrap_or(first), None)
        }
    };
    let below_label = b.pair(
        2.0,
        y,
        44.0,
        Style::Text,
        6.5,
        &ctx.tr("importoScadenza.importo.importo"),
    );
    let amount_text = format_amount(amount);
    let size = fit(Style::MonoBold, 13.0, &amount_text, 44.0);
    b.text(2.0, below_label, Style::MonoBold, size, BLACK, &amount_text);
    let mut y_left = below_label + line_h(13.0);
    if let Some(due) = due {
        let below = b.pair(
            50.0,
            y,
            inner - 48.0,
            Style::Text,
            6.5,
            &ctx.tr("importoScadenza.scadenza.scadenza"),
        );
        b.text(50.0, below, Style::MonoBold, 13.0, BLACK, &due);
        y_left = y_left.max(below + line_h(13.0));
    }
    let mut y = y_left;
    y += 2.0;
    let count = n.installments.len();
    if count >= 2 {
        let key = if n.single.is_some() {
            "importoScadenza.disclaimer.rate.rate"
        } else {
            "importoScadenza.disclaimer.rate.soloRate"
        };
        y = b.pair_para(2.0, y, inner, Style::TextBold, 7.0, &ctx.fill(key, count));
        if count >= MANY_INSTALLMENTS {
            y = b.pair_para(
                2.0,
                y,
                inner,
                Style::Text,
                7.0,
                &ctx.tr("importoScadenza.disclaimer.rate.molteRate"),
            );
        }
        y += 1.0;
    }
    let left = b.pair_para(
        2.0,
        y,
        inner,
        Style::Text,
        6.5,
        &ctx.tr("importoScadenza.disclaimer.legal"),
    );

    // Where to pay.
    let cta = texts::get(Language::It, "dovePagare.cta");
    let y = b.bar(
        COL2_X,
        0.0,
        COL_W,
        &upper(ctx.tr("dovePagare.titolo")),
        Some((cta, Style::TextBold)),
    );
    let x = COL2_X + 2.0;
    let mut y = y + 2.0;
    if let Some(l) = ctx.second {
        y = b.para(
            x,
            y,
            inner,
            (Style::Text, 6.5, GREY),
            texts::get(l, "dovePagare.cta"),
        );
    }
    y = b.pair(
        x,
        y,
        inner,
        Style::TextBold,
        7.5,
        &upper(ctx.tr("dovePagare.italia.online.titolo")),
    );
    let own = n.creditor.channels.web || n.creditor.channels.app;
    let online = if own {
        "dovePagare.italia.online.descrizione.sitoEnte"
    } else {
        "dovePagare.italia.online.descrizione.noEnte"
    };
    y = b.pair_para(x, y, inner, Style::Text, 7.0, &ctx.tr(online));
    y = b.pair(
        x,
        y + 2.0,
        inner,
        Style::TextBold,
        7.5,
        &upper(ctx.tr("dovePagare.italia.territorio.titolo")),
    );
    y = b.pair_para(
        x,
        y,
        inner,
        Style::Text,
        7.0,
        &ctx.tr("dovePagare.italia.territorio.descrizione"),
    );
    if let Some(place) = &n.creditor.physical_channel {
        y = b.para(x, y + 1.0, inner, (Style::TextBold, 7.0, BLACK), place);
    }
    b.h = left.max(y);
    b
}

fn payment_title(ctx: &Ctx) -> Block {
    let mut b = Block::default();
    b.h = b.bar(
        0.0,
        0.0,
        WIDTH,
        &upper(ctx.tr("datiPagamento.titolo")),
        None,
    );
    b
}

/// "entro il 31/12/2026" after a payable block's name, in both languages.
fn due_pair(ctx: &Ctx, name: &Pair, p: &Payable) -> Pair {
    let date = format_date(p);
    let due = ctx.tr("datiPagamento.scadenza");
    (
        format!("{} {} {date}", name.0, due.0),
        name.1
            .as_ref()
            .zip(due.1)
            .map(|(n, d)| format!("{n} {d} {date}")),
    )
}

fn single_block(ctx: &Ctx, p: &Payable) -> Result<Block, RenderError> {
    let n = ctx.notice;
    let mut b = Block::default();
    let head = due_pair(ctx, &ctx.tr("datiPagamento.rataUnica"), p);
    let y = b.pair(0.0, 0.0, WIDTH, Style::TextBold, 9.0, &head);
    let top = y + 1.0;

    // The QR code with its instructions under it.
    b.code(QUIET, top + QUIET, ctx.qr(p)?);
    let qr_bottom = top + CODE + 2.0 * QUIET;
    let left = b.pair_para(
        0.0,
        qr_bottom,
        CODE + 2.0 * QUIET + 4.0,
        Style::Text,
        6.5,
        &ctx.tr("datiPagamento.istruzioni.qrCode.rataUnica"),
    );

    // The data beside it, the amount at the right.
    let x = 40.0;
    let amount = format_amount(p.amount);
    b.text_right(WIDTH, top + 2.0, Style::MonoBold, 13.0, BLACK, &amount);
    let data_w = WIDTH - x - text_w(Style::MonoBold, 13.0, &amount) - 4.0;
    let (mut y, mut gap) = (top + 2.0, 0.0);
    for (label, value) in &facts(ctx) {
        y = b.field(x, y + gap, data_w, label, value, (Style::TextBold, 8.5));
        gap = 0.5;
    }
    y += 2.0;
    let code = format_notice_code(p.notice_number.as_str());
    let (cbill, notice, creditor) = (
        ctx.tr("datiPagamento.cbill.breve"),
        ctx.tr("datiPagamento.avviso.breve"),
        ctx.tr("datiPagamento.codiceFiscaleEnte.breve"),
    );
    let mut fields = Vec::new();
    if let Some(value) = &n.creditor.cbill {
        fields.push((x, 38.0, &cbill, value.as_str()));
    }
    fields.push((x + 40.0, 60.0, &notice, code.as_str()));
    let fiscal_code = n.creditor.fiscal_code.as_str();
    fields.push((x + 102.0, WIDTH - x - 102.0, &creditor, fiscal_code));
    let bottom = b.fields_across(y, &fields, (Style::MonoBold, 9.0));
    b.h = left.max(bottom);
    Ok(b)
}

/// From this many installments on, the compact layout: three to a row, the instructions once.
const MANY_INSTALLMENTS: usize = 9;

/// Who pays, who is paid and what for: labels and values, as every layout shows them.
fn facts<'a>(ctx: &Ctx<'a>) -> [(Pair, &'a str); 3] {
    let n = ctx.notice;
    [
        (ctx.tr("datiPagamento.destinatario"), &n.debtor.full_name),
        (ctx.tr("datiPagamento.enteCreditore"), &n.creditor.name),
        (ctx.tr("datiPagamento.oggettoDelPagamento"), &n.subject),
    ]
}

/// The data the installments share, above them.
fn plan_header(ctx: &Ctx) -> Block {
    let n = ctx.notice;
    let mut b = Block::default();
    let w = (WIDTH - 8.0) / 3.0;
    let facts = facts(ctx);
    let across: Vec<_> = (facts.iter().enumerate())
        .map(|(i, (label, value))| (i as f32 * (w + 4.0), w, label, *value))
        .collect();
    let mut y = b.fields_across(0.0, &across, (Style::TextBold, 8.5));
    if n.installments.len() >= MANY_INSTALLMENTS {
        y = b.pair_para(
            0.0,
            y + 1.0,
            WIDTH,
            Style::Text,
            6.5,
            &ctx.tr("datiPagamento.istruzioni.qrCode.rate"),
        );
    }
    b.h = y;
    b
}

/// The installments in rows of 2 or of 3, never both on one notice.
fn installment_rows(ctx: &Ctx) -> Result<Vec<Block>, RenderError> {
    let list = &ctx.notice.installments;
    let per_row = if list.len().is_multiple_of(3) || list.len() >= MANY_INSTALLMENTS {
        3
    } else if list.len().is_multiple_of(2) {
        2
    } else {
        3
    };
    let card_w = (WIDTH - 4.0 * (per_row as f32 - 1.0)) / per_row as f32;
    let mut rows = Vec::new();
    for (r, chunk) in list.chunks(per_row).enumerate() {
        let cards = chunk
            .iter()
            .enumerate()
            .map(|(i, p)| installment_card(ctx, r * per_row + i + 1, p, card_w))
            .collect::<Result<Vec<_>, _>>()?;
        let h = cards.iter().map(|c| c.h).fold(0.0, f32::max);
        let mut row = Block { ops: Vec::new(), h };
        for (i, card) in cards.into_iter().enumerate() {
            let dx = i as f32 * (card_w + 4.0);
            for mut op in card.ops {
                op.shift(dx, 0.0);
                row.ops.push(op);
            }
        }
        rows.push(row);
    }
    Ok(rows)
}

fn installment_card(ctx: &Ctx, number: usize, p: &Payable, w: f32) -> Result<Block, RenderError> {
    let n = ctx.notice;
    let mut b = Block::default();
    let y = b.bar(0.0, 0.0, w, &ctx.rata(number), None);
    let top = y + 1.5;
    // Amount and due date at the left, the QR code at the right.
    let code_x = w - CODE - QUIET;
    let text_w_left = code_x - QUIET - 1.0;
    let amount = format_amount(p.amount);
    let mut yl = b.pair(
        1.0,
        top,
        text_w_left,
        Style::Text,
        6.5,
        &ctx.tr("importoScadenza.importo.importo"),
    );
    b.text(
        1.0,
        yl,
        Style::MonoBold,
        fit(Style::MonoBold, 10.0, &amount, text_w_left),
        BLACK,
        &amount,
    );
    yl += line_h(10.0) + 1.0;
    yl = b.pair(
        1.0,
        yl,
        text_w_left,
        Style::Text,
        6.5,
        &ctx.tr("datiPagamento.scadenza"),
    );
    b.text(1.0, yl, Style::MonoBold, 10.0, BLACK, &format_date(p));
    b.code(code_x, top + QUIET, ctx.qr(p)?);
    let mut y = top + CODE + 2.0 * QUIET;
    // The codes under them.
    let code = format_notice_code(p.notice_number.as_str());
    y = b.field(
        1.0,
        y,
        w - 2.0,
        &ctx.tr("datiPagamento.avviso.breve"),
        &code,
        (Style::MonoBold, fit(Style::MonoBold, 9.0, &code, w - 2.0)),
    );
    let half = (w - 2.0) / 2.0;
    let y_cf = b.field(
        1.0,
        y + 0.5,
        half - 1.0,
        &ctx.tr("datiPagamento.codiceFiscaleEnte.breve"),
        n.creditor.fiscal_code.as_str(),
        (Style::MonoBold, 8.5),
    );
    let y_cbill = match &n.creditor.cbill {
        Some(cbill) => b.field(
            1.0 + half,
            y + 0.5,
            half - 1.0,
            &ctx.tr("datiPagamento.cbill.breve"),
            cbill,
            (Style::MonoBold, 8.5),
        ),
        None => y,
    };
    y = y_cf.max(y_cbill);
    if n.installments.len() < MANY_INSTALLMENTS {
        y = b.pair_para(
            1.0,
            y + 1.0,
            w - 2.0,
            Style::Text,
            6.0,
            &ctx.tr("datiPagamento.istruzioni.qrCode.rate"),
        );
    }
    b.h = y;
    Ok(b)
}

/// The Poste slip of one payable block: account, holder, debtor, subject, codes, Data Matrix.
fn poste_slip(ctx: &Ctx, name: &str, p: &Payable) -> Result<Block, RenderError> {
    let n = ctx.notice;
    let Some(poste) = &n.poste else {
        return Ok(Block::default());
    };
    let payload = n
        .poste_payload(p)
        .ok_or_else(|| RenderError::Code("no Poste payload".into()))?;
    let matrix = codes::data_matrix(&payload).map_err(RenderError::Code)?;
    let mut b = Block::default();
    let title: Pair = (texts::poste("titolo").to_uppercase(), None);
    let right = format!("{name} {} {}", texts::poste("scadenza"), format_date(p));
    let y = b.bar(0.0, 0.0, WIDTH, &title, Some((&right, Style::TextBold)));
    let top = y + 2.0;

    // Left: Poste's description and the authorisation.
    let left_w = 38.0;
    b.text(0.0, top, Style::TextBold, 9.0, BLACK, texts::poste("banco"));
    let yl = b.para(
        0.0,
        top + line_h(9.0) + 1.0,
        left_w,
        (Style::Text, 6.5, BLACK),
        texts::poste("descrizione"),
    );
    let aut = if poste.authorisation.trim_start().starts_with("AUT.") {
        poste.authorisation.clone()
    } else {
        format!("AUT. {}", poste.authorisation)
    };
    let yl = b.para(0.0, yl + 1.0, left_w, (Style::Text, 6.0, BLACK_70), &aut);

    // Middle: account, holder, debtor, subject, codes. Right: amount and Data Matrix.
    let x = 42.0;
    let code_x = WIDTH - CODE - QUIET;
    let mid_w = code_x - QUIET - x;
    let account = format!("{:0>12}", poste.account_number);
    let end = b.text(x, top + 0.8, Style::Text, 7.0, BLACK, texts::poste("conto"));
    b.text(end + 1.5, top, Style::MonoBold, 10.0, BLACK, &account);
    b.text_right(
        WIDTH,
        top,
        Style::MonoBold,
        11.0,
        BLACK,
        &format_amount(p.amount),
    );
    let mut y = top + line_h(11.0) + 1.5;
    for (label, value) in [
        (texts::poste("intestatario"), poste.holder.as_str()),
        (texts::poste("destinatario"), n.debtor.full_name.as_str()),
        (texts::poste("oggetto"), n.subject.as_str()),
    ] {
        let end = b.text(x, y + 0.3, Style::Text, 6.5, BLACK, label);
        y = b.para(
            end + 1.5,
            y,
            mid_w - (end - x) - 1.5,
            (Style::TextBold, 7.5, BLACK),
            value,
        );
    }
    let dm_top = y.max(top + line_h(11.0) + 1.5);
    b.code(code_x, dm_top, matrix);
    let dm_bottom = dm_top + CODE + QUIET;
    y += 1.5;
    let code = format_notice_code(p.notice_number.as_str());
    let one: fn(&str) -> Pair = |s| (s.to_string(), None);
    let (notice, kind, creditor) = (
        one(texts::poste("avviso")),
        one(texts::poste("tipo")),
        one(texts::poste("codiceFiscaleEnte")),
    );
    let fields = [
        (x, 50.0, &notice, code.as_str()),
        (x + 52.0, 14.0, &kind, "P1"),
        (
            x + 68.0,
            mid_w - 68.0,
            &creditor,
            n.creditor.fiscal_code.as_str(),
        ),
    ];
    let y = b.fields_across(y, &fields, (Style::MonoBold, 9.0));
    b.h = yl.max(y).max(dm_bottom);
    Ok(b)
}

// ---- pages ----

/// Places blocks one under the other, starting a new page, with the header, when one does not
/// fit.
struct Flow {
    header: Block,
    pages: Vec<Vec<Op>>,
    y: f32,
    /// Whether the current page holds only its header.
    fresh: bool,
}

impl Flow {
    fn new(header: Block) -> Flow {
        let mut flow = Flow {
            header,
            pages: Vec::new(),
            y: 0.0,
            fresh: true,
        };
        flow.new_page();
        flow
    }

    fn new_page(&mut self) {
        let mut ops = Vec::new();
        for op in &self.header.ops {
            let mut op = op.clone();
            op.shift(MARGIN, MARGIN);
            ops.push(op);
        }
        self.pages.push(ops);
        self.y = MARGIN + self.header.h + GAP;
        self.fresh = true;
    }

    fn place(&mut self, block: Block) {
        if block.ops.is_empty() {
            return;
        }
        if self.y + block.h > PAGE_H - MARGIN && !self.fresh {
            self.new_page();
        }
        let page = self.pages.last_mut().expect("a page");
        for mut op in block.ops {
            op.shift(MARGIN, self.y);
            page.push(op);
        }
        self.y += block.h + GAP;
        self.fresh = false;
    }

    fn finish(self) -> Vec<Vec<Op>> {
        self.pages
    }
}

fn fill(colour: Colour) -> Fill {
    Fill {
        paint: rgb::Color::new(colour.0, colour.1, colour.2).into(),
        opacity: NormalizedF32::ONE,
        rule: FillRule::NonZero,
    }
}

/// The creation date PDF/A requires, in UTC.
fn now() -> krilla::metadata::DateTime {
    use chrono::{Datelike, Timelike};
    let t = chrono::Utc::now();
    krilla::metadata::DateTime::new(t.year() as u16)
        .month(t.month() as u8)
        .day(t.day() as u8)
        .hour(t.hour() as u8)
        .minute(t.minute() as u8)
        .second(t.second() as u8)
        .utc_offset_hour(0)
        .utc_offset_minute(0)
}

fn write_pdf(notice: &Notice, pages: Vec<Vec<Op>>) -> Result<Vec<u8>, RenderError> {
    // PDF/A-2b, as pagoPA's notices are PDF/A-2: krilla checks the document and refuses what
    // the standard forbids.
    let mut doc = Document::new_with(krilla::SerializeSettings {
        configuration: krilla::configure::Configuration::new_with_validator(
            krilla::configure::Validator::A2_B,
        ),
        ..Default::default()
    });
    doc.set_metadata(
        Metadata::new()
            .title(notice.subject.clone())
            .language("it".into())
            .creator("gpd-gateway".into())
            .creation_date(now()),
    );
    let a4 =
        PageSettings::from_wh(PAGE_W * PT_PER_MM, PAGE_H * PT_PER_MM).expect("A4 is a valid size");
    let pt = |mm: f32| mm * PT_PER_MM;
    for ops in pages {
        let mut page = doc.start_page_with(a4.clone());
        let mut s = page.surface();
        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    style,
                    size,
                    colour,
                    text,
                } => {
                    s.set_fill(Some(fill(colour)));
                    let mut x = pt(x);
                    // The baseline sits at the ascent of a 1.25 line.
                    let baseline = pt(y) + size * 1.02;
                    for run in fonts::runs(style, &text) {
                        s.draw_glyphs(
                            Point::from_xy(x, baseline),
                            &run.glyphs,
                            run.font.clone(),
                            &run.text,
                            size,
                            false,
                        );
                        x += run.width * size;
                    }
                }
                Op::Rect { x, y, w, h, colour } => {
                    let mut pb = PathBuilder::new();
                    if let Some(r) = Rect::from_xywh(pt(x), pt(y), pt(w), pt(h)) {
                        pb.push_rect(r);
                    }
                    if let Some(path) = pb.finish() {
                        s.set_fill(Some(fill(colour)));
                        s.draw_path(&path);
                    }
                }
                Op::Code { x, y, side, matrix } => {
                    let module = pt(side) / matrix.size as f32;
                    let mut pb = PathBuilder::new();
                    for (mx, my, len) in matrix.runs() {
                        if let Some(r) = Rect::from_xywh(
                            pt(x) + mx as f32 * module,
                            pt(y) + my as f32 * module,
                            len as f32 * module,
                            module,
                        ) {
                            pb.push_rect(r);
                        }
                    }
                    if let Some(path) = pb.finish() {
                        s.set_fill(Some(fill(BLACK)));
                        s.draw_path(&path);
                    }
                }
                Op::Image { x, y, w, h, image } => {
                    if let Some(size) = Size::from_wh(pt(w), pt(h)) {
                        s.push_transform(&Transform::from_translate(pt(x), pt(y)));
                        s.draw_image(image, size);
                        s.pop();
                    }
                }
            }
        }
        s.finish();
        page.finish();
    }
    doc.finish().map_err(|e| RenderError::Pdf(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_printed_the_italian_way() {
        let a = |c| format_amount(Cents::new(c).unwrap());
        assert_eq!(a(102099), "1.020,99 €");
        assert_eq!(a(5), "0,05 €");
        assert_eq!(a(99_999_999_999), "999.999.999,99 €");
        assert_eq!(a(100_000), "1.000,00 €");
        assert_eq!(a(99_900), "999,00 €");
    }

    #[test]
    fn a_notice_with_nothing_to_pay_is_refused() {
        use crate::domain::FiscalCodePA;
        use crate::domain::notice::{Channels, NoticeCreditor, NoticeDebtor};
        let n = Notice {
            subject: "Nulla".into(),
            creditor: NoticeCreditor {
                fiscal_code: FiscalCodePA::parse("99999000013").unwrap(),
                name: "Comune di Prova".into(),
                office: None,
                info: None,
                cbill: None,
                channels: Channels::default(),
                physical_channel: None,
                logo: None,
            },
            debtor: NoticeDebtor {
                fiscal_code: None,
                full_name: "Mario Rossi".into(),
                address: None,
            },
            single: None,
            installments: vec![],
            poste: None,
            second_language: None,
        };
        assert_eq!(render(&n), Err(RenderError::NothingPayable));
    }

    #[test]
    fn notice_codes_are_grouped_by_four() {
        assert_eq!(
            format_notice_code("470000008800999051"),
            "4700 0000 8800 9990 51"
        );
    }

    #[test]
    fn the_fonts_have_every_character_the_guidelines_require() {
        let required = "àèéìòùÀÈÉÌÒÙ čšžČŠŽ äöüÄÖÜß · € ’ «»º";
        assert!(fonts::own_font_covers(Style::Text, required));
        assert!(fonts::own_font_covers(Style::TextBold, required));
        assert!(fonts::own_font_covers(Style::Mono, "0123456789 €,."));
        // Other scripts come from the fallback font.
        assert!(fonts::covers(
            Style::TextBold,
            "Αλέξανδρος Παπαδόπουλος Дмитрий Иванов"
        ));
    }
}
