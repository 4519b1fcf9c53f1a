/* cryptine crypto protocol: the requests the shim writes into a guest's mailbox and the
 * replies the crypto guest writes back. The monitor carries these bytes and never reads
 * them (hypercall_abi.h is its part); the shim checks every reply (request_codec.h).
 * Plain #defines and fixed-layout structs, as in hypercall_abi.h. */
#ifndef CRYPTINE_CRYPTO_PROTOCOL_H
#define CRYPTINE_CRYPTO_PROTOCOL_H

#include "hypercall_abi.h"

/* ---- Crypto request protocol (mailbox) ----------------------------------------------
 * The host writes a request header at the mailbox's start and the request's bytes in
 * the payload area, then enters the guest. The guest writes a reply header and its
 * output bytes into the payload area, then makes DONE. Every byte range is a
 * (offset, length) pair relative to the payload area; the host checks each one in the
 * reply (one function) before touching it. Algorithms are named as OpenSSL fetches
 * them ("AES-128-GCM", "SHA256", "HMAC"), so the guest runs exactly OpenSSL's code. */
#define CRYPTINE_REQUEST_OFFSET 0x000
#define CRYPTINE_REPLY_OFFSET   0x200
#define CRYPTINE_PAYLOAD_OFFSET 0x400
#define CRYPTINE_PAYLOAD_SIZE   (CRYPTINE_MAILBOX_SIZE - CRYPTINE_PAYLOAD_OFFSET)
#define CRYPTINE_NAME_MAX       64          /* algorithm names, NUL-terminated */
#define CRYPTINE_REQUEST_MAGIC  0x51455243u /* "CREQ" */
#define CRYPTINE_REPLY_MAGIC    0x50455243u /* "CREP" */
#define CRYPTINE_MAX_HANDLES    256         /* live contexts and keys in one virtine */
/* Field offsets for assembly guests, checked against the structs below. */
#define CRYPTINE_REQUEST_OUT_CAPACITY 104
#define CRYPTINE_REQUEST_OUT_OFFSET   108
#define CRYPTINE_REPLY_STATUS         4
#define CRYPTINE_REPLY_HANDLE         8
#define CRYPTINE_REPLY_OUT            16
#define CRYPTINE_REPLY_VALUES         32

/* Operations. A handle names a context or key living inside the guest. */
#define CRYPTINE_OP_CIPHER_INIT   1  /* name, key, iv, params[0]=enc(1)/dec(0)/keep(-1) -> handle */
#define CRYPTINE_OP_CIPHER_UPDATE 2  /* handle, in; params[0]=1: in is AAD, params[1]=1: in place -> out */
#define CRYPTINE_OP_CIPHER_FINAL  3  /* handle -> out */
#define CRYPTINE_OP_CIPHER_CTRL   4  /* handle, params[0]=type, params[1]=arg, in=ptr bytes -> out, values[0]=ret */
#define CRYPTINE_OP_DIGEST_INIT   5  /* name -> handle */
#define CRYPTINE_OP_DIGEST_UPDATE 6  /* handle, in */
#define CRYPTINE_OP_DIGEST_FINAL  7  /* handle -> out */
#define CRYPTINE_OP_DIGEST        8  /* name, in -> out (one shot) */
#define CRYPTINE_OP_MAC_INIT      9  /* name (digest for HMAC), key -> handle */
#define CRYPTINE_OP_MAC_UPDATE    10 /* handle, in */
#define CRYPTINE_OP_MAC_FINAL     11 /* handle -> out */
#define CRYPTINE_OP_MAC           12 /* name (digest for HMAC), key, in -> out (one shot) */
#define CRYPTINE_OP_CTX_COPY      13 /* handle -> new handle with the same state */
#define CRYPTINE_OP_FREE          14 /* handle: free a context or key */
#define CRYPTINE_OP_KEY_IMPORT                                                           \
  15 /* in = private key, DER or PEM (encrypted: key = passphrase) -> handle, values[0] = \
      * type (EVP_PKEY_get_id), [2] = bits, [3] = size; with out room: out = public key  \
      * (DER SubjectPublicKeyInfo) */
