#!/usr/bin/env bash
# Runs the README's quick-start examples against `serve --demo` on a spare port, with the demo
# API key it prints, and checks the answers and the API key rules; then stops the gateway with
# SIGTERM and checks it exits cleanly.
# Usage: .ci/readme-smoke.sh path/to/gpd-gateway
# With STORE set (a PostgreSQL connection string), on that database instead of a data directory.
set -euo pipefail
bin=${1:?usage: $0 path/to/gpd-gateway}
port=${PORT:-18089}
base="http://127.0.0.1:$port"
data=$(mktemp -d)
log="$data/gateway.log"
store_args=(--data "$data")
[[ -n ${STORE:-} ]] && store_args=(--store "$STORE")
"$bin" serve --demo --listen "127.0.0.1:$port" "${store_args[@]}" 2>"$log" &
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

# The key the README tells to copy from the log.
KEY=$(sed -n 's/^demo API key: //p' "$log")
expect "demo API key printed" "gpd_" "$KEY"

created=$(curl -s -X POST "$base/organizations/77777777777/debtpositions?toPublish=true" \
    -H "Ocp-Apim-Subscription-Key: $KEY" -H 'Content-Type: application/json' -d @- <<'JSON'
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
expect "read the position" '"iupd":"README-1"' \
    "$(curl -s -H "Ocp-Apim-Subscription-Key: $KEY" "$base/organizations/77777777777/debtpositions/README-1")"
expect "ETag of the position" 'etag: "0"' \
    "$(curl -si "$base/organizations/77777777777/debtpositions/README-1" -H "Ocp-Apim-Subscription-Key: $KEY" | tr 'A-Z' 'a-z')"
update() { # update IF-MATCH
    curl -s -X PUT "$base/organizations/77777777777/debtpositions/README-1?toPublish=true" \
        -H "Ocp-Apim-Subscription-Key: $KEY" -H 'Content-Type: application/json' -H "If-Match: $1" -d @- <<'JSON'
{
  "iupd": "README-1", "type": "F", "fiscalCode": "RSSMRA80A01H501U", "fullName": "Mario Rossi",
  "companyName": "Comune di Esempio", "switchToExpired": false,
  "paymentOption": [{
    "iuv": "01000000000010050", "amount": 12000, "description": "Canone 2026 - rettifica",
    "isPartialPayment": false, "dueDate": "2099-12-31T23:59:59",
    "transfer": [{
      "idTransfer": "1", "amount": 12000, "remittanceInformation": "Canone 2026",
      "category": "9/0101108TS/", "iban": "IT60X0542811101000000123456"
    }]
  }]
}
JSON
}
updated=$(update '"0"')
expect "update the position" '"amount":12000' "$updated"
expect "update and publish again" '"status":"VALID"' "$updated"
expect "update with a stale If-Match" '"status":412' "$(update '"0"')"
fee=$(curl -s -X PUT "$base/organizations/77777777777/paymentoptions/301000000000010050/notificationfee" \
    -H "Ocp-Apim-Subscription-Key: $KEY" -H 'Content-Type: application/json' -d '{"notificationFee": 250}')
expect "set the notification fee" '"notificationFee":250' "$fee"
expect "the fee is added to the amount" '"amount":12250' "$fee"
listed=$(curl -s "$base/organizations/77777777777/debtpositions?status=VALID&orderby=IUPD&ordering=ASC&page=0&limit=10" \
    -H "Ocp-Apim-Subscription-Key: $KEY")
expect "list positions" '"iupd":"README-1"' "$listed"
expect "list page info" '"page_info":{"page":0,"limit":10' "$listed"
expect "delete a position" 'successfully deleted' \
    "$(curl -s -X DELETE "$base/organizations/77777777777/debtpositions/DEMO-BOZZA" -H "Ocp-Apim-Subscription-Key: $KEY")"
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
  -H "Ocp-Apim-Subscription-Key: $KEY" -H 'Content-Type: application/json' \
  -d '{"brokerId": "88888888888", "url": "https://ec.example.it/paForNode",
       "primitiveVersion": 2, "timeoutMs": 1000, "enabled": true}')
