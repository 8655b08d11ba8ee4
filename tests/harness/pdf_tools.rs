//! Reads a PDF back with the command-line tools a reader's side would use: `qpdf --check` for the
//! file's structure, `pdftoppm` to draw each page at 150 dpi, `zbarimg` and `dmtxread` to decode
//! the QR codes and Data Matrix symbols on those drawings, `pdftotext -layout` for the printed texts
//! and `pdffonts` for the embedded fonts (Debian: qpdf, poppler-utils, zbar-tools, dmtx-utils).

use std::path::Path;
use std::process::Command;

/// What the tools found in a PDF.
#[derive(Debug)]
pub struct PdfReading {
    pub pages: usize,
    /// The payloads of every QR code, page by page, in the order zbarimg reports them.
    pub qr_codes: Vec<String>,
    /// `pdftotext -layout` of the whole document.
    pub text: String,
    /// `pdffonts`'s table.
    pub fonts: String,
    images: Vec<std::path::PathBuf>,
    dir: tempfile::TempDir,
}

impl PdfReading {
    /// The Data Matrix payloads on a page (1-based), where the caller expects `count` of them:
    /// the search stops at that many, so the result has at most `count`.
    pub fn data_matrices(&self, page: usize, count: usize) -> Vec<String> {
        if count == 0 {
            return Vec::new();
        }
        dmtx(&self.images[page - 1], count)
    }

    /// `pdftotext -layout` of one page (1-based).
    pub fn page_text(&self, page: usize) -> String {
        let page = page.to_string();
        stdout(
            Command::new("pdftotext")
                .arg("-layout")
                .args(["-f", &page, "-l", &page])
                .arg(self.dir.path().join("notice.pdf"))
                .arg("-"),
        )
    }

    /// The text `pdftotext -layout` finds in a rectangle of a page (1-based), in millimetres
    /// from the top-left corner: one column of a two-column layout, read on its own.
    pub fn text_in(&self, page: usize, x: f32, y: f32, w: f32, h: f32) -> String {
        let pt = |mm: f32| format!("{}", (mm * 72.0 / 25.4).round() as i64);
        let page = page.to_string();
        stdout(
            Command::new("pdftotext")
                .arg("-layout")
                .args(["-f", &page, "-l", &page])
                .args(["-x", &pt(x), "-y", &pt(y), "-W", &pt(w), "-H", &pt(h)])
                .arg(self.dir.path().join("notice.pdf"))
                .arg("-"),
        )
    }
}

/// `text` with every run of white space made one space: a paragraph wrapped over several
/// lines reads as the sentence it is.
pub fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn run(cmd: &mut Command) -> std::process::Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} (is it installed?): {e}"))
}

fn stdout(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// `qpdf --check` must pass; then every page is drawn at 150 dpi in grey and decoded.
pub fn read_pdf(pdf: &[u8]) -> PdfReading {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("notice.pdf");
    std::fs::write(&file, pdf).expect("write the PDF");
    let check = stdout(Command::new("qpdf").arg("--check").arg(&file));
    assert!(
        check.contains("No syntax or stream encoding errors"),
        "qpdf --check: {check}"
    );
    stdout(
        Command::new("pdftoppm")
            .args(["-r", "150", "-gray", "-png"])
            .arg(&file)
            .arg(dir.path().join("page")),
    );
    let mut images: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list the pages")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    images.sort();
    let mut qr_codes = Vec::new();
    for image in &images {
        qr_codes.extend(zbar(image));
    }
    PdfReading {
        pages: images.len(),
        qr_codes,
        text: stdout(Command::new("pdftotext").arg("-layout").arg(&file).arg("-")),
        fonts: stdout(Command::new("pdffonts").arg(&file)),
        images,
        dir,
    }
}

/// Every QR code on a page image; none is an empty list (zbarimg then exits with 4).
fn zbar(image: &Path) -> Vec<String> {
    let out = run(Command::new("zbarimg")
        .args(["--nodbus", "-q", "--raw"])
        .arg(image));
    match out.status.code() {
        Some(0) => String::from_utf8(out.stdout)
            .expect("UTF-8 payloads")
            .lines()
            .map(str::to_string)
            .collect(),
        Some(4) => Vec::new(),
        _ => panic!(
            "zbarimg failed on {}: {}",
            image.display(),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// The Data Matrix symbols on a page image, up to `count`: dmtxread searches until it has
/// found that many or a minute has passed, which makes a search for none too slow to be run.
fn dmtx(image: &Path, count: usize) -> Vec<String> {
    let out = run(Command::new("dmtxread")
        .args(["-n", "-m", "60000", "-N", &count.to_string()])
        .arg(image));
    // dmtxread exits non-zero when it finds nothing.
    String::from_utf8(out.stdout)
        .expect("ASCII payloads")
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The names of the embedded fonts, from `pdffonts`, with their subset prefix removed; panics
/// if any font is not embedded.
pub fn embedded_fonts(reading: &PdfReading) -> Vec<String> {
    let mut names = Vec::new();
    for line in reading.fonts.lines().skip(2) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let Some(name) = cols.first() else { continue };
        // name type [type…] encoding emb sub uni object ID: "emb" is the fifth column from the end.
        let emb = cols[cols.len() - 5];
        assert_eq!(emb, "yes", "font not embedded: {line}");
        let name = name.split_once('+').map_or(*name, |(_, n)| n);
        names.push(name.to_string());
    }
    names
}
