//! The two-dimensional codes of a notice as module matrices: the pagoPA QR code (version 4,
//! error correction M, as the guidelines fix it) and the Poste Data Matrix (ECC200). The page
//! draws them as vector rectangles.

use qrcode::{EcLevel, QrCode, Version};

/// A square matrix of modules; `dark[y * size + x]`.
#[derive(Clone)]
pub(super) struct Matrix {
    pub size: usize,
    pub dark: Vec<bool>,
}

impl Matrix {
    /// The dark modules as horizontal runs `(x, y, length)`, so that a row of adjacent modules
    /// is one rectangle.
    pub fn runs(&self) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        for y in 0..self.size {
            let row = &self.dark[y * self.size..(y + 1) * self.size];
            let mut x = 0;
            while x < self.size {
                if row[x] {
                    let start = x;
                    while x < self.size && row[x] {
                        x += 1;
                    }
                    out.push((start, y, x - start));
                } else {
                    x += 1;
                }
            }
        }
        out
    }
}

pub(super) fn qr(payload: &str) -> Result<Matrix, String> {
    let code = QrCode::with_version(payload.as_bytes(), Version::Normal(4), EcLevel::M)
        .map_err(|e| format!("QR code for a {}-byte payload: {e}", payload.len()))?;
    Ok(Matrix {
        size: code.width(),
        dark: code
            .to_colors()
            .into_iter()
            .map(|c| c == qrcode::Color::Dark)
            .collect(),
    })
}

pub(super) fn data_matrix(payload: &str) -> Result<Matrix, String> {
    let code =
        datamatrix::DataMatrix::encode(payload.as_bytes(), datamatrix::SymbolList::default())
            .map_err(|e| format!("Data Matrix for a {}-byte payload: {e:?}", payload.len()))?;
    let bitmap = code.bitmap();
    let size = bitmap.width();
    if bitmap.height() != size {
        return Err(format!(
            "Data Matrix of {}×{} modules is not square",
            size,
            bitmap.height()
        ));
    }
    let mut dark = vec![false; size * size];
    for (x, y) in bitmap.pixels() {
        dark[y * size + x] = true;
    }
    Ok(Matrix { size, dark })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_is_version_4() {
        let m = qr("PAGOPA|002|470000008800999051|99999000013|150000").unwrap();
        assert_eq!(m.size, 33);
        // The longest payload the guidelines allow still fits version 4-M.
        let longest = format!(
            "PAGOPA|002|{}|{}|{}",
            "1".repeat(18),
            "9".repeat(11),
            "9".repeat(11)
        );
        assert_eq!(qr(&longest).unwrap().size, 33);
    }

    #[test]
    fn poste_payload_is_a_48_square() {
        // The reference notice's payload.
        let payload = format!(
            "codfase=NBPA;18{}12{}10{}38961P1{}{:<16}{:<40}{:<110}{}A",
            "470000008800999051",
            "000000123456",
            "0000150000",
            "99999000013",
            "FFFCST83A15L113V",
            "Mario Rossi",
            "Avviso Pagamento di TEST",
            " ".repeat(12)
        );
        assert_eq!(payload.len(), 256);
        let m = data_matrix(&payload).unwrap();
        assert_eq!(m.size, 48);
    }

    #[test]
    fn runs_cover_exactly_the_dark_modules() {
        let m = qr("PAGOPA|002|470000008800999051|99999000013|05").unwrap();
        let mut seen = vec![false; m.size * m.size];
        for (x, y, len) in m.runs() {
            for i in x..x + len {
                assert!(!seen[y * m.size + i]);
                seen[y * m.size + i] = true;
            }
        }
        assert_eq!(seen, m.dark);
    }
}
