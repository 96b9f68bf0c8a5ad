/*
** x509.c - reading certificates (a TLS peer's, or PEM text): their
** fields as strings, PEM, digests, host and validity checks. OpenSSL types
** stay here; callers see gv_x509 and strings (contract in gv.h).
*/
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include "gv.h"

gv_x509 *gv_x509_from_pem(const char *buf, size_t len) {
  BIO *b = BIO_new_mem_buf(buf, (int)len);
  if (!b) return NULL;
  X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
  BIO_free(b);
  ERR_clear_error();
  return x;
}

void gv_x509_free(gv_x509 *x) { X509_free(x); }

/* The contents of a memory BIO as a malloc'd string. */
static char *bio_string(BIO *b, size_t *len) {
  char *data;
  long n = BIO_get_mem_data(b, &data);
  char *out = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (out) {
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    if (len) *len = (size_t)n;
  }
  return out;
}

char *gv_x509_pem(gv_x509 *x, size_t *len) {
  BIO *b = BIO_new(BIO_s_mem());
  char *out = NULL;
  if (b && PEM_write_bio_X509(b, x)) out = bio_string(b, len);
  BIO_free(b);
  ERR_clear_error();
  return out;
}

static void name_fields(X509_NAME *name, const char *section,
                        gv_x509_field_fn fn, void *ud) {
  int n = X509_NAME_entry_count(name);
  for (int i = 0; i < n; i++) {
    X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
    ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(e);
    char oid[80];
    int nid = OBJ_obj2nid(obj);
    const char *key = nid != NID_undef ? OBJ_nid2sn(nid) : NULL;
    if (!key) {
      OBJ_obj2txt(oid, sizeof oid, obj, 1);
      key = oid;
    }
    unsigned char *v = NULL;
    int len = ASN1_STRING_to_UTF8(&v, X509_NAME_ENTRY_get_data(e));
    if (len >= 0) fn(ud, section, key, (const char *)v, (size_t)len);
    OPENSSL_free(v);
  }
}

static void san_fields(X509 *x, gv_x509_field_fn fn, void *ud) {
  GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
                                          NULL);
  if (!names) return;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
    GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
    const char *key = NULL;
    ASN1_STRING *s = NULL;
    switch (g->type) {
      case GEN_DNS: key = "dNSName"; s = g->d.dNSName; break;
      case GEN_EMAIL: key = "rfc822Name"; s = g->d.rfc822Name; break;
      case GEN_URI: key = "uniformResourceIdentifier";
        s = g->d.uniformResourceIdentifier; break;
      case GEN_IPADD: {
        char buf[INET6_ADDRSTRLEN];
        const unsigned char *p = ASN1_STRING_get0_data(g->d.iPAddress);
        int len = ASN1_STRING_length(g->d.iPAddress);
        int af = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
        if (af && inet_ntop(af, p, buf, sizeof buf))
          fn(ud, "san", "iPAddress", buf, strlen(buf));
        continue;
      }
      default: continue;
    }
    fn(ud, "san", key, (const char *)ASN1_STRING_get0_data(s),
       (size_t)ASN1_STRING_length(s));
  }
  GENERAL_NAMES_free(names);
}

/* "Mar 17 15:20:38 2023 GMT", as LuaSec prints times */
static void time_field(const ASN1_TIME *t, const char *section,
                       gv_x509_field_fn fn, void *ud) {
  BIO *b = BIO_new(BIO_s_mem());
  if (!b) return;
  size_t len;
  char *s = ASN1_TIME_print(b, t) ? bio_string(b, &len) : NULL;
  if (s) fn(ud, section, "", s, len);
  free(s);
  BIO_free(b);
}

void gv_x509_fields(gv_x509 *x, gv_x509_field_fn fn, void *ud) {
  name_fields(X509_get_subject_name(x), "subject", fn, ud);
  name_fields(X509_get_issuer_name(x), "issuer", fn, ud);
  san_fields(x, fn, ud);
  BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
  char *hex = bn ? BN_bn2hex(bn) : NULL;
  if (hex) fn(ud, "serial", "", hex, strlen(hex));
  OPENSSL_free(hex);
  BN_free(bn);
  time_field(X509_get0_notBefore(x), "notbefore", fn, ud);
  time_field(X509_get0_notAfter(x), "notafter", fn, ud);
  char v[8];
  int vl = snprintf(v, sizeof v, "%ld", X509_get_version(x) + 1);
  fn(ud, "version", "", v, (size_t)vl);
  const char *sig = OBJ_nid2ln(X509_get_signature_nid(x));
  if (sig) fn(ud, "signature", "", sig, strlen(sig));
  ERR_clear_error();
}

int gv_x509_digest(gv_x509 *x, const char *alg, char *out) {
  const EVP_MD *md = EVP_get_digestbyname(alg);
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  if (!md || EVP_MD_get_size(md) > 64 || !X509_digest(x, md, d, &n)) {
    ERR_clear_error();
    return -1;
  }
  static const char hexd[] = "0123456789abcdef";
  for (unsigned i = 0; i < n; i++) {
    out[2 * i] = hexd[d[i] >> 4];
    out[2 * i + 1] = hexd[d[i] & 15];
  }
  out[2 * n] = '\0';
  return 0;
}

int gv_x509_check_host(gv_x509 *x, const char *host) {
  unsigned char buf[16];
  int r;
  if (inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1)
    r = X509_check_ip_asc(x, host, 0);
  else
    r = X509_check_host(x, host, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
                        NULL);
  ERR_clear_error();
  return r == 1;
}

int gv_x509_valid_at(gv_x509 *x, double t) {
  time_t tt = (time_t)t;
  return X509_cmp_time(X509_get0_notBefore(x), &tt) < 0 &&
         X509_cmp_time(X509_get0_notAfter(x), &tt) > 0;
}
