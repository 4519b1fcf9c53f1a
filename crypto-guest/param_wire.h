/* Param lists (guest_abi.h) inside the guest: decoded in place into OSSL_PARAM arrays. */
#ifndef CRYPTINE_GUEST_PARAM_WIRE_H
#define CRYPTINE_GUEST_PARAM_WIRE_H

#include <openssl/params.h>
#include <stddef.h>
#include <stdint.h>

#include "guest_abi.h"

struct param_list {
  OSSL_PARAM params[CRYPTINE_PARAM_MAX + 1]; /* end-marked */
  char names[CRYPTINE_PARAM_MAX][CRYPTINE_PARAM_NAME_MAX + 1];
  size_t header_at[CRYPTINE_PARAM_MAX]; /* each record's offset in the buffer */
  int count;
};

/* Decodes the list in buf[0..len): every record must lie inside it, with a known type,
 * a name of 1..CRYPTINE_PARAM_NAME_MAX bytes and at most CRYPTINE_PARAM_DATA_MAX data
 * bytes; the params' data point into buf (8-aligned if buf is). Returns 1, or 0 if
 * malformed. */
int param_list_decode(uint8_t* buf, size_t len, struct param_list* list);

/* After a get_params: writes each param's return_size into its record header. */
void param_list_store_sizes(uint8_t* buf, const struct param_list* list);

#endif
