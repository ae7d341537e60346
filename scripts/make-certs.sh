#!/usr/bin/env bash
# Regenerates the test and demo certificates in fixtures/certs/: one private CA and a leaf per name.
# They are committed so that tests and `npm run demo` need no openssl at run time; rerun this to renew them.
set -euo pipefail
cd "$(dirname "$0")/../fixtures/certs"
days=36500
# `make-certs.sh terminate` (re)writes only the terminate-mode extras below, signed by the existing CA.
only_terminate=${1:-}
if [ "$only_terminate" != terminate ]; then
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$days" \
  -subj "/CN=sni-router test CA" -keyout ca.key -out ca.pem \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi
leaf() { # name, SAN list
  local name=$1 san=$2
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$name" \
    -keyout "$name.key" -out "$name.csr" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$days" -out "$name.pem" \
    -extfile <(printf "subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n" "$san") 2>/dev/null
  rm -f "$name.csr"
}
if [ "$only_terminate" != terminate ]; then
  leaf alpha.test "DNS:alpha.test"
  leaf beta.test "DNS:beta.test,DNS:*.beta.test"   # the demo routes *.beta.test to this backend too
  leaf default.test "DNS:default.test"
  leaf wild.test "DNS:*.wild.test"
  leaf router.test "DNS:router.test,DNS:legacy.test"
  leaf client "DNS:client"
fi

# --- Terminate mode extras (test/terminate*.test.ts) ---------------------------------------------------------------
# router-next.test: the same names as router.test under another CN, the "renewed" certificate of the rotation test.
leaf router-next.test "DNS:router.test,DNS:legacy.test"
# An intermediate CA and a leaf it signed; chain.test.pem holds leaf + intermediate (a PEM chain as certbot writes).
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=sni-router test intermediate" \
  -keyout intermediate.key -out intermediate.csr 2>/dev/null
openssl x509 -req -in intermediate.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days "$days" -out intermediate.pem \
  -extfile <(printf "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n") 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=chain.test" \
  -keyout chain.test.key -out chain.test.csr 2>/dev/null
openssl x509 -req -in chain.test.csr -CA intermediate.pem -CAkey intermediate.key -CAcreateserial -days "$days" -out chain.leaf.pem \
  -extfile <(printf "subjectAltName=DNS:chain.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n") 2>/dev/null
cat chain.leaf.pem intermediate.pem > chain.test.pem
rm -f chain.leaf.pem chain.test.csr intermediate.csr intermediate.srl intermediate.key
# untrusted.test: self-signed for alpha.test, so a verifying client (the router's backend_tls) must refuse it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$days" -subj "/CN=untrusted.test" \
  -addext "subjectAltName=DNS:alpha.test" -keyout untrusted.test.key -out untrusted.test.pem 2>/dev/null
# expired.test: signed by the CA, valid only in 2020 (openssl ca takes explicit dates; x509 -req does not).
tmp=$(mktemp -d)
printf '[ca]\ndefault_ca=d\n[d]\ndatabase=%s/index\nnew_certs_dir=%s\nserial=%s/serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n' "$tmp" "$tmp" "$tmp" > "$tmp/ca.cnf"
: > "$tmp/index"; echo 1000 > "$tmp/serial"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=expired.test" -keyout expired.test.key -out "$tmp/expired.csr" 2>/dev/null
openssl ca -batch -config "$tmp/ca.cnf" -cert ca.pem -keyfile ca.key -in "$tmp/expired.csr" -out expired.test.pem -notext \
  -startdate 20200101000000Z -enddate 20200201000000Z 2>/dev/null
rm -rf "$tmp"
rm -f ca.srl
echo "certificates written to $(pwd)"
