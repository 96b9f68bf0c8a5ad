#!/bin/sh
# certs.sh DIR - throwaway certificates for the TLS specs, made with the
# openssl CLI (EC P-256 keys: fast to make): a CA (ca.pem), leaves signed
# by it for localhost/127.0.0.1/::1 (server), for another name (other), for
# a client (client), an expired one for localhost (expired), and a CA
# nobody trusts (ca2.pem). Each leaf has NAME.pem and NAME.key.
set -e
cd "$1"
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
q() { "$@" >/dev/null 2>&1 || { echo "certs.sh: failed: $*" >&2; exit 1; }; }
q openssl req -x509 $ec -keyout ca.key -out ca.pem -days 3 -subj "/CN=gvlua test CA"
q openssl req -x509 $ec -keyout ca2.key -out ca2.pem -days 3 -subj "/CN=untrusted CA"
leaf() { # name common-name subjectAltName
  q openssl req $ec -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$3" >"$1.ext"
  printf 'extendedKeyUsage=serverAuth,clientAuth\n' >>"$1.ext"
  q openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
    -days 2 -extfile "$1.ext" -out "$1.pem"
}
leaf server localhost "DNS:localhost,IP:127.0.0.1,IP:::1"
leaf other other.test "DNS:other.test"
leaf client "gvlua client" "DNS:client.test"
# expired: openssl ca sets the dates
: >index.txt
echo 1000 >serial
cat >ca.cnf <<CNF
[ca]
default_ca = d
[d]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = p
copy_extensions = copy
[p]
commonName = supplied
CNF
q openssl req $ec -keyout expired.key -out expired.csr -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1"
q openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key \
  -in expired.csr -out expired.pem -notext \
  -startdate 20200101000000Z -enddate 20200102000000Z
