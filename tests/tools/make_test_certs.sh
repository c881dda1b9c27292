#!/usr/bin/env bash
# make_test_certs.sh DIR: throwaway TLS material for tests, valid one day.
#   ca.pem                      the CA nestd's and the clients' certs chain to
#   server.pem server.key       nestd: SAN IP:127.0.0.1, DNS:localhost
#   client.pem client.key       a client certificate signed by ca.pem
#   other-ca.pem                an unrelated CA
#   other-client.pem/.key       a client certificate signed by other-ca.pem
#   other-server.pem/.key       a server certificate signed by other-ca.pem
# Generated at test time; never committed.
set -euo pipefail
D="$1"
mkdir -p "$D"
cd "$D"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() {  # ca NAME CN
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 1 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
}

leaf() {  # leaf NAME CA CN EXTENSIONS
  key "$1.key"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$3"
  printf '%s\n' "$4" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" \
    -set_serial "0x$(openssl rand -hex 8)" -days 1 -extfile "$1.ext" \
    -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

SERVER_EXT='subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth'
CLIENT_EXT='extendedKeyUsage=clientAuth'

ca ca "nest test CA"
leaf server ca "localhost" "$SERVER_EXT"
leaf client ca "nest test client" "$CLIENT_EXT"
ca other-ca "unrelated CA"
leaf other-client other-ca "stranger" "$CLIENT_EXT"
leaf other-server other-ca "localhost" "$SERVER_EXT"