expect "register a broadcast station" '"stationId":"88888888888_01"' "$station"
expect "list broadcast stations" '"url":"https://ec.example.it/paForNode"' \
    "$(curl -s -H "Ocp-Apim-Subscription-Key: $KEY" "$base/organizations/88888888888/broadcast-stations")"
expect "list receipts" '"items_found":0' \
    "$(curl -s -H "Ocp-Apim-Subscription-Key: $KEY" "$base/organizations/77777777777/receipts?status=FLAGGED&page=0&limit=50")"
expect "list deliveries" '"results":[]' \
    "$(curl -s -H "Ocp-Apim-Subscription-Key: $KEY" "$base/organizations/88888888888/deliveries?state=FAILED")"
expect "delete a broadcast station" '204' "$(curl -s -o /dev/null -w '%{http_code}' \
    -H "Ocp-Apim-Subscription-Key: $KEY" -X DELETE \
    "$base/organizations/88888888888/broadcast-stations/88888888888_01")"

notice=$(curl -s -D - -o "$data/avviso.pdf" -H "Ocp-Apim-Subscription-Key: $KEY" \
    "$base/organizations/77777777777/debtpositions/DEMO-IMU-2025/notice" | tr 'A-Z' 'a-z')
expect "a payment notice" 'content-type: application/pdf' "$notice"
expect "a payment notice is a PDF" '%PDF-' "$(head -c 5 "$data/avviso.pdf")"

# API keys: the other header, no key, a key made while serving for one creditor only, revoked.
status() { # status [CURL ARGS...] URL -> the HTTP status code
    curl -s -o /dev/null -w '%{http_code}' "$@"
}
receipts="$base/organizations/77777777777/receipts"
expect "Authorization: Bearer" 200 "$(status -H "Authorization: Bearer $KEY" "$receipts")"
expect "no key is 401" 401 "$(status "$receipts")"
expect "401 challenge" 'www-authenticate: bearer' "$(curl -s -D - -o /dev/null "$receipts" | tr 'A-Z' 'a-z')"
expect "a wrong key is 401" 401 "$(status -H 'Ocp-Apim-Subscription-Key: wrong' "$receipts")"
other=$("$bin" keys create "${store_args[@]}" --org 88888888888 --label readme-smoke 2>/dev/null)
expect "keys create" "gpd_" "$other"
expect "own creditor with a new key" 200 \
    "$(status -H "Ocp-Apim-Subscription-Key: $other" "$base/organizations/88888888888/broadcast-stations")"
expect "another creditor is 403" 403 "$(status -H "Ocp-Apim-Subscription-Key: $other" "$receipts")"
id=$(cut -d_ -f2 <<<"$other")
expect "keys list" "$id" "$("$bin" keys list "${store_args[@]}")"
expect "keys revoke" "$id" "$("$bin" keys revoke "$id" "${store_args[@]}")"
expect "a revoked key is 401" 401 \
    "$(status -H "Ocp-Apim-Subscription-Key: $other" "$base/organizations/88888888888/broadcast-stations")"
expect "public paths need no key" 200 "$(status "$base/health")"
exported=$(curl -s -X POST "$base/organizations/77777777777/debtors/export" \
    -H "Ocp-Apim-Subscription-Key: $KEY" -H 'Content-Type: application/json' \
    -d '{"fiscalCode": "RSSMRA80A01H501U"}')
expect "a debtor's export" '"iupd":"README-1"' "$exported"
erasure=$(curl -s -X POST "$base/organizations/77777777777/debtors/erase" \
    -H "Ocp-Apim-Subscription-Key: $KEY" -H 'Content-Type: application/json' \
    -d '{"fiscalCode": "RSSMRA80A01H501U"}')
expect "a debtor's erasure keeps an open debt" 'an open debt the creditor is bound to collect' "$erasure"

kill -TERM "$pid"
wait "$pid"
echo "readme-smoke: graceful shutdown ok"
expect "deliveries from the command line" '0 of 0 deliveries' \
    "$("$bin" deliveries list "${store_args[@]}" --state PENDING)"
"$bin" notices render --org 77777777777 --iupd DEMO-TARI-2025 "${store_args[@]}" -o "$data/tari.pdf" 2>/dev/null
expect "a payment notice from the command line" '%PDF-' "$(head -c 5 "$data/tari.pdf")"
trap 'rm -rf "$data"' EXIT
