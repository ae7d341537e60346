#!/usr/bin/env bash
# Regenerates the test and demo certificates in fixtures/certs/: one private CA and a leaf per name.
# They are committed so that tests and `npm run demo` need no openssl at run time; rerun this to renew them.
set -euo pipefail
cd "$(dirname "$0")/../fixtures/certs"
days=36500
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$days" \
  -subj "/CN=sni-router test CA" -keyout ca.key -out ca.pem \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
leaf() { # name, SAN list
  local name=$1 san=$2
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$name" \
    -keyout "$name.key" -out "$name.csr" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$days" -out "$name.pem" \
    -extfile <(printf "subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n" "$san") 2>/dev/null
  rm -f "$name.csr"
}
leaf alpha.test "DNS:alpha.test"
leaf beta.test "DNS:beta.test"
leaf default.test "DNS:default.test"
leaf wild.test "DNS:*.wild.test"
leaf router.test "DNS:router.test,DNS:legacy.test"
leaf client "DNS:client"
rm -f ca.srl
echo "certificates written to $(pwd)"