#define CRYPTINE_OP_SIGN                                 \
  16 /* handle (key), name = digest or "", in = message, \
      * params[0]=RSA padding, params[1]=PSS salt length -> out */
#define CRYPTINE_OP_DECRYPT                                                                  \
  17 /* handle (key), name = OAEP digest or "", in, params[0]=RSA padding; OAEP: iv = label, \
      * params[2] = MGF1 digest's NID (0: the OAEP digest); TLS padding: params[3] = client  \
      * version | negotiated version << 16 -> out */
#define CRYPTINE_OP_DERIVE 18 /* handle (key), in = peer public key (DER SubjectPublicKeyInfo) -> out */
#define CRYPTINE_OP_RANDOM 19 /* params[0] = byte count -> out */
#define CRYPTINE_OP_SET_PARAMS 20 /* handle (cipher or MAC context), in = a param list -> values[0]=ret */
#define CRYPTINE_OP_GET_PARAMS                                                         \
  21 /* handle, in = a param list whose data areas are the caller's buffers -> out = \
      * the same list with the values and return sizes filled in, values[0]=ret */
#define CRYPTINE_OP_CIPHER                                                           \
  22 /* EVP_Cipher: handle, in; params[0]=1: in is NULL, params[1]=1: out is NULL, \
      * params[2]=1: in place -> out, values[0]=ret */
#define CRYPTINE_OP_DIGEST_SIGN                                                  \
  23 /* EVP_DigestSign: handle (key), name = digest or "", in = message, params \
      * as for SIGN -> out */
#define CRYPTINE_OP_MAC_NEW   24 /* name = MAC algorithm ("HMAC", "CMAC", ...) -> handle */
#define CRYPTINE_OP_MAC_START 25 /* EVP_MAC_init: handle, key, params[1] bit 0: key given, in = param list */
#define CRYPTINE_OP_KDF                                                                 \
  26 /* EVP_KDF_derive in a fresh context: name = KDF, in = its param list, params[0] = \
      * key length -> out (exactly that many bytes) */
#define CRYPTINE_OP_CIPHER_BATCH                                                              \
  27 /* handle; iv = a step list (below) applied in order, stopping at the first failure;     \
      * then params[0]: 0 nothing, 1 an update of in (params[1]=1: in place, as for UPDATE),  \
      * 2 a final, followed (params[2] > 0) by that many bytes of AEAD tag -> out (update: as \
      * UPDATE; final: its bytes, then the tag), values[0]=outl, values[1]=AAD bytes taken,   \
      * values[2]=index of the step that failed (the step count: the update or final; -1:     \
      * none), values[3]=tag bytes returned (0 if the tag could not be read); params[3]=1     \
      * (with an update only): also the predicted final (below), with params[2] bytes of a    \
      * seal's tag */
#define CRYPTINE_OP_KEY_GENERATE                                                           \
  28 /* name = key type ("EC", "X25519", "ED25519", "RSA"); EC: in = curve name; RSA:      \
      * params[0] = bits -> handle, out = public key (DER SubjectPublicKeyInfo), values as \
      * for KEY_IMPORT */
#define CRYPTINE_OP_MAC_RUN                                                                 \
  29 /* a MAC context's held calls, in order: handle; EVP_MAC_init, with the key span if    \
      * params[0] bit 0 (else a NULL key: the context keeps its own); then EVP_MAC_update \
      * of in (none if empty); params[1]=1: then EVP_MAC_final -> out */
#define CRYPTINE_OP_COUNT 30
/* SIGN, DECRYPT, DERIVE and DIGEST_SIGN with handle 0 take the private key (DER or PEM)
 * from the request's key span and free it afterwards: one request, one exit. */

/* A param list (OSSL_PARAM array on the wire): records back to back, each a
 * cryptine_param header, then name_len bytes of name (no NUL) padded to 8, then data_len
 * bytes of data and at least one zero byte, padded to 8 (CRYPTINE_PARAM_DATA_ROOM), so
 * data is 8-aligned in a list that is (OpenSSL reads integer params in place) and text is
 * NUL-terminated (OpenSSL reads some UTF-8 params, a KDF's digest name, as C strings).
 * Types are OpenSSL's OSSL_PARAM_* numbers; only values (never pointers) cross.
 * return_size is 0 in requests; in a GET_PARAMS reply it is OpenSSL's return_size, or
 * CRYPTINE_PARAM_UNMODIFIED if the guest left it unset. */
