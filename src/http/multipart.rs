//! `multipart/form-data` bodies (RFC 7578), as far as a file upload needs: the boundary from
//! the Content-Type, the parts between boundaries, and each part's name and file name from its
//! Content-Disposition. Written here rather than taken from a crate: the whole body is already
//! in memory (bounded by the body limit), so this is a search for the boundary and a header
//! split.

/// One part of the form.
#[derive(Debug, PartialEq, Eq)]
pub struct Part<'a> {
    pub name: String,
    pub filename: Option<String>,
    pub body: &'a [u8],
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// `key=value` parameters after the first `;` of a header value; quoted values may hold `;`.
fn parameters(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut fields = Vec::new();
    let (mut current, mut quoted, mut escaped) = (String::new(), false, false);
    for c in value.chars() {
        match c {
            _ if escaped => {
                current.push(c);
                escaped = false;
            }
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => fields.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    fields.push(current);
    for field in fields.into_iter().skip(1) {
        if let Some((k, v)) = field.split_once('=') {
            out.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    out
}

/// The boundary a `multipart/form-data` Content-Type names.
pub fn boundary(content_type: &str) -> Result<String, String> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("multipart/form-data") {
        return Err(format!(
            "Content-Type: '{media}' must be multipart/form-data, with the file in a part named file"
        ));
    }
    parameters(content_type)
        .into_iter()
        .find(|(k, _)| k == "boundary")
        .map(|(_, v)| v)
        .filter(|b| (1..=70).contains(&b.len()))
        .ok_or_else(|| {
            "Content-Type: multipart/form-data needs a boundary of 1 to 70 characters".into()
        })
}

/// The parts of `body`, a `multipart/form-data` body with this Content-Type.
pub fn parts<'a>(content_type: &str, body: &'a [u8]) -> Result<Vec<Part<'a>>, String> {
    let delimiter = format!("--{}", boundary(content_type)?).into_bytes();
    let broken = |why: &str| format!("multipart body: {why}");
    // The first delimiter starts the body or a line of its own (after a preamble).
    let mut at = if body.starts_with(&delimiter) {
        0
    } else {
        let mut line = b"\r\n".to_vec();
        line.extend_from_slice(&delimiter);
        find(body, &line, 0).ok_or_else(|| broken("no boundary found"))? + 2
    };
    let mut closing = b"\r\n".to_vec();
    closing.extend_from_slice(&delimiter);
    let mut parts = Vec::new();
    loop {
        at += delimiter.len();
        if body.get(at..at + 2) == Some(b"--") {
            return Ok(parts);
        }
        // Transport padding may follow a delimiter.
        while matches!(body.get(at), Some(b' ' | b'\t')) {
            at += 1;
        }
        if body.get(at..at + 2) != Some(b"\r\n") {
            return Err(broken("a boundary line must end with CRLF"));
        }
        at += 2;
        let headers_end =
            find(body, b"\r\n\r\n", at).ok_or_else(|| broken("a part's headers do not end"))?;
        let headers = std::str::from_utf8(&body[at..headers_end])
            .map_err(|_| broken("part headers must be UTF-8"))?;
        let content_start = headers_end + 4;
        let end = find(body, &closing, headers_end + 2)
            .ok_or_else(|| broken("the last part is not closed by its boundary"))?;
        let mut name = None;
        let mut filename = None;
        for line in headers.split("\r\n").filter(|l| !l.is_empty()) {
            let (key, value) = line
                .split_once(':')
                .ok_or_else(|| broken("a part header has no ':'"))?;
            if key.trim().eq_ignore_ascii_case("content-disposition") {
                for (k, v) in parameters(value) {
                    match k.as_str() {
                        "name" => name = Some(v),
                        "filename" => filename = Some(v),
                        _ => {}
                    }
                }
            }
        }
        let name = name.ok_or_else(|| broken("a part has no Content-Disposition name"))?;
        parts.push(Part {
            name,
            filename,
            body: body.get(content_start..end).unwrap_or_default(),
        });
        at = end + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_names_and_files() {
        let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a;b.zip\"\r\nContent-Type: application/zip\r\n\r\nPK\r\n\x00--X\r\n--XyZ--\r\n";
        let parts = parts("multipart/form-data; boundary=\"XyZ\"", body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].name.as_str(), parts[0].body),
            ("note", &b"hi"[..])
        );
        assert_eq!(parts[1].filename.as_deref(), Some("a;b.zip"));
        assert_eq!(parts[1].body, b"PK\r\n\x00--X");
    }

    #[test]
    fn refusals() {
        assert!(boundary("application/json").is_err());
        assert!(boundary("multipart/form-data").is_err());
        let ct = "multipart/form-data; boundary=B";
        for bad in [
            &b"nothing"[..],
            b"--B\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nno end",
            b"--B\r\nX-Other: 1\r\n\r\nbody\r\n--B--",
            b"--Bjunk",
        ] {
            assert!(parts(ct, bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parts(ct, b"--B--\r\n").unwrap(), vec![]);
    }
}
