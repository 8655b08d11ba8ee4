//! Certificates made at test time, as PEM files in a directory: a CA, the gateway's certificate
//! for 127.0.0.1 and localhost, and client certificates (good, expired, of another CA); and
//! `curl` and `openssl s_client` to talk to the gateway over TLS with them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SerialNumber, date_time_ymd,
};

/// A certificate authority and the files it has issued into `dir`.
pub struct Pki {
    pub dir: PathBuf,
    ca: CertifiedIssuer<'static, KeyPair>,
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CountryName, "IT");
    name.push(DnType::OrganizationName, "Test PagoPA");
    name.push(DnType::CommonName, common_name);
    name
}

impl Pki {
    /// A CA named `ca_name`, its certificate written to `{dir}/{ca_name}.pem`.
    pub fn new(dir: &Path, ca_name: &str) -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name = name(ca_name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        std::fs::write(dir.join(format!("{ca_name}.pem")), ca.pem()).unwrap();
        Pki {
            dir: dir.to_owned(),
            ca,
        }
    }

    pub fn ca_file(&self, ca_name: &str) -> PathBuf {
        self.dir.join(format!("{ca_name}.pem"))
    }

    /// The gateway's certificate and key, `{file}.pem` and `{file}.key`, for 127.0.0.1 and
    /// localhost, with `common_name` and `serial`.
    pub fn server(&self, file: &str, common_name: &str, serial: u64) -> (PathBuf, PathBuf) {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.distinguished_name = name(common_name);
        params.serial_number = Some(SerialNumber::from(serial));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(file, params)
    }

    /// A client certificate for `common_name`; `expired` one valid in 2020 only.
    pub fn client(&self, file: &str, common_name: &str, expired: bool) -> (PathBuf, PathBuf) {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = name(common_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if expired {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2021, 1, 1);
        }
        self.issue(file, params)
    }

    fn issue(&self, file: &str, params: CertificateParams) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &*self.ca).unwrap();
        let (cert_file, key_file) = (
            self.dir.join(format!("{file}.pem")),
            self.dir.join(format!("{file}.key")),
        );
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        (cert_file, key_file)
    }
}

/// What `curl` got: the HTTP status (0 when no answer came) and the body.
#[derive(Debug)]
pub struct Curled {
    pub status: u16,
    pub body: String,
    pub stderr: String,
}

/// `curl -s` with `args`, printing the status on a last line of its own.
pub fn curl(args: &[&str]) -> Curled {
    let output = Command::new("curl")
        .args(["-sS", "-m", "10", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl is installed");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    Curled {
        status: status.trim().parse().unwrap_or(0),
        body: body.to_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The subject and serial of the certificate the gateway on `port` presents, as `openssl
/// x509` prints them (`subject=…`, `serial=…`).
pub fn presented_certificate(port: u16, ca: &Path) -> String {
    let mut s_client = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-CAfile", ca.to_str().unwrap(), "-verify_return_error"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl is installed");
    let x509 = Command::new("openssl")
        .args([
            "x509", "-noout", "-subject", "-serial", "-nameopt", "RFC2253",
        ])
        .stdin(s_client.stdout.take().unwrap())
        .output()
        .unwrap();
    let _ = s_client.wait();
    String::from_utf8_lossy(&x509.stdout).into_owned()
}