#define CRYPTINE_PARAM_MAX        16
#define CRYPTINE_PARAM_NAME_MAX   63
#define CRYPTINE_PARAM_DATA_MAX   4096
#define CRYPTINE_PARAM_INTEGER    1
#define CRYPTINE_PARAM_UNSIGNED   2
#define CRYPTINE_PARAM_UTF8       4
#define CRYPTINE_PARAM_OCTETS     5
#define CRYPTINE_PARAM_UNMODIFIED 0xffffffffu
#define CRYPTINE_PARAM_DATA_ROOM(n) ((((uint64_t)(n)) + 8u) & ~(uint64_t)7u) /* data, NUL, padding */

/* A CIPHER_BATCH step list: the no-output calls (init, AAD, set params) a host recorded
 * for a context's next request. Records back to back, each a cryptine_batch_step header
 * then `length` data bytes padded to 8. At most CRYPTINE_BATCH_MAX_STEPS records. */
#define CRYPTINE_BATCH_MAX_STEPS   16
#define CRYPTINE_STEP_INIT         1 /* EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, arg): data = key, then IV */
#define CRYPTINE_STEP_AAD          2 /* EVP_CipherUpdate(ctx, NULL, ...) of data; arg, aux 0 */
#define CRYPTINE_STEP_SET_PARAMS   3 /* EVP_CIPHER_CTX_set_params with data = a param list; arg, aux 0 */
#define CRYPTINE_STEP_FINAL        4 /* a final served from its prediction: run, answer dropped; no data */
#define CRYPTINE_STEP_KEY_LEN_MASK 0xffffu    /* INIT's aux: key length in data, */
#define CRYPTINE_STEP_KEY_GIVEN    0x10000u   /* a key is given (else key length 0), */
#define CRYPTINE_STEP_IV_GIVEN     0x20000u   /* an IV is given (else data is the key alone) */
#define CRYPTINE_STEP_PADDED(n)    ((((uint64_t)(n)) + 7u) & ~(uint64_t)7u)

/* A final the host served from a predicted one (below) is a STEP_FINAL in the context's
 * next request: EVP_CipherFinal_ex with its output and return value dropped, so that the
 * context is not left a final behind the program's. */

/* A CIPHER_BATCH's predicted final (request params[3]=1, with an update): after the update
 * the guest finalises a copy of the context (EVP_CIPHER_CTX_copy, EVP_CipherFinal_ex, and
 * for a seal its whole tag) and appends this record to the update's output; values[3] is
 * then the update's output bytes, so the reply's out holds exactly values[3] bytes and one
 * record. The context itself stays as after the update. An open's record never carries a
 * tag: its expected tag would be a forgery oracle for a key the program cannot read. */
#define CRYPTINE_PREDICT_NONE   0  /* not made (copying the context failed) */
#define CRYPTINE_PREDICT_OK     1  /* the final returned 1: outl bytes, then tag_len bytes of tag */
#define CRYPTINE_PREDICT_FAILED 2  /* it returned 0 (an open's tag did not verify); err_code */
#define CRYPTINE_PREDICT_BYTES  48 /* a final's output (at most a 32-byte block), then a 16-byte tag */

/* Reply status. Anything else in a reply is a protocol violation by the guest. */
#define CRYPTINE_STATUS_OK           0
#define CRYPTINE_STATUS_CRYPTO_ERROR 1 /* OpenSSL said no; err_code says why */
#define CRYPTINE_STATUS_BAD_REQUEST  2 /* malformed or unknown request */
#define CRYPTINE_STATUS_NO_HANDLE    3 /* unknown, freed or wrong-kind handle */
#define CRYPTINE_STATUS_NO_SPACE     4 /* output would not fit; nothing written */
#define CRYPTINE_STATUS_TABLE_FULL   5 /* all CRYPTINE_MAX_HANDLES handles in use; nothing made */
#define CRYPTINE_STATUS_COUNT        6

