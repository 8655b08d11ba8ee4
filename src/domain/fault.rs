//! The creditor's fault codes (PAA_*) and the fault bean a KO carries.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultCode {
    SintassiXsd,
    SintassiExtraXsd,
    IdDominioErrato,
    IdIntermediarioErrato,
    StazioneIntErrata,
    PagamentoSconosciuto,
    PagamentoScaduto,
    PagamentoAnnullato,
    PagamentoDuplicato,
    ReceiptDuplicata,
    Semantica,
    SystemError,
}

impl FaultCode {
    pub const ALL: [FaultCode; 12] = [
        FaultCode::SintassiXsd,
        FaultCode::SintassiExtraXsd,
        FaultCode::IdDominioErrato,
        FaultCode::IdIntermediarioErrato,
        FaultCode::StazioneIntErrata,
        FaultCode::PagamentoSconosciuto,
        FaultCode::PagamentoScaduto,
        FaultCode::PagamentoAnnullato,
        FaultCode::PagamentoDuplicato,
        FaultCode::ReceiptDuplicata,
        FaultCode::Semantica,
        FaultCode::SystemError,
    ];

    /// The code as written on the wire.
    pub fn code(self) -> &'static str {
        match self {
            FaultCode::SintassiXsd => "PAA_SINTASSI_XSD",
            FaultCode::SintassiExtraXsd => "PAA_SINTASSI_EXTRAXSD",
            FaultCode::IdDominioErrato => "PAA_ID_DOMINIO_ERRATO",
            FaultCode::IdIntermediarioErrato => "PAA_ID_INTERMEDIARIO_ERRATO",
            FaultCode::StazioneIntErrata => "PAA_STAZIONE_INT_ERRATA",
            FaultCode::PagamentoSconosciuto => "PAA_PAGAMENTO_SCONOSCIUTO",
            FaultCode::PagamentoScaduto => "PAA_PAGAMENTO_SCADUTO",
            FaultCode::PagamentoAnnullato => "PAA_PAGAMENTO_ANNULLATO",
            FaultCode::PagamentoDuplicato => "PAA_PAGAMENTO_DUPLICATO",
            FaultCode::ReceiptDuplicata => "PAA_RECEIPT_DUPLICATA",
            FaultCode::Semantica => "PAA_SEMANTICA",
            FaultCode::SystemError => "PAA_SYSTEM_ERROR",
        }
    }

    /// The short text tied to the code (faultString), as pagoPA's creditors write it.
    pub fn fault_string(self) -> &'static str {
        match self {
            FaultCode::SintassiXsd => "Errore di sintassi XSD",
            FaultCode::SintassiExtraXsd => "Errore di sintassi extra XSD",
            FaultCode::IdDominioErrato => "ID dominio errato",
            FaultCode::IdIntermediarioErrato => "IdBrokerPA errato",
            FaultCode::StazioneIntErrata => "IdStazione errato",
            FaultCode::PagamentoSconosciuto => "Pagamento sconosciuto",
            FaultCode::PagamentoScaduto => "Pagamento scaduto",
            FaultCode::PagamentoAnnullato => "Pagamento annullato",
            FaultCode::PagamentoDuplicato => "Pagamento duplicato",
            FaultCode::ReceiptDuplicata => "Ricevuta duplicata",
            FaultCode::Semantica => "Errore semantico",
            FaultCode::SystemError => "Errore di sistema",
        }
    }
}

impl fmt::Display for FaultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A business error: answered with HTTP 200, the operation's own response, outcome KO and this
/// fault bean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub code: FaultCode,
    /// Who raised it: the request's idPA when it had a usable one, else our broker id.
    pub id: String,
    /// Free text saying what exactly was wrong.
    pub description: String,
}

impl Fault {
    pub fn new(code: FaultCode, id: impl Into<String>, description: impl Into<String>) -> Self {
        Fault {
            code,
            id: id.into(),
            description: description.into(),
        }
    }
}
