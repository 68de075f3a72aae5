#!/bin/sh
# Makes a local CA, a server certificate for localhost, 127.0.0.1 and ::1, and
# a client certificate, for development and tests. What it makes is
# git-ignored; never use these keys for anything real.
#
#   certs/mkcerts.sh [DIR]        (default: the directory of this script)
#
# Files: ca.pem ca.key, server.pem server.key, client.pem client.key, and a
# second, unrelated CA (other-ca.pem other-ca.key) for negative tests.
# Existing files are kept; delete them to make new ones.
set -eu
dir="${1:-$(dirname "$0")}"
mkdir -p "$dir"
cd "$dir"
days=825
[ -f ca.pem ] && [ -f server.pem ] && [ -f client.pem ] && [ -f other-ca.pem ] && exit 0
umask 077

ca() { # name subject
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$1.key" -out "$1.pem" -days "$days" -subj "$2" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

leaf() { # name subject extensions-file
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
        -out "$1.pem" -days "$days" -extfile "$3" 2>/dev/null
    rm -f "$1.csr"
}

ca ca "/CN=wsrouter development CA"
ca other-ca "/CN=some other CA"

cat > server.ext <<'EXT'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
EXT
cat > client.ext <<'EXT'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
EXT
leaf server "/CN=localhost" server.ext
leaf client "/CN=wsrouter test client/O=wsrouter" client.ext
rm -f server.ext client.ext ca.srl
chmod 644 ./*.pem
echo "certs: made ca.pem, server.pem, client.pem (and keys) in $(pwd)"