#ifndef __ASSEMBLER__
struct cryptine_span {
  uint32_t offset; /* from the payload area's start */
  uint32_t length;
};

struct cryptine_request {
  uint32_t magic; /* CRYPTINE_REQUEST_MAGIC */
  uint32_t op;    /* CRYPTINE_OP_* */
  uint32_t handle;
  uint32_t reserved;
  char name[CRYPTINE_NAME_MAX];
  struct cryptine_span key, iv, in;
  uint32_t out_capacity; /* bytes the guest may write, from out_offset */
  uint32_t out_offset;
  int64_t params[4];
};

struct cryptine_param {
  uint32_t data_len;
  uint32_t return_size;
  uint8_t name_len;
  uint8_t type; /* CRYPTINE_PARAM_* */
  uint8_t reserved[6];
};

struct cryptine_batch_step {
  uint32_t kind;   /* CRYPTINE_STEP_* */
  uint32_t length; /* data bytes after this header */
  int32_t arg;     /* INIT: enc, 1, 0 or -1 to keep */
  uint32_t aux;    /* INIT: key length and KEY/IV_GIVEN */
};

struct cryptine_predicted_final {
  uint32_t verdict;  /* CRYPTINE_PREDICT_* */
  uint32_t outl;     /* the final's output bytes, first in bytes[] */
  uint32_t tag_len;  /* a seal's tag bytes right after them; 0 for an open */
  uint32_t reserved; /* 0 */
  uint64_t err_code; /* ERR_peek_last_error() for FAILED, else 0 */
  uint8_t bytes[CRYPTINE_PREDICT_BYTES];
};

struct cryptine_reply {
  uint32_t magic;  /* CRYPTINE_REPLY_MAGIC */
  uint32_t status; /* CRYPTINE_STATUS_* */
  uint32_t handle; /* a new handle, for ops that create one */
  uint32_t reserved;
  struct cryptine_span out;
  uint64_t err_code; /* OpenSSL's ERR_peek_last_error() for CRYPTO_ERROR */
  int64_t values[4];
};

CRYPTINE_STATIC_ASSERT(sizeof(struct cryptine_request) == 144, "request layout");
CRYPTINE_STATIC_ASSERT(sizeof(struct cryptine_reply) == 64, "reply layout");
CRYPTINE_STATIC_ASSERT(sizeof(struct cryptine_param) == 16, "param layout");
CRYPTINE_STATIC_ASSERT(sizeof(struct cryptine_batch_step) == 16, "batch step layout");
CRYPTINE_STATIC_ASSERT(sizeof(struct cryptine_predicted_final) == 24 + CRYPTINE_PREDICT_BYTES, "prediction layout");
CRYPTINE_STATIC_ASSERT(offsetof(struct cryptine_request, out_capacity) == CRYPTINE_REQUEST_OUT_CAPACITY, "offset");
CRYPTINE_STATIC_ASSERT(offsetof(struct cryptine_request, out_offset) == CRYPTINE_REQUEST_OUT_OFFSET, "offset");
CRYPTINE_STATIC_ASSERT(offsetof(struct cryptine_reply, status) == CRYPTINE_REPLY_STATUS, "offset");
CRYPTINE_STATIC_ASSERT(offsetof(struct cryptine_reply, handle) == CRYPTINE_REPLY_HANDLE, "offset");
CRYPTINE_STATIC_ASSERT(offsetof(struct cryptine_reply, out) == CRYPTINE_REPLY_OUT, "offset");
CRYPTINE_STATIC_ASSERT(offsetof(struct cryptine_reply, values) == CRYPTINE_REPLY_VALUES, "offset");
CRYPTINE_STATIC_ASSERT(sizeof(struct cryptine_request) <= CRYPTINE_REPLY_OFFSET - CRYPTINE_REQUEST_OFFSET,
                       "request header fits before the reply");
CRYPTINE_STATIC_ASSERT(sizeof(struct cryptine_reply) <= CRYPTINE_PAYLOAD_OFFSET - CRYPTINE_REPLY_OFFSET,
                       "reply header fits before the payload");
#endif /* !__ASSEMBLER__ */

#endif /* CRYPTINE_CRYPTO_PROTOCOL_H */
