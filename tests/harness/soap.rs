//! SOAP requests of the Node to the example configuration's creditor 77777777777, through its
//! station 77777777777_01.

/// A getPayment request in the JAX-WS style (S/ns2 prefixes, ns2 declared on the payload), V1
/// or V2, with `extra` after the qrCode (e.g. a transferType).
pub fn get_payment_request(v2: bool, notice: &str, extra: &str) -> String {
    let wrapper = if v2 {
        "paGetPaymentV2Request"
    } else {
        "paGetPaymentReq"
    };
    format!(
        r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns2:{wrapper} xmlns:ns2="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><idPA>77777777777</idPA><idBrokerPA>77777777777</idBrokerPA><idStation>77777777777_01</idStation><qrCode><fiscalCode>77777777777</fiscalCode><noticeNumber>{notice}</noticeNumber></qrCode>{extra}</ns2:{wrapper}></S:Body></S:Envelope>"#
    )
}

/// A paDemandPaymentNotice of creditor 77777777777 on its station for `service`, with these
/// fields of its service data.
pub fn demand_request(service: &str, fields: &str) -> String {
    let data = gpd_gateway::xml::base64::encode(
        format!(r#"<service xmlns="http://PuntoAccessoPSP.spcoop.gov.it/GeneralService">{fields}</service>"#)
            .as_bytes(),
    );
    format!(
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:pafn="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><soapenv:Body><pafn:paDemandPaymentNoticeRequest><idPA>77777777777</idPA><idBrokerPA>77777777777</idBrokerPA><idStation>77777777777_01</idStation><idServizio>{service}</idServizio><idSoggettoServizio>00001</idSoggettoServizio><datiSpecificiServizioRequest>{data}</datiSpecificiServizioRequest></pafn:paDemandPaymentNoticeRequest></soapenv:Body></soapenv:Envelope>"#
    )
}

/// A paVerifyPaymentNotice request for one of the creditor's notices.
pub fn verify_request(notice: &str) -> String {
    format!(
        r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns2:paVerifyPaymentNoticeReq xmlns:ns2="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><idPA>77777777777</idPA><idBrokerPA>77777777777</idBrokerPA><idStation>77777777777_01</idStation><qrCode><fiscalCode>77777777777</fiscalCode><noticeNumber>{notice}</noticeNumber></qrCode></ns2:paVerifyPaymentNoticeReq></S:Body></S:Envelope>"#
    )
}
