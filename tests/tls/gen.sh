#!/usr/bin/env bash
# Test certificates for the TLS tests (crates/truce/tests/tls.rs), made once and committed:
# a CA; a server certificate for 127.0.0.1 and localhost; client certificates for the demo
# mission's teams team-1 (CN) and team-2 (URI SAN, CN something else); one for a team the
# mission does not have; and a client and server certificate from another CA (untrusted).
# 100-year validity, EC P-256. Run in this folder: bash gen.sh
set -euo pipefail
days=36500
ec() { openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out "$1"; }
ca() { # name subject
  ec "$1.key"
  openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days $days -out "$1.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
leaf() { # name ca subject extensions
  ec "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$3" -out "$1.csr"
  printf '%s\n' "$4" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days $days \
    -extfile "$1.ext" -out "$1.pem"
  rm -f "$1.csr" "$1.ext"
}
ca ca "Truce test CA"
ca other-ca "Some other CA"
leaf server ca localhost "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
leaf team-1 ca team-1 "extendedKeyUsage=clientAuth"
leaf team-2 ca "device 7" "subjectAltName=URI:urn:truce:team:team-2
extendedKeyUsage=clientAuth"
leaf stranger ca team-99 "extendedKeyUsage=clientAuth"
leaf other-team-1 other-ca team-1 "extendedKeyUsage=clientAuth"
leaf other-server other-ca localhost "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
rm -f ./*.srl other-ca.key ca.key
