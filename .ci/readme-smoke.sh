#!/usr/bin/env bash
# Runs the README's quick-start examples against `serve --demo` on a spare port and checks the
# answers, then stops the gateway with SIGTERM and checks it exits cleanly.
# Usage: .ci/readme-smoke.sh path/to/gpd-gateway
set -euo pipefail
bin=${1:?usage: $0 path/to/gpd-gateway}
port=${PORT:-18089}
base="http://127.0.0.1:$port"
data=$(mktemp -d)
log="$data/gateway.log"
"$bin" serve --demo --listen "127.0.0.1:$port" --data "$data" 2>"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 100); do
    curl -sf "$base/health" >/dev/null && break
    sleep 0.1
done

expect() { # expect NAME TEXT OUTPUT
    if ! grep -qF -- "$2" <<<"$3"; then
        echo "readme-smoke: $1: expected '$2' in:"; echo "$3"; cat "$log"; exit 1
    fi
    echo "readme-smoke: $1 ok"
}

created=$(curl -s -X POST "$base/organizations/77777777777/debtpositions?toPublish=true" \
    -H 'Content-Type: application/json' -d @- <<'JSON'
{
  "iupd": "README-1", "type": "F", "fiscalCode": "RSSMRA80A01H501U", "fullName": "Mario Rossi",
  "companyName": "Comune di Esempio", "switchToExpired": false,
  "paymentOption": [{
    "iuv": "01000000000010050", "amount": 10000, "description": "Canone 2026",
    "isPartialPayment": false, "dueDate": "2099-12-31T23:59:59",
    "transfer": [{
      "idTransfer": "1", "amount": 10000, "remittanceInformation": "Canone 2026",
      "category": "9/0101108TS/", "iban": "IT60X0542811101000000123456"
    }]
  }]
}
JSON
)
expect "create position" '"status":"VALID"' "$created"

verify() { # verify NOTICE
    curl -s "$base/partner" -H 'Content-Type: text/xml' -H 'SOAPAction: paVerifyPaymentNotice' -d @- <<XML
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
                  xmlns:pafn="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd">
  <soapenv:Body>
    <pafn:paVerifyPaymentNoticeReq>
      <idPA>77777777777</idPA>
      <idBrokerPA>77777777777</idBrokerPA>
      <idStation>77777777777_01</idStation>
      <qrCode><fiscalCode>77777777777</fiscalCode><noticeNumber>$1</noticeNumber></qrCode>
    </pafn:paVerifyPaymentNoticeReq>
  </soapenv:Body>
</soapenv:Envelope>
XML
}
expect "verify the new position" '<amount>100.00</amount>' "$(verify 301000000000010050)"
expect "verify a demo position" '<amount>150.00</amount>' "$(verify 301000000000000144)"
expect "verify a draft" '<faultCode>PAA_PAGAMENTO_SCONOSCIUTO</faultCode>' "$(verify 301000000000000649)"
stamp=$(curl -s "$base/partner" -H 'Content-Type: text/xml' -H 'SOAPAction: paGetPaymentV2' -d @- <<'XML'
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
                  xmlns:pafn="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd">
  <soapenv:Body>
    <pafn:paGetPaymentV2Request>
      <idPA>77777777777</idPA>
      <idBrokerPA>77777777777</idBrokerPA>
      <idStation>77777777777_01</idStation>
      <qrCode><fiscalCode>77777777777</fiscalCode><noticeNumber>301000000000000548</noticeNumber></qrCode>
    </pafn:paGetPaymentV2Request>
  </soapenv:Body>
</soapenv:Envelope>
XML
)
expect "getPaymentV2 with a stamp" '<richiestaMarcaDaBollo>' "$stamp"
expect "read the position" '"iupd":"README-1"' "$(curl -s "$base/organizations/77777777777/debtpositions/README-1")"
doc='<service xmlns="http://PuntoAccessoPSP.spcoop.gov.it/GeneralService"><importo>25.00</importo><causale>restauro della fontana</causale></service>'
demand=$(curl -s "$base/partner" -H 'Content-Type: text/xml' -H 'SOAPAction: paDemandPaymentNotice' -d @- <<XML
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
                  xmlns:pafn="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd">
  <soapenv:Body>
    <pafn:paDemandPaymentNoticeRequest>
      <idPA>77777777777</idPA>
      <idBrokerPA>77777777777</idBrokerPA>
      <idStation>77777777777_01</idStation>
      <idServizio>DONAZ</idServizio>
      <idSoggettoServizio>00001</idSoggettoServizio>
      <datiSpecificiServizioRequest>$(printf '%s' "$doc" | base64 -w0)</datiSpecificiServizioRequest>
    </pafn:paDemandPaymentNoticeRequest>
  </soapenv:Body>
</soapenv:Envelope>
XML
)
expect "spontaneous payment" '<noticeNumber>302000000000000184</noticeNumber>' "$demand"
expect "verify the spontaneous payment" '<amount>25.00</amount>' "$(verify 302000000000000184)"
expect "WSDL" 'paVerifyPaymentNotice' "$(curl -s "$base/partner?wsdl")"
station=$(curl -s -X PUT "$base/organizations/88888888888/broadcast-stations/88888888888_01" \
  -H 'Content-Type: application/json' \
  -d '{"brokerId": "88888888888", "url": "https://ec.example.it/paForNode",
       "primitiveVersion": 2, "timeoutMs": 1000, "enabled": true}')
expect "register a broadcast station" '"stationId":"88888888888_01"' "$station"
expect "list broadcast stations" '"url":"https://ec.example.it/paForNode"' \
    "$(curl -s "$base/organizations/88888888888/broadcast-stations")"
expect "list receipts" '"items_found":0' \
    "$(curl -s "$base/organizations/77777777777/receipts?status=FLAGGED&page=0&limit=50")"
expect "list deliveries" '"results":[]' \
    "$(curl -s "$base/organizations/88888888888/deliveries?state=FAILED")"
expect "delete a broadcast station" '204' "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE \
    "$base/organizations/88888888888/broadcast-stations/88888888888_01")"

kill -TERM "$pid"
wait "$pid"
echo "readme-smoke: graceful shutdown ok"
expect "deliveries from the command line" '0 of 0 deliveries' \
    "$("$bin" deliveries list --data "$data" --state PENDING)"
trap 'rm -rf "$data"' EXIT
